package org.virtio4j.devices.vsock;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.virtio4j.devices.testing.TestChains;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestRegion;
import org.virtio4j.virtio.DescriptorChain;
import org.virtio4j.virtio.VirtioVsock;
import org.virtio4j.virtio.driver.DriverBuffer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.virtio4j.devices.vsock.VsockParseError.DESCRIPTOR_CHAIN_TOO_SHORT;
import static org.virtio4j.devices.vsock.VsockParseError.DESCRIPTOR_LENGTH_TOO_LONG;
import static org.virtio4j.devices.vsock.VsockParseError.DESCRIPTOR_LENGTH_TOO_SMALL;
import static org.virtio4j.devices.vsock.VsockParseError.FRAGMENTED_MEMORY;
import static org.virtio4j.devices.vsock.VsockParseError.INVALID_HEADER_LEN;
import static org.virtio4j.devices.vsock.VsockParseError.INVALID_MEMORY_ACCESS;
import static org.virtio4j.devices.vsock.VsockParseError.UNEXPECTED_READ_ONLY_DESCRIPTOR;
import static org.virtio4j.devices.vsock.VsockParseError.UNEXPECTED_WRITE_ONLY_DESCRIPTOR;
import static org.virtio4j.virtio.driver.DriverBuffer.readable;
import static org.virtio4j.virtio.driver.DriverBuffer.writable;

/**
 * vsock packets from TX and RX chains with vm-virtio's rules ({@code VsockPacket::from_tx_virtq_chain} /
 * {@code from_rx_virtq_chain} tests): the error matrix of direction, short header, too much or too little data,
 * memory that is fragmented (two adjacent regions) or absent; both layouts; the header copy and its little-endian
 * round trip.
 */
class VsockPacketParserTest
{
    /** Region A is [0, SPLIT), region B is [SPLIT, END): adjacent, so a range across SPLIT is fragmented. */
    private static final long SPLIT = 0x10_0000;
    private static final long END = SPLIT + 0x1000;
    private static final long HEADER = 0x1000;
    private static final long DATA = 0x2000;
    private static final int MAX = 64 * 1024;
    private static final int HEADER_SIZE = VsockHeaderLayout.SIZE;

    private final Arena arena = Arena.ofConfined();
    private final GuestMemory memory = GuestMemory.of(new GuestRegion(0, arena.allocate(SPLIT, 4096)),
        new GuestRegion(SPLIT, arena.allocate(END - SPLIT, 4096)));
    private final TestChains chains = new TestChains(memory, 0, 16);
    private final VsockPacketParser parser = new VsockPacketParser();
    private final VsockPacket packet = new VsockPacket();

    @AfterEach
    void tearDown()
    {
        arena.close();
    }

    private void writeHeader(final long at, final int len)
    {
        memory.putU64(at + VsockHeaderLayout.SRC_CID, 3);
        memory.putU64(at + VsockHeaderLayout.DST_CID, VirtioVsock.HOST_CID);
        memory.putU32(at + VsockHeaderLayout.SRC_PORT, 1000);
        memory.putU32(at + VsockHeaderLayout.DST_PORT, 2000);
        memory.putU32(at + VsockHeaderLayout.LEN, len);
        memory.putU16(at + VsockHeaderLayout.TYPE, VirtioVsock.TYPE_STREAM);
        memory.putU16(at + VsockHeaderLayout.OP, VirtioVsock.OP_RW);
        memory.putU32(at + VsockHeaderLayout.FLAGS, 0);
        memory.putU32(at + VsockHeaderLayout.BUF_ALLOC, 65536);
        memory.putU32(at + VsockHeaderLayout.FWD_CNT, 0);
    }

    private VsockParseError tx(final DriverBuffer... buffers)
    {
        return parser.fromTx(chains.chain(buffers), MAX, packet);
    }

    private VsockParseError rx(final DriverBuffer... buffers)
    {
        return parser.fromRx(chains.chain(buffers), MAX, packet);
    }

    // ---- TX -------------------------------------------------------------------------------------------------------

    @Test
    void shouldRefuseATxChainWithNoDescriptor()
    {
        assertEquals(DESCRIPTOR_CHAIN_TOO_SHORT, parser.fromTx(chains.at(16), MAX, packet));
    }

    @Test
    void shouldRefuseADeviceWritableTxHeader()
    {
        writeHeader(HEADER, 0);
        assertEquals(UNEXPECTED_WRITE_ONLY_DESCRIPTOR, tx(writable(HEADER, HEADER_SIZE)));
    }

