package org.virtio4j.transport.vhost;

import org.agrona.concurrent.status.AtomicCounter;
import org.virtio4j.engine.LogLimiter;
import org.virtio4j.engine.Engine;

/**
 * A vhost-user server's counters, in the engine's counters file: connections, messages, refused messages by
 * kind, rings that could not start, device failures; reconnects resumed from an inflight region and the requests
 * resubmitted; pages the dirty log marked during migration; how long ring stops (GET_VRING_BASE, a disable, any
 * reconfiguration) waited for the requests in flight.
 */
final class VhostUserCounters implements AutoCloseable
{
    static final int LOG_LINES_PER_SECOND = 20;

    private final AtomicCounter connections;
    private final AtomicCounter messages;
    private final AtomicCounter refused;
    private final AtomicCounter closedOnError;
    private final AtomicCounter badRings;
    private final AtomicCounter deviceErrors;
    private final AtomicCounter memoryFaults;
    private final AtomicCounter unsealedRegions;
    /** The device's log lines: a front-end repeating bad input or reconnecting in a loop floods nothing. */
    private final LogLimiter log = new LogLimiter(System.err, LOG_LINES_PER_SECOND);
    private final AtomicCounter resumed;
    private final AtomicCounter resubmitted;
    private final AtomicCounter dirtyPages;
    private final AtomicCounter dirtyOutOfRange;
    private final AtomicCounter drains;
    private final AtomicCounter drainLastMicros;
    private final AtomicCounter drainMaxMicros;
    private final AtomicCounter firstCompletionMillis;
    private final long listeningSince = System.nanoTime();
    private volatile boolean completed;

    VhostUserCounters(final Engine engine, final String name)
    {
        final String prefix = name + " vhost-user ";
        connections = engine.newCounter(prefix + "connections");
        messages = engine.newCounter(prefix + "messages");
        refused = engine.newCounter(prefix + "errors: refused messages");
        closedOnError = engine.newCounter(prefix + "errors: connections closed on error");
        badRings = engine.newCounter(prefix + "errors: rings not started");
        deviceErrors = engine.newCounter(prefix + "errors: device failures");
        memoryFaults = engine.newCounter(prefix + "errors: guest memory faults");
        unsealedRegions = engine.newCounter(prefix + "memory regions that can shrink (not sealed memfds)");
        resumed = engine.newCounter(prefix + "reconnect: rings resumed from an inflight region");
        resubmitted = engine.newCounter(prefix + "reconnect: requests resubmitted");
        dirtyPages = engine.newCounter(prefix + "migration: pages marked dirty");
        dirtyOutOfRange = engine.newCounter(prefix + "errors: dirty log marks beyond the log");
        drains = engine.newCounter(prefix + "ring stops (drains)");
        drainLastMicros = engine.newCounter(prefix + "ring stop drain last us");
        drainMaxMicros = engine.newCounter(prefix + "ring stop drain max us");
        firstCompletionMillis = engine.newCounter(prefix + "first completion ms after listening (-1: none yet)");
        firstCompletionMillis.setRelease(-1);
    }

    /** @return true once a first completion has been recorded. */
    boolean completedOnce()
    {
        return completed;
    }

    /**
     * The guest saw its first completed request since the server began listening: how long a restarted back-end
     * stalled its guest. Recorded once.
     */
    void firstCompletion()
    {
        if (!completed)
        {
            completed = true;
            firstCompletionMillis.setRelease((System.nanoTime() - listeningSince) / 1_000_000);
        }
    }

    void resumed(final int requests)
    {
        resumed.incrementRelease();
        resubmitted.getAndAddRelease(requests);
    }

    /** Called by device actors, any number at once. */
    void dirtyPages(final int pages)
    {
        dirtyPages.getAndAdd(pages);
    }

    /** Called by device actors, any number at once. */
    void dirtyOutOfRange(final int marks)
    {
        dirtyOutOfRange.getAndAdd(marks);
    }

    void drained(final long nanos)
    {
        final long micros = nanos / 1000;
        drains.incrementRelease();
        drainLastMicros.setRelease(micros);
        drainMaxMicros.proposeMaxRelease(micros);
    }

    long dirtyPageCount()
    {
        return dirtyPages.get();
    }

    long resubmittedCount()
    {
        return resubmitted.get();
    }

    void connection()
    {
        connections.incrementRelease();
    }

    void message()
    {
        messages.incrementRelease();
    }

    void refused()
    {
        refused.incrementRelease();
    }

    void closedOnError()
    {
        closedOnError.incrementRelease();
    }

    void badRing()
    {
        badRings.incrementRelease();
    }

    void deviceError()
    {
        deviceErrors.incrementRelease();
    }

    /** Writes a log line of this device, within its budget of lines a second. */
    void log(final String line)
    {
        log.log(line);
    }

    /** @param sealed whether a mapped region's file cannot shrink under it. */
    void region(final boolean sealed)
    {
        if (!sealed)
        {
            unsealedRegions.incrementRelease();
        }
    }

    long unsealedRegionCount()
    {
        return unsealedRegions.get();
    }

    void memoryFault()
    {
        memoryFaults.incrementRelease();
    }

    long deviceErrorCount()
    {
        return deviceErrors.get();
    }

    long memoryFaultCount()
    {
        return memoryFaults.get();
    }

    long refusedCount()
    {
        return refused.get();
    }

    long closedOnErrorCount()
    {
        return closedOnError.get();
    }

    long connectionCount()
    {
        return connections.get();
    }

    @Override
    public void close()
    {
        connections.close();
        messages.close();
        refused.close();
        closedOnError.close();
        badRings.close();
        deviceErrors.close();
        memoryFaults.close();
        unsealedRegions.close();
        resumed.close();
        resubmitted.close();
        dirtyPages.close();
        dirtyOutOfRange.close();
        drains.close();
        drainLastMicros.close();
        drainMaxMicros.close();
        firstCompletionMillis.close();
    }
}
