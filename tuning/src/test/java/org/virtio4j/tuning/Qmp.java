package org.virtio4j.tuning;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/** A QMP client for the real-guest tests: one command at a time, its reply line returned, events kept. */
final class Qmp implements AutoCloseable
{
    private final SocketChannel channel;
    private final ByteBuffer one = ByteBuffer.allocate(1);
    /** The asynchronous events (STOP, RESUME, MIGRATION, ...) seen while waiting for replies. */
    final List<String> events = new CopyOnWriteArrayList<>();

    private Qmp(final SocketChannel channel)
    {
        this.channel = channel;
    }

    /**
     * Connects (waiting up to 60 s for QEMU to make the socket) and leaves capabilities negotiation mode.
     *
     * @param socket QEMU's {@code -qmp unix:...,server=on,wait=off} socket.
     * @return the client.
     */
    static Qmp connect(final Path socket) throws IOException, InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(socket))
        {
            if (System.nanoTime() > deadline)
            {
                throw new IOException("QEMU made no QMP socket " + socket);
            }
            Thread.sleep(50);
        }
        final Qmp qmp = new Qmp(SocketChannel.open(UnixDomainSocketAddress.of(socket)));
        qmp.readLine();
        qmp.execute("qmp_capabilities");
        return qmp;
    }

    /**
     * @param command a command without arguments.
     * @return its reply line ({@code {"return": ...}} or {@code {"error": ...}}), or "" if QEMU closed the socket.
     */
    String execute(final String command) throws IOException
    {
        return send("{\"execute\": \"" + command + "\"}");
    }

    /**
     * @param command   a command.
     * @param arguments its arguments, a JSON object.
     * @return as {@link #execute(String)}.
     */
    String execute(final String command, final String arguments) throws IOException
    {
        return send("{\"execute\": \"" + command + "\", \"arguments\": " + arguments + "}");
    }

    private String send(final String json) throws IOException
    {
        channel.write(ByteBuffer.wrap((json + "\n").getBytes(StandardCharsets.US_ASCII)));
        while (true)
        {
            final String line = readLine();
            if (line.isEmpty() || line.contains("\"return\"") || line.contains("\"error\""))
            {
                return line;
            }
            events.add(line);
        }
    }

    private String readLine() throws IOException
    {
        final StringBuilder line = new StringBuilder();
        while (true)
        {
            one.clear();
            if (channel.read(one) <= 0)
            {
                return line.toString();
            }
            final char c = (char)one.get(0);
            if (c == '\n')
            {
                return line.toString();
            }
            line.append(c);
        }
    }

    @Override
    public void close() throws IOException
    {
        channel.close();
    }
}
