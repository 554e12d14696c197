package org.virtio4j.devices.blk;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.virtio4j.virtio.DeviceType;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.VirtioFeatures;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.virtio4j.memory.GuestMemory.LE_U16;
import static org.virtio4j.memory.GuestMemory.LE_U32;
import static org.virtio4j.memory.GuestMemory.LE_U64;

/**
 * The virtio-blk config space (virtio 1.2 section 5.2.4) and the feature bits that say which fields count, read
 * through {@link BlkDevice#readConfig} and {@link BlkDevice#deviceFeatures}.
 */
class BlkConfigSpaceTest
{
    private static final long CAPACITY = 1 << 20;

    @TempDir
    Path dir;

    private static MemorySegment config(final BlkDevice device)
    {
        final byte[] bytes = new byte[BlkConfigLayout.SIZE];
        assertEquals(BlkConfigLayout.SIZE, device.readConfig(0, bytes));
        return MemorySegment.ofArray(bytes);
    }

    private static boolean offers(final BlkDevice device, final int feature)
    {
        return VirtioFeatures.has(device.deviceFeatures(), feature);
    }

    @Test
    void shouldAdvertiseTheDefaultLimitsWithTheirFeatures()
    {
        try (RamBackend ram = new RamBackend(CAPACITY))
        {
            final BlkDevice device = new BlkDevice(ram, BlkOptions.defaults());
            assertEquals(DeviceType.BLOCK, device.deviceType());
            assertEquals(BlkConfigLayout.SIZE, device.configSize());
            final MemorySegment config = config(device);
            assertEquals(CAPACITY / 512, config.get(LE_U64, BlkConfigLayout.CAPACITY));
            assertEquals(BlkOptions.DEFAULT_SIZE_MAX, config.get(LE_U32, BlkConfigLayout.SIZE_MAX));
            assertEquals(BlkOptions.DEFAULT_SEG_MAX, config.get(LE_U32, BlkConfigLayout.SEG_MAX));
            assertEquals(512, config.get(LE_U32, BlkConfigLayout.BLK_SIZE));
            assertEquals(1, config.get(LE_U16, BlkConfigLayout.NUM_QUEUES));
            assertEquals(1, config.get(LE_U16, BlkConfigLayout.MIN_IO_SIZE));
            assertEquals(BlkOptions.DEFAULT_MAX_SECTORS, config.get(LE_U32, BlkConfigLayout.MAX_DISCARD_SECTORS));
            assertEquals(BlkOptions.DEFAULT_MAX_SEGMENTS, config.get(LE_U32, BlkConfigLayout.MAX_DISCARD_SEG));
            assertEquals(1, config.get(LE_U32, BlkConfigLayout.DISCARD_SECTOR_ALIGNMENT));
            assertEquals(BlkOptions.DEFAULT_MAX_SECTORS, config.get(LE_U32, BlkConfigLayout.MAX_WRITE_ZEROES_SECTORS));
            assertEquals(BlkOptions.DEFAULT_MAX_SEGMENTS, config.get(LE_U32, BlkConfigLayout.MAX_WRITE_ZEROES_SEG));
            assertEquals(1, config.get(ValueLayout.JAVA_BYTE, BlkConfigLayout.WRITE_ZEROES_MAY_UNMAP));

            for (final int feature : new int[] {VirtioFeatures.VERSION_1, VirtioFeatures.RING_INDIRECT_DESC, VirtioFeatures.RING_EVENT_IDX,
                VirtioBlk.F_SIZE_MAX, VirtioBlk.F_SEG_MAX, VirtioBlk.F_BLK_SIZE, VirtioBlk.F_TOPOLOGY, VirtioBlk.F_FLUSH,
                VirtioBlk.F_DISCARD, VirtioBlk.F_WRITE_ZEROES})
            {
                assertTrue(offers(device, feature), "feature " + feature);
            }
            for (final int feature : new int[] {VirtioBlk.F_RO, VirtioBlk.F_MQ, VirtioBlk.F_GEOMETRY, VirtioBlk.F_CONFIG_WCE,
                VirtioBlk.F_SECURE_ERASE, VirtioBlk.F_LIFETIME, VirtioFeatures.RING_PACKED})
            {
                assertFalse(offers(device, feature), "feature " + feature);
            }
            assertArrayEquals(new int[] {BlkOptions.DEFAULT_QUEUE_SIZE}, device.queueMaxSizes());
        }
    }

