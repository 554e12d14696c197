package org.virtio4j.virtio;

import java.util.List;
import java.util.SplittableRandom;

import net.jqwik.api.statistics.Statistics;
import org.virtio4j.devices.blk.BlkRequest;
import org.virtio4j.devices.blk.BlkRequestParser;
import org.virtio4j.devices.vsock.VsockPacket;
import org.virtio4j.devices.vsock.VsockPacketParser;
import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.virtio4j.virtio.Outcomes.attempt;
import static org.virtio4j.virtio.Outcomes.mustNotThrow;

/**
 * Everything a device does with one chain, checked against {@link ReferenceChain}: walking it (at most
 * {@code size + 65535} descriptors, each as the model says, total length at most 2^32 - 1), parsing it as a blk
 * request and a vsock packet (no exception whatever the chain holds), reading its readable bytes and writing its
 * writable bytes (exactly the guest bytes the descriptors name, nothing else in memory changes).
 */
final class ChainChecks
{
    private static final long U32_MAX = 0xffff_ffffL;
    private static final int MAX_INDIRECT = DescriptorLayout.MAX_INDIRECT_ENTRIES;
    private static final int TRANSFER_CAP = 1 << 16;
    private static final int MAX_VSOCK_DATA = 64 * 1024;

    private final GuardedMemory guarded;
    private final GuestMemory memory;
    private final long descTable;
    private final int size;
    private final SplittableRandom data;
    private final ChainReader reader = new ChainReader();
    private final ChainWriter writer = new ChainWriter();
    private final BlkRequestParser blkParser = new BlkRequestParser();
    private final VsockPacketParser vsockParser = new VsockPacketParser();

    /**
     * @param guarded   the guest memory.
     * @param descTable the queue's descriptor table.
     * @param size      the queue size.
     * @param data      where the bytes to write, and how many to move, come from.
     */
    ChainChecks(final GuardedMemory guarded, final long descTable, final int size, final SplittableRandom data)
    {
        this.guarded = guarded;
        this.memory = guarded.memory();
        this.descTable = descTable;
        this.size = size;
        this.data = data;
    }

    /**
     * Walks, parses, reads and writes one chain a queue handed out.
     *
     * @param chain the chain.
     */
    void check(final DescriptorChain chain)
    {
        assertEquals(descTable, chain.descTable(), "chain table");
        assertEquals(size, chain.tableSize(), "chain table size");
        mustNotThrow("walking " + chain + " with DescriptorChain.next", () -> walk(chain));
        parse(chain);
        read(chain);
        write(chain);
    }

    private void walk(final DescriptorChain chain)
    {
        final ReferenceChain model = ReferenceChain.walk(guarded, descTable, size, chain.headIndex());
        final int bound = size + MAX_INDIRECT;
        chain.rewind();
        int count = 0;
        long total = 0;
        while (true)
        {
            if (count > bound)
            {
                fail("chain " + chain + " yielded more than size + 65535 = " + bound + " descriptors");
            }
            if (!chain.next())
            {
                break;
            }
            assertTrue(count < model.descriptors().size(), "chain " + chain + " yields more than the model's " + model.descriptors().size());
            final ReferenceChain.Descriptor d = model.descriptors().get(count);
            assertTrue(d.index() < d.tableSize(), "model descriptor index " + d.index() + " of table size " + d.tableSize());
            if (d.addr() != chain.addr() || d.len() != chain.lenUnsigned() || d.flags() != chain.flags() || d.next() != chain.nextField() ||
                d.indirect() != chain.inIndirectTable())
            {
                fail("descriptor " + count + " of " + chain + ": got addr=" + GuestAddress.hex(chain.addr()) + " len=" + chain.lenUnsigned() +
                    " flags=" + chain.flags() + " next=" + chain.nextField() + " indirect=" + chain.inIndirectTable() + ", expected " + d);
            }
            total += chain.lenUnsigned();
            count++;
        }
        assertEquals(model.descriptors().size(), count, "descriptors yielded by " + chain);
        assertEquals(model.end(), chain.end(), "why " + chain + " ended");
        assertTrue(total <= U32_MAX, "chain length " + total + " passes 2^32 - 1");
        assertEquals(total, chain.yieldedBytes(), "yieldedBytes of " + chain);
        assertFalse(chain.next(), "next() after the end of " + chain);
        Statistics.label("chain end").collect(chain.end());
        Statistics.label("chain tables").collect(model.descriptors().stream().anyMatch(ReferenceChain.Descriptor::indirect) ? "indirect" : "direct");
        Statistics.label("chain length").collect(count == 0 ? "0" : count == 1 ? "1" : count <= 16 ? "2-16" : count <= 256 ? "17-256" : "257+");
    }

