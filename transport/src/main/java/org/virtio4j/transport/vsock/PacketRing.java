package org.virtio4j.transport.vsock;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A bounded FIFO of whole packets (header and data) waiting for a guest's receive buffers, in one off-heap block:
 * records {@code [length u32][bytes]}, 8-byte aligned, wrapping with a skip marker. Nothing is allocated per
 * packet. When it is full the bridge stops polling, so Aeron's flow control holds the sender back: no packet is
 * dropped.
 *
 * <p>Single-threaded.
 */
final class PacketRing implements AutoCloseable
{
    private static final int SKIP = -1;
    private static final ValueLayout.OfInt LENGTH = ValueLayout.JAVA_INT_UNALIGNED;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment ring;
    private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
    private final long capacity;
    private long head;
    private long tail;
    private int headConsumed;

    PacketRing(final long capacity)
    {
        this.capacity = capacity;
        ring = arena.allocate(capacity, 8);
    }

    private static long align(final long value)
    {
        return (value + 7) & ~7L;
    }

    /** @return true if a packet of {@code length} bytes fits now. */
    boolean fits(final int length)
    {
        return capacity - (tail - head) >= 2 * align(Integer.BYTES + length);
    }

    /** Appends a packet (call {@link #fits} first). */
    void add(final DirectBuffer buffer, final int offset, final int length)
    {
        final long record = align(Integer.BYTES + length);
        long at = tail % capacity;
        if (at + record > capacity)
        {
            ring.set(LENGTH, at, SKIP);
            tail += capacity - at;
            at = 0;
        }
        ring.set(LENGTH, at, length);
        final long address = ring.address() + at + Integer.BYTES;
        final UnsafeBuffer target = view;
        target.wrap(address, length);
        target.putBytes(0, buffer, offset, length);
        tail += record;
    }

    /** Drops every packet. */
    void clear()
    {
        head = tail;
        headConsumed = 0;
    }

    boolean isEmpty()
    {
        return head == tail;
    }

    private long headAt()
    {
        long at = head % capacity;
        if (ring.get(LENGTH, at) == SKIP)
        {
            head += capacity - at;
            at = 0;
        }
        return at;
    }

    /** @return the whole ring; the oldest packet starts at {@link #headOffset()}. */
    MemorySegment ring()
    {
        return ring;
    }

    /** @return where in {@link #ring()} the oldest packet's bytes (header, then data) start. */
    long headOffset()
    {
        return headAt() + Integer.BYTES;
    }

    /** @return the bytes of the oldest packet's data already delivered (it is split across receive buffers). */
    int headConsumed()
    {
        return headConsumed;
    }

    /** Records that {@code bytes} more of the oldest packet's data went to the guest; drops it when all did. */
    void consume(final int bytes, final boolean finished)
    {
        headConsumed += bytes;
        if (finished)
        {
            final long at = headAt();
            head += align(Integer.BYTES + ring.get(LENGTH, at));
            headConsumed = 0;
        }
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
