package org.virtio4j.memory.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A Linux eventfd: the kick (guest to device) and call (device to guest) signals of virtio, usable within one
 * process and across processes (its fd can be sent over a Unix socket). {@link #drain()} never waits, even on an
 * eventfd whose O_NONBLOCK another process cleared (the flag lives on the file description it shares with us): it
 * reads with {@code preadv2(RWF_NOWAIT)}. To wait, use {@link FdPoller}.
 *
 * <p>{@link #signal()} and {@link #drain()} allocate nothing. {@code signal} may be called from any thread;
 * {@code drain} from one thread at a time. Close it only once no thread uses it (after a closed eventfd, signals
 * fail and are counted, drains return 0).
 */
public final class EventFd implements AutoCloseable
{
    private static final long ONE = 1L;

    private final int fd;
    private final boolean ownsFd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment one = arena.allocate(JAVA_LONG);
    private final MemorySegment readBuffer = arena.allocate(JAVA_LONG);
    /** One iovec over {@link #readBuffer}, for preadv2. */
    private final MemorySegment readVector = arena.allocate(16, 8);
    /** Set if the kernel refused RWF_NOWAIT on this fd (not an eventfd): plain reads then. */
    private boolean plainReads;
    private final MemorySegment writeState = arena.allocate(Linux.CALL_STATE);
    private final MemorySegment readState = arena.allocate(Linux.CALL_STATE);
    private long signalFailures;
    private volatile boolean closed;

    private EventFd(final int fd, final boolean ownsFd)
    {
        this.fd = fd;
        this.ownsFd = ownsFd;
        one.set(JAVA_LONG, 0, ONE);
        readVector.set(JAVA_LONG, 0, readBuffer.address());
        readVector.set(JAVA_LONG, 8, Long.BYTES);
    }

    /**
     * @return a new non-blocking, close-on-exec eventfd with counter 0.
     * @throws ErrnoException if the kernel refuses.
     */
    public static EventFd create() throws ErrnoException
    {
        return new EventFd(Linux.eventfd(0, Linux.EFD_NONBLOCK | Linux.EFD_CLOEXEC), true);
    }

    /**
     * Wraps an eventfd received from elsewhere (a VMM). Draining it never waits, whatever its flags; signalling a
     * blocking one whose counter the other side saturated would (see {@link #signal()}).
     *
     * @param fd            the descriptor.
     * @param takeOwnership whether {@link #close()} closes it.
     * @return the wrapper.
     */
    public static EventFd wrap(final int fd, final boolean takeOwnership)
    {
        return new EventFd(fd, takeOwnership);
    }

    /** @return the file descriptor. */
    public int fd()
    {
        return fd;
    }

    /**
     * Adds 1 to the counter, waking whoever waits on the fd.
     *
     * @return false (and counted) if the write failed, e.g. the fd was closed by its peer.
     */
    public boolean signal()
    {
        if (closed)
        {
            signalFailures++;
            return false;
        }
        final long written;
        try
        {
            written = (long)Linux.WRITE.invokeExact(writeState, fd, one, (long)Long.BYTES);
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("eventfd write", t);
        }
        if (written != Long.BYTES)
        {
            // EAGAIN means the counter is saturated: the reader will wake anyway.
            if (Linux.errno(writeState) != Errno.EAGAIN)
            {
                signalFailures++;
                return false;
            }
        }
        return true;
    }

    /**
     * Reads and resets the counter.
     *
     * @return the signals since the last drain, or 0 if there were none.
     */
    public long drain()
    {
        if (closed)
        {
            return 0;
        }
        long read;
        try
        {
            if (plainReads)
            {
                read = (long)Linux.READ.invokeExact(readState, fd, readBuffer, (long)Long.BYTES);
            }
            else
            {
                read = (long)Linux.PREADV2.invokeExact(readState, fd, readVector, 1, -1L, Linux.RWF_NOWAIT);
                if (read < 0 && Linux.errno(readState) == Errno.EOPNOTSUPP)
                {
                    plainReads = true;
                    read = (long)Linux.READ.invokeExact(readState, fd, readBuffer, (long)Long.BYTES);
                }
            }
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("eventfd read", t);
        }
        return read == Long.BYTES ? readBuffer.get(JAVA_LONG, 0) : 0;
    }

    /** @return signals that failed for a reason other than a saturated counter. */
    public long signalFailures()
    {
        return signalFailures;
    }

    @Override
    public void close() throws ErrnoException
    {
        if (closed)
        {
            return;
        }
        closed = true;
        arena.close();
        if (ownsFd)
        {
            Linux.close(fd);
        }
    }

    @Override
    public String toString()
    {
        return "EventFd[" + fd + "]";
    }
}
