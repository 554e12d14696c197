package org.virtio4j.virtio;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;

import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestMemoryException;

/**
 * The buffers of one direction of a descriptor chain, resolved to host memory, consumed front to back. A buffer
 * that spans two adjacent regions becomes two slices. Reusable: {@link #load} refills it without allocating once
 * its arrays have grown to the longest chain seen.
 *
 * <p>Not thread-safe.
 */
abstract sealed class ChainBuffers permits ChainReader, ChainWriter
{
    private static final int INITIAL_SLICES = 8;

    /** Scratch for little-endian scalar reads and writes. */
    protected final MemorySegment scratch = MemorySegment.ofArray(new long[1]);

    private GuestMemory memory;
    private int[] regions = new int[INITIAL_SLICES];
    private long[] offsets = new long[INITIAL_SLICES];
    private long[] lengths = new long[INITIAL_SLICES];
    private int count;
    private int cursor;
    private long cursorOffset;
    private long available;
    private long consumed;

    /**
     * Rewinds {@code chain} and collects its readable ({@code writable == false}) or writable buffers.
     *
     * @throws QueueException {@link QueueError#CHAIN_BUFFER_NOT_IN_MEMORY} naming the first byte of a buffer that is
     *                        in no region (a zero-length buffer is always fine).
     */
    final void load(final GuestMemory memory, final DescriptorChain chain, final boolean writable)
    {
        this.memory = memory;
        count = 0;
        cursor = 0;
        cursorOffset = 0;
        available = 0;
        consumed = 0;
        chain.rewind();
        while (writable ? chain.nextWritable() : chain.nextReadable())
        {
            long address = chain.addr();
            long remaining = chain.lenUnsigned();
            available += remaining;
            while (remaining > 0)
            {
                final int region = memory.regionIndexOf(address);
                if (region < 0)
                {
                    throw new QueueException(QueueError.CHAIN_BUFFER_NOT_IN_MEMORY, GuestMemoryException.invalidAddress(address));
                }
                final long offset = address - memory.base(region);
                final long chunk = Math.min(memory.segment(region).byteSize() - offset, remaining);
                append(region, offset, chunk);
                address += chunk;
                remaining -= chunk;
            }
        }
    }

    private void append(final int region, final long offset, final long length)
    {
        if (count == regions.length)
        {
            regions = Arrays.copyOf(regions, count * 2);
            offsets = Arrays.copyOf(offsets, count * 2);
            lengths = Arrays.copyOf(lengths, count * 2);
        }
        regions[count] = region;
        offsets[count] = offset;
        lengths[count] = length;
        count++;
    }

    /** @return the bytes not yet consumed. */
    public final long availableBytes()
    {
        return available - consumed;
    }

    /** @return the bytes consumed so far. */
    protected final long consumedBytes()
    {
        return consumed;
    }

    /**
     * Moves {@code length} bytes (at most what is available) between the buffers and {@code other}.
     *
     * @return the bytes moved.
     */
    protected final long transfer(final MemorySegment other, final long otherOffset, final long length, final boolean intoGuest)
    {
        long done = 0;
        while (done < length && cursor < count)
        {
            final long chunk = Math.min(lengths[cursor] - cursorOffset, length - done);
            final MemorySegment segment = memory.segment(regions[cursor]);
            final long at = offsets[cursor] + cursorOffset;
            if (intoGuest)
            {
                MemorySegment.copy(other, otherOffset + done, segment, at, chunk);
                memory.markDirty(memory.base(regions[cursor]) + at, chunk);
            }
            else
            {
                MemorySegment.copy(segment, at, other, otherOffset + done, chunk);
            }
            done += chunk;
            advance(chunk);
        }
        return done;
    }

    /**
     * Moves up to {@code length} bytes between the buffers and a file, positionally.
     *
     * @return the bytes moved; fewer than asked at end of file or of the buffers.
     */
    protected final long fileTransfer(final FileChannel channel, final long position, final long length, final boolean intoGuest)
        throws IOException
    {
        long done = 0;
        while (done < length && cursor < count)
        {
            final int chunk = (int)Math.min(Math.min(lengths[cursor] - cursorOffset, length - done), Integer.MAX_VALUE);
            final ByteBuffer buffer = memory.segment(regions[cursor]).asSlice(offsets[cursor] + cursorOffset, chunk).asByteBuffer();
            while (buffer.hasRemaining())
            {
                final int n = intoGuest ? channel.read(buffer, position + done + buffer.position())
                    : channel.write(buffer, position + done + buffer.position());
                if (n < 0)
                {
                    final int partial = buffer.position();
                    if (intoGuest)
                    {
                        memory.markDirty(memory.base(regions[cursor]) + offsets[cursor] + cursorOffset, partial);
                    }
                    advance(partial);
                    return done + partial;
                }
            }
            if (intoGuest)
            {
                memory.markDirty(memory.base(regions[cursor]) + offsets[cursor] + cursorOffset, chunk);
            }
            done += chunk;
            advance(chunk);
        }
        return done;
    }

