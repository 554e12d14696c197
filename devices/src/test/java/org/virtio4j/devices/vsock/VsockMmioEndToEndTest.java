package org.virtio4j.devices.vsock;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.DeviceState;
import org.virtio4j.devices.mmio.MmioTransport;
import org.virtio4j.devices.testing.MmioDriver;
import org.virtio4j.devices.testing.TestMemory;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.DeviceType;
import org.virtio4j.virtio.VirtioMmio;
import org.virtio4j.virtio.VirtioVsock;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-vsock packets driven end to end through the MMIO register model: TX packets reach the handler with
 * their header and data, RX packets fill guest buffers, in one- and two-descriptor layouts.
 */
class VsockMmioEndToEndTest
{
    private final TestMemory testMemory = new TestMemory(1 << 20);
    private final GuestMemory memory = testMemory.memory();
    private final AtomicInteger interrupts = new AtomicInteger();
    private final List<String> received = new ArrayList<>();
    private final ArrayDeque<byte[]> outgoing = new ArrayDeque<>();
    private VsockDevice device;

    @AfterEach
    void tearDown()
    {
        testMemory.close();
    }

    private final VsockPacketHandler handler = new VsockPacketHandler()
    {
        @Override
        public boolean onTransmit(final GuestMemory memory, final VsockPacket packet)
        {
            final byte[] data = new byte[packet.hasData() ? (int)packet.dataLen() : 0];
            memory.read(packet.dataAddr(), data, 0, data.length);
            received.add(packet.srcCid() + ":" + packet.srcPort() + "->" + packet.dstCid() + ":" + packet.dstPort() +
                " op=" + packet.op() + " " + new String(data, StandardCharsets.US_ASCII));
            return true;
        }

        @Override
        public boolean hasPacketForGuest()
        {
            return !outgoing.isEmpty();
        }

        @Override
        public long fillPacketForGuest(final GuestMemory memory, final VsockPacket packet)
        {
            final byte[] data = outgoing.poll();
            if (data == null)
            {
                return -1;
            }
            final int length = (int)Math.min(data.length, packet.dataLen());
            memory.write(packet.dataAddr(), data, 0, length);
            packet.header(VirtioVsock.HOST_CID, 3, 1234, 5678, length, VirtioVsock.TYPE_STREAM, VirtioVsock.OP_RW, 0, 65536, 0);
            return length;
        }
    };

    private MmioDriver start()
    {
        device = new VsockDevice(3, 8, handler);
        final DeviceState state = new DeviceState(device);
        final MmioTransport mmio = new MmioTransport(state, interrupts::incrementAndGet);
        state.attach(memory, mmio);
        assertEquals(DeviceType.VSOCK, mmio.readRegister(VirtioMmio.DEVICE_ID));
        final byte[] cid = new byte[8];
        mmio.read(VirtioMmio.CONFIG, cid);
        assertEquals(3, cid[0]);
        return new MmioDriver(mmio, memory).bringUp(-1L, 8, 0);
    }

    private void writeHeader(final long at, final int len)
    {
        memory.putU64(at, 3);
        memory.putU64(at + 8, VirtioVsock.HOST_CID);
        memory.putU32(at + 16, 1000);
        memory.putU32(at + 20, 2000);
        memory.putU32(at + 24, len);
        memory.putU16(at + 28, VirtioVsock.TYPE_STREAM);
        memory.putU16(at + 30, VirtioVsock.OP_RW);
    }

    @Test
    void shouldDeliverTransmittedPacketsInBothLayouts()
    {
        final MmioDriver driver = start();
        final DriverQueue tx = driver.queue(VirtioVsock.TXQ);
        writeHeader(0x4_0000, 5);
        memory.write(0x4_0100, "hello".getBytes(StandardCharsets.US_ASCII), 0, 5);
        tx.addChain(DriverBuffer.readable(0x4_0000, 44), DriverBuffer.readable(0x4_0100, 5));
        writeHeader(0x4_1000, 5);
        memory.write(0x4_1000 + 44, "world".getBytes(StandardCharsets.US_ASCII), 0, 5);
        tx.addChain(DriverBuffer.readable(0x4_1000, 49));
        driver.kick(VirtioVsock.TXQ);
        assertEquals(List.of("3:1000->2:2000 op=5 hello", "3:1000->2:2000 op=5 world"), received);
        assertTrue(tx.pollUsed());
        assertEquals(0, tx.lastUsedLen());
    }

    @Test
    void shouldFillReceiveBuffersInBothLayouts() throws DeviceException
    {
        final MmioDriver driver = start();
        final DriverQueue rx = driver.queue(VirtioVsock.RXQ);
        rx.addChain(DriverBuffer.writable(0x5_0000, 44), DriverBuffer.writable(0x5_0100, 4096));
        rx.addChain(DriverBuffer.writable(0x6_0000, 44 + 4096));
        outgoing.add("first".getBytes(StandardCharsets.US_ASCII));
        outgoing.add("second".getBytes(StandardCharsets.US_ASCII));
        driver.kick(VirtioVsock.RXQ);
        assertTrue(rx.pollUsed());
        assertEquals(44 + 5, rx.lastUsedLen());
        assertEquals(VirtioVsock.HOST_CID, memory.getU64(0x5_0000));
        assertEquals(5, memory.getU32(0x5_0000 + VsockHeaderLayout.LEN));
        assertEquals(VirtioVsock.OP_RW, memory.getU16(0x5_0000 + VsockHeaderLayout.OP));
        final byte[] data = new byte[6];
        memory.read(0x5_0100, data, 0, 5);
        assertEquals("first", new String(data, 0, 5, StandardCharsets.US_ASCII));
        assertTrue(rx.pollUsed());
        assertEquals(44 + 6, rx.lastUsedLen());
        memory.read(0x6_0000 + 44, data, 0, 6);
        assertEquals("second", new String(data, StandardCharsets.US_ASCII));
        assertEquals(0, device.poll(), "no packet left, no buffer consumed");
    }

    @Test
    void shouldReturnMalformedTransmitChainsAndCountThem()
    {
        final MmioDriver driver = start();
        final DriverQueue tx = driver.queue(VirtioVsock.TXQ);
        tx.addChain(DriverBuffer.readable(0x4_0000, 20));
        tx.addChain(DriverBuffer.writable(0x4_0000, 44));
        writeHeader(0x4_1000, 100_000);
        tx.addChain(DriverBuffer.readable(0x4_1000, 44), DriverBuffer.readable(0x4_2000, 100_000));
        driver.kick(VirtioVsock.TXQ);
        assertTrue(received.isEmpty());
        assertEquals(1, device.parseErrors(VsockParseError.DESCRIPTOR_LENGTH_TOO_SMALL));
        assertEquals(1, device.parseErrors(VsockParseError.UNEXPECTED_WRITE_ONLY_DESCRIPTOR));
        assertEquals(1, device.parseErrors(VsockParseError.INVALID_HEADER_LEN));
        int used = 0;
        while (tx.pollUsed())
        {
            used++;
        }
        assertEquals(3, used, "every chain is returned");
    }

}
