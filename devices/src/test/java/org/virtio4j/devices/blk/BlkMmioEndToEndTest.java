package org.virtio4j.devices.blk;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.virtio4j.devices.core.DeviceState;
import org.virtio4j.devices.mmio.MmioTransport;
import org.virtio4j.devices.testing.MmioDriver;
import org.virtio4j.devices.testing.TestMemory;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.DeviceStatus;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.VirtioFeatures;
import org.virtio4j.virtio.VirtioMmio;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-blk driven end to end through the MMIO register model by the driver-side simulator: bring-up, real
 * requests on every backend, reset.
 */
class BlkMmioEndToEndTest
{
    private static final long CAPACITY = 1 << 20;
    private static final long HEADER = 0x8_0000;
    private static final long STATUS = 0x8_0100;
    private static final long DATA = 0x9_0000;
    private static final long ALL_FEATURES = -1L;

    @TempDir
    Path dir;

    private final TestMemory testMemory = new TestMemory(1 << 21);
    private final GuestMemory memory = testMemory.memory();
    private final AtomicInteger interrupts = new AtomicInteger();
    private BlkBackend backend;
    private MmioTransport mmio;
    private MmioDriver driver;

    @AfterEach
    void tearDown() throws IOException
    {
        if (backend != null)
        {
            backend.close();
        }
        testMemory.close();
    }

    private BlkBackend backend(final String kind) throws IOException
    {
        return switch (kind)
        {
            case "ram" -> new RamBackend(CAPACITY);
            case "null" -> new NullBackend(CAPACITY);
            default ->
            {
                final Path image = dir.resolve("disk.img");
                try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw"))
                {
                    file.setLength(CAPACITY);
                }
                yield new FileBackend(image, false);
            }
        };
    }

    private void start(final BlkBackend backend, final BlkOptions options)
    {
        this.backend = backend;
        final DeviceState state = new DeviceState(new BlkDevice(backend, options));
        mmio = new MmioTransport(state, interrupts::incrementAndGet);
        state.attach(memory, mmio);
        driver = new MmioDriver(mmio, memory).bringUp(ALL_FEATURES, 16, 0);
    }

    /** Sends one request and returns its status byte; the used length is checked against {@code usedLength}. */
    private int request(final int type, final long sector, final long dataAddr, final int dataLen, final boolean deviceWrites,
        final int usedLength)
    {
        memory.putU32(HEADER, type);
        memory.putU32(HEADER + 4, 0);
        memory.putU64(HEADER + 8, sector);
        memory.putU8(STATUS, 0xff);
        final DriverQueue queue = driver.queue(0);
        if (dataLen > 0)
        {
            queue.addChain(DriverBuffer.readable(HEADER, 16),
                new DriverBuffer(dataAddr, dataLen, deviceWrites), DriverBuffer.writable(STATUS, 1));
        }
        else
        {
            queue.addChain(DriverBuffer.readable(HEADER, 16), DriverBuffer.writable(STATUS, 1));
        }
        // With EVENT_IDX a driver that wants an interrupt for the next completion says so in used_event.
        queue.setUsedEvent(queue.usedIdx());
        final int before = interrupts.get();
        driver.kick(0);
        assertTrue(queue.pollUsed(), "request completed");
        assertEquals(usedLength, queue.lastUsedLen(), "used length");
        assertEquals(before + 1, interrupts.get(), "one interrupt for the request");
        assertEquals(VirtioMmio.INT_VRING, mmio.readRegister(VirtioMmio.INTERRUPT_STATUS) & VirtioMmio.INT_VRING);
        mmio.writeRegister(VirtioMmio.INTERRUPT_ACK, VirtioMmio.INT_VRING);
        return memory.getU8(STATUS);
    }

