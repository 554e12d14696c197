package org.virtio4j.devices.blk;

import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.memory.linux.IoUring;
import org.virtio4j.memory.linux.IoUringLayout;

/**
 * {@link BlkIo} on an io_uring of its own: one SQE per operation written straight into the shared ring (READ or
 * WRITE for one buffer, READV or WRITEV for several, FSYNC with DATASYNC, FALLOCATE), one {@code io_uring_enter}
 * per {@link #submit()}, completions reaped from the CQ ring. An eventfd registered with the ring wakes a
 * sleeping owner.
 *
 * <p>Owner thread only, except {@link #hasCompletions()}.
 */
public final class IoUringBlkIo implements BlkIo
{
    private final IoUring ring;
    private final EventFd completionFd;

    /**
     * @param entries the most operations in flight (the ring's size; the kernel may round it up).
     * @throws ErrnoException if the kernel refuses io_uring (EPERM, ENOSYS, ENOMEM, ...).
     */
    public IoUringBlkIo(final int entries) throws ErrnoException
    {
        ring = IoUring.create(entries);
        try
        {
            completionFd = EventFd.create();
            ring.registerEventFd(completionFd.fd());
        }
        catch (final ErrnoException | RuntimeException e)
        {
            ring.close();
            throw e;
        }
    }

    @Override
    public int space()
    {
        return ring.sqSpace();
    }

    @Override
    public boolean prepareRead(final long tag, final int fd, final long iovecs, final int count, final long offset)
    {
        return count == 1
            ? ring.prepare(IoUringLayout.OP_READ, fd, offset, IoVecs.base(iovecs, 0), (int)IoVecs.length(iovecs, 0), 0, tag, 0)
            : ring.prepare(IoUringLayout.OP_READV, fd, offset, iovecs, count, 0, tag, 0);
    }

    @Override
    public boolean prepareWrite(final long tag, final int fd, final long iovecs, final int count, final long offset, final int rwFlags)
    {
        return count == 1
            ? ring.prepare(IoUringLayout.OP_WRITE, fd, offset, IoVecs.base(iovecs, 0), (int)IoVecs.length(iovecs, 0), rwFlags, tag, 0)
            : ring.prepare(IoUringLayout.OP_WRITEV, fd, offset, iovecs, count, rwFlags, tag, 0);
    }

    @Override
    public boolean prepareFsync(final long tag, final int fd)
    {
        return ring.prepare(IoUringLayout.OP_FSYNC, fd, 0, 0, 0, IoUringLayout.FSYNC_DATASYNC, tag, 0);
    }

    @Override
    public boolean prepareFallocate(final long tag, final int fd, final int mode, final long offset, final long length)
    {
        // FALLOCATE swaps fields: addr carries the length, len the mode.
        return ring.prepare(IoUringLayout.OP_FALLOCATE, fd, offset, length, mode, 0, tag, 0);
    }

    @Override
    public int submit()
    {
        return ring.submit();
    }

    @Override
    public int reap(final IoUring.Completions completions, final int limit)
    {
        return ring.reap(completions, limit);
    }

    @Override
    public boolean hasCompletions()
    {
        return ring.hasCompletions();
    }

    @Override
    public int prepareToSleep()
    {
        completionFd.drain();
        return completionFd.fd();
    }

    @Override
    public String kind()
    {
        return "io_uring";
    }

    @Override
    public void close()
    {
        ring.close();
        try
        {
            completionFd.close();
        }
        catch (final ErrnoException ignored)
        {
            // Already closed.
        }
    }
}
