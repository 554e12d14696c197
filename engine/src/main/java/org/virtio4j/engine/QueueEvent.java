package org.virtio4j.engine;

/**
 * A slot of an actor's ring: what a poller tells the actor about a queue. Preallocated by the Disruptor and
 * reused; publishing one allocates nothing.
 */
final class QueueEvent
{
    /** The queue has entries up to {@link #availIdx}: process them. */
    static final int WORK = 1;
    /** The queue has been idle: re-enable guest notifications so it can sleep on its kick eventfd. */
    static final int ARM = 2;

    int type;
    QueueBinding binding;
    int availIdx;

    void set(final int type, final QueueBinding binding, final int availIdx)
    {
        this.type = type;
        this.binding = binding;
        this.availIdx = availIdx;
    }
}