    private static byte[] pattern(final int length, final int seed)
    {
        final byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(i * 31 + seed);
        }
        return bytes;
    }

    private byte[] guestBytes(final long address, final int length)
    {
        final byte[] bytes = new byte[length];
        memory.read(address, bytes, 0, length);
        return bytes;
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file", "null"})
    void shouldServeEveryRequestTypeThenReset(final String kind) throws IOException
    {
        start(backend(kind), BlkOptions.defaults().withSerial("disk-0001"));
        final long negotiated = driver.negotiated();
        assertTrue(VirtioFeatures.has(negotiated, VirtioFeatures.VERSION_1));
        assertTrue(VirtioFeatures.has(negotiated, VirtioBlk.F_FLUSH));
        assertTrue(VirtioFeatures.has(negotiated, VirtioBlk.F_DISCARD));
        final boolean stores = !kind.equals("null");

        final byte[] written = pattern(8192, 7);
        memory.write(DATA, written, 0, written.length);
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_OUT, 16, DATA, 8192, false, 1));

        memory.fill(DATA, 8192, (byte)0);
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_IN, 16, DATA, 8192, true, 8193));
        if (stores)
        {
            assertArrayEquals(written, guestBytes(DATA, 8192), "read back what was written");
        }

        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_FLUSH, 0, 0, 0, false, 1));

        // WRITE_ZEROES over the first of the two 4 KiB blocks, DISCARD over the second.
        memory.putU64(DATA, 16);
        memory.putU32(DATA + 8, 8);
        memory.putU32(DATA + 12, 0);
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_WRITE_ZEROES, 0, DATA, 16, false, 1));
        memory.putU64(DATA, 24);
        memory.putU32(DATA + 8, 8);
        memory.putU32(DATA + 12, 0);
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_DISCARD, 0, DATA, 16, false, 1));
        memory.fill(DATA, 8192, (byte)0x5a);
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_IN, 16, DATA, 8192, true, 8193));
        if (stores)
        {
            assertArrayEquals(new byte[8192], guestBytes(DATA, 8192), "zeroed and discarded blocks read as zeros");
        }

        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_GET_ID, 0, DATA, 20, true, 21));
        final byte[] id = Arrays.copyOf("disk-0001".getBytes(StandardCharsets.US_ASCII), 20);
        assertArrayEquals(id, guestBytes(DATA, 20));

        driver.reset();
        assertEquals(0, mmio.readRegister(VirtioMmio.STATUS));
        mmio.writeRegister(VirtioMmio.QUEUE_SEL, 0);
        assertEquals(0, mmio.readRegister(VirtioMmio.QUEUE_READY), "reset un-readies the queues");
        assertFalse(mmio.state().activated());
    }

    @Test
    void shouldRefuseWritesOnAReadOnlyDevice() throws IOException
    {
        final RamBackend ram = new RamBackend(CAPACITY);
        start(ram, BlkOptions.defaults().withReadOnly(true));
        assertTrue(VirtioFeatures.has(driver.negotiated(), VirtioBlk.F_RO));
        memory.write(DATA, pattern(512, 3), 0, 512);
        assertEquals(VirtioBlk.S_IOERR, request(VirtioBlk.T_OUT, 0, DATA, 512, false, 1));
        assertEquals(0, ram.segment().get(ValueLayout.JAVA_BYTE, 1), "the disk is untouched");
        assertEquals(1, ((BlkDevice)mmio.state().device()).executor().errors(BlkError.READ_ONLY));
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_IN, 0, DATA, 512, true, 513), "reads still work");
    }

    @Test
    void shouldFailRequestsPastTheEndWithoutWritingAnything() throws IOException
    {
        final RamBackend ram = new RamBackend(CAPACITY);
        start(ram, BlkOptions.defaults());
        final long lastSector = CAPACITY / 512 - 1;
        memory.write(DATA, pattern(1024, 9), 0, 1024);
        assertEquals(VirtioBlk.S_IOERR, request(VirtioBlk.T_OUT, lastSector, DATA, 1024, false, 1), "one sector runs past the end");
        assertEquals(0, ram.segment().get(ValueLayout.JAVA_BYTE, CAPACITY - 1), "no partial write at the end");
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_OUT, lastSector, DATA, 512, false, 1), "the last sector itself is fine");
        assertEquals(VirtioBlk.S_IOERR, request(VirtioBlk.T_IN, -1L, DATA, 512, true, 1), "sector arithmetic that overflows");
        assertEquals(VirtioBlk.S_IOERR, request(VirtioBlk.T_IN, 0, DATA, 500, true, 1), "length not a multiple of 512");
        assertEquals(VirtioBlk.S_UNSUPP, request(2, 0, DATA, 512, true, 1), "unknown type");
        assertEquals(2, ((BlkDevice)mmio.state().device()).executor().errors(BlkError.OUT_OF_RANGE));
    }

    @Test
    void shouldServeEachQueueOfAMultiQueueDeviceIndependently() throws IOException
    {
        start(new RamBackend(CAPACITY), BlkOptions.defaults().withQueues(2));
        assertTrue(VirtioFeatures.has(driver.negotiated(), VirtioBlk.F_MQ));
        final byte[] config = new byte[2];
        mmio.read(VirtioMmio.CONFIG + BlkConfigLayout.NUM_QUEUES, config);
        assertEquals(2, config[0]);
        memory.putU32(HEADER, VirtioBlk.T_GET_ID);
        memory.putU64(HEADER + 8, 0);
        final DriverQueue second = driver.queue(1);
        second.addChain(DriverBuffer.readable(HEADER, 16), DriverBuffer.writable(DATA, 20), DriverBuffer.writable(STATUS, 1));
        driver.kick(0);
        assertFalse(second.pollUsed(), "a kick on queue 0 leaves queue 1 alone");
        driver.kick(1);
        assertTrue(second.pollUsed());
        assertEquals(21, second.lastUsedLen());
        assertFalse(driver.queue(0).pollUsed());
    }

    @Test
    void shouldRefuseFeaturesOkWhenTheDriverAcceptsAnUnofferedFeature() throws IOException
    {
        this.backend = new RamBackend(CAPACITY);
        final DeviceState state = new DeviceState(new BlkDevice(backend, BlkOptions.defaults()));
        mmio = new MmioTransport(state, interrupts::incrementAndGet);
        state.attach(memory, mmio);
        mmio.writeRegister(VirtioMmio.STATUS, DeviceStatus.ACKNOWLEDGE);
        mmio.writeRegister(VirtioMmio.STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        mmio.writeRegister(VirtioMmio.DRIVER_FEATURES_SEL, 1);
        mmio.writeRegister(VirtioMmio.DRIVER_FEATURES, 1 << (VirtioFeatures.RING_PACKED - 32));
        mmio.writeRegister(VirtioMmio.STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        assertEquals(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER, mmio.readRegister(VirtioMmio.STATUS), "FEATURES_OK not accepted");
        assertEquals(1, state.refusedTransitions());
    }

    @Test
    void shouldSetNeedsResetWhenTheDriverExposesMoreChainsThanTheQueueHolds() throws IOException
    {
        start(new RamBackend(CAPACITY), BlkOptions.defaults());
        final int before = interrupts.get();
        driver.queue(0).setAvailIdx(17);
        driver.kick(0);
        assertEquals(DeviceStatus.DEVICE_NEEDS_RESET, mmio.readRegister(VirtioMmio.STATUS) & DeviceStatus.DEVICE_NEEDS_RESET);
        assertEquals(VirtioMmio.INT_CONFIG, mmio.readRegister(VirtioMmio.INTERRUPT_STATUS) & VirtioMmio.INT_CONFIG);
        assertEquals(before + 1, interrupts.get());
        assertEquals(1, mmio.deviceErrors());
    }

    @Test
    void shouldPersistWritesToTheImageFile() throws IOException
    {
        start(backend("file"), BlkOptions.defaults());
        final byte[] written = pattern(4096, 42);
        memory.write(DATA, written, 0, written.length);
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_OUT, 8, DATA, 4096, false, 1));
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_FLUSH, 0, 0, 0, false, 1));
        final byte[] onDisk = Arrays.copyOfRange(Files.readAllBytes(dir.resolve("disk.img")), 8 * 512, 8 * 512 + 4096);
        assertArrayEquals(written, onDisk);
    }
}