    private void parse(final DescriptorChain chain)
    {
        final BlkRequest request = new BlkRequest();
        final VsockPacket packet = new VsockPacket();
        mustNotThrow("BlkRequestParser.parse", () ->
        {
            if (blkParser.parse(chain, request) == null)
            {
                assertTrue(guarded.mapped(request.statusAddr()), "a parsed blk request's status byte is in memory");
            }
        });
        mustNotThrow("VsockPacketParser.fromTx", () -> vsockParser.fromTx(chain, MAX_VSOCK_DATA, packet));
        mustNotThrow("VsockPacketParser.fromRx", () -> vsockParser.fromRx(chain, MAX_VSOCK_DATA, packet));
    }

    /** @return true if every non-empty buffer is fully in guest memory (what ChainReader/ChainWriter need). */
    private boolean loadable(final List<ReferenceChain.Descriptor> buffers)
    {
        for (final ReferenceChain.Descriptor d : buffers)
        {
            if (!guarded.covered(d.addr(), d.len()))
            {
                return false;
            }
        }
        return true;
    }

    private static long total(final List<ReferenceChain.Descriptor> buffers)
    {
        return buffers.stream().mapToLong(ReferenceChain.Descriptor::len).sum();
    }

    private void read(final DescriptorChain chain)
    {
        final List<ReferenceChain.Descriptor> buffers = ReferenceChain.walk(guarded, descTable, size, chain.headIndex()).buffers(false);
        final boolean loadable = loadable(buffers);
        final QueueError error = attempt("ChainReader.load", () -> reader.load(memory, chain));
        assertEquals(loadable ? null : QueueError.CHAIN_BUFFER_NOT_IN_MEMORY, error, "ChainReader.load error for " + buffers);
        Statistics.label("reader").collect(error == null ? buffers.isEmpty() ? "loaded, empty" : "loaded" : "refused");
        if (error != null)
        {
            return;
        }
        final long total = total(buffers);
        assertEquals(total, reader.availableBytes(), "readable bytes");
        final QueueError beyond = attempt("ChainReader.splitAt past the end", () -> reader.splitAt(total + 1));
        assertEquals(QueueError.SPLIT_OUT_OF_BOUNDS, beyond, "ChainReader.splitAt(available + 1)");
        final Split mode = Split.values()[data.nextInt(Split.values().length)];
        final long position = mode == Split.AFTER_USE ? readAndCheck(reader, buffers, 0) : 0;
        if (mode == Split.NONE)
        {
            readAndCheck(reader, buffers, position);
            return;
        }
        final long remaining = reader.availableBytes();
        final long split = data.nextLong(remaining + 1);
        final ChainReader[] halves = new ChainReader[1];
        assertEquals(null, attempt("ChainReader.splitAt", () -> halves[0] = reader.splitAt(split)), "ChainReader.splitAt(" + split + ") error");
        assertEquals(split, reader.availableBytes(), "bytes kept by ChainReader.splitAt(" + split + ")");
        assertEquals(remaining - split, halves[0].availableBytes(), "bytes split off by ChainReader.splitAt(" + split + ")");
        readAndCheck(halves[0], buffers, position + split);
        readAndCheck(reader, buffers, position);
    }

    /** How a reader or writer is used: whole, split before use, or split after using part of it. */
    private enum Split
    {
        NONE,
        BEFORE_USE,
        AFTER_USE,
    }

    /**
     * Reads some bytes and a u64 through {@code in}, whose next byte is stream position {@code from}, and checks them
     * against guest memory.
     *
     * @return the stream position after what was read.
     */
    private long readAndCheck(final ChainReader in, final List<ReferenceChain.Descriptor> buffers, final long from)
    {
        final long available = in.availableBytes();
        final long before = in.bytesRead();
        final int n = (int)Math.min(available, data.nextInt(TRANSFER_CAP + 1));
        final byte[] got = new byte[n];
        mustNotThrow("ChainReader.read", () -> assertEquals(n, in.read(got, 0, n), "bytes read"));
        final long[] addresses = ReferenceChain.streamAddresses(buffers, from, n);
        for (int i = 0; i < n; i++)
        {
            if (Byte.toUnsignedInt(got[i]) != guarded.peekU8(addresses[i]))
            {
                fail("ChainReader byte " + (from + i) + " should come from guest " + GuestAddress.hex(addresses[i]));
            }
        }
        final long left = available - n;
        final long[] scalar = new long[1];
        final QueueError scalarError = attempt("readU64", () -> scalar[0] = in.readU64());
        if (left < 8)
        {
            assertEquals(QueueError.SHORT_BUFFER, scalarError, "readU64 with " + left + " bytes left");
            assertEquals(left, in.availableBytes(), "a failed readU64 consumes nothing");
            assertEquals(before + n, in.bytesRead(), "bytesRead");
            return from + n;
        }
        assertEquals(null, scalarError, "readU64 error");
        final long[] at = ReferenceChain.streamAddresses(buffers, from + n, 8);
        long expected = 0;
        for (int i = 0; i < 8; i++)
        {
            expected |= (long)guarded.peekU8(at[i]) << (8 * i);
        }
        assertEquals(expected, scalar[0], "readU64 value");
        assertEquals(before + n + 8, in.bytesRead(), "bytesRead");
        return from + n + 8;
    }

