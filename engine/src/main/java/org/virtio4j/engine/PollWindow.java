package org.virtio4j.engine;

/**
 * How long a poller keeps watching a queue's avail ring after its last work before it re-enables guest
 * notifications and lets the thread sleep on the kick eventfd. While the window is open the guest has been told
 * not to kick, so the thread must not park or block: it spins.
 *
 * <p>Fixed (the named idle strategies: the window is the hybrid idle period), or adaptive (the {@code adaptive}
 * idle strategy, in the spirit of QEMU's {@code poll-max-ns}): every queue starts with no window; when a sleep
 * ends, its length (notifications re-enabled to the kick) is compared with the maximum. A sleep the maximum would
 * have covered means polling that much longer would have caught the work without a kick and a wake-up: the window
 * grows (doubling from {@link #GROW_START_NANOS}, up to the maximum). A longer sleep means the guest went quiet:
 * the window halves (below the start value it closes). Work found while the window is open leaves it as it is.
 *
 * <p>Immutable; the per-queue window lives in {@link QueueBinding#pollWindowNanos}, owned by the poller.
 */
final class PollWindow
{
    /** The first non-zero adaptive window: short enough to cost little when the guest has gone quiet. */
    static final long GROW_START_NANOS = 4_000;

    private final boolean adaptive;
    private final long maxNanos;

    /**
     * @param adaptive true to adapt per queue in [0, maxNanos]; false for a fixed window of maxNanos.
     * @param maxNanos the fixed window, or the adaptive maximum; 0 with a fixed window polls forever.
     */
    PollWindow(final boolean adaptive, final long maxNanos)
    {
        this.adaptive = adaptive;
        this.maxNanos = maxNanos;
    }

    /** @return true if queues never go back to kicks (a fixed window of 0). */
    boolean pollsForever()
    {
        return !adaptive && maxNanos == 0;
    }

    /** @return the window a newly watched queue starts with. */
    long initialNanos()
    {
        return adaptive ? 0 : maxNanos;
    }

    /**
     * @param window    the queue's window when it went to sleep.
     * @param gapNanos  the sleep: from re-enabling notifications to the kick that ended it.
     * @return the queue's new window.
     */
    long afterSleep(final long window, final long gapNanos)
    {
        if (!adaptive)
        {
            return window;
        }
        if (gapNanos > maxNanos)
        {
            final long shrunk = window >> 1;
            return shrunk < GROW_START_NANOS ? 0 : shrunk;
        }
        return window == 0 ? Math.min(GROW_START_NANOS, maxNanos) : Math.min(window << 1, maxNanos);
    }

    @Override
    public String toString()
    {
        return adaptive ? "adaptive(max " + maxNanos + " ns)" : "fixed(" + maxNanos + " ns)";
    }
}
