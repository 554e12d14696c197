package org.virtio4j.devices.blk;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.virtio4j.devices.testing.TestChains;
import org.virtio4j.devices.testing.TestMemory;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestMemoryException;
import org.virtio4j.virtio.DescriptorChain;
import org.virtio4j.virtio.DescriptorLayout;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.driver.DriverBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.virtio4j.virtio.driver.DriverBuffer.readable;
import static org.virtio4j.virtio.driver.DriverBuffer.writable;

/**
 * virtio-blk request parsing with vm-virtio's rules ({@code virtio_blk::request::Request::parse} and its tests),
 * and what the device answers for a chain that does not parse.
 */
class BlkRequestParserTest
{
    private static final long MEMORY = 0x1_0000;
    private static final long HEADER = 0x1000;
    private static final long DATA = 0x2000;
    private static final long STATUS = 0x3000;

    private final TestMemory testMemory = new TestMemory(MEMORY);
    private final GuestMemory memory = testMemory.memory();
    private final TestChains chains = new TestChains(memory, 0, 16);
    private final BlkRequestParser parser = new BlkRequestParser();
    private final BlkRequest request = new BlkRequest();

    @AfterEach
    void tearDown()
    {
        testMemory.close();
    }

    private void header(final int type, final long sector)
    {
        memory.putU32(HEADER, type);
        memory.putU32(HEADER + 4, 0xdead_beef);
        memory.putU64(HEADER + 8, sector);
    }

    private BlkParseError parse(final DriverBuffer... buffers)
    {
        return parser.parse(chains.chain(buffers), request);
    }

    @Test
    void shouldRefuseAWriteOnlyHeader()
    {
        header(VirtioBlk.T_IN, 0);
        assertEquals(BlkParseError.UNEXPECTED_WRITE_ONLY_DESCRIPTOR, parse(writable(HEADER, 16), writable(DATA, 512), writable(STATUS, 1)));
    }

    @Test
    void shouldRefuseAReadOnlyStatus()
    {
        header(VirtioBlk.T_OUT, 0);
        assertEquals(BlkParseError.UNEXPECTED_READ_ONLY_DESCRIPTOR, parse(readable(HEADER, 16), readable(DATA, 512), readable(STATUS, 1)));
    }

    @Test
    void shouldRefuseAZeroLengthStatus()
    {
        header(VirtioBlk.T_OUT, 0);
        assertEquals(BlkParseError.DESCRIPTOR_LENGTH_TOO_SMALL, parse(readable(HEADER, 16), readable(DATA, 512), writable(STATUS, 0)));
    }

    @Test
    void shouldRefuseAFlushOfAnySectorButZero()
    {
        header(VirtioBlk.T_FLUSH, 1);
        assertEquals(BlkParseError.INVALID_FLUSH_SECTOR, parse(readable(HEADER, 16), writable(STATUS, 1)));
        header(VirtioBlk.T_FLUSH, Long.MIN_VALUE);
        assertEquals(BlkParseError.INVALID_FLUSH_SECTOR, parse(readable(HEADER, 16), writable(STATUS, 1)));
    }

    @Test
    void shouldRefuseDeviceReadableDataForIn()
    {
        header(VirtioBlk.T_IN, 0);
        assertEquals(BlkParseError.UNEXPECTED_READ_ONLY_DESCRIPTOR,
            parse(readable(HEADER, 16), writable(DATA, 512), readable(DATA + 512, 512), writable(STATUS, 1)));
    }

    @Test
    void shouldRefuseAStatusBeyondGuestMemory()
    {
        header(VirtioBlk.T_OUT, 0);
        assertEquals(BlkParseError.GUEST_MEMORY, parse(readable(HEADER, 16), readable(DATA, 512), writable(MEMORY, 1)));
        assertEquals(GuestMemoryException.Kind.INVALID_GUEST_ADDRESS, request.memoryError().kind());
        assertEquals(MEMORY, request.memoryError().address());
    }

    @Test
    void shouldAcceptAStatusInTheLastByteOfGuestMemory()
    {
        header(VirtioBlk.T_FLUSH, 0);
        assertNull(parse(readable(HEADER, 16), writable(MEMORY - 1, 8)), "only the first status byte must be in memory");
        assertEquals(MEMORY - 1, request.statusAddr());
    }

    @Test
    void shouldParseAValidOutWithTwoDataDescriptors()
    {
        header(VirtioBlk.T_OUT, 0x0102_0304_0506_0708L);
        final DescriptorChain chain = chains.chain(readable(HEADER, 16), readable(DATA, 0x200), readable(DATA + 0x1000, 0x600), writable(STATUS, 1));
        assertNull(parser.parse(chain, request));
        assertEquals(VirtioBlk.T_OUT, request.type());
        assertEquals(0x0102_0304_0506_0708L, request.sector(), "the sector is a little-endian u64");
        assertEquals(2, request.dataCount());
        assertEquals(DATA, request.dataAddr(0));
        assertEquals(0x200, request.dataLen(0));
        assertEquals(DATA + 0x1000, request.dataAddr(1));
        assertEquals(0x600, request.dataLen(1));
        assertFalse(request.dataWritable(0));
        assertEquals(0x800, request.totalDataLen());
        assertEquals(STATUS, request.statusAddr());
        assertEquals(0, request.headIndex());
    }

