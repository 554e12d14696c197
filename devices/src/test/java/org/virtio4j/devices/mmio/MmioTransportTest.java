package org.virtio4j.devices.mmio;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.virtio4j.devices.blk.BlkConfigLayout;
import org.virtio4j.devices.blk.BlkDevice;
import org.virtio4j.devices.blk.BlkOptions;
import org.virtio4j.devices.blk.RamBackend;
import org.virtio4j.devices.console.ConsoleDevice;
import org.virtio4j.devices.console.StreamConsoleBackend;
import org.virtio4j.devices.core.DeviceState;
import org.virtio4j.devices.core.VirtioDevice;
import org.virtio4j.devices.testing.MmioDriver;
import org.virtio4j.devices.testing.RecordingDevice;
import org.virtio4j.devices.testing.TestMemory;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioFeatures;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.virtio4j.virtio.DeviceStatus.ACKNOWLEDGE;
import static org.virtio4j.virtio.DeviceStatus.DEVICE_NEEDS_RESET;
import static org.virtio4j.virtio.DeviceStatus.DRIVER;
import static org.virtio4j.virtio.DeviceStatus.DRIVER_OK;
import static org.virtio4j.virtio.DeviceStatus.FAILED;
import static org.virtio4j.virtio.DeviceStatus.FEATURES_OK;
import static org.virtio4j.virtio.VirtioMmio.CONFIG;
import static org.virtio4j.virtio.VirtioMmio.CONFIG_GENERATION;
import static org.virtio4j.virtio.VirtioMmio.DEVICE_FEATURES;
import static org.virtio4j.virtio.VirtioMmio.DEVICE_FEATURES_SEL;
import static org.virtio4j.virtio.VirtioMmio.DEVICE_ID;
import static org.virtio4j.virtio.VirtioMmio.DRIVER_FEATURES;
import static org.virtio4j.virtio.VirtioMmio.DRIVER_FEATURES_SEL;
import static org.virtio4j.virtio.VirtioMmio.GUEST_PAGE_SIZE;
import static org.virtio4j.virtio.VirtioMmio.INTERRUPT_ACK;
import static org.virtio4j.virtio.VirtioMmio.INTERRUPT_STATUS;
import static org.virtio4j.virtio.VirtioMmio.INT_CONFIG;
import static org.virtio4j.virtio.VirtioMmio.INT_VRING;
import static org.virtio4j.virtio.VirtioMmio.MAGIC;
import static org.virtio4j.virtio.VirtioMmio.MAGIC_VALUE;
import static org.virtio4j.virtio.VirtioMmio.QUEUE_AVAIL_HIGH;
import static org.virtio4j.virtio.VirtioMmio.QUEUE_AVAIL_LOW;
import static org.virtio4j.virtio.VirtioMmio.QUEUE_DESC_HIGH;
import static org.virtio4j.virtio.VirtioMmio.QUEUE_DESC_LOW;
import static org.virtio4j.virtio.VirtioMmio.QUEUE_NOTIFY;
import static org.virtio4j.virtio.VirtioMmio.QUEUE_NUM;
import static org.virtio4j.virtio.VirtioMmio.QUEUE_NUM_MAX;
import static org.virtio4j.virtio.VirtioMmio.QUEUE_PFN;
import static org.virtio4j.virtio.VirtioMmio.QUEUE_READY;
import static org.virtio4j.virtio.VirtioMmio.QUEUE_RESET;
import static org.virtio4j.virtio.VirtioMmio.QUEUE_SEL;
import static org.virtio4j.virtio.VirtioMmio.QUEUE_USED_HIGH;
import static org.virtio4j.virtio.VirtioMmio.QUEUE_USED_LOW;
import static org.virtio4j.virtio.VirtioMmio.SHM_SEL;
import static org.virtio4j.virtio.VirtioMmio.STATUS;
import static org.virtio4j.virtio.VirtioMmio.VENDOR_ID;
import static org.virtio4j.virtio.VirtioMmio.VERSION;
import static org.virtio4j.virtio.VirtioMmio.VERSION_REG;

