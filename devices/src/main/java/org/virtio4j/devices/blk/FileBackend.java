package org.virtio4j.devices.blk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.Linux;

/**
 * A disk image file, read and written with positional I/O ({@code pread}/{@code pwrite}) straight from and to
 * guest memory. FLUSH forces data and metadata to disk. DISCARD and unmapping WRITE_ZEROES punch holes where the
 * file system can (the file keeps its size); elsewhere zeros are written.
 *
 * <p>Blocks on disk I/O: for callers that may block (the in-process MMIO model, tools, tests). Engine threads serve
 * files through {@link FileDisk} instead.
 */
public final class FileBackend implements BlkBackend
{
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();

    private final Path path;
    private final FileChannel channel;
    private final int holeFd;
    private final long capacity;

    /**
     * @param path     the image file; it must exist.
     * @param readOnly true to open it read-only.
     * @throws IOException if it cannot be opened.
     */
    public FileBackend(final Path path, final boolean readOnly) throws IOException
    {
        this.path = path;
        channel = readOnly ? FileChannel.open(path, StandardOpenOption.READ)
            : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try
        {
            capacity = channel.size() & ~511L;
            holeFd = readOnly ? -1 : Linux.open(path.toString(), Linux.O_RDWR | Linux.O_CLOEXEC);
        }
        catch (final IOException | RuntimeException e)
        {
            channel.close();
            throw e;
        }
    }

    @Override
    public long capacity()
    {
        return capacity;
    }

    @Override
    public void read(final long offset, final GuestMemory memory, final long address, final int length) throws IOException
    {
        final long done = memory.readFromFile(channel, offset, address, Integer.toUnsignedLong(length));
        if (done != Integer.toUnsignedLong(length))
        {
            throw new IOException("short read of " + path + " at offset=" + offset + ": " + done + " of " + Integer.toUnsignedLong(length) + " bytes");
        }
    }

    @Override
    public void write(final long offset, final GuestMemory memory, final long address, final int length) throws IOException
    {
        memory.writeToFile(channel, offset, address, Integer.toUnsignedLong(length));
    }

    @Override
    public void flush() throws IOException
    {
        channel.force(true);
    }

    @Override
    public void discard(final long offset, final long length) throws IOException
    {
        if (!punchHole(offset, length))
        {
            writeZeroes(offset, length, false);
        }
    }

    @Override
    public void writeZeroes(final long offset, final long length, final boolean unmap) throws IOException
    {
        if (unmap && punchHole(offset, length))
        {
            return;
        }
        long done = 0;
        while (done < length)
        {
            final ByteBuffer zeros = ZEROS.duplicate();
            zeros.limit((int)Math.min(zeros.capacity(), length - done));
            done += channel.write(zeros, offset + done);
        }
    }

    private boolean punchHole(final long offset, final long length)
    {
        if (holeFd < 0)
        {
            return false;
        }
        try
        {
            Linux.fallocate(holeFd, Linux.FALLOC_FL_PUNCH_HOLE | Linux.FALLOC_FL_KEEP_SIZE, offset, length);
            return true;
        }
        catch (final ErrnoException unsupported)
        {
            return false;
        }
    }

    @Override
    public void close() throws IOException
    {
        try
        {
            channel.close();
        }
        finally
        {
            if (holeFd >= 0)
            {
                Linux.close(holeFd);
            }
        }
    }

    @Override
    public String toString()
    {
        return "FileBackend[" + path + ", " + capacity + " bytes]";
    }
}
