package org.virtio4j.memory.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Waits for any of a set of file descriptors to become readable (or writable), with {@code poll(2)}. The set is
 * rebuilt with {@link #clear()}, {@link #add(int)} and {@link #addWritable(int)}; waiting allocates nothing. A
 * descriptor that hangs up or fails also ends the wait.
 *
 * <p>Not thread-safe: one thread at a time uses it (it may be built on another).
 */
public final class FdPoller implements AutoCloseable
{
    private static final StructLayout POLLFD = MemoryLayout.structLayout(JAVA_INT.withName("fd"), JAVA_SHORT.withName("events"),
        JAVA_SHORT.withName("revents"));
    private static final long FD = 0;
    private static final long EVENTS = 4;
    private static final long REVENTS = 6;

    private final Arena arena = Arena.ofShared();
    private MemorySegment fds;
    private final MemorySegment callState = arena.allocate(Linux.CALL_STATE);
    private int capacity;
    private int count;

    /** @param capacity the descriptors the set holds before it grows. */
    public FdPoller(final int capacity)
    {
        if (capacity < 1)
        {
            throw new IllegalArgumentException("capacity must be positive: " + capacity);
        }
        this.capacity = capacity;
        fds = arena.allocate(POLLFD, capacity);
    }

    /** Empties the set. */
    public void clear()
    {
        count = 0;
    }

    /**
     * @param fd a descriptor to wait on for input.
     * @return its index in the set.
     */
    public int add(final int fd)
    {
        return add(fd, Linux.POLLIN);
    }

    /**
     * @param fd a descriptor to wait on for room to write.
     * @return its index in the set.
     */
    public int addWritable(final int fd)
    {
        return add(fd, Linux.POLLOUT);
    }

    private int add(final int fd, final short events)
    {
        if (count == capacity)
        {
            // Guests decide how many sockets a device waits on: the set grows rather than fail (rare, so the
            // superseded array stays in the arena until close).
            final MemorySegment grown = arena.allocate(POLLFD, capacity * 2L);
            grown.copyFrom(fds);
            fds = grown;
            capacity *= 2;
        }
        final long at = POLLFD.byteSize() * count;
        fds.set(JAVA_INT, at + FD, fd);
        fds.set(JAVA_SHORT, at + EVENTS, events);
        fds.set(JAVA_SHORT, at + REVENTS, (short)0);
        return count++;
    }

    /** @return the number of descriptors in the set. */
    public int size()
    {
        return count;
    }

    /**
     * Waits until a descriptor is ready or the timeout passes.
     *
     * @param timeoutMillis the most to wait; 0 returns at once, -1 waits without limit.
     * @return the number of ready descriptors (0 on timeout or interruption by a signal).
     */
    public int poll(final int timeoutMillis)
    {
        final int ready;
        try
        {
            ready = (int)Linux.POLL.invokeExact(callState, fds, (long)count, timeoutMillis);
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("poll", t);
        }
        return Math.max(ready, 0);
    }

    /**
     * @param index an index from {@link #add(int)}.
     * @return true if that descriptor was readable at the last {@link #poll}.
     */
    public boolean isReadable(final int index)
    {
        return (fds.get(JAVA_SHORT, POLLFD.byteSize() * index + REVENTS) & Linux.POLLIN) != 0;
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
