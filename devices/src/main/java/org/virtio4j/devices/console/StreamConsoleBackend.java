package org.virtio4j.devices.console;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * A console over a stream pair: input from an {@link InputStream} (only what {@link InputStream#available()} says
 * is there, so reads never block), output to an {@link OutputStream}, flushed after each write.
 * {@link #stdio()} is the process's own standard input and output.
 */
public final class StreamConsoleBackend implements ConsoleBackend
{
    private final InputStream in;
    private final OutputStream out;
    private final boolean closeStreams;

    /**
     * @param in           the input.
     * @param out          the output.
     * @param closeStreams whether {@link #close()} closes them.
     */
    public StreamConsoleBackend(final InputStream in, final OutputStream out, final boolean closeStreams)
    {
        this.in = in;
        this.out = out;
        this.closeStreams = closeStreams;
    }

    /** @return a backend over standard input and output (not closed by {@link #close()}). */
    public static StreamConsoleBackend stdio()
    {
        return new StreamConsoleBackend(System.in, System.out, false);
    }

    @Override
    public int read(final byte[] buffer, final int offset, final int length) throws IOException
    {
        final int available = in.available();
        if (available <= 0 || length == 0)
        {
            return 0;
        }
        return in.read(buffer, offset, Math.min(available, length));
    }

    @Override
    public void write(final byte[] buffer, final int offset, final int length) throws IOException
    {
        out.write(buffer, offset, length);
        out.flush();
    }

    @Override
    public void close() throws IOException
    {
        if (closeStreams)
        {
            try (in; out)
            {
                out.flush();
            }
        }
    }
}
