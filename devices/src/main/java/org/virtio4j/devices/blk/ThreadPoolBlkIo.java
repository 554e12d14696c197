package org.virtio4j.devices.blk;

import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

import org.virtio4j.devices.core.SpscRing;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.memory.linux.FileIo;
import org.virtio4j.memory.linux.IoUring;

/**
 * {@link BlkIo} where io_uring is refused: a pool of I/O threads doing {@code preadv2}, {@code pwritev2},
 * {@code fdatasync} and {@code fallocate} straight on guest memory, many operations in flight at once. The owner
 * hands operations to the workers round-robin through one single-producer queue each; each worker returns them
 * through a queue of its own, and signals the completion eventfd only while the owner is about to sleep.
 *
 * <p>Operations are preallocated ({@code capacity} of them): nothing is allocated per request.
 */
public final class ThreadPoolBlkIo implements BlkIo
{
    private static final int READ = 0;
    private static final int WRITE = 1;
    private static final int FSYNC = 2;
    private static final int FALLOCATE = 3;
    private static final long IDLE_SPINS = 200;

    /** One operation; owned by the owner while free or staged, by a worker while queued or running. */
    private static final class Op
    {
        int kind;
        long tag;
        int fd;
        long iovecs;
        int count;
        long offset;
        long length;
        int flags;
        long result;
    }

    private final Op[] free;
    private int freeCount;
    private final Op[] staged;
    private int stagedCount;
    private final Worker[] workers;
    private int nextWorker;
    private int nextReaped;
    private final EventFd completionFd;
    private volatile boolean ownerSleeping;
    private volatile boolean closed;

    /**
     * @param capacity the most operations in flight.
     * @param threads  I/O threads.
     * @param name     for thread names.
     * @throws ErrnoException if the completion eventfd cannot be made.
     */
    public ThreadPoolBlkIo(final int capacity, final int threads, final String name) throws ErrnoException
    {
        if (capacity < 1 || threads < 1 || threads > 1024)
        {
            throw new IllegalArgumentException("blk threads=" + threads + " must be in [1, 1024] (capacity " + capacity + ")");
        }
        free = new Op[capacity];
        for (int i = 0; i < capacity; i++)
        {
            free[i] = new Op();
        }
        freeCount = capacity;
        staged = new Op[capacity];
        completionFd = EventFd.create();
        workers = new Worker[threads];
        for (int i = 0; i < threads; i++)
        {
            workers[i] = new Worker(Integer.highestOneBit(capacity * 2 - 1));
            final Thread thread = new Thread(workers[i], "virtio4j-io-" + name + "-" + i);
            thread.setDaemon(true);
            workers[i].thread = thread;
            thread.start();
        }
    }

    @Override
    public int space()
    {
        return freeCount;
    }

    private boolean stage(final int kind, final long tag, final int fd, final long iovecs, final int count, final long offset,
        final long length, final int flags)
    {
        if (freeCount == 0)
        {
            return false;
        }
        final Op op = free[--freeCount];
        free[freeCount] = null;
        op.kind = kind;
        op.tag = tag;
        op.fd = fd;
        op.iovecs = iovecs;
        op.count = count;
        op.offset = offset;
        op.length = length;
        op.flags = flags;
        staged[stagedCount++] = op;
        return true;
    }

    @Override
    public boolean prepareRead(final long tag, final int fd, final long iovecs, final int count, final long offset)
    {
        return stage(READ, tag, fd, iovecs, count, offset, 0, 0);
    }

    @Override
    public boolean prepareWrite(final long tag, final int fd, final long iovecs, final int count, final long offset, final int rwFlags)
    {
        return stage(WRITE, tag, fd, iovecs, count, offset, 0, rwFlags);
    }

    @Override
    public boolean prepareFsync(final long tag, final int fd)
    {
        return stage(FSYNC, tag, fd, 0, 0, 0, 0, 0);
    }

    @Override
    public boolean prepareFallocate(final long tag, final int fd, final int mode, final long offset, final long length)
    {
        return stage(FALLOCATE, tag, fd, 0, 0, offset, length, mode);
    }

