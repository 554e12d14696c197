package org.virtio4j.transport.vhost;

import java.lang.foreign.MemorySegment;

import org.virtio4j.memory.DirtyLog;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.Linux;

import static org.virtio4j.memory.GuestMemory.LE_U64;

/**
 * The dirty log of a connection (LOG_SHMFD): SET_LOG_BASE hands a memfd holding the VMM's bitmap of guest pages;
 * it is mapped here and, while VHOST_F_LOG_ALL is negotiated, every store the device makes into guest memory marks
 * it ({@link DirtyLog}). A new SET_LOG_BASE (the VMM resizing the log when guest memory changes) replaces the
 * mapping; the device is stopped across the switch, so no store goes unlogged.
 *
 * <p>Owned by the server thread of the connection; the {@link DirtyLog} is used by the device's actors.
 */
final class VhostUserDirtyLog implements AutoCloseable
{
    /** The largest log accepted: one bit per 4 KiB page of 16 TiB of guest memory. */
    private static final long MAX_LOG = 1L << 29;

    private final VhostUserCounters counters;
    private MemoryBacking mapping;
    private DirtyLog log;

    VhostUserDirtyLog(final VhostUserCounters counters)
    {
        this.counters = counters;
    }

    /**
     * SET_LOG_BASE: maps the log the front-end gives; replaces the previous one.
     *
     * @param payload the request (mmap_size, mmap_offset).
     * @param fd      the log's fd (owned from here on: closed once mapped, or on refusal).
     * @throws VhostUserException if a field is out of range or the fd cannot be mapped.
     */
    void set(final MemorySegment payload, final int fd) throws VhostUserException
    {
        final long size = payload.get(LE_U64, 0);
        final long offset = payload.get(LE_U64, 8);
        try
        {
            if (size <= 0 || size > MAX_LOG || (size & 7) != 0 || offset < 0 || (offset & 4095) != 0 || offset > MAX_LOG)
            {
                throw new VhostUserException("SET_LOG_BASE mmap_size=" + size + " mmap_offset=" + offset +
                    ": the log must be whole 64-bit words, at most " + MAX_LOG + " bytes, at a page-aligned offset", false);
            }
            final long fileSize = Linux.fileSize(fd);
            if (fileSize < offset + size)
            {
                throw new VhostUserException("SET_LOG_BASE mmap_size=" + size + " mmap_offset=" + offset + " runs past the end of its " +
                    fileSize + "-byte file", false);
            }
            final MemoryBacking region = MemoryBacking.mapFd(fd, offset, size, true);
            close();
            mapping = region;
            log = new DirtyLog(region.segment(), counters::dirtyPages, counters::dirtyOutOfRange);
        }
        catch (final ErrnoException e)
        {
            Fds.close(fd);
            throw new VhostUserException("SET_LOG_BASE: cannot map the log: " + e.getMessage(), false);
        }
        catch (final VhostUserException e)
        {
            Fds.close(fd);
            throw e;
        }
    }

    /** @return the mapped log, or null. */
    DirtyLog log()
    {
        return log;
    }

    /** Unmaps the log (the front-end went away or reset the device; it keeps its own fd). */
    @Override
    public void close()
    {
        log = null;
        if (mapping != null)
        {
            try
            {
                mapping.close();
            }
            catch (final ErrnoException ignored)
            {
                // Nothing more to release.
            }
            mapping = null;
        }
    }
}
