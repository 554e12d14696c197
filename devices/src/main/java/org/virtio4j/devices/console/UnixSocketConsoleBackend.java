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
 * may connect. Output written while no client is connected is counted in {@link #droppedOutputBytes()}.
 */
public final class UnixSocketConsoleBackend implements ConsoleBackend
{
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
        while (bytes.hasRemaining())
        {
            if (channel.write(bytes) == 0)
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
