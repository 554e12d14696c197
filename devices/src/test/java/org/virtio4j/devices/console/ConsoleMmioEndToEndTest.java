package org.virtio4j.devices.console;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
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
import org.virtio4j.virtio.VirtioConsole;
import org.virtio4j.virtio.VirtioMmio;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-console driven end to end through the MMIO register model: bring-up, bytes both ways, reset.
 */
class ConsoleMmioEndToEndTest
{
    private final TestMemory testMemory = new TestMemory(1 << 20);
    private final GuestMemory memory = testMemory.memory();
    private final AtomicInteger interrupts = new AtomicInteger();
    private final ByteArrayOutputStream output = new ByteArrayOutputStream();

    @AfterEach
    void tearDown()
    {
        testMemory.close();
    }

    private MmioDriver start(final ConsoleDevice device)
    {
        final DeviceState state = new DeviceState(device);
        final MmioTransport mmio = new MmioTransport(state, interrupts::incrementAndGet);
        state.attach(memory, mmio);
        assertEquals(DeviceType.CONSOLE, mmio.readRegister(VirtioMmio.DEVICE_ID));
        return new MmioDriver(mmio, memory).bringUp(-1L, 8, 0);
    }

    @Test
    void shouldCarryBytesBothWaysInOrder() throws DeviceException
    {
        final byte[] typed = "hello from the host".getBytes(StandardCharsets.US_ASCII);
        final ConsoleDevice device = ConsoleDevice.withDefaults(new StreamConsoleBackend(new ByteArrayInputStream(typed), output, true));
        final MmioDriver driver = start(device);

        // Guest to host: two transmit chains, the first in two descriptors.
        memory.write(0x4_0000, "abc".getBytes(StandardCharsets.US_ASCII), 0, 3);
        memory.write(0x4_0100, "def".getBytes(StandardCharsets.US_ASCII), 0, 3);
        memory.write(0x4_0200, "ghi".getBytes(StandardCharsets.US_ASCII), 0, 3);
        final DriverQueue tx = driver.queue(VirtioConsole.TRANSMITQ);
        tx.addChain(DriverBuffer.readable(0x4_0000, 3), DriverBuffer.readable(0x4_0100, 3));
        tx.addChain(DriverBuffer.readable(0x4_0200, 3));
        driver.kick(VirtioConsole.TRANSMITQ);
        assertEquals("abcdefghi", output.toString(StandardCharsets.US_ASCII));
        assertTrue(tx.pollUsed());
        assertEquals(0, tx.lastUsedLen(), "the device writes nothing into transmit buffers");

        // Host to guest: 19 bytes into an 8-byte then a 16-byte buffer: partial fills, in order.
        final DriverQueue rx = driver.queue(VirtioConsole.RECEIVEQ);
        rx.addChain(DriverBuffer.writable(0x5_0000, 8));
        rx.addChain(DriverBuffer.writable(0x5_0100, 16));
        assertEquals(2, device.poll());
        assertTrue(rx.pollUsed());
        assertEquals(8, rx.lastUsedLen());
        assertTrue(rx.pollUsed());
        assertEquals(11, rx.lastUsedLen());
        final byte[] first = new byte[8];
        final byte[] second = new byte[11];
        memory.read(0x5_0000, first, 0, 8);
        memory.read(0x5_0100, second, 0, 11);
        assertEquals("hello from the host", new String(first, StandardCharsets.US_ASCII) + new String(second, StandardCharsets.US_ASCII));
        assertTrue(interrupts.get() >= 2);

        driver.reset();
        assertEquals(19, device.bytesToGuest(), "19 bytes delivered before the reset");
        assertEquals(0, device.poll(), "after reset the device has no queues");
    }

    @Test
    void shouldKeepInputWaitingUntilTheGuestOffersABuffer() throws DeviceException
    {
        final ConsoleDevice device = new ConsoleDevice(new StreamConsoleBackend(new ByteArrayInputStream(new byte[0]), output, true), 16, 8, 80, 25);
        final MmioDriver driver = start(device);
        assertTrue(device.enqueueInput("0123456789".getBytes(StandardCharsets.US_ASCII)));
        assertFalse(device.enqueueInput("0123456789".getBytes(StandardCharsets.US_ASCII)), "10 more bytes do not fit in 16");
        assertEquals(10, device.refusedInputBytes());
        assertEquals(0, device.poll(), "no receive buffer yet");
        assertEquals(10, device.bufferedInput(), "nothing dropped");
        driver.queue(VirtioConsole.RECEIVEQ).addChain(DriverBuffer.writable(0x5_0000, 64));
        assertEquals(1, device.poll());
        assertEquals(0, device.bufferedInput());
        assertTrue(driver.queue(VirtioConsole.RECEIVEQ).pollUsed());
        assertEquals(10, driver.queue(VirtioConsole.RECEIVEQ).lastUsedLen());
    }

    @Test
    void shouldReadOnlyAsMuchBackendInputAsTheBufferHolds() throws DeviceException
    {
        final byte[] typed = new byte[40];
        for (int i = 0; i < typed.length; i++)
        {
            typed[i] = (byte)('a' + i % 26);
        }
        final ByteArrayInputStream in = new ByteArrayInputStream(typed);
        final ConsoleDevice device = new ConsoleDevice(new StreamConsoleBackend(in, output, true), 16, 8, 80, 25);
        start(device);
        device.poll();
        assertEquals(16, device.bufferedInput());
        assertEquals(24, in.available(), "the rest waits in the backend: back-pressure");
    }

    @Test
    void shouldReturnAReceiveChainWithAReadableDescriptorUnused() throws DeviceException
    {
        final ConsoleDevice device = new ConsoleDevice(new StreamConsoleBackend(new ByteArrayInputStream(new byte[0]), output, true), 64, 8, 80, 25);
        final MmioDriver driver = start(device);
        device.enqueueInput("xyz".getBytes(StandardCharsets.US_ASCII));
        final DriverQueue rx = driver.queue(VirtioConsole.RECEIVEQ);
        rx.addChain(DriverBuffer.readable(0x5_0000, 64));
        rx.addChain(DriverBuffer.writable(0x5_0100, 64));
        device.poll();
        assertTrue(rx.pollUsed());
        assertEquals(0, rx.lastUsedLen());
        assertTrue(rx.pollUsed());
        assertEquals(3, rx.lastUsedLen(), "the next good buffer gets the bytes");
        assertEquals(1, device.badChains());
    }
}