    @Test
    void shouldRefuseATxHeaderDescriptorShorterThanTheHeader()
    {
        writeHeader(HEADER, 0);
        assertEquals(DESCRIPTOR_LENGTH_TOO_SMALL, tx(readable(HEADER, HEADER_SIZE - 1)));
    }

    @Test
    void shouldRefuseATxHeaderOutsideOrAcrossGuestMemoryRegions()
    {
        assertEquals(INVALID_MEMORY_ACCESS, tx(readable(END + 0x100, HEADER_SIZE)));
        assertEquals(END + 0x100, packet.memoryError().address());
        writeHeader(SPLIT - 20, 0);
        assertEquals(FRAGMENTED_MEMORY, tx(readable(SPLIT - 20, HEADER_SIZE)), "a header across two adjacent regions");
        assertEquals(FRAGMENTED_MEMORY, tx(readable(END - 20, HEADER_SIZE)), "a header running off the end");
    }

    @Test
    void shouldTakeATxHeaderWithNoDataAndIgnoreTheRestOfTheChain()
    {
        writeHeader(HEADER, 0);
        assertNull(tx(readable(HEADER, HEADER_SIZE), writable(END + 0x1000, 0x100)));
        assertFalse(packet.hasData());
        assertEquals(VsockPacket.NO_DATA, packet.dataLen());
        assertEquals(HEADER, packet.headerAddr());
        assertEquals(3, packet.srcCid());
        assertEquals(VirtioVsock.OP_RW, packet.op());
    }

    @Test
    void shouldRefuseATxHeaderLenAboveTheMaximum()
    {
        writeHeader(HEADER, MAX + 1);
        assertEquals(INVALID_HEADER_LEN, tx(readable(HEADER, HEADER_SIZE), readable(DATA, MAX + 1)));
        assertEquals(MAX + 1, packet.len());
        writeHeader(HEADER, -1);
        assertEquals(INVALID_HEADER_LEN, parser.fromTx(chains.chain(readable(HEADER, HEADER_SIZE), readable(DATA, 16)), Integer.MAX_VALUE, packet),
            "len is a u32: 0xffffffff is above any int maximum");
        writeHeader(HEADER, MAX);
        assertNull(tx(readable(HEADER, HEADER_SIZE), readable(DATA, MAX)), "exactly the maximum is fine");
    }

    @Test
    void shouldTakeTxDataFromTheHeaderDescriptorWhenItIsTheOnlyOne()
    {
        writeHeader(HEADER, 5);
        assertNull(tx(readable(HEADER, HEADER_SIZE + 10)));
        assertTrue(packet.hasData());
        assertEquals(HEADER + HEADER_SIZE, packet.dataAddr());
        assertEquals(5, packet.dataLen(), "the header's len, not the room left");
        assertNull(tx(readable(HEADER, HEADER_SIZE + 5)));
        assertEquals(5, packet.dataLen());
    }

    @Test
    void shouldRefuseASingleTxDescriptorTooShortForItsData()
    {
        writeHeader(HEADER, 5);
        assertEquals(DESCRIPTOR_CHAIN_TOO_SHORT, tx(readable(HEADER, HEADER_SIZE + 4)));
        assertEquals(DESCRIPTOR_CHAIN_TOO_SHORT, tx(readable(HEADER, HEADER_SIZE)));
    }

    @Test
    void shouldTakeTxDataFromTheNextDescriptorWhenTheHeadHasNext()
    {
        writeHeader(HEADER, 5);
        assertNull(tx(readable(HEADER, HEADER_SIZE + 100), readable(DATA, 100), readable(DATA + 0x1000, 8)));
        assertEquals(DATA, packet.dataAddr(), "room in the head is ignored when the head has NEXT");
        assertEquals(5, packet.dataLen(), "the header's len, not the descriptor's");
    }

    @Test
    void shouldRefuseATxDataDescriptorOfTheWrongDirectionOrTooShort()
    {
        writeHeader(HEADER, 5);
        assertEquals(UNEXPECTED_WRITE_ONLY_DESCRIPTOR, tx(readable(HEADER, HEADER_SIZE), writable(DATA, 5)));
        assertEquals(DESCRIPTOR_LENGTH_TOO_SMALL, tx(readable(HEADER, HEADER_SIZE), readable(DATA, 4)));
    }

