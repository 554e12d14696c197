package org.virtio4j.virtio;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;

import org.virtio4j.memory.GuestMemory;

/**
 * Reads the device-readable buffers of a chain as one byte stream, across descriptors and regions. Writable
 * descriptors are skipped wherever they are.
 *
 * <p>Reusable and not thread-safe: {@link #load} points it at another chain.
 */
public final class ChainReader extends ChainBuffers
{
    /**
     * Rewinds {@code chain} and collects its readable buffers.
     *
     * @param memory the guest's memory.
     * @param chain  the chain (rewound and walked to its end).
     * @return this.
     * @throws QueueException {@link QueueError#CHAIN_BUFFER_NOT_IN_MEMORY} if a buffer is not in guest memory.
     */
    public ChainReader load(final GuestMemory memory, final DescriptorChain chain)
    {
        load(memory, chain, false);
        return this;
    }

    /** @return the bytes read so far. */
    public long bytesRead()
    {
        return consumedBytes();
    }

    /**
     * @param dst    where to copy to.
     * @param offset the first index to fill.
     * @param length the most bytes to read.
     * @return the bytes read: fewer than asked only when the buffers run out (0 at the end).
     */
    public int read(final byte[] dst, final int offset, final int length)
    {
        return (int)transfer(MemorySegment.ofArray(dst), offset, length, false);
    }

    /**
     * @param dst    where to copy to.
     * @param offset the first byte to fill.
     * @param length the most bytes to read.
     * @return the bytes read.
     */
    public long read(final MemorySegment dst, final long offset, final long length)
    {
        return transfer(dst, offset, length, false);
    }

    /**
     * Reads exactly {@code length} bytes, or nothing.
     *
     * @param dst    where to copy to.
     * @param offset the first index to fill.
     * @param length the bytes to read.
     * @throws QueueException {@link QueueError#SHORT_BUFFER} if fewer are available.
     */
    public void readFully(final byte[] dst, final int offset, final int length)
    {
        if (availableBytes() < length)
        {
            throw shortBuffer(length);
        }
        read(dst, offset, length);
    }

    /** @return the next byte. @throws QueueException SHORT_BUFFER at the end. */
    public int readU8()
    {
        return (int)readScalar(Byte.BYTES);
    }

    /** @return the next little-endian u16. @throws QueueException SHORT_BUFFER if fewer bytes are left. */
    public int readU16()
    {
        return (int)readScalar(Short.BYTES);
    }

    /** @return the next little-endian u32 as an int. @throws QueueException SHORT_BUFFER if fewer bytes are left. */
    public int readU32()
    {
        return (int)readScalar(Integer.BYTES);
    }

    /** @return the next little-endian u64. @throws QueueException SHORT_BUFFER if fewer bytes are left. */
    public long readU64()
    {
        return readScalar(Long.BYTES);
    }

    /**
     * Writes up to {@code length} of the chain's bytes to a file at {@code position} ({@code pwrite}).
     *
     * @param channel  the file.
     * @param position where in the file.
     * @param length   the most bytes.
     * @return the bytes written.
     * @throws IOException if the file write fails.
     */
    public long readToFile(final FileChannel channel, final long position, final long length) throws IOException
    {
        return fileTransfer(channel, position, length, false);
    }

    /**
     * Splits off everything after the first {@code offset} unread bytes.
     *
     * @param offset the bytes this reader keeps.
     * @return a new reader over the rest.
     * @throws QueueException {@link QueueError#SPLIT_OUT_OF_BOUNDS} if {@code offset} is above the available bytes.
     */
    public ChainReader splitAt(final long offset)
    {
        final ChainReader rest = new ChainReader();
        splitInto(offset, rest);
        return rest;
    }
}
