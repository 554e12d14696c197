package org.virtio4j.memory.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.BitSet;
import java.util.function.Supplier;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The few Linux system calls virtio4j needs, called through {@code java.lang.foreign} (no JNI, no C).
 * Every failure throws {@link ErrnoException} carrying the call and its errno.
 *
 * <p>Thread-safe: each call captures errno into its own confined scratch memory.
 */
public final class Linux
{
    /** {@code PROT_READ}. */
    public static final int PROT_READ = 0x1;
    /** {@code PROT_WRITE}. */
    public static final int PROT_WRITE = 0x2;
    /** {@code MAP_SHARED}: writes reach the file and every other mapping of it. */
    public static final int MAP_SHARED = 0x01;
    /** {@code MAP_PRIVATE}. */
    public static final int MAP_PRIVATE = 0x02;
    /** {@code MAP_ANONYMOUS}. */
    public static final int MAP_ANONYMOUS = 0x20;
    /** {@code MAP_NORESERVE}: do not reserve swap for the mapping. */
    public static final int MAP_NORESERVE = 0x4000;
    /** {@code O_RDONLY}. */
    public static final int O_RDONLY = 0;
    /** {@code O_RDWR}. */
    public static final int O_RDWR = 2;
    /** {@code O_DIRECT}: transfers bypass the page cache (buffers, offsets and lengths must be aligned). */
    public static final int O_DIRECT = 0x4000;
    /** {@code O_CLOEXEC}. */
    public static final int O_CLOEXEC = 0x80000;
    /** {@code FALLOC_FL_KEEP_SIZE}: do not change the file size. */
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    /** {@code FALLOC_FL_PUNCH_HOLE}: deallocate the range (reads return zeros); needs KEEP_SIZE. */
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    /** {@code FALLOC_FL_ZERO_RANGE}: zero the range, allocated. */
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;
    /** {@code EFD_NONBLOCK}: reads of a zero counter fail with EAGAIN instead of blocking. */
    public static final int EFD_NONBLOCK = 0x800;
    /** {@code EFD_CLOEXEC}. */
    public static final int EFD_CLOEXEC = 0x80000;
    /** {@code POLLIN}: data to read. */
    public static final short POLLIN = 0x1;
    /** {@code POLLOUT}: room to write. */
    public static final short POLLOUT = 0x4;
    private static final int CPU_SET_BYTES = 128;
    /** {@code MFD_CLOEXEC}. */
    public static final int MFD_CLOEXEC = 0x1;
    /** {@code MFD_ALLOW_SEALING}. */
    public static final int MFD_ALLOW_SEALING = 0x2;