    /**
     * Sets up to {@code length} bytes of the buffers to {@code value}.
     *
     * @return the bytes set.
     */
    protected final long fillBytes(final long length, final byte value)
    {
        long done = 0;
        while (done < length && cursor < count)
        {
            final long chunk = Math.min(lengths[cursor] - cursorOffset, length - done);
            memory.segment(regions[cursor]).asSlice(offsets[cursor] + cursorOffset, chunk).fill(value);
            memory.markDirty(memory.base(regions[cursor]) + offsets[cursor] + cursorOffset, chunk);
            done += chunk;
            advance(chunk);
        }
        return done;
    }

    /**
     * Skips up to {@code length} bytes.
     *
     * @param length bytes to skip.
     * @return the bytes skipped.
     */
    public final long skip(final long length)
    {
        long done = 0;
        while (done < length && cursor < count)
        {
            final long chunk = Math.min(lengths[cursor] - cursorOffset, length - done);
            done += chunk;
            advance(chunk);
        }
        return done;
    }

    private void advance(final long bytes)
    {
        consumed += bytes;
        cursorOffset += bytes;
        if (cursorOffset == lengths[cursor])
        {
            cursor++;
            cursorOffset = 0;
        }
    }

    /**
     * Splits the unconsumed bytes: this keeps the first {@code offset}, {@code rest} gets the others (with nothing
     * consumed yet).
     *
     * @throws QueueException {@link QueueError#SPLIT_OUT_OF_BOUNDS} if {@code offset} is above {@link #availableBytes()}.
     */
    protected final void splitInto(final long offset, final ChainBuffers rest)
    {
        if (offset < 0 || offset > availableBytes())
        {
            throw new QueueException(QueueError.SPLIT_OUT_OF_BOUNDS, "offset=" + offset + " available=" + availableBytes());
        }
        rest.memory = memory;
        rest.count = 0;
        rest.cursor = 0;
        rest.cursorOffset = 0;
        rest.consumed = 0;
        rest.available = availableBytes() - offset;
        // Find the slice holding byte `offset` of what is left.
        int index = cursor;
        long into = cursorOffset + offset;
        while (index < count && into >= lengths[index])
        {
            into -= lengths[index];
            index++;
        }
        if (index < count)
        {
            rest.append(regions[index], offsets[index] + into, lengths[index] - into);
            for (int i = index + 1; i < count; i++)
            {
                rest.append(regions[i], offsets[i], lengths[i]);
            }
            if (into == 0)
            {
                count = index;
            }
            else
            {
                lengths[index] = into;
                count = index + 1;
            }
        }
        available = consumed + offset;
        if (cursor < count && cursorOffset == lengths[cursor])
        {
            cursor++;
            cursorOffset = 0;
        }
    }

    /** Reads {@code size} bytes into the scratch word, or fails without consuming anything. */
    protected final long readScalar(final int size)
    {
        if (availableBytes() < size)
        {
            throw shortBuffer(size);
        }
        scratch.set(ValueLayout.JAVA_LONG, 0, 0L);
        transfer(scratch, 0, size, false);
        return scratch.get(GuestMemory.LE_U64, 0);
    }

    /** Writes the low {@code size} bytes of {@code value}, little-endian, or fails without writing anything. */
    protected final void writeScalar(final long value, final int size)
    {
        if (availableBytes() < size)
        {
            throw shortBuffer(size);
        }
        scratch.set(GuestMemory.LE_U64, 0, value);
        transfer(scratch, 0, size, true);
    }

    /** @return the error for an exact transfer of {@code wanted} bytes that does not fit. */
    protected final QueueException shortBuffer(final long wanted)
    {
        return new QueueException(QueueError.SHORT_BUFFER, "wanted=" + wanted + " available=" + availableBytes());
    }
}
