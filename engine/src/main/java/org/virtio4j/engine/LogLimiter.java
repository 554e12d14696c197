package org.virtio4j.engine;

import java.io.PrintStream;

/**
 * Bounds the log lines one source writes: at most {@code perSecond} a second; the lines past that are counted and
 * the count is written with the next line that gets through. A front-end or guest repeating bad input therefore
 * costs a counter, not the disk.
 *
 * <p>Thread-safe.
 */
public final class LogLimiter
{
    private static final long SECOND = 1_000_000_000L;

    private final PrintStream out;
    private final int perSecond;
    private long windowStart = System.nanoTime();
    private int inWindow;
    private long suppressed;
    private long suppressedTotal;

    /**
     * @param out       where lines go.
     * @param perSecond the most lines a second.
     */
    public LogLimiter(final PrintStream out, final int perSecond)
    {
        this.out = out;
        this.perSecond = perSecond;
    }

    /**
     * Writes a line unless this second's budget is spent.
     *
     * @param line the line.
     * @return true if it was written.
     */
    public synchronized boolean log(final String line)
    {
        final long now = System.nanoTime();
        if (now - windowStart >= SECOND)
        {
            windowStart = now;
            inWindow = 0;
        }
        if (inWindow >= perSecond)
        {
            suppressed++;
            suppressedTotal++;
            return false;
        }
        inWindow++;
        if (suppressed > 0)
        {
            out.println(line + " (" + suppressed + " similar lines suppressed)");
            suppressed = 0;
        }
        else
        {
            out.println(line);
        }
        return true;
    }

    /** @return the lines suppressed so far. */
    public synchronized long suppressed()
    {
        return suppressedTotal;
    }
}