    @Test
    void shouldParseAnUnsupportedTypeAndLeaveItToExecution()
    {
        header(VirtioBlk.T_SCSI_CMD, 0);
        assertNull(parse(readable(HEADER, 16), readable(DATA, 512), writable(STATUS, 1)));
        assertEquals(2, request.type());
        header(0x8000_0000, 7);
        assertNull(parse(readable(HEADER, 16), writable(STATUS, 1)));
        assertEquals(0x8000_0000, request.type());
    }

    @Test
    void shouldParseAValidFlushWithNoData()
    {
        header(VirtioBlk.T_FLUSH, 0);
        assertNull(parse(readable(HEADER, 16), writable(STATUS, 1)));
        assertEquals(VirtioBlk.T_FLUSH, request.type());
        assertEquals(0, request.dataCount());
        assertEquals(0, request.totalDataLen());
    }

    @Test
    void shouldRefuseAHeaderOnlyChain()
    {
        header(VirtioBlk.T_FLUSH, 0);
        assertEquals(BlkParseError.DESCRIPTOR_CHAIN_TOO_SHORT, parse(readable(HEADER, 16)));
    }

    @Test
    void shouldRefuseAHeadOutsideTheDescriptorTable()
    {
        assertEquals(BlkParseError.DESCRIPTOR_CHAIN_TOO_SHORT, parser.parse(chains.at(16), request));
        assertEquals(16, request.headIndex(), "the head is still reported for the used ring");
    }

    @Test
    void shouldRefuseAHeaderOutsideGuestMemory()
    {
        assertEquals(BlkParseError.GUEST_MEMORY, parse(readable(MEMORY + 0x100, 16), writable(STATUS, 1)));
        assertEquals(MEMORY + 0x100, request.memoryError().address());
        assertEquals(BlkParseError.GUEST_MEMORY, parse(readable(MEMORY - 8, 16), writable(STATUS, 1)), "a header running off the end");
    }

    @Test
    void shouldNotCheckTheHeaderDescriptorsLength()
    {
        header(VirtioBlk.T_OUT, 5);
        assertNull(parse(readable(HEADER, 1), readable(DATA, 512), writable(STATUS, 1)), "16 bytes are read whatever the length says");
        assertEquals(5, request.sector());
    }

    @Test
    void shouldAcceptDeviceWritableDataForOutAsVmVirtioDoes()
    {
        header(VirtioBlk.T_OUT, 0);
        assertNull(parse(readable(HEADER, 16), writable(DATA, 512), writable(STATUS, 1)));
        assertTrue(request.dataWritable(0));
    }

    @Test
    void shouldRefuseAChainWhoseNextIndexLeavesTheTable()
    {
        header(VirtioBlk.T_OUT, 0);
        chains.descriptor(0, HEADER, 16, DescriptorLayout.F_NEXT, 1);
        chains.descriptor(1, DATA, 512, DescriptorLayout.F_NEXT, 16);
        assertEquals(BlkParseError.DESCRIPTOR_CHAIN_TOO_SHORT, parser.parse(chains.at(0), request));
    }

    @Test
    void shouldRefuseALoopingChain()
    {
        header(VirtioBlk.T_OUT, 0);
        chains.descriptor(0, HEADER, 16, DescriptorLayout.F_NEXT, 1);
        chains.descriptor(1, DATA, 512, DescriptorLayout.F_NEXT, 0);
        assertEquals(BlkParseError.DESCRIPTOR_CHAIN_TOO_SHORT, parser.parse(chains.at(0), request));
    }

    @Test
    void shouldParseAChainInAnIndirectTable()
    {
        header(VirtioBlk.T_IN, 3);
        final DescriptorChain chain = chains.indirectChain(0x4000, readable(HEADER, 16), writable(DATA, 512), writable(STATUS, 1));
        assertNull(parser.parse(chain, request));
        assertEquals(1, request.dataCount());
        assertEquals(STATUS, request.statusAddr());
    }

    @Test
    void shouldKeepTheHeaderItReadEvenIfTheGuestChangesIt()
    {
        header(VirtioBlk.T_IN, 3);
        assertNull(parse(readable(HEADER, 16), writable(DATA, 512), writable(STATUS, 1)));
        header(VirtioBlk.T_OUT, 99);
        assertEquals(VirtioBlk.T_IN, request.type());
        assertEquals(3, request.sector());
    }

    @Test
    void shouldAnswerAnUnparsedChainWithIoErrInAUsableStatusByte()
    {
        try (RamBackend ram = new RamBackend(64 * 1024))
        {
            final BlkDevice device = new BlkDevice(ram, BlkOptions.defaults());
            header(VirtioBlk.T_IN, 0);
            memory.putU8(STATUS, 0xff);
            assertEquals(1, device.process(memory, chains.chain(writable(HEADER, 16), writable(DATA, 512), writable(STATUS, 1))));
            assertEquals(VirtioBlk.S_IOERR, memory.getU8(STATUS));
            assertEquals(1, device.parseErrors(BlkParseError.UNEXPECTED_WRITE_ONLY_DESCRIPTOR));

            memory.putU8(STATUS, 0xff);
            assertEquals(0, device.process(memory, chains.chain(readable(HEADER, 16), writable(DATA, 512), readable(STATUS, 1))),
                "no device-writable last descriptor: nothing written");
            assertEquals(0xff, memory.getU8(STATUS));

            assertEquals(0, device.process(memory, chains.chain(readable(HEADER, 16), writable(MEMORY + 1, 1))), "status outside memory");
            assertEquals(0, device.process(memory, chains.at(40)), "a head outside the table");
            assertEquals(4, device.requests());
            assertEquals(1, device.parseErrors(BlkParseError.DESCRIPTOR_CHAIN_TOO_SHORT));
        }
    }
}
