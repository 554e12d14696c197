package org.virtio4j.engine;

import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.SleepingIdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;

/**
 * The idle strategies an operator can name: {@code adaptive} (the default: spin while a queue's adaptive poll
 * window is open, then sleep on eventfds), {@code busy-spin}, {@code yielding}, {@code backoff}, {@code park} (these
 * keep a fixed hybrid period and idle their own way meanwhile).
 */
public final class IdleStrategies
{
    /** Names accepted by {@link #create(String)}. */
    public static final String[] NAMES = {"adaptive", "busy-spin", "yielding", "backoff", "park"};

    private IdleStrategies()
    {
    }

    /**
     * @param name one of {@link #NAMES}.
     * @return a new idle strategy (each thread needs its own).
     * @throws IllegalArgumentException for an unknown name.
     */
    public static IdleStrategy create(final String name)
    {
        return switch (name)
        {
            // Spins only while a poll window is open: the hybrid strategy sleeps on eventfds once every queue has closed its.
            case "adaptive", "busy-spin" -> new BusySpinIdleStrategy();
            case "yielding" -> new YieldingIdleStrategy();
            case "backoff" -> new BackoffIdleStrategy(100, 10, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MICROSECONDS.toNanos(100));
            case "park" -> new SleepingIdleStrategy(TimeUnit.MICROSECONDS.toNanos(50));
            default -> throw new IllegalArgumentException("idleStrategy=" + name + " is not one of adaptive, busy-spin, yielding, backoff, park");
        };
    }

    /**
     * @param name an idle strategy name.
     * @return true if queues are polled for an adaptive window ({@link PollWindow}).
     */
    static boolean adapts(final String name)
    {
        return "adaptive".equals(name);
    }

    /**
     * @param name an idle strategy name.
     * @return true if it never gives the core away (the thread needs a core of its own).
     */
    public static boolean spins(final String name)
    {
        return "busy-spin".equals(name);
    }
}
