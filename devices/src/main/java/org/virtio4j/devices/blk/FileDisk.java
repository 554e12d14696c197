package org.virtio4j.devices.blk;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.linux.Errno;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.FileIo;
import org.virtio4j.memory.linux.Linux;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A disk image file served asynchronously: each queue's actor gets its own {@link BlkIo} from {@link #openIo}
 * (io_uring, or a pool of I/O threads where io_uring is refused or {@code aio=threads} is asked for), and moves
 * bytes straight between the file and guest memory. With {@code direct}, the file is opened O_DIRECT; the
 * alignment it needs comes from {@code statx(STATX_DIOALIGN)} and becomes the device's logical block size.
 *
 * <p>The synchronous {@link BlkBackend} methods exist for callers that may block (tools, tests); the device never
 * uses them on an engine thread. {@link #openIo} is called by actors when their device activates; everything
 * else by the control plane.
 */
public final class FileDisk implements BlkBackend
{
    /** How I/O is done. */
    public enum Aio
    {
        /** io_uring, falling back to threads if the kernel refuses. */
        IO_URING,
        /** A pool of I/O threads. */
        THREADS
    }

    /**
     * When a buffered request is done synchronously on the actor instead of through the ring (never with O_DIRECT).
     * A read the page cache holds costs less done at once than through io_uring's asynchronous path.
     */
    public enum Sync
    {
        /** On a memory file system (tmpfs, ramfs: nothing waits for a device) reads and writes; elsewhere none. */
        AUTO,
        /** As AUTO, and elsewhere reads with RWF_NOWAIT (the page cache or EAGAIN, then the ring). */
        NOWAIT,
        /** Never: everything through the ring. */
        OFF
    }

    /** Makes the io_uring of one queue; a seam so tests can make the kernel refuse. */
    @FunctionalInterface
    public interface RingFactory
    {
        /**
         * @param entries the ring size.
         * @return the ring.
         * @throws ErrnoException if io_uring is refused.
         */
        BlkIo open(int entries) throws ErrnoException;
    }

    /**
     * How the file is opened and served.
     *
     * @param readOnly     open read-only.
     * @param direct       O_DIRECT (no page cache).
     * @param aio          io_uring or threads.
     * @param threads      I/O threads per queue for the thread pool (0: sized for the queue).
     * @param sync         serve buffered requests that cannot block synchronously on the actor, before the ring:
     *                     {@link Sync}.
     * @param blockSize    the logical block size to advertise (0: the file's O_DIRECT alignment, else 512); with
     *                     O_DIRECT, at least the file's alignment.
     * @param submitBatch  requests a queue starts before it hands their operations to the kernel mid-batch (0: once
     *                     per batch only). Small groups keep a disk busy while the rest of the batch is parsed: a
     *                     batch handed over whole makes the guest's requests travel in convoys (see docs/blk.md).
     */
    public record Options(boolean readOnly, boolean direct, Aio aio, int threads, Sync sync, int blockSize, int submitBatch)
    {
        /** Requests started between submissions unless set: measured best on O_DIRECT disks (docs/blk.md). */
        public static final int DEFAULT_SUBMIT_BATCH = 4;

        /** Checks the fields. */
        public Options
        {
            if (threads < 0 || threads > 1024)
            {
                throw new IllegalArgumentException("blk threads=" + threads + " must be in [0, 1024] (0: sized for the queue)");
            }
            if (blockSize != 0 && (blockSize < 512 || blockSize > 65536 || Integer.bitCount(blockSize) != 1))
            {
                throw new IllegalArgumentException("blk logical-block-size=" + blockSize + " must be a power of two in [512, 65536]");
            }
            if (submitBatch < 0 || submitBatch > 32768)
            {
                throw new IllegalArgumentException("blk submit-batch=" + submitBatch + " must be in [0, 32768] (0: once per batch)");
            }
        }

        /** @return buffered, io_uring, no synchronous fast path. */
        public static Options defaults()
        {
            return new Options(false, false, Aio.IO_URING, 0, Sync.AUTO, 0, DEFAULT_SUBMIT_BATCH);
        }

        /**
         * @param on O_DIRECT or not.
         * @return these options with that.
         */
        public Options withDirect(final boolean on)
        {
            return new Options(readOnly, on, aio, threads, sync, blockSize, submitBatch);
        }

        /**
         * @param how io_uring or threads.
         * @return these options with that.
         */
        public Options withAio(final Aio how)
        {
            return new Options(readOnly, direct, how, threads, sync, blockSize, submitBatch);
        }

        /**
         * @param bytes the logical block size (0: from the file).
         * @return these options with that.
         */
        public Options withBlockSize(final int bytes)
        {
            return new Options(readOnly, direct, aio, threads, sync, bytes, submitBatch);
        }

        /**
         * @param how when requests are served synchronously.
         * @return these options with that.
         */
        public Options withSync(final Sync how)
        {
            return new Options(readOnly, direct, aio, threads, how, blockSize, submitBatch);
        }

        /**
         * @param requests requests started between submissions (0: once per batch).
         * @return these options with that.
         */
        public Options withSubmitBatch(final int requests)
        {
            return new Options(readOnly, direct, aio, threads, sync, blockSize, requests);
        }
    }

    private final Path path;
    private final Options options;
    private final int fd;
    private final long capacity;
    private final int memoryAlignment;
    private final int blockSize;
    private final RingFactory rings;
    private final boolean memoryFileSystem;
    private final MemorySegment mapping;
    private final List<BlkIo> opened = new ArrayList<>();
    private final BlkWriteGate writeGate = new BlkWriteGate();
    private volatile boolean flushFailed;
    private volatile String ioKind;
    private volatile String fallbackReason;
    private volatile long fallbacks;

    /**
     * @param path    the image file; it must exist.
     * @param options how to open and serve it.
     * @throws IOException if it cannot be opened, or O_DIRECT was asked for and the file system does not do it.
     */
    public FileDisk(final Path path, final Options options) throws IOException
    {
        this(path, options, IoUringBlkIo::new);
    }

    /**
     * @param path    the image file; it must exist.
     * @param options how to open and serve it.
     * @param rings   how io_uring rings are made.
     * @throws IOException if it cannot be opened.
     */
    public FileDisk(final Path path, final Options options, final RingFactory rings) throws IOException
    {
        if (!Files.exists(path))
        {
            throw new IOException(path + ": no such file (create the image first, e.g. truncate -s 1G " + path + ")");
        }
        this.path = path;
        this.options = options;
        this.rings = rings;
        final int flags = (options.readOnly() ? Linux.O_RDONLY : Linux.O_RDWR) | Linux.O_CLOEXEC | (options.direct() ? Linux.O_DIRECT : 0);
        try
        {
            fd = Linux.open(path.toString(), flags);
        }
        catch (final ErrnoException e)
        {
            throw new IOException(path + ": cannot open" + (options.direct() ? " with O_DIRECT (direct=on)" : "") + ": " + e.getMessage(), e);
        }
        try
        {
            if (options.direct())
            {
                final int[] alignment = Linux.directIoAlignment(path.toString(), fd);
                if (alignment[1] == 0)
                {
                    throw new IOException(path + ": the file system does not support O_DIRECT (use direct=off)");
                }
                memoryAlignment = Math.max(1, alignment[0]);
                blockSize = Math.max(Math.max(512, alignment[1]), options.blockSize());
            }
            else
            {
                memoryAlignment = 1;
                blockSize = Math.max(512, options.blockSize());
            }
            capacity = Linux.fileSize(fd) & ~(long)(blockSize - 1);
            final long type = Linux.fileSystemType(fd);
            memoryFileSystem = type == Linux.TMPFS_MAGIC || type == Linux.RAMFS_MAGIC;
            mapping = syncReadsAndWrites() && capacity > 0 ? map(options.readOnly()) : null;
        }
        catch (final IOException | RuntimeException e)
        {
            Linux.close(fd);
            throw e;
        }
    }

    /** @return the gate that makes a read-modify-write run alone among the writes of every queue. */
    BlkWriteGate writeGate()
    {
        return writeGate;
    }

    /**
     * @return true once an fdatasync failed on this file (a writeback error is reported once per open file, so
     *         every queue must see it), until {@link #clearFlushError}.
     */
    boolean flushFailed()
    {
        return flushFailed;
    }

    /** An fdatasync failed: every later FLUSH on any queue fails too. */
    void flushError()
    {
        flushFailed = true;
    }

    /** The device was reset: the guest has been told, a new FLUSH may succeed. */
    void clearFlushError()
    {
        flushFailed = false;
    }

    /** @return the descriptor I/O goes to. */
    public int fd()
    {
        return fd;
    }

    /** @return true if opened O_DIRECT. */
    public boolean direct()
    {
        return options.direct();
    }

    @SuppressWarnings("restricted") // exactly the mapping made here, of the file's capacity
    private MemorySegment map(final boolean readOnly) throws ErrnoException
    {
        final long address = Linux.mmap(capacity, readOnly ? Linux.PROT_READ : Linux.PROT_READ | Linux.PROT_WRITE,
            Linux.MAP_SHARED | Linux.MAP_NORESERVE, fd, 0);
        return MemorySegment.ofAddress(address).reinterpret(capacity);
    }

    /**
     * @return the file mapped into memory when it is on a memory file system (its pages are the file: reads and
     * writes are copies with no system call), else null.
     */
    public MemorySegment mapping()
    {
        return mapping;
    }

    /** @return true if reads and writes are done synchronously (a buffered file on a memory file system). */
    public boolean syncReadsAndWrites()
    {
        return !options.direct() && memoryFileSystem && options.sync() != Sync.OFF;
    }

    /** @return true if buffered reads first try the page cache with RWF_NOWAIT. */
    public boolean nowaitReads()
    {
        return !options.direct() && !memoryFileSystem && options.sync() == Sync.NOWAIT;
    }

    /** @return the options it was opened with. */
    public Options options()
    {
        return options;
    }

    /** @return the memory alignment O_DIRECT transfers need (1 when buffered). */
    public int memoryAlignment()
    {
        return memoryAlignment;
    }

    /** @return the logical block size: offsets and lengths of O_DIRECT transfers are multiples of it (512 buffered). */
    public int blockSize()
    {
        return blockSize;
    }

    /** @return "io_uring" or "threads" once a queue has opened its I/O, else null. */
    public String ioKind()
    {
        return ioKind;
    }

    /** @return times io_uring was refused and threads were used instead. */
    public long fallbacks()
    {
        return fallbacks;
    }

    /** @return why io_uring was refused the last time, or null. */
    public String fallbackReason()
    {
        return fallbackReason;
    }

    /**
     * Opens the I/O of one queue: io_uring unless {@code aio=threads}, or threads when the kernel refuses io_uring
     * (EPERM from seccomp or {@code kernel.io_uring_disabled}, ENOSYS, ...), said once in a log line.
     *
     * @param entries the most operations the queue keeps in flight.
     * @param name    for thread names.
     * @return the I/O; closed with this disk.
     * @throws IOException if neither can be made.
     */
    public synchronized BlkIo openIo(final int entries, final String name) throws IOException
    {
        BlkIo io = null;
        if (options.aio() == Aio.IO_URING)
        {
            try
            {
                io = rings.open(entries);
            }
            catch (final ErrnoException e)
            {
                fallbacks++;
                fallbackReason = e.getMessage();
                if (fallbacks == 1)
                {
                    System.err.println("virtio4j: " + path + ": io_uring refused (" + Errno.name(e.errno()) + ": " + e.getMessage() +
                        "; kernel.io_uring_disabled, a seccomp profile or an old kernel) - using I/O threads (aio=threads)");
                }
            }
        }
        if (io == null)
        {
            final int threads = options.threads() > 0 ? options.threads() : Math.clamp(entries / 4, 4, 32);
            io = new ThreadPoolBlkIo(entries * 2, threads, name);
        }
        ioKind = io.kind();
        opened.add(io);
        return io;
    }

    /**
     * Gives back an I/O opened here (its queue is gone, nothing is in flight on it).
     *
     * @param io the I/O.
     */
    public synchronized void closeIo(final BlkIo io)
    {
        if (opened.remove(io))
        {
            io.close();
        }
    }

    @Override
    public long capacity()
    {
        return capacity;
    }

    // Synchronous access for tools and tests (never on an engine thread): one buffer at a time through a
    // page-aligned native buffer, so O_DIRECT alignment always holds.

    private void transfer(final long offset, final GuestMemory memory, final long address, final int length, final boolean read)
        throws IOException
    {
        final long bytes = Integer.toUnsignedLong(length);
        try (Arena arena = Arena.ofConfined(); FileIo io = new FileIo())
        {
            final long alignedStart = offset & -(long)blockSize;
            final long alignedEnd = (offset + bytes + blockSize - 1) & -(long)blockSize;
            final MemorySegment buffer = arena.allocate(alignedEnd - alignedStart, Math.max(4096, memoryAlignment));
            final MemorySegment iov = arena.allocate(16, 8);
            iov.set(JAVA_LONG, 0, buffer.address());
            iov.set(JAVA_LONG, 8, buffer.byteSize());
            if (!read)
            {
                if (alignedStart != offset || alignedEnd != offset + bytes)
                {
                    check(io.preadv2(fd, iov.address(), 1, alignedStart, 0), "read", alignedStart);
                }
                memory.read(address, buffer, offset - alignedStart, bytes);
                check(io.pwritev2(fd, iov.address(), 1, alignedStart, 0), "write", alignedStart);
                return;
            }
            final long got = check(io.preadv2(fd, iov.address(), 1, alignedStart, 0), "read", alignedStart);
            if (got < offset - alignedStart + bytes)
            {
                throw new IOException("short read of " + path + " at offset=" + offset + ": " + got + " bytes");
            }
            memory.write(address, buffer, offset - alignedStart, bytes);
        }
    }

    private long check(final long result, final String what, final long offset) throws IOException
    {
        if (result < 0)
        {
            throw new IOException(what + " of " + path + " at offset=" + offset + " failed: " + Errno.name((int)-result));
        }
        return result;
    }

    @Override
    public void read(final long offset, final GuestMemory memory, final long address, final int length) throws IOException
    {
        transfer(offset, memory, address, length, true);
    }

    @Override
    public void write(final long offset, final GuestMemory memory, final long address, final int length) throws IOException
    {
        transfer(offset, memory, address, length, false);
    }

    @Override
    public void flush() throws IOException
    {
        try (FileIo io = new FileIo())
        {
            check(io.fdatasync(fd), "fdatasync", 0);
        }
    }

    @Override
    public void discard(final long offset, final long length) throws IOException
    {
        try (FileIo io = new FileIo())
        {
            final int rc = io.fallocate(fd, Linux.FALLOC_FL_PUNCH_HOLE | Linux.FALLOC_FL_KEEP_SIZE, offset, length);
            if (rc < 0 && rc != -Errno.EOPNOTSUPP)
            {
                check(rc, "discard", offset);
            }
        }
    }

    @Override
    public void writeZeroes(final long offset, final long length, final boolean unmap) throws IOException
    {
        try (FileIo io = new FileIo())
        {
            int rc = io.fallocate(fd, unmap ? Linux.FALLOC_FL_PUNCH_HOLE | Linux.FALLOC_FL_KEEP_SIZE
                : Linux.FALLOC_FL_ZERO_RANGE | Linux.FALLOC_FL_KEEP_SIZE, offset, length);
            if (rc == -Errno.EOPNOTSUPP)
            {
                rc = io.fallocate(fd, Linux.FALLOC_FL_PUNCH_HOLE | Linux.FALLOC_FL_KEEP_SIZE, offset, length);
                if (rc == 0 && !unmap)
                {
                    rc = io.fallocate(fd, 0, offset, length);
                }
            }
            check(rc, "write zeroes", offset);
        }
    }

    @Override
    public synchronized void close() throws IOException
    {
        for (final BlkIo io : opened)
        {
            io.close();
        }
        opened.clear();
        if (mapping != null)
        {
            Linux.munmap(mapping.address(), mapping.byteSize());
        }
        Linux.close(fd);
    }

    @Override
    public String toString()
    {
        return "FileDisk[" + path + ", " + capacity + " bytes" + (options.direct() ? ", O_DIRECT, block " + blockSize : "") +
            (ioKind != null ? ", " + ioKind : "") + "]";
    }
}