    @Test
    void shouldAdvertiseTheConfiguredLimits()
    {
        try (RamBackend ram = new RamBackend(CAPACITY))
        {
            final BlkOptions options = new BlkOptions(false, "x", 4, 64, 17, 4096, 100, 3, 200, 5);
            final BlkDevice device = new BlkDevice(ram, options);
            final MemorySegment config = config(device);
            assertEquals(4096, config.get(LE_U32, BlkConfigLayout.SIZE_MAX));
            assertEquals(17, config.get(LE_U32, BlkConfigLayout.SEG_MAX));
            assertEquals(4, config.get(LE_U16, BlkConfigLayout.NUM_QUEUES));
            assertEquals(100, config.get(LE_U32, BlkConfigLayout.MAX_DISCARD_SECTORS));
            assertEquals(3, config.get(LE_U32, BlkConfigLayout.MAX_DISCARD_SEG));
            assertEquals(200, config.get(LE_U32, BlkConfigLayout.MAX_WRITE_ZEROES_SECTORS));
            assertEquals(5, config.get(LE_U32, BlkConfigLayout.MAX_WRITE_ZEROES_SEG));
            assertTrue(offers(device, VirtioBlk.F_MQ), "more than one queue offers MQ");
            assertArrayEquals(new int[] {64, 64, 64, 64}, device.queueMaxSizes());
        }
    }

    @Test
    void shouldOfferNeitherDiscardNorWriteZeroesWithoutSectors()
    {
        try (RamBackend ram = new RamBackend(CAPACITY))
        {
            final BlkDevice device = new BlkDevice(ram, BlkOptions.defaults().withDiscardLimits(0, 1, 0, 1));
            assertFalse(offers(device, VirtioBlk.F_DISCARD));
            assertFalse(offers(device, VirtioBlk.F_WRITE_ZEROES));
            final BlkDevice discardOnly = new BlkDevice(ram, BlkOptions.defaults().withDiscardLimits(8, 1, 0, 1));
            assertTrue(offers(discardOnly, VirtioBlk.F_DISCARD));
            assertFalse(offers(discardOnly, VirtioBlk.F_WRITE_ZEROES));
        }
    }

    @Test
    void shouldOfferReadOnlyAndNoWriteTypesOnAReadOnlyDevice()
    {
        try (RamBackend ram = new RamBackend(CAPACITY))
        {
            final BlkDevice device = new BlkDevice(ram, BlkOptions.defaults().withReadOnly(true));
            assertTrue(offers(device, VirtioBlk.F_RO));
            assertFalse(offers(device, VirtioBlk.F_DISCARD));
            assertFalse(offers(device, VirtioBlk.F_WRITE_ZEROES));
            assertTrue(offers(device, VirtioBlk.F_FLUSH), "FLUSH still offered: it is not a write");
        }
    }

    @Test
    void shouldHideAnImageFilesPartialLastSector() throws IOException
    {
        final Path image = dir.resolve("odd.img");
        try (FileChannel channel = FileChannel.open(image, StandardOpenOption.CREATE, StandardOpenOption.WRITE))
        {
            channel.write(ByteBuffer.wrap(new byte[(int)CAPACITY + 100]), 0);
        }
        try (FileBackend file = new FileBackend(image, true))
        {
            assertEquals(CAPACITY, file.capacity());
            assertEquals(CAPACITY / 512, config(new BlkDevice(file, BlkOptions.defaults())).get(LE_U64, BlkConfigLayout.CAPACITY));
        }
    }

    @Test
    void shouldCutReadsAtTheEndOfConfigAndLeavePastTheEndUntouched()
    {
        try (RamBackend ram = new RamBackend(CAPACITY))
        {
            final BlkDevice device = new BlkDevice(ram, BlkOptions.defaults());
            final byte[] data = new byte[8];
            Arrays.fill(data, (byte)0x5a);
            assertEquals(4, device.readConfig(BlkConfigLayout.SIZE - 4, data));
            assertArrayEquals(new byte[] {1, 0, 0, 0, 0x5a, 0x5a, 0x5a, 0x5a}, data);
            Arrays.fill(data, (byte)0x5a);
            assertEquals(0, device.readConfig(BlkConfigLayout.SIZE, data));
            assertEquals(0, device.readConfig(-1, data));
            assertEquals(0, device.readConfig(Integer.MAX_VALUE, data));
            assertArrayEquals(new byte[] {0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a}, data);
            final byte[] capacity = new byte[3];
            assertEquals(3, device.readConfig(1, capacity), "a read in the middle of a field");
            assertArrayEquals(new byte[] {8, 0, 0}, capacity, "capacity 0x800 sectors, bytes 1..3");
        }
    }

    @Test
    void shouldIgnoreConfigWrites()
    {
        try (RamBackend ram = new RamBackend(CAPACITY))
        {
            final BlkDevice device = new BlkDevice(ram, BlkOptions.defaults());
            final MemorySegment before = config(device);
            final byte[] ones = new byte[BlkConfigLayout.SIZE];
            Arrays.fill(ones, (byte)1);
            assertEquals(0, device.writeConfig(0, ones));
            assertEquals(0, device.writeConfig(BlkConfigLayout.WRITEBACK, new byte[] {1}));
            assertEquals(-1L, config(device).mismatch(before), "config unchanged");
        }
    }
}
