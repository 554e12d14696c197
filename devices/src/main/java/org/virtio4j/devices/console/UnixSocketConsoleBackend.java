package org.virtio4j.devices.console;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A console on a Unix socket the device listens on, like QEMU's {@code -chardev socket,server}: one client at a
 * time; its bytes are the console input, the console output goes to it. When the client leaves, the next one
 * may connect. Output written while no client is connected, or that a client stopped reading for too long, is
 * counted in {@link #droppedOutputBytes()}: the device never blocks on a stuck client.
 */
public final class UnixSocketConsoleBackend implements ConsoleBackend
{
    private static final int MAX_STALLED_WRITES = 100_000;

    private final Path path;
    private final ServerSocketChannel server;
    private SocketChannel client;
    private long droppedOutputBytes;

    /**
     * @param path the socket path; an old socket file there is replaced.
     * @throws IOException if the socket cannot be bound.
     */
    public UnixSocketConsoleBackend(final Path path) throws IOException
    {
        this.path = path;
        Files.deleteIfExists(path);
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        server.configureBlocking(false);
    }

    private SocketChannel client() throws IOException
    {
        if (client == null)
        {
            client = server.accept();
            if (client != null)
            {
                client.configureBlocking(false);
            }
        }
        return client;
    }

    @Override
    public int read(final byte[] buffer, final int offset, final int length) throws IOException
    {
        final SocketChannel channel = client();
        if (channel == null || length == 0)
        {
            return 0;
        }
        final int n = channel.read(ByteBuffer.wrap(buffer, offset, length));
        if (n < 0)
        {
            channel.close();
            client = null;
            return 0;
        }
        return n;
    }

    @Override
    public void write(final byte[] buffer, final int offset, final int length) throws IOException
    {
        final SocketChannel channel = client();
        if (channel == null)
        {
            droppedOutputBytes += length;
            return;
        }
        final ByteBuffer bytes = ByteBuffer.wrap(buffer, offset, length);
        int stalls = 0;
        while (bytes.hasRemaining())
        {
            if (channel.write(bytes) > 0)
            {
                stalls = 0;
            }
            else if (++stalls > MAX_STALLED_WRITES)
            {
                // The client stopped reading: the device must not block on it. Counted, not silent.
                droppedOutputBytes += bytes.remaining();
                return;
            }
            else
            {
                Thread.onSpinWait();
            }
        }
    }

    /** @return output bytes written while no client was connected. */
    public long droppedOutputBytes()
    {
        return droppedOutputBytes;
    }

    /** @return the socket path. */
    public Path path()
    {
        return path;
    }

    @Override
    public void close() throws IOException
    {
        try (server)
        {
            if (client != null)
            {
                client.close();
            }
        }
        finally
        {
            Files.deleteIfExists(path);
        }
    }
}
