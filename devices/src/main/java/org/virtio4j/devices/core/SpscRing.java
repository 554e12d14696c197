package org.virtio4j.devices.core;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A bounded single-producer single-consumer queue of references, allocation-free: the producer's tail and the
 * consumer's head are published with release stores and read with acquire loads.
 *
 * @param <E> the element type.
 */
public final class SpscRing<E>
{
    private static final VarHandle HEAD;
    private static final VarHandle TAIL;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Object[].class);

    static
    {
        try
        {
            HEAD = MethodHandles.lookup().findVarHandle(SpscRing.class, "head", long.class);
            TAIL = MethodHandles.lookup().findVarHandle(SpscRing.class, "tail", long.class);
        }
        catch (final ReflectiveOperationException e)
        {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Object[] slots;
    private final int mask;
    @SuppressWarnings("unused")
    private long head;
    @SuppressWarnings("unused")
    private long tail;

    /** @param capacity a power of two. */
    public SpscRing(final int capacity)
    {
        if (capacity < 1 || Integer.bitCount(capacity) != 1)
        {
            throw new IllegalArgumentException("ring capacity=" + capacity + " must be a power of two");
        }
        slots = new Object[capacity];
        mask = capacity - 1;
    }

    /**
     * Producer only.
     *
     * @param element the element.
     * @return false if the ring is full.
     */
    public boolean offer(final E element)
    {
        final long t = (long)TAIL.getOpaque(this);
        if (t - (long)HEAD.getAcquire(this) == slots.length)
        {
            return false;
        }
        SLOT.setRelease(slots, (int)(t & mask), element);
        TAIL.setRelease(this, t + 1);
        return true;
    }

    /**
     * Consumer only.
     *
     * @return the oldest element, or null if empty.
     */
    @SuppressWarnings("unchecked")
    public E poll()
    {
        final long h = (long)HEAD.getOpaque(this);
        if (h == (long)TAIL.getAcquire(this))
        {
            return null;
        }
        final int index = (int)(h & mask);
        final E element = (E)SLOT.getAcquire(slots, index);
        SLOT.setRelease(slots, index, null);
        HEAD.setRelease(this, h + 1);
        return element;
    }

    /** @return true if nothing is queued (a snapshot). */
    public boolean isEmpty()
    {
        return (long)HEAD.getAcquire(this) == (long)TAIL.getAcquire(this);
    }
}