    @Test
    void shouldRefuseTxDataOutsideOrAcrossGuestMemoryRegions()
    {
        writeHeader(HEADER, 64);
        assertEquals(INVALID_MEMORY_ACCESS, tx(readable(HEADER, HEADER_SIZE), readable(END, 64)));
        assertEquals(END, packet.memoryError().address());
        assertEquals(FRAGMENTED_MEMORY, tx(readable(HEADER, HEADER_SIZE), readable(SPLIT - 32, 64)));
        assertEquals(FRAGMENTED_MEMORY, tx(readable(HEADER, HEADER_SIZE), readable(END - 32, 64)));
        assertNull(tx(readable(HEADER, HEADER_SIZE), readable(SPLIT, 64)), "data wholly in the second region");
        assertEquals(SPLIT, packet.dataAddr());
        writeHeader(SPLIT - HEADER_SIZE - 10, 64);
        assertEquals(FRAGMENTED_MEMORY, tx(readable(SPLIT - HEADER_SIZE - 10, HEADER_SIZE + 64)), "single-descriptor data across regions");
    }

    @Test
    void shouldParseTheSameTxChainAgainBecauseParsingRewindsIt()
    {
        writeHeader(HEADER, 5);
        final DescriptorChain chain = chains.chain(readable(HEADER, HEADER_SIZE), readable(DATA, 5));
        assertNull(parser.fromTx(chain, MAX, packet));
        assertNull(parser.fromTx(chain, MAX, packet), "unlike vm-virtio, an exhausted chain is walked again");
        assertEquals(DATA, packet.dataAddr());
    }

    @Test
    void shouldKeepTheTxHeaderItReadEvenIfTheGuestChangesIt()
    {
        writeHeader(HEADER, 5);
        assertNull(tx(readable(HEADER, HEADER_SIZE), readable(DATA, 5)));
        memory.putU32(HEADER + VsockHeaderLayout.LEN, 60_000);
        memory.putU64(HEADER + VsockHeaderLayout.DST_CID, 99);
        assertEquals(5, packet.len());
        assertEquals(VirtioVsock.HOST_CID, packet.dstCid());
    }

    // ---- RX -------------------------------------------------------------------------------------------------------

    @Test
    void shouldRefuseARxChainWithNoDescriptor()
    {
        assertEquals(DESCRIPTOR_CHAIN_TOO_SHORT, parser.fromRx(chains.at(20), MAX, packet));
    }

    @Test
    void shouldRefuseADeviceReadableRxHeader()
    {
        assertEquals(UNEXPECTED_READ_ONLY_DESCRIPTOR, rx(readable(HEADER, HEADER_SIZE), writable(DATA, 64)));
    }

    @Test
    void shouldRefuseARxHeaderDescriptorShorterThanTheHeader()
    {
        assertEquals(DESCRIPTOR_LENGTH_TOO_SMALL, rx(writable(HEADER, HEADER_SIZE - 1), writable(DATA, 64)));
    }

    @Test
    void shouldRefuseARxHeaderAloneWithNoRoomForData()
    {
        assertEquals(DESCRIPTOR_CHAIN_TOO_SHORT, rx(writable(HEADER, HEADER_SIZE)));
    }

    @Test
    void shouldRefuseARxHeaderOutsideOrAcrossGuestMemoryRegions()
    {
        assertEquals(INVALID_MEMORY_ACCESS, rx(writable(END, HEADER_SIZE), writable(DATA, 64)));
        assertEquals(FRAGMENTED_MEMORY, rx(writable(SPLIT - 4, HEADER_SIZE), writable(DATA, 64)));
    }

    @Test
    void shouldTakeRxDataFromTheRestOfASingleDescriptorWithoutTheMaximum()
    {
        assertNull(parser.fromRx(chains.chain(writable(HEADER, HEADER_SIZE + 100)), 16, packet));
        assertEquals(HEADER + HEADER_SIZE, packet.dataAddr());
        assertEquals(100, packet.dataLen(), "as vm-virtio, the maximum is not applied to data in the head");
    }

    @Test
    void shouldTakeRxDataFromTheNextDescriptor()
    {
        assertNull(rx(writable(HEADER, HEADER_SIZE + 100), writable(DATA, MAX)));
        assertEquals(DATA, packet.dataAddr());
        assertEquals(MAX, packet.dataLen(), "exactly the maximum is fine");
    }

    @Test
    void shouldRefuseARxDataDescriptorOfTheWrongDirectionOrTooLong()
    {
        assertEquals(UNEXPECTED_READ_ONLY_DESCRIPTOR, rx(writable(HEADER, HEADER_SIZE), readable(DATA, 64)));
        assertEquals(DESCRIPTOR_LENGTH_TOO_LONG, rx(writable(HEADER, HEADER_SIZE), writable(DATA, MAX + 1)));
        assertEquals(DESCRIPTOR_LENGTH_TOO_LONG, rx(writable(HEADER, HEADER_SIZE), writable(DATA, 0x8000_0000)), "a u32 length");
    }