    private void write(final DescriptorChain chain)
    {
        final List<ReferenceChain.Descriptor> buffers = ReferenceChain.walk(guarded, descTable, size, chain.headIndex()).buffers(true);
        final boolean loadable = loadable(buffers);
        final byte[] expected = guarded.snapshot();
        final QueueError error = attempt("ChainWriter.load", () -> writer.load(memory, chain));
        assertEquals(loadable ? null : QueueError.CHAIN_BUFFER_NOT_IN_MEMORY, error, "ChainWriter.load error for " + buffers);
        guarded.assertEquals(expected, "ChainWriter.load (which must not write)");
        Statistics.label("writer").collect(error == null ? buffers.isEmpty() ? "loaded, empty" : "loaded" : "refused");
        if (error != null)
        {
            return;
        }
        final long total = total(buffers);
        assertEquals(total, writer.availableBytes(), "writable bytes");
        final QueueError beyond = attempt("ChainWriter.splitAt past the end", () -> writer.splitAt(total + 1));
        assertEquals(QueueError.SPLIT_OUT_OF_BOUNDS, beyond, "ChainWriter.splitAt(available + 1)");
        final Split mode = Split.values()[data.nextInt(Split.values().length)];
        final long position = mode == Split.AFTER_USE ? writeAndModel(writer, buffers, 0, expected) : 0;
        if (mode == Split.NONE)
        {
            writeAndModel(writer, buffers, position, expected);
        }
        else
        {
            final long remaining = writer.availableBytes();
            final long split = data.nextLong(remaining + 1);
            final ChainWriter[] halves = new ChainWriter[1];
            assertEquals(null, attempt("ChainWriter.splitAt", () -> halves[0] = writer.splitAt(split)), "ChainWriter.splitAt(" + split + ") error");
            assertEquals(split, writer.availableBytes(), "bytes kept by ChainWriter.splitAt(" + split + ")");
            assertEquals(remaining - split, halves[0].availableBytes(), "bytes split off by ChainWriter.splitAt(" + split + ")");
            writeAndModel(halves[0], buffers, position + split, expected);
            writeAndModel(writer, buffers, position, expected);
        }
        guarded.assertEquals(expected, "ChainWriter writes into " + buffers);
    }

    /**
     * Writes random bytes and a u32 through {@code out}, whose next byte is stream position {@code from}, and applies
     * them to {@code expected}.
     *
     * @return the stream position after what was written.
     */
    private long writeAndModel(final ChainWriter out, final List<ReferenceChain.Descriptor> buffers, final long from, final byte[] expected)
    {
        final long available = out.availableBytes();
        final long before = out.bytesWritten();
        final int n = (int)Math.min(available, data.nextInt(TRANSFER_CAP + 1));
        final byte[] bytes = new byte[n];
        data.nextBytes(bytes);
        mustNotThrow("ChainWriter.write", () -> assertEquals(n, out.write(bytes, 0, n), "bytes written"));
        final long[] addresses = ReferenceChain.streamAddresses(buffers, from, n);
        for (int i = 0; i < n; i++)
        {
            expected[(int)guarded.hostOffset(addresses[i])] = bytes[i];
        }
        final int value = data.nextInt();
        final QueueError error = attempt("writeU32", () -> out.writeU32(value));
        if (available - n < 4)
        {
            assertEquals(QueueError.SHORT_BUFFER, error, "writeU32 with " + (available - n) + " bytes left");
            assertEquals(before + n, out.bytesWritten(), "a failed writeU32 writes nothing");
            return from + n;
        }
        assertEquals(null, error, "writeU32 error");
        final long[] at = ReferenceChain.streamAddresses(buffers, from + n, 4);
        for (int i = 0; i < 4; i++)
        {
            expected[(int)guarded.hostOffset(at[i])] = (byte)(value >>> (8 * i));
        }
        assertEquals(before + n + 4, out.bytesWritten(), "bytesWritten");
        return from + n + 4;
    }
}