    private static final Linker LINKER = Linker.nativeLinker();
    /** The layout of the scratch memory errno is captured into. */
    static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final MethodHandle MEMFD_CREATE = downcall("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle FTRUNCATE = downcall("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MMAP = downcall(
        "mmap", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = downcall("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle DUP = downcall("dup", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle OPEN = downcall("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle FCNTL = downcall("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle LSEEK = downcall("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle EVENTFD = downcall("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SCHED_SETAFFINITY = downcall(
        "sched_setaffinity", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle SCHED_GETAFFINITY = downcall(
        "sched_getaffinity", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    /** {@code read(2)}, for hot paths that preallocate their buffers and call state. */
    static final MethodHandle READ = downcall("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    /** {@code write(2)}, for hot paths that preallocate their buffers and call state. */
    static final MethodHandle WRITE = downcall("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    /** {@code preadv2(2)}, for reads that must not wait whatever flags another process set on a shared file. */
    static final MethodHandle PREADV2 = downcall("preadv2", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT));
    /** preadv2's flag: fail with EAGAIN rather than wait (eventfds honour it since Linux 5.10 or so). */
    static final int RWF_NOWAIT = 0x8;
    /** {@code poll(2)}. */
    static final MethodHandle POLL = downcall("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle STATX = downcall(
        "statx", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle FSTATFS = downcall("fstatfs", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle IOCTL = downcall("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle FALLOCATE = downcall(
        "fallocate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));

    private Linux()
    {
    }

    @SuppressWarnings("restricted") // the descriptors below match the libc prototypes
    private static MethodHandle downcall(final String name, final FunctionDescriptor descriptor)
    {
        final MemorySegment symbol = LINKER.defaultLookup().find(name)
            .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
        return LINKER.downcallHandle(symbol, descriptor, CAPTURE_ERRNO);
    }

    /** One system call, given the scratch memory errno is captured into and an arena for its arguments. */
    @FunctionalInterface
    private interface Syscall
    {
        long invoke(MemorySegment callState, Arena arena) throws Throwable;
    }

    /**
     * Runs a call and turns a failure (a result below zero, or {@code MAP_FAILED}) into an {@link ErrnoException}.
     * Not for hot paths: it allocates its scratch memory.
     */
    private static long call(final String name, final Syscall syscall, final Supplier<String> detail) throws ErrnoException
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment state = arena.allocate(CALL_STATE);
            final long rc;
            try
            {
                rc = syscall.invoke(state, arena);
            }
            catch (final Throwable t)
            {
                throw new IllegalStateException("unexpected failure invoking " + name, t);
            }
            if (rc < 0)
            {
                throw new ErrnoException(name, (int)ERRNO.get(state, 0L), detail.get());
            }
            return rc;
        }
    }

    /**
     * {@code memfd_create(2)}: an anonymous file that lives in memory and can be shared by fd.
     *
     * @param name  the name shown in /proc/self/fd (for debugging only).
     * @param flags {@link #MFD_CLOEXEC} and friends.
     * @return the new file descriptor.
     * @throws ErrnoException if the kernel refuses.
     */
    public static int memfdCreate(final String name, final int flags) throws ErrnoException
    {
        return (int)call("memfd_create",
            (state, arena) -> (int)MEMFD_CREATE.invokeExact(state, arena.allocateFrom(name), flags), () -> "name=" + name);
    }

    /**
     * {@code ftruncate(2)}.
     *
     * @param fd     the file.
     * @param length its new length in bytes.
     * @throws ErrnoException if the kernel refuses.
     */
    public static void ftruncate(final int fd, final long length) throws ErrnoException
    {
        call("ftruncate", (state, arena) -> (int)FTRUNCATE.invokeExact(state, fd, length), () -> "fd=" + fd + " length=" + length);
    }

    /**
     * {@code mmap(2)} with a kernel-chosen address.
     *
     * @param length the length of the mapping in bytes.
     * @param prot   {@link #PROT_READ} | {@link #PROT_WRITE}.
     * @param flags  {@link #MAP_SHARED}, {@link #MAP_ANONYMOUS}, ...
     * @param fd     the file to map, or -1 for an anonymous mapping.
     * @param offset the offset in the file, a multiple of the page size.
     * @return the address of the mapping.
     * @throws ErrnoException if the kernel refuses.
     */
    public static long mmap(final long length, final int prot, final int flags, final int fd, final long offset)
        throws ErrnoException
    {
        // MAP_FAILED is (void *)-1, which reads as -1 here; no valid user-space address is negative on Linux.
        return call("mmap",
            (state, arena) -> ((MemorySegment)MMAP.invokeExact(state, MemorySegment.NULL, length, prot, flags, fd, offset)).address(),
            () -> "length=" + length + " prot=" + prot + " flags=0x" + Integer.toHexString(flags) + " fd=" + fd + " offset=" + offset);
    }

    /**
     * {@code munmap(2)}.
     *
     * @param address the start of the mapping.
     * @param length  its length.
     * @throws ErrnoException if the kernel refuses.
     */
    public static void munmap(final long address, final long length) throws ErrnoException
    {
        call("munmap", (state, arena) -> (int)MUNMAP.invokeExact(state, MemorySegment.ofAddress(address), length),
            () -> "address=0x" + Long.toHexString(address) + " length=" + length);
    }

    /**
     * {@code close(2)}.
     *
     * @param fd the descriptor to close.
     * @throws ErrnoException if the kernel refuses (EBADF for a descriptor that is not open).
     */
    public static void close(final int fd) throws ErrnoException
    {
        call("close", (state, arena) -> (int)CLOSE.invokeExact(state, fd), () -> "fd=" + fd);
    }

    /**
     * {@code dup(2)}.
     *
     * @param fd the descriptor to duplicate.
     * @return a new descriptor for the same open file.
     * @throws ErrnoException if the kernel refuses.
     */
    public static int dup(final int fd) throws ErrnoException
    {
        return (int)call("dup", (state, arena) -> (int)DUP.invokeExact(state, fd), () -> "fd=" + fd);
    }

    /**
     * {@code open(2)}.
     *
     * @param path  the file.
     * @param flags {@link #O_RDWR} and friends.
     * @return the new file descriptor.
     * @throws ErrnoException if the kernel refuses.
     */
    public static int open(final String path, final int flags) throws ErrnoException
    {
        return (int)call("open", (state, arena) -> (int)OPEN.invokeExact(state, arena.allocateFrom(path), flags, 0), () -> "path=" + path);
    }

    /**
     * {@code fallocate(2)}: allocate, zero or punch a range of a file.
     *
     * @param fd     the file.
     * @param mode   {@link #FALLOC_FL_PUNCH_HOLE} | {@link #FALLOC_FL_KEEP_SIZE}, ...
     * @param offset the start of the range.
     * @param length its length.
     * @throws ErrnoException if the kernel or the file system refuses (EOPNOTSUPP where unsupported).
     */
    public static void fallocate(final int fd, final int mode, final long offset, final long length) throws ErrnoException
    {
        call("fallocate", (state, arena) -> (int)FALLOCATE.invokeExact(state, fd, mode, offset, length),
            () -> "fd=" + fd + " mode=0x" + Integer.toHexString(mode) + " offset=" + offset + " length=" + length);
    }

    /** {@code TMPFS_MAGIC}: tmpfs and /dev/shm. */
    public static final long TMPFS_MAGIC = 0x01021994L;
    /** {@code RAMFS_MAGIC}. */
    public static final long RAMFS_MAGIC = 0x858458f6L;

    /**
     * {@code fstatfs(2)}: the type of the file system a descriptor is on.
     *
     * @param fd the descriptor.
     * @return {@code f_type}, e.g. {@link #TMPFS_MAGIC}.
     * @throws ErrnoException if fstatfs fails.
     */
    public static long fileSystemType(final int fd) throws ErrnoException
    {
        final long[] type = new long[1];
        call("fstatfs", (state, arena) ->
        {
            final MemorySegment buffer = arena.allocate(120, 8);
            final int rc = (int)FSTATFS.invokeExact(state, fd, buffer);
            type[0] = buffer.get(JAVA_LONG, 0);
            return rc;
        }, () -> "fd=" + fd);
        return type[0];
    }

    /**
     * The alignment O_DIRECT needs on a file: {@code statx(STATX_DIOALIGN)} (Linux 6.1), else the logical block
     * size of a block device ({@code BLKSSZGET}), else 512.
     *
     * @param path the file (for statx).
     * @param fd   the same file, open.
     * @return {memory alignment, offset and length alignment}; {0, 0} if the file does not support O_DIRECT.
     * @throws ErrnoException if statx fails outright.
     */
    public static int[] directIoAlignment(final String path, final int fd) throws ErrnoException
    {
        final int statxDioAlign = 0x2000;
        final int[] out = new int[2];
        call("statx", (state, arena) ->
        {
            final MemorySegment buffer = arena.allocate(256, 8);
            final int rc = (int)STATX.invokeExact(state, -100 /* AT_FDCWD */, arena.allocateFrom(path), 0, statxDioAlign, buffer);
            if (rc == 0 && (buffer.get(JAVA_INT, 0) & statxDioAlign) != 0)
            {
                out[0] = buffer.get(JAVA_INT, 152);
                out[1] = buffer.get(JAVA_INT, 156);
                return rc;
            }
            if (rc == 0)
            {
                final MemorySegment size = arena.allocate(JAVA_INT);
                final int ioctl = (int)IOCTL.invokeExact(state, fd, 0x1268L /* BLKSSZGET */, size);
                out[0] = ioctl == 0 ? size.get(JAVA_INT, 0) : 512;
                out[1] = out[0];
            }
            return rc;
        }, () -> "path=" + path);
        return out;
    }

    /**
     * @param callState scratch memory a call captured errno into.
     * @return the errno it holds.
     */
    static int errno(final MemorySegment callState)
    {
        return (int)ERRNO.get(callState, 0L);
    }

    /**
     * Sets {@code O_NONBLOCK} on a descriptor (one received from another process may lack it).
     *
     * @param fd the descriptor.
     * @throws ErrnoException if fcntl fails.
     */
    public static void setNonBlocking(final int fd) throws ErrnoException
    {
        final int flags = (int)call("fcntl", (state, arena) -> (int)FCNTL.invokeExact(state, fd, 3 /* F_GETFL */, 0), () -> "fd=" + fd);
        call("fcntl", (state, arena) -> (int)FCNTL.invokeExact(state, fd, 4 /* F_SETFL */, flags | 0x800 /* O_NONBLOCK */), () -> "fd=" + fd);
    }

    /**
     * @param fd a descriptor.
     * @return what it is, as /proc/self/fd names it: {@code anon_inode:[eventfd]}, {@code pipe:[123]}, a path, or
     *         {@code ?} if it cannot be read.
     */
    public static String describeFd(final int fd)
    {
        try
        {
            return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/" + fd)).toString();
        }
        catch (final java.io.IOException | UnsupportedOperationException e)
        {
            return "?";
        }
    }

    /** F_GET_SEALS, and the seal that keeps a memfd from shrinking under its mappings. */
    private static final int F_GET_SEALS = 1034;
    public static final int F_SEAL_SHRINK = 0x0002;

    /**
     * @param fd a descriptor.
     * @return its memfd seals, or -1 if it has none to have (not a memfd: a file, hugetlbfs without seals).
     */
    public static int seals(final int fd)
    {
        try
        {
            return (int)call("fcntl", (state, arena) -> (int)FCNTL.invokeExact(state, fd, F_GET_SEALS, 0), () -> "fd=" + fd + " F_GET_SEALS");
        }
        catch (final ErrnoException e)
        {
            return -1;
        }
    }

    /**
     * @param fd a descriptor.
     * @return true if it is an eventfd.
     */
    public static boolean isEventFd(final int fd)
    {
        return "anon_inode:[eventfd]".equals(describeFd(fd));
    }

    /**
     * The size of the file behind a descriptor ({@code lseek(fd, 0, SEEK_END)}): memfds, regular files, hugetlbfs.
     *
     * @param fd the descriptor.
     * @return its size in bytes.
     * @throws ErrnoException if it cannot be sought (a pipe, a socket).
     */
    public static long fileSize(final int fd) throws ErrnoException
    {
        return call("lseek", (state, arena) -> (long)LSEEK.invokeExact(state, fd, 0L, 2), () -> "fd=" + fd + " SEEK_END");
    }

    /**
     * {@code eventfd(2)}.
     *
     * @param initialValue the counter's start value.
     * @param flags        {@link #EFD_NONBLOCK} | {@link #EFD_CLOEXEC}.
     * @return the new file descriptor.
     * @throws ErrnoException if the kernel refuses.
     */
    public static int eventfd(final int initialValue, final int flags) throws ErrnoException
    {
        return (int)call("eventfd", (state, arena) -> (int)EVENTFD.invokeExact(state, initialValue, flags), () -> "flags=0x" + Integer.toHexString(flags));
    }

    /**
     * {@code sched_setaffinity(2)} for the calling thread.
     *
     * @param cpus the CPUs the thread may run on.
     * @throws ErrnoException if the kernel refuses (EINVAL when none of them is usable).
     */
    public static void setAffinity(final BitSet cpus) throws ErrnoException
    {
        call("sched_setaffinity", (state, arena) ->
        {
            final MemorySegment mask = arena.allocate(CPU_SET_BYTES);
            final long[] words = cpus.toLongArray();
            for (int i = 0; i < words.length && i < CPU_SET_BYTES / Long.BYTES; i++)
            {
                mask.setAtIndex(JAVA_LONG, i, words[i]);
            }
            return (int)SCHED_SETAFFINITY.invokeExact(state, 0, (long)CPU_SET_BYTES, mask);
        }, () -> "cpus=" + cpus);
    }

    /**
     * {@code sched_getaffinity(2)} for the calling thread: the CPUs the kernel actually lets it run on.
     *
     * @return the set of CPUs.
     * @throws ErrnoException if the kernel refuses.
     */
    public static BitSet getAffinity() throws ErrnoException
    {
        final long[][] result = new long[1][];
        call("sched_getaffinity", (state, arena) ->
        {
            final MemorySegment mask = arena.allocate(CPU_SET_BYTES);
            final int rc = (int)SCHED_GETAFFINITY.invokeExact(state, 0, (long)CPU_SET_BYTES, mask);
            result[0] = mask.toArray(JAVA_LONG);
            return rc;
        }, () -> "");
        return BitSet.valueOf(result[0]);
    }

    /** @return the size of a page, for aligning mappings. */
    public static long pageSize()
    {
        return 4096L;
    }
}