    @Test
    void shouldTakeAnEmptyRxDataDescriptorAsNoData()
    {
        assertNull(rx(writable(HEADER, HEADER_SIZE), writable(END + 0x1000, 0)));
        assertFalse(packet.hasData());
    }

    @Test
    void shouldRefuseRxDataOutsideOrAcrossGuestMemoryRegions()
    {
        assertEquals(INVALID_MEMORY_ACCESS, rx(writable(HEADER, HEADER_SIZE), writable(END + 8, 64)));
        assertEquals(FRAGMENTED_MEMORY, rx(writable(HEADER, HEADER_SIZE), writable(SPLIT - 8, 64)));
        assertEquals(FRAGMENTED_MEMORY, rx(writable(SPLIT - HEADER_SIZE - 8, HEADER_SIZE + 64)), "single-descriptor data across regions");
    }

    @Test
    void shouldStartARxHeaderZeroedWithoutReadingGuestMemory()
    {
        writeHeader(HEADER, 77);
        assertNull(rx(writable(HEADER, HEADER_SIZE), writable(DATA, 64)));
        assertEquals(0, packet.srcCid());
        assertEquals(0, packet.dstCid());
        assertEquals(0, packet.len());
        assertEquals(0, packet.op());
        assertEquals(0, packet.bufAlloc());
    }

    // ---- header round trip ----------------------------------------------------------------------------------------

    @Test
    void shouldWriteEveryHeaderFieldLittleEndianAndReadItBackThroughTx()
    {
        memory.fill(HEADER, 64, (byte)0xaa);
        assertNull(rx(writable(HEADER, HEADER_SIZE), writable(DATA, 64)));
        packet.header(0x0102_0304_0506_0708L, 0xf0e0_d0c0_b0a0_9080L, 0xdead_beef, 0x8000_0001, 5, 0xbeef, 0x8001, 0xcafe_babe,
            0x7fff_ffff, 0xffff_ffff).writeHeader(memory);

        final ByteBuffer expected = ByteBuffer.allocate(HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        expected.putLong(0x0102_0304_0506_0708L).putLong(0xf0e0_d0c0_b0a0_9080L).putInt(0xdead_beef).putInt(0x8000_0001).putInt(5)
            .putShort((short)0xbeef).putShort((short)0x8001).putInt(0xcafe_babe).putInt(0x7fff_ffff).putInt(0xffff_ffff);
        final byte[] written = new byte[HEADER_SIZE];
        memory.read(HEADER, written, 0, HEADER_SIZE);
        assertArrayEquals(expected.array(), written);
        assertEquals(0x08, written[VsockHeaderLayout.SRC_CID], "least significant byte first");
        assertEquals((byte)0xaa, (byte)memory.getU8(HEADER + HEADER_SIZE), "nothing past the 44 bytes");

        final VsockPacket reread = new VsockPacket();
        assertNull(parser.fromTx(chains.chain(readable(HEADER, HEADER_SIZE), readable(DATA, 5)), MAX, reread));
        assertEquals(0x0102_0304_0506_0708L, reread.srcCid());
        assertEquals(0xf0e0_d0c0_b0a0_9080L, reread.dstCid());
        assertEquals(0xdead_beef, reread.srcPort());
        assertEquals(0x8000_0001, reread.dstPort());
        assertEquals(5, reread.len());
        assertEquals(0xbeef, reread.type(), "u16 fields read unsigned");
        assertEquals(0x8001, reread.op());
        assertEquals(0xcafe_babe, reread.flags());
        assertEquals(0x7fff_ffff, reread.bufAlloc());
        assertEquals(0xffff_ffff, reread.fwdCnt());
        assertEquals(5, reread.dataLen());
    }

    @Test
    void shouldClearAPacketOnEveryParse()
    {
        writeHeader(HEADER, 5);
        assertNull(tx(readable(HEADER, HEADER_SIZE), readable(DATA, 5)));
        assertEquals(UNEXPECTED_WRITE_ONLY_DESCRIPTOR, tx(writable(HEADER, HEADER_SIZE)));
        assertFalse(packet.hasData());
        assertEquals(0, packet.len());
        assertEquals(0, packet.srcCid());
        assertNull(packet.memoryError());
    }
}
