package org.virtio4j.virtio;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;

import org.virtio4j.memory.GuestMemory;

/**
 * Writes into the device-writable buffers of a chain as one byte stream, across descriptors and regions.
 * Readable descriptors are skipped wherever they are.
 *
 * <p>Reusable and not thread-safe: {@link #load} points it at another chain.
 */
public final class ChainWriter extends ChainBuffers
{
    /**
     * Rewinds {@code chain} and collects its writable buffers.
     *
     * @param memory the guest's memory.
     * @param chain  the chain (rewound and walked to its end).
     * @return this.
     * @throws QueueException {@link QueueError#CHAIN_BUFFER_NOT_IN_MEMORY} if a buffer is not in guest memory.
     */
    public ChainWriter load(final GuestMemory memory, final DescriptorChain chain)
    {
        load(memory, chain, true);
        return this;
    }

    /** @return the bytes written so far: what the device reports as the used length. */
    public long bytesWritten()
    {
        return consumedBytes();
    }

    /**
     * @param src    where to copy from.
     * @param offset the first index to copy.
     * @param length the most bytes to write.
     * @return the bytes written: fewer than asked only when the buffers run out.
     */
    public int write(final byte[] src, final int offset, final int length)
    {
        return (int)transfer(MemorySegment.ofArray(src), offset, length, true);
    }

    /**
     * @param src    where to copy from.
     * @param offset the first byte to copy.
     * @param length the most bytes to write.
     * @return the bytes written.
     */
    public long write(final MemorySegment src, final long offset, final long length)
    {
        return transfer(src, offset, length, true);
    }

    /**
     * Writes exactly {@code length} bytes, or nothing.
     *
     * @param src    where to copy from.
     * @param offset the first index to copy.
     * @param length the bytes to write.
     * @throws QueueException {@link QueueError#SHORT_BUFFER} if fewer bytes of buffer are left.
     */
    public void writeFully(final byte[] src, final int offset, final int length)
    {
        if (availableBytes() < length)
        {
            throw shortBuffer(length);
        }
        write(src, offset, length);
    }

    /** @param value the byte to write. @throws QueueException SHORT_BUFFER if no byte is left. */
    public void writeU8(final int value)
    {
        writeScalar(value, Byte.BYTES);
    }

    /** @param value written little-endian. @throws QueueException SHORT_BUFFER if fewer bytes are left. */
    public void writeU16(final int value)
    {
        writeScalar(value, Short.BYTES);
    }

    /** @param value written little-endian. @throws QueueException SHORT_BUFFER if fewer bytes are left. */
    public void writeU32(final int value)
    {
        writeScalar(value, Integer.BYTES);
    }

    /** @param value written little-endian. @throws QueueException SHORT_BUFFER if fewer bytes are left. */
    public void writeU64(final long value)
    {
        writeScalar(value, Long.BYTES);
    }

    /**
     * @param length the most bytes to set.
     * @param value  the byte to set them to.
     * @return the bytes set.
     */
    public long fill(final long length, final byte value)
    {
        return fillBytes(length, value);
    }

    /**
     * Reads up to {@code length} bytes from a file at {@code position} ({@code pread}) into the chain.
     *
     * @param channel  the file.
     * @param position where in the file.
     * @param length   the most bytes.
     * @return the bytes read: fewer at end of file.
     * @throws IOException if the file read fails.
     */
    public long writeFromFile(final FileChannel channel, final long position, final long length) throws IOException
    {
        return fileTransfer(channel, position, length, true);
    }

    /**
     * Splits off everything after the first {@code offset} unwritten bytes.
     *
     * @param offset the bytes this writer keeps.
     * @return a new writer over the rest.
     * @throws QueueException {@link QueueError#SPLIT_OUT_OF_BOUNDS} if {@code offset} is above the available bytes.
     */
    public ChainWriter splitAt(final long offset)
    {
        final ChainWriter rest = new ChainWriter();
        splitInto(offset, rest);
        return rest;
    }
}
