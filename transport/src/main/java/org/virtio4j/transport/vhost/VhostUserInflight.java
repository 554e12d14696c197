package org.virtio4j.transport.vhost;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.virtio.InflightLayout;
import org.virtio4j.virtio.InflightQueue;
import org.virtio4j.virtio.SplitQueue;

import static org.virtio4j.memory.GuestMemory.LE_U16;
import static org.virtio4j.memory.GuestMemory.LE_U64;

/**
 * The shared inflight region of a connection (INFLIGHT_SHMFD): GET_INFLIGHT_FD makes a zeroed memfd laid out as
 * {@link InflightLayout} for the queues the front-end names and hands it over; SET_INFLIGHT_FD maps the region
 * the front-end gives (back) — after a back-end restart, the one the previous process filled — and each ring that
 * starts tracks into its part ({@link #queue}). QEMU keeps the fd across our restarts and frees it at a guest reset.
 *
 * <p>Owned by the server thread of the connection. Every field of the messages is checked before use.
 */
final class VhostUserInflight implements AutoCloseable
{
    /** The largest region accepted: 1024 queues of 32768 entries is far beyond any front-end. */
    private static final long MAX_REGION = 1L << 30;

    private final int maxQueues;
    private MemoryBacking created;
    private MemoryBacking mapped;
    private int numQueues;
    private int queueSize;
    private boolean[] firstStart = new boolean[0];

    /** @param maxQueues the device's queues. */
    VhostUserInflight(final int maxQueues)
    {
        this.maxQueues = maxQueues;
    }

    private void check(final int queues, final int size, final String request) throws VhostUserException
    {
        if (queues < 1 || queues > maxQueues || size < 1 || size > SplitQueue.MAX_QUEUE_SIZE || Integer.bitCount(size) != 1)
        {
            throw new VhostUserException(request + " num_queues=" + queues + " queue_size=" + size +
                ": the device has " + maxQueues + " queues, sizes are powers of two up to " + SplitQueue.MAX_QUEUE_SIZE, false);
        }
    }

    /**
     * GET_INFLIGHT_FD: a fresh zeroed region.
     *
     * @param payload the request (num_queues and queue_size are read).
     * @param reply   where the reply goes.
     * @return the fd to send with the reply (this object keeps it open).
     * @throws VhostUserException if the request is out of range or the memfd cannot be made.
     */
    int get(final MemorySegment payload, final MemorySegment reply) throws VhostUserException
    {
        final int queues = Short.toUnsignedInt(payload.get(LE_U16, 16));
        final int size = Short.toUnsignedInt(payload.get(LE_U16, 18));
        check(queues, size, "GET_INFLIGHT_FD");
        final long bytes = queues * InflightLayout.queueBytes(size);
        closeCreated();
        try
        {
            created = MemoryBacking.memfd("virtio4j-inflight", (bytes + 4095) & ~4095L);
        }
        catch (final ErrnoException e)
        {
            throw new VhostUserException("GET_INFLIGHT_FD: cannot make the region: " + e.getMessage(), false);
        }
        reply.set(LE_U64, 0, created.segment().byteSize());
        reply.set(LE_U64, 8, 0);
        reply.set(LE_U16, 16, (short)queues);
        reply.set(LE_U16, 18, (short)size);
        reply.set(LE_U16, 20, (short)0);
        reply.set(LE_U16, 22, (short)0);
        return created.fd();
    }

    /**
     * SET_INFLIGHT_FD: maps the region the front-end gives; replaces the previous one.
     *
     * @param payload the request.
     * @param fd      the region's fd (owned from here on).
     * @throws VhostUserException if a field is out of range or the fd cannot be mapped (the fd is closed).
     */
    void set(final MemorySegment payload, final int fd) throws VhostUserException
    {
        final long size = payload.get(LE_U64, 0);
        final long offset = payload.get(LE_U64, 8);
        final int queues = Short.toUnsignedInt(payload.get(LE_U16, 16));
        final int entries = Short.toUnsignedInt(payload.get(LE_U16, 18));
        try
        {
            check(queues, entries, "SET_INFLIGHT_FD");
            if (size < queues * InflightLayout.queueBytes(entries) || size > MAX_REGION || offset < 0 || (offset & 4095) != 0 || offset > MAX_REGION)
            {
                throw new VhostUserException("SET_INFLIGHT_FD mmap_size=" + size + " mmap_offset=" + offset + " too small or out of range for " +
                    queues + " queues of " + entries, false);
            }
            final MemoryBacking region = MemoryBacking.mapFd(fd, offset, size, true);
            closeMapped();
            mapped = region;
            numQueues = queues;
            queueSize = entries;
            firstStart = new boolean[queues];
            Arrays.fill(firstStart, true);
        }
        catch (final VhostUserException | ErrnoException e)
        {
            Fds.close(fd);
            throw e instanceof VhostUserException v ? v : new VhostUserException("SET_INFLIGHT_FD: cannot map the region: " + e.getMessage(), false);
        }
    }

    /**
     * @param index    a queue index.
     * @param ringSize the size the ring runs with.
     * @return tracking for that queue in the mapped region (laid out for the region's queue size; a ring the guest
     *         made smaller uses the first entries), or null if there is none for it (no region, a queue beyond the
     *         region, a ring larger than it).
     */
    InflightQueue queue(final int index, final int ringSize)
    {
        if (mapped == null || index >= numQueues || ringSize > queueSize)
        {
            return null;
        }
        final long stride = InflightLayout.queueBytes(queueSize);
        return new InflightQueue(mapped.segment().asSlice(index * stride, stride), ringSize);
    }

    /**
     * @param index a queue index.
     * @return true the first time it is asked for a queue since its region was mapped (a ring resumed from a
     *         region a previous back-end filled is a reconnect; later starts in the same session are not).
     */
    boolean takeFirstStart(final int index)
    {
        if (index >= firstStart.length || !firstStart[index])
        {
            return false;
        }
        firstStart[index] = false;
        return true;
    }

    /** @return true if a region is mapped (a ring without tracking in it is worth a log line). */
    boolean mapped()
    {
        return mapped != null;
    }

    private void closeCreated()
    {
        if (created != null)
        {
            try
            {
                created.close();
            }
            catch (final ErrnoException ignored)
            {
                // Nothing more to release.
            }
            created = null;
        }
    }

    private void closeMapped()
    {
        if (mapped != null)
        {
            try
            {
                mapped.close();
            }
            catch (final ErrnoException ignored)
            {
                // Nothing more to release.
            }
            mapped = null;
        }
    }

    /** Unmaps and closes everything (the front-end went away; it keeps its own fd). */
    @Override
    public void close()
    {
        closeCreated();
        closeMapped();
    }
}