    @Override
    public int submit()
    {
        final int count = stagedCount;
        for (int i = 0; i < count; i++)
        {
            final Worker worker = workers[nextWorker];
            nextWorker = nextWorker + 1 == workers.length ? 0 : nextWorker + 1;
            // Each worker queue holds the pool's capacity: the offer cannot fail.
            worker.in.offer(staged[i]);
            staged[i] = null;
            worker.wakeIfParked();
        }
        stagedCount = 0;
        return count;
    }

    @Override
    public int reap(final IoUring.Completions completions, final int limit)
    {
        ownerSleeping = false;
        int reaped = 0;
        final Worker[] workers = this.workers;
        for (int w = 0; w < workers.length && reaped < limit; w++)
        {
            // Start where the last reap stopped, so that no worker's completions wait behind another's.
            final Worker worker = workers[nextReaped];
            nextReaped = nextReaped + 1 == workers.length ? 0 : nextReaped + 1;
            Op op;
            while (reaped < limit && (op = worker.out.poll()) != null)
            {
                final long tag = op.tag;
                final int result = (int)Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, op.result));
                free[freeCount++] = op;
                reaped++;
                completions.complete(tag, result);
            }
        }
        return reaped;
    }

    @Override
    public boolean hasCompletions()
    {
        for (final Worker worker : workers)
        {
            if (!worker.out.isEmpty())
            {
                return true;
            }
        }
        return false;
    }

    @Override
    public int prepareToSleep()
    {
        completionFd.drain();
        ownerSleeping = true;
        return completionFd.fd();
    }

    @Override
    public String kind()
    {
        return "threads";
    }

    private void completed(final SpscRing<Op> out, final Op op)
    {
        // Each ring holds every operation of the pool: the offer cannot fail.
        out.offer(op);
        // Dekker with prepareToSleep: our offer is visible before we read the flag; the owner sets the flag
        // before its last look at the queue. One of the two sees the other.
        VarHandle.fullFence();
        if (ownerSleeping)
        {
            completionFd.signal();
        }
    }

    @Override
    public void close()
    {
        closed = true;
        for (final Worker worker : workers)
        {
            LockSupport.unpark(worker.thread);
        }
        for (final Worker worker : workers)
        {
            try
            {
                worker.thread.join(5_000);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                break;
            }
        }
        try
        {
            completionFd.close();
        }
        catch (final ErrnoException ignored)
        {
            // Already closed.
        }
    }

    /** One I/O thread: takes operations from its queue, runs them, returns them completed. */
    private final class Worker implements Runnable
    {
        final SpscRing<Op> in;
        final SpscRing<Op> out;
        Thread thread;
        volatile boolean parked;

        Worker(final int capacity)
        {
            in = new SpscRing<>(capacity);
            out = new SpscRing<>(capacity);
        }

        void wakeIfParked()
        {
            VarHandle.fullFence();
            if (parked)
            {
                LockSupport.unpark(thread);
            }
        }

        @Override
        public void run()
        {
            try (FileIo io = new FileIo())
            {
                long idle = 0;
                while (!closed)
                {
                    final Op op = in.poll();
                    if (op == null)
                    {
                        if (++idle < IDLE_SPINS)
                        {
                            Thread.onSpinWait();
                            continue;
                        }
                        parked = true;
                        VarHandle.fullFence();
                        if (in.isEmpty() && !closed)
                        {
                            LockSupport.park(this);
                        }
                        parked = false;
                        continue;
                    }
                    idle = 0;
                    op.result = switch (op.kind)
                    {
                        case READ -> io.preadv2(op.fd, op.iovecs, op.count, op.offset, 0);
                        case WRITE -> io.pwritev2(op.fd, op.iovecs, op.count, op.offset, op.flags);
                        case FSYNC -> io.fdatasync(op.fd);
                        default -> io.fallocate(op.fd, op.flags, op.offset, op.length);
                    };
                    completed(out, op);
                }
            }
        }
    }
}
