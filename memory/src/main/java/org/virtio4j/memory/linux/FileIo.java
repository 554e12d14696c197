package org.virtio4j.memory.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Positional file I/O on native memory for hot paths: {@code preadv2}, {@code pwritev2}, {@code fdatasync} and
 * {@code fallocate}, returning {@code -errno} instead of throwing and allocating nothing per call (the errno
 * scratch memory is this object's). Buffers are given as native {@code iovec} arrays, so they may point straight
 * into guest memory.
 *
 * <p>One instance per thread.
 */
public final class FileIo implements AutoCloseable
{
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle PREADV2 = downcall("preadv2",
        FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle PWRITEV2 = downcall("pwritev2",
        FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle FDATASYNC = downcall("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FALLOCATE = downcall("fallocate",
        FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));

    private final Arena arena = Arena.ofShared();
    private final MemorySegment state = arena.allocate(Linux.CALL_STATE);

    @SuppressWarnings("restricted") // the descriptors match the glibc prototypes
    private static MethodHandle downcall(final String name, final FunctionDescriptor descriptor)
    {
        final MemorySegment symbol = LINKER.defaultLookup().find(name)
            .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
        return LINKER.downcallHandle(symbol, descriptor, Linker.Option.captureCallState("errno"));
    }

    private long result(final long rc)
    {
        return rc < 0 ? -Linux.errno(state) : rc;
    }

    /**
     * @param fd     the file.
     * @param iovecs the address of a native array of {@code count} iovecs (the pointer passed as a long).
     * @param count  how many.
     * @param offset the file offset.
     * @param flags  {@code RWF_*} (0, or {@link IoUringLayout#RWF_NOWAIT} to fail with EAGAIN rather than block).
     * @return bytes read (0 at end of file), or {@code -errno}.
     */
    public long preadv2(final int fd, final long iovecs, final int count, final long offset, final int flags)
    {
        try
        {
            return result((long)PREADV2.invokeExact(state, fd, iovecs, count, offset, flags));
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("preadv2 failed to run", t);
        }
    }

    /**
     * @param fd     the file.
     * @param iovecs the address of a native array of {@code count} iovecs (the pointer passed as a long).
     * @param count  how many.
     * @param offset the file offset.
     * @param flags  {@code RWF_*} ({@link IoUringLayout#RWF_DSYNC} for a durable write).
     * @return bytes written, or {@code -errno}.
     */
    public long pwritev2(final int fd, final long iovecs, final int count, final long offset, final int flags)
    {
        try
        {
            return result((long)PWRITEV2.invokeExact(state, fd, iovecs, count, offset, flags));
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("pwritev2 failed to run", t);
        }
    }

    /**
     * @param fd the file.
     * @return 0, or {@code -errno}.
     */
    public int fdatasync(final int fd)
    {
        try
        {
            return (int)result((int)FDATASYNC.invokeExact(state, fd));
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("fdatasync failed to run", t);
        }
    }

    /**
     * @param fd     the file.
     * @param mode   {@code FALLOC_FL_*}.
     * @param offset the start.
     * @param length the length.
     * @return 0, or {@code -errno}.
     */
    public int fallocate(final int fd, final int mode, final long offset, final long length)
    {
        try
        {
            return (int)result((int)FALLOCATE.invokeExact(state, fd, mode, offset, length));
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("fallocate failed to run", t);
        }
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