/**
 * The virtio-mmio v2 register model against vm-virtio's {@code VirtioMmioDevice} (section 5.5 of the behaviour
 * notes): every register read, every write gated by the status, and bad accesses counted, never thrown.
 */
class MmioTransportTest
{
    private static final int ACK_DRIVER = ACKNOWLEDGE | DRIVER;
    private static final int ACK_DRIVER_FEATURES = ACK_DRIVER | FEATURES_OK;
    private static final int RUNNING = ACK_DRIVER_FEATURES | DRIVER_OK;
    private static final long OFFERED = VirtioFeatures.bit(0) | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) |
        VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(40);
    private static final byte SENTINEL = (byte)0xee;

    private final TestMemory testMemory = new TestMemory(1 << 20);
    private final AtomicInteger interruptLine = new AtomicInteger();
    private final RecordingDevice device = new RecordingDevice(OFFERED, new byte[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 8, 16);
    private final DeviceState state = new DeviceState(device);
    private final MmioTransport mmio = new MmioTransport(state, interruptLine::incrementAndGet);

    MmioTransportTest()
    {
        state.attach(testMemory.memory(), mmio);
    }

    @AfterEach
    void tearDown()
    {
        testMemory.close();
    }

    private void status(final int value)
    {
        mmio.writeRegister(STATUS, value);
        assertEquals(value, mmio.readRegister(STATUS), "status write " + value + " taken");
    }

    private void driveTo(final int target)
    {
        for (final int step : new int[] {ACKNOWLEDGE, ACK_DRIVER, ACK_DRIVER_FEATURES, RUNNING})
        {
            status(step);
            if (step == target)
            {
                return;
            }
        }
    }

    private static byte[] sentinels(final int length)
    {
        final byte[] data = new byte[length];
        Arrays.fill(data, SENTINEL);
        return data;
    }

    private SplitQueue queue(final int index)
    {
        return state.queues()[index];
    }

    @Test
    void shouldReadTheIdentificationRegisters()
    {
        assertEquals(MAGIC, mmio.readRegister(MAGIC_VALUE));
        assertEquals(0x7472_6976, mmio.readRegister(MAGIC_VALUE), "\"virt\" little-endian");
        assertEquals(2, mmio.readRegister(VERSION_REG));
        assertEquals(VERSION, mmio.readRegister(VERSION_REG));
        assertEquals(RecordingDevice.DEVICE_TYPE, mmio.readRegister(DEVICE_ID));
        assertEquals(0, mmio.readRegister(VENDOR_ID));
        final byte[] raw = new byte[4];
        mmio.read(MAGIC_VALUE, raw);
        assertArrayEquals(new byte[] {'v', 'i', 'r', 't'}, raw);
        assertEquals(0, mmio.badAccesses());
    }

    @Test
    void shouldShowTheDeviceFeaturesPageTheDriverSelected()
    {
        mmio.writeRegister(DEVICE_FEATURES_SEL, 0);
        assertEquals(1 | 1 << VirtioFeatures.RING_EVENT_IDX, mmio.readRegister(DEVICE_FEATURES));
        mmio.writeRegister(DEVICE_FEATURES_SEL, 1);
        assertEquals(1 | 1 << (40 - 32), mmio.readRegister(DEVICE_FEATURES));
        mmio.writeRegister(DEVICE_FEATURES_SEL, 2);
        assertEquals(0, mmio.readRegister(DEVICE_FEATURES), "page 2 is empty");
        mmio.writeRegister(DEVICE_FEATURES_SEL, -1);
        assertEquals(0, mmio.readRegister(DEVICE_FEATURES));
        assertEquals(0, mmio.badAccesses());
    }

    @Test
    void shouldShowTheSelectedQueuesMaximumSizeAndZeroOutOfRange()
    {
        mmio.writeRegister(QUEUE_SEL, 0);
        assertEquals(8, mmio.readRegister(QUEUE_NUM_MAX));
        mmio.writeRegister(QUEUE_SEL, 1);
        assertEquals(16, mmio.readRegister(QUEUE_NUM_MAX));
        mmio.writeRegister(QUEUE_SEL, 2);
        assertEquals(0, mmio.readRegister(QUEUE_NUM_MAX), "no queue 2");
        assertEquals(0, mmio.readRegister(QUEUE_READY), "no queue 2");
        mmio.writeRegister(QUEUE_SEL, 0x1_0001);
        assertEquals(16, mmio.readRegister(QUEUE_NUM_MAX), "QueueSel keeps the low 16 bits");
    }

    @Test
    void shouldShowQueueReadyInterruptStatusStatusAndConfigGeneration()
    {
        driveTo(ACK_DRIVER_FEATURES);
        mmio.writeRegister(QUEUE_SEL, 1);
        assertEquals(0, mmio.readRegister(QUEUE_READY));
        mmio.writeRegister(QUEUE_READY, 1);
        assertEquals(1, mmio.readRegister(QUEUE_READY));
        assertTrue(queue(1).ready());
        mmio.writeRegister(QUEUE_SEL, 0);
        assertEquals(0, mmio.readRegister(QUEUE_READY), "queue 0 untouched");

        state.interruptStatus().set(INT_VRING | INT_CONFIG);
        assertEquals(3, mmio.readRegister(INTERRUPT_STATUS));
        assertEquals(ACK_DRIVER_FEATURES, mmio.readRegister(STATUS));
        assertEquals(0, mmio.readRegister(CONFIG_GENERATION));
        state.bumpConfigGeneration();
        state.bumpConfigGeneration();
        assertEquals(2, mmio.readRegister(CONFIG_GENERATION));
    }

    @Test
    void shouldCountReadsOfTheWrongWidthOrOfUnknownRegistersAndLeaveTheBufferUntouched()
    {
        for (final int width : new int[] {0, 1, 2, 3, 8})
        {
            final byte[] data = sentinels(width);
            mmio.read(MAGIC_VALUE, data);
            assertArrayEquals(sentinels(width), data, "width " + width);
        }
        assertEquals(5, mmio.badAccesses());
        final long[] unknown = {QUEUE_NUM, GUEST_PAGE_SIZE, QUEUE_PFN, SHM_SEL, QUEUE_RESET, INTERRUPT_ACK, QUEUE_DESC_LOW, 0x02, 0xfe, -4,
            0x1000, Long.MAX_VALUE, Long.MIN_VALUE};
        for (final long offset : unknown)
        {
            final byte[] data = sentinels(4);
            mmio.read(offset, data);
            assertArrayEquals(sentinels(4), data, "offset " + offset);
        }
        assertEquals(5 + unknown.length, mmio.badAccesses());
        assertEquals(0, mmio.ignoredWrites());
    }

    @Test
    void shouldCountWritesOfTheWrongWidthOrToUnknownRegistersAndChangeNothing()
    {
        mmio.write(STATUS, new byte[] {ACKNOWLEDGE, 0});
        mmio.write(STATUS, new byte[] {ACKNOWLEDGE, 0, 0, 0, 0, 0, 0, 0});
        mmio.write(STATUS, new byte[0]);
        assertEquals(0, state.status(), "no status change through a bad width");
        final long[] unknown = {MAGIC_VALUE, VERSION_REG, DEVICE_ID, VENDOR_ID, DEVICE_FEATURES, QUEUE_NUM_MAX, INTERRUPT_STATUS,
            CONFIG_GENERATION, GUEST_PAGE_SIZE, QUEUE_PFN, SHM_SEL, QUEUE_RESET, -4, 0x1000, Long.MAX_VALUE};
        for (final long offset : unknown)
        {
            mmio.write(offset, new byte[] {1, 0, 0, 0});
        }
        assertEquals(3 + unknown.length, mmio.badAccesses());
        assertEquals(0, state.status());
        assertEquals(RecordingDevice.DEVICE_TYPE, mmio.readRegister(DEVICE_ID));
        assertEquals(MAGIC, mmio.readRegister(MAGIC_VALUE));
        assertEquals(0, mmio.ignoredWrites());
    }

    @Test
    void shouldTakeDriverFeaturesOnlyAfterDriverAndBeforeFeaturesOk()
    {
        mmio.writeRegister(DRIVER_FEATURES, 1);
        status(ACKNOWLEDGE);
        mmio.writeRegister(DRIVER_FEATURES, 1);
        assertEquals(0, state.driverFeatures(), "not before DRIVER");
        assertEquals(2, mmio.ignoredWrites());

        status(ACK_DRIVER);
        mmio.writeRegister(DRIVER_FEATURES_SEL, 0);
        mmio.writeRegister(DRIVER_FEATURES, 1);
        mmio.writeRegister(DRIVER_FEATURES_SEL, 1);
        mmio.writeRegister(DRIVER_FEATURES, 1);
        assertEquals(VirtioFeatures.bit(0) | VirtioFeatures.bit(VirtioFeatures.VERSION_1), state.driverFeatures());
        mmio.writeRegister(DRIVER_FEATURES_SEL, 2);
        mmio.writeRegister(DRIVER_FEATURES, -1);
        assertEquals(VirtioFeatures.bit(0) | VirtioFeatures.bit(VirtioFeatures.VERSION_1), state.driverFeatures(), "page 2 ignored");
        assertEquals(2, mmio.ignoredWrites());

        status(ACK_DRIVER_FEATURES);
        mmio.writeRegister(DRIVER_FEATURES_SEL, 0);
        mmio.writeRegister(DRIVER_FEATURES, 0);
        assertEquals(VirtioFeatures.bit(0) | VirtioFeatures.bit(VirtioFeatures.VERSION_1), state.driverFeatures(), "not after FEATURES_OK");
        assertEquals(3, mmio.ignoredWrites());
    }

    @Test
    void shouldRefuseDriverFeaturesOnceFailed()
    {
        status(ACKNOWLEDGE);
        status(ACK_DRIVER);
        status(ACK_DRIVER | FAILED);
        mmio.writeRegister(DRIVER_FEATURES, 1);
        assertEquals(0, state.driverFeatures());
        assertEquals(1, mmio.ignoredWrites());
    }

    @Test
    void shouldTakeQueueRegistersOnlyAfterFeaturesOkAndBeforeDriverOk()
    {
        status(ACKNOWLEDGE);
        status(ACK_DRIVER);
        mmio.writeRegister(QUEUE_SEL, 1);
        mmio.writeRegister(QUEUE_NUM, 4);
        mmio.writeRegister(QUEUE_READY, 1);
        mmio.writeRegister(QUEUE_DESC_LOW, 0x1000);
        assertEquals(16, queue(1).size(), "not before FEATURES_OK");
        assertFalse(queue(1).ready());
        assertEquals(0, queue(1).descTable());
        assertEquals(3, mmio.ignoredWrites());

        status(ACK_DRIVER_FEATURES);
        mmio.writeRegister(QUEUE_NUM, 4);
        mmio.writeRegister(QUEUE_DESC_LOW, 0x1000);
        mmio.writeRegister(QUEUE_READY, 1);
        assertEquals(4, queue(1).size());
        assertEquals(0x1000, queue(1).descTable());
        assertTrue(queue(1).ready());
        assertEquals(3, mmio.ignoredWrites());

        status(RUNNING);
        mmio.writeRegister(QUEUE_NUM, 8);
        mmio.writeRegister(QUEUE_READY, 0);
        mmio.writeRegister(QUEUE_USED_LOW, 0x2000);
        assertEquals(4, queue(1).size(), "not after DRIVER_OK");
        assertTrue(queue(1).ready());
        assertEquals(0, queue(1).usedRing());
        assertEquals(6, mmio.ignoredWrites());
    }

    @Test
    void shouldRefuseQueueRegistersOnceFailedOrForAQueueThatDoesNotExist()
    {
        driveTo(ACK_DRIVER_FEATURES);
        mmio.writeRegister(QUEUE_SEL, 2);
        mmio.writeRegister(QUEUE_NUM, 4);
        mmio.writeRegister(QUEUE_READY, 1);
        assertEquals(2, mmio.ignoredWrites(), "no queue 2");
        mmio.writeRegister(QUEUE_SEL, 0);
        status(ACK_DRIVER_FEATURES | FAILED);
        mmio.writeRegister(QUEUE_NUM, 4);
        mmio.writeRegister(QUEUE_READY, 1);
        assertEquals(8, queue(0).size());
        assertFalse(queue(0).ready());
        assertEquals(4, mmio.ignoredWrites());
    }

    @Test
    void shouldTakeQueueReadyOnlyForTheValueOne()
    {
        driveTo(ACK_DRIVER_FEATURES);
        mmio.writeRegister(QUEUE_SEL, 0);
        mmio.writeRegister(QUEUE_READY, 1);
        assertTrue(queue(0).ready());
        mmio.writeRegister(QUEUE_READY, 2);
        assertFalse(queue(0).ready(), "any value but 1 un-readies");
        mmio.writeRegister(QUEUE_READY, 1);
        mmio.writeRegister(QUEUE_READY, 0);
        assertFalse(queue(0).ready());
    }

    @Test
    void shouldIgnoreAndCountInvalidQueueSizes()
    {
        driveTo(ACK_DRIVER_FEATURES);
        mmio.writeRegister(QUEUE_SEL, 1);
        for (final int size : new int[] {0, 3, 12, 32, 0x1_0000})
        {
            mmio.writeRegister(QUEUE_NUM, size);
            assertEquals(16, queue(1).size(), "size " + size);
        }
        assertEquals(5, mmio.ignoredWrites());
        mmio.writeRegister(QUEUE_NUM, 0x1_0004);
        assertEquals(4, queue(1).size(), "the low 16 bits are the size, as vm-virtio's v as u16");
        mmio.writeRegister(QUEUE_NUM, 1);
        assertEquals(1, queue(1).size());
        assertEquals(5, mmio.ignoredWrites());
    }

    @Test
    void shouldAssembleQueueAddressesFromTheirLowAndHighHalves()
    {
        driveTo(ACK_DRIVER_FEATURES);
        mmio.writeRegister(QUEUE_SEL, 1);
        mmio.writeRegister(QUEUE_DESC_LOW, 0x1000);
        mmio.writeRegister(QUEUE_DESC_HIGH, 0x2);
        mmio.writeRegister(QUEUE_AVAIL_LOW, 0xffff_fffe);
        mmio.writeRegister(QUEUE_AVAIL_HIGH, 0x3);
        mmio.writeRegister(QUEUE_USED_LOW, 0x3004);
        mmio.writeRegister(QUEUE_USED_HIGH, 0x8000_0000);
        assertEquals(0x2_0000_1000L, queue(1).descTable());
        assertEquals(0x3_ffff_fffeL, queue(1).availRing());
        assertEquals(0x8000_0000_0000_3004L, queue(1).usedRing());
        mmio.writeRegister(QUEUE_DESC_LOW, 0x2000);
        assertEquals(0x2_0000_2000L, queue(1).descTable(), "a new low half keeps the high half");
        assertEquals(0, queue(0).descTable(), "the other queue is untouched");
        assertEquals(0, mmio.ignoredWrites());
    }

    @Test
    void shouldIgnoreMisalignedQueueAddresses()
    {
        driveTo(ACK_DRIVER_FEATURES);
        mmio.writeRegister(QUEUE_SEL, 0);
        mmio.writeRegister(QUEUE_DESC_LOW, 0x1000);
        mmio.writeRegister(QUEUE_AVAIL_LOW, 0x2000);
        mmio.writeRegister(QUEUE_USED_LOW, 0x3000);
        mmio.writeRegister(QUEUE_DESC_LOW, 0x1008);
        mmio.writeRegister(QUEUE_AVAIL_LOW, 0x2001);
        mmio.writeRegister(QUEUE_USED_LOW, 0x3002);
        assertEquals(0x1000, queue(0).descTable(), "descriptor table needs 16-byte alignment");
        assertEquals(0x2000, queue(0).availRing(), "avail ring needs 2-byte alignment");
        assertEquals(0x3000, queue(0).usedRing(), "used ring needs 4-byte alignment");
        assertEquals(3, mmio.ignoredWrites());
        mmio.writeRegister(QUEUE_USED_LOW, 0x3004);
        assertEquals(0x3004, queue(0).usedRing(), "4-byte aligned is enough for the used ring");
    }

    @Test
    void shouldAcknowledgeInterruptsOnlyOnceTheDriverIsRunning()
    {
        driveTo(ACK_DRIVER_FEATURES);
        state.interruptStatus().set(INT_VRING | INT_CONFIG);
        mmio.writeRegister(INTERRUPT_ACK, INT_VRING);
        assertEquals(3, mmio.readRegister(INTERRUPT_STATUS), "no ack before DRIVER_OK");
        assertEquals(1, mmio.ignoredWrites());
        status(RUNNING);
        mmio.writeRegister(INTERRUPT_ACK, INT_VRING);
        assertEquals(INT_CONFIG, mmio.readRegister(INTERRUPT_STATUS));
        mmio.writeRegister(INTERRUPT_ACK, -1);
        assertEquals(0, mmio.readRegister(INTERRUPT_STATUS));
        assertEquals(1, mmio.ignoredWrites());
    }

    @Test
    void shouldWriteConfigOnlyWithDriverSetAndFailedClear()
    {
        mmio.write(CONFIG + 2, new byte[] {42});
        status(ACKNOWLEDGE);
        mmio.write(CONFIG + 2, new byte[] {42});
        assertTrue(device.configWrites().isEmpty(), "not before DRIVER");
        assertEquals(2, mmio.ignoredWrites());

        status(ACK_DRIVER);
        mmio.write(CONFIG + 2, new byte[] {42, 43});
        assertEquals(List.of("2:[42, 43]"), device.configWrites());
        assertEquals(42, device.config()[2]);

        status(ACK_DRIVER | FAILED);
        mmio.write(CONFIG + 2, new byte[] {7});
        assertEquals(1, device.configWrites().size(), "not once FAILED");
        assertEquals(3, mmio.ignoredWrites());
        assertEquals(0, mmio.badAccesses());
    }

    @Test
    void shouldReadConfigAtAnyWidth()
    {
        for (final int width : new int[] {1, 2, 3, 4, 8})
        {
            final byte[] data = new byte[width];
            mmio.read(CONFIG + 4, data);
            for (int i = 0; i < width; i++)
            {
                assertEquals(4 + i, data[i], "width " + width + " byte " + i);
            }
        }
        assertEquals(0, mmio.badAccesses());
    }

    @Test
    void shouldCutConfigReadsAtTheEndAndLeaveReadsPastTheEndUntouched()
    {
        final StreamConsoleBackend streams = new StreamConsoleBackend(new ByteArrayInputStream(new byte[0]), new ByteArrayOutputStream(), true);
        final ConsoleDevice console = new ConsoleDevice(streams, 64, 8, 132, 43);
        final MmioTransport window = new MmioTransport(new DeviceState(console), () -> { });
        final byte[] data = sentinels(16);
        window.read(CONFIG + 2, data);
        final byte[] expected = sentinels(16);
        System.arraycopy(new byte[] {43, 0, 1, 0, 0, 0, 0, 0, 0, 0}, 0, expected, 0, 10);
        assertArrayEquals(expected, data, "10 bytes of a 12-byte config from offset 2, the rest untouched");
        final byte[] past = sentinels(4);
        window.read(CONFIG + 12, past);
        assertArrayEquals(sentinels(4), past, "offset at the end");
        window.read(CONFIG + 0x200, past);
        assertArrayEquals(sentinels(4), past, "offset far past the end");
        assertEquals(0, window.badAccesses(), "config reads are never bad accesses");
    }

    @Test
    void shouldCutBlkConfigReadsAtTheEndAndIgnoreConfigWrites()
    {
        try (RamBackend backend = new RamBackend(1 << 20))
        {
            final VirtioDevice blk = new BlkDevice(backend, BlkOptions.defaults());
            final DeviceState blkState = new DeviceState(blk);
            final MmioTransport window = new MmioTransport(blkState, () -> { });
            final byte[] data = sentinels(8);
            window.read(CONFIG + BlkConfigLayout.WRITE_ZEROES_MAY_UNMAP, data);
            assertArrayEquals(new byte[] {1, 0, 0, 0, SENTINEL, SENTINEL, SENTINEL, SENTINEL}, data);
            final byte[] before = new byte[BlkConfigLayout.SIZE];
            window.read(CONFIG, before);
            blkState.writeStatus(ACKNOWLEDGE);
            blkState.writeStatus(ACK_DRIVER);
            window.write(CONFIG, sentinels(BlkConfigLayout.SIZE));
            window.write(CONFIG + BlkConfigLayout.WRITEBACK, new byte[] {1});
            final byte[] after = new byte[BlkConfigLayout.SIZE];
            window.read(CONFIG, after);
            assertArrayEquals(before, after, "nothing in blk config is driver-writable without CONFIG_WCE");
            assertEquals(0, window.ignoredWrites(), "the transport passed the writes on");
        }
    }

    @Test
    void shouldNotifyOnlyAnActivatedDeviceAndOnlyItsQueues()
    {
        mmio.writeRegister(QUEUE_NOTIFY, 0);
        assertTrue(device.notifications().isEmpty(), "not before DRIVER_OK");
        assertEquals(1, mmio.ignoredWrites());
        driveTo(RUNNING);
        mmio.writeRegister(QUEUE_NOTIFY, 1);
        mmio.writeRegister(QUEUE_NOTIFY, 2);
        mmio.writeRegister(QUEUE_NOTIFY, -1);
        mmio.writeRegister(QUEUE_NOTIFY, 0);
        assertEquals(List.of(1, 0), device.notifications());
        assertEquals(3, mmio.ignoredWrites());
    }

    @Test
    void shouldSetNeedsResetAndSignalConfigWhenTheDeviceFailsANotification()
    {
        driveTo(RUNNING);
        device.failNotifications(true);
        mmio.writeRegister(QUEUE_NOTIFY, 0);
        assertEquals(1, mmio.deviceErrors());
        assertEquals(RUNNING | DEVICE_NEEDS_RESET, mmio.readRegister(STATUS));
        assertEquals(INT_CONFIG, mmio.readRegister(INTERRUPT_STATUS));
        assertEquals(1, interruptLine.get());
    }

    @Test
    void shouldSetInterruptBitsAndRaiseTheLineOnSignals()
    {
        mmio.signalUsedBuffers(1);
        assertEquals(INT_VRING, mmio.readRegister(INTERRUPT_STATUS));
        assertEquals(1, interruptLine.get());
        mmio.signalConfigChange();
        assertEquals(INT_VRING | INT_CONFIG, mmio.readRegister(INTERRUPT_STATUS));
        assertEquals(2, interruptLine.get());
    }

    @Test
    void shouldCountRefusedStatusWritesAsIgnored()
    {
        mmio.writeRegister(STATUS, DRIVER);
        assertEquals(0, mmio.readRegister(STATUS));
        assertEquals(1, mmio.ignoredWrites());
        assertEquals(1, state.refusedTransitions());
    }

    @Test
    void shouldBringUpThroughTheRegistersAndPassEventIdxToEveryQueue()
    {
        final MmioDriver driver = new MmioDriver(mmio, testMemory.memory()).bringUp(-1L, 8, 0x1_0000);
        assertEquals(OFFERED, driver.negotiated());
        assertEquals(RUNNING, mmio.readRegister(STATUS));
        assertEquals(1, device.activations());
        assertEquals(OFFERED, device.activatedFeatures());
        for (final SplitQueue queue : state.queues())
        {
            assertTrue(queue.eventIdxEnabled());
            assertTrue(queue.ready());
            assertEquals(8, queue.size());
        }
        assertEquals(driver.queue(1).descTable(), queue(1).descTable());
        assertEquals(driver.queue(1).availRing(), queue(1).availRing());
        assertEquals(driver.queue(1).usedRing(), queue(1).usedRing());
        driver.reset();
        assertEquals(0, mmio.readRegister(STATUS));
        assertEquals(2, device.resets(), "bring-up starts with a reset; then the driver's own");
        assertFalse(queue(0).ready());
        assertEquals(0, mmio.ignoredWrites());
        assertEquals(0, mmio.badAccesses());
    }
}
