package org.virtio4j.engine;

/**
 * The stable type ids of virtio4j's counters, with the label suffix each gets. Readers match on the id.
 */
public enum CounterType
{
    /** Chains a queue completed. */
    CHAINS(1001, "chains"),
    /** Batches of ring events an actor took for a queue. */
    BATCHES(1002, "batches"),
    /** Ring events in those batches (with BATCHES: the average batch size). */
    BATCH_EVENTS(1003, "batch events"),
    /** Notifications sent to the driver (call eventfd writes). */
    NOTIFICATIONS_SENT(1004, "notifications sent"),
    /** Notifications the event-idx rules suppressed. */
    NOTIFICATIONS_SUPPRESSED(1005, "notifications suppressed"),
    /** Kicks received while the queue slept on its kick eventfd. */
    KICKS(1006, "kicks"),
    /** Times the queue went back to kick notifications after idling. */
    SLEEPS(1007, "sleeps"),
    /** A queue's current poll window in ns (a gauge: how long it is polled after work before it sleeps). */
    POLL_WINDOW(1010, "poll window ns"),
    /** Publications that found the actor's ring full (retried). */
    RING_FULL(1008, "ring full"),
    /** Device errors on the queue (each stops the device: it needs a reset). */
    DEVICE_ERRORS(1009, "device errors"),
    /** Poller duty cycles that found work. */
    POLL_BUSY(1020, "busy polls"),
    /** Poller duty cycles that found none. */
    POLL_IDLE(1021, "idle polls"),
    /** A device's own statistic (the label names it). */
    DEVICE_STATISTIC(1013, "statistic"),
    /** Failures of a specific kind (the label names it). */
    ERRORS_BY_REASON(1030, "errors");

    private final int id;
    private final String label;

    CounterType(final int id, final String label)
    {
        this.id = id;
        this.label = label;
    }

    /** @return the stable type id. */
    public int id()
    {
        return id;
    }

    /** @return the label suffix. */
    public String label()
    {
        return label;
    }
}
