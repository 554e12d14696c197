package org.virtio4j.memory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.Linux;

/**
 * Host memory that backs a guest region: an anonymous mapping, a memfd (shareable with another process by its
 * fd), a file, or an fd received from a VMM. Closing it unmaps the memory (later accesses fail with
 * {@link IllegalStateException}, never a crash) and closes the fd it owns.
 *
 * <p>Thread-safe for access; close it once, when no thread uses it any more.
 */
public final class MemoryBacking implements AutoCloseable
{
    private final Arena arena;
    private final MemorySegment segment;
    private final int fd;
    private final boolean ownsFd;
    private final String description;

    private MemoryBacking(final Arena arena, final MemorySegment segment, final int fd, final boolean ownsFd, final String description)
    {
        this.arena = arena;
        this.segment = segment;
        this.fd = fd;
        this.ownsFd = ownsFd;
        this.description = description;
    }

    /**
     * Private anonymous memory, zero-filled, page-aligned.
     *
     * @param size bytes, above 0.
     * @return the backing.
     * @throws ErrnoException if the kernel refuses the mapping.
     */
    public static MemoryBacking anonymous(final long size) throws ErrnoException
    {
        requirePositive(size);
        final long address = Linux.mmap(size, Linux.PROT_READ | Linux.PROT_WRITE,
            Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS | Linux.MAP_NORESERVE, -1, 0);
        return mapped(address, size, -1, false, "anonymous " + size + " bytes");
    }

    /**
     * A memfd of {@code size} bytes mapped shared: another process that maps {@link #fd()} sees the same bytes.
     *
     * @param name the memfd's name (shown in /proc).
     * @param size bytes, above 0.
     * @return the backing; it owns the fd.
     * @throws ErrnoException if memfd_create, ftruncate or mmap fails.
     */
    public static MemoryBacking memfd(final String name, final long size) throws ErrnoException
    {
        requirePositive(size);
        final int fd = Linux.memfdCreate(name, Linux.MFD_CLOEXEC | Linux.MFD_ALLOW_SEALING);
        try
        {
            Linux.ftruncate(fd, size);
            final long address = Linux.mmap(size, Linux.PROT_READ | Linux.PROT_WRITE, Linux.MAP_SHARED, fd, 0);
            return mapped(address, size, fd, true, "memfd " + name + " " + size + " bytes");
        }
        catch (final ErrnoException | RuntimeException e)
        {
            closeQuietly(fd, e);
            throw e;
        }
    }

    /**
     * Maps part of a file descriptor shared, for example one a VMM sent over vhost-user.
     *
     * @param fd     the descriptor.
     * @param offset where in it the mapping starts, a multiple of the page size.
     * @param size   bytes, above 0.
     * @param takeOwnership true to close the fd when this backing is closed.
     * @return the backing.
     * @throws ErrnoException if mmap fails (the fd is left open).
     */
    public static MemoryBacking mapFd(final int fd, final long offset, final long size, final boolean takeOwnership) throws ErrnoException
    {
        requirePositive(size);
        final long address = Linux.mmap(size, Linux.PROT_READ | Linux.PROT_WRITE, Linux.MAP_SHARED, fd, offset);
        return mapped(address, size, fd, takeOwnership, "fd " + fd + " offset " + offset + " " + size + " bytes");
    }

    /**
     * A file mapped shared, created or extended to {@code size} bytes if shorter.
     *
     * @param path the file.
     * @param size bytes, above 0.
     * @return the backing.
     * @throws IOException if the file cannot be opened, extended or mapped.
     */
    public static MemoryBacking file(final Path path, final long size) throws IOException
    {
        requirePositive(size);
        final Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            final MemorySegment segment = channel.map(FileChannel.MapMode.READ_WRITE, 0, size, arena);
            return new MemoryBacking(arena, segment, -1, false, "file " + path + " " + size + " bytes");
        }
        catch (final IOException | RuntimeException e)
        {
            arena.close();
            throw e;
        }
    }

    @SuppressWarnings("restricted") // the address and size come from our own successful mmap
    private static MemoryBacking mapped(final long address, final long size, final int fd, final boolean ownsFd, final String description)
    {
        final Arena arena = Arena.ofShared();
        final MemorySegment segment = MemorySegment.ofAddress(address).reinterpret(size, arena, ignored -> unmap(address, size));
        return new MemoryBacking(arena, segment, fd, ownsFd, description);
    }

    private static void unmap(final long address, final long size)
    {
        try
        {
            Linux.munmap(address, size);
        }
        catch (final ErrnoException e)
        {
            throw new UncheckedIOException(e);
        }
    }

    private static void requirePositive(final long size)
    {
        if (size <= 0)
        {
            throw new IllegalArgumentException("memory backing size=" + size + " must be above 0");
        }
    }

    private static void closeQuietly(final int fd, final Exception cause)
    {
        try
        {
            Linux.close(fd);
        }
        catch (final ErrnoException e)
        {
            cause.addSuppressed(e);
        }
    }

    /** @return the mapped memory. */
    public MemorySegment segment()
    {
        return segment;
    }

    /** @return the size in bytes. */
    public long size()
    {
        return segment.byteSize();
    }

    /** @return the file descriptor behind the mapping, or -1 for anonymous and file-path backings. */
    public int fd()
    {
        return fd;
    }

    /**
     * @param guestBase the guest-physical address of the first byte.
     * @return a region of guest memory over all of this backing.
     */
    public GuestRegion region(final long guestBase)
    {
        return new GuestRegion(guestBase, segment);
    }

    /**
     * Unmaps the memory and closes the fd if this backing owns it.
     *
     * @throws ErrnoException if close fails.
     */
    @Override
    public void close() throws ErrnoException
    {
        arena.close();
        if (ownsFd)
        {
            Linux.close(fd);
        }
    }

    @Override
    public String toString()
    {
        return "MemoryBacking[" + description + "]";
    }
}
