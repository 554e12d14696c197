package org.virtio4j.transport.vhost;

import org.agrona.concurrent.status.AtomicCounter;
import org.virtio4j.engine.Engine;

/**
 * A vhost-user server's counters, in the engine's counters file: connections, messages, refused messages by
 * kind, rings that could not start, device failures.
 */
final class VhostUserCounters implements AutoCloseable
{
    private final AtomicCounter connections;
    private final AtomicCounter messages;
    private final AtomicCounter refused;
    private final AtomicCounter closedOnError;
    private final AtomicCounter badRings;
    private final AtomicCounter deviceErrors;

    VhostUserCounters(final Engine engine, final String name)
    {
        final String prefix = name + " vhost-user ";
        connections = engine.newCounter(prefix + "connections");
        messages = engine.newCounter(prefix + "messages");
        refused = engine.newCounter(prefix + "errors: refused messages");
        closedOnError = engine.newCounter(prefix + "errors: connections closed on error");
        badRings = engine.newCounter(prefix + "errors: rings not started");
        deviceErrors = engine.newCounter(prefix + "errors: device failures");
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
    }
}
