package org.virtio4j.devices.blk;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.VirtioFeatures;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A blk device on a {@link FileDisk} in memfd guest memory, driven like its actor drives it (process the queue,
 * then drain completions) with no engine: request slots in guest memory, each with a header, a data area and a
 * status byte.
 */
final class AsyncBlkFixture implements AutoCloseable
{
    static final int QUEUE_SIZE = 256;
    static final long DISK_BYTES = 8L << 20;
    static final long DATA = 1 << 20;
    static final long SLOT_BYTES = 64 * 1024;

    final MemoryBacking ram;
    final GuestMemory memory;
    final DriverQueue driver;
    final SplitQueue[] queues;
    final FileDisk disk;
    final BlkDevice device;
    final Path image;
    private final Set<Integer> inFlightHeads = new HashSet<>();
    final Map<Integer, Integer> usedLength = new HashMap<>();
    private int expectedUsed;

    AsyncBlkFixture(final Path image, final FileDisk.Options options, final FileDisk.RingFactory rings, final long features)
        throws IOException, DeviceException
    {
        this.image = image;
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw"))
        {
            if (file.length() < DISK_BYTES)
            {
                file.setLength(DISK_BYTES);
            }
        }
        ram = MemoryBacking.memfd("async-blk", 16L << 20);
        memory = GuestMemory.of(ram.region(0));
        driver = new DriverQueue(memory, 0, QUEUE_SIZE);
        queues = new SplitQueue[] {driver.configure(new SplitQueue(QUEUE_SIZE))};
        disk = rings == null ? new FileDisk(image, options) : new FileDisk(image, options, rings);
        device = new BlkDevice(disk, BlkOptions.defaults().withQueueSize(QUEUE_SIZE), "test");
        activate(features < 0 ? device.deviceFeatures() : features);
    }

    void activate(final long features) throws DeviceException
    {
        activate(features, memory);
    }

    /** Activates the device on a view of the guest memory (one with a dirty log, say) the driver does not use. */
    void activate(final long features, final GuestMemory deviceMemory) throws DeviceException
    {
        device.activate(deviceMemory, queues, features & device.deviceFeatures(), new Interrupt()
        {
            @Override
            public void signalUsedBuffers(final int queue)
            {
            }

            @Override
            public void signalConfigChange()
            {
            }
        });
    }

    static long allFeaturesBut(final int feature)
    {
        // Bit 63 stays clear: a negative value means "every feature" to the constructor.
        return ~VirtioFeatures.bit(feature) & Long.MAX_VALUE;
    }

    long header(final int slot)
    {
        return DATA + slot * SLOT_BYTES;
    }

    long status(final int slot)
    {
        return header(slot) + 16;
    }

    /** @return the start of the slot's data area (page aligned, plus {@code misalign}). */
    long data(final int slot, final int misalign)
    {
        return header(slot) + 4096 + misalign;
    }

    /**
     * Queues a request whose data is split in {@code pieces} descriptors.
     *
     * @return the chain's head.
     */
    int submit(final int slot, final int type, final long sector, final int bytes, final int pieces, final int misalign)
    {
        memory.putU32(header(slot), type);
        memory.putU32(header(slot) + 4, 0);
        memory.putU64(header(slot) + 8, sector);
        memory.putU8(status(slot), 0xff);
        final DriverBuffer[] chain = new DriverBuffer[pieces + 2];
        chain[0] = DriverBuffer.readable(header(slot), 16);
        final int piece = bytes / Math.max(1, pieces);
        for (int i = 0; i < pieces; i++)
        {
            chain[1 + i] = new DriverBuffer(data(slot, misalign) + (long)i * piece, i == pieces - 1 ? bytes - piece * (pieces - 1) : piece,
                type == VirtioBlk.T_IN);
        }
        chain[pieces + 1] = DriverBuffer.writable(status(slot), 1);
        final int head = driver.addChain(chain);
        inFlightHeads.add(head);
        expectedUsed++;
        return head;
    }

    /** Queues a DISCARD or WRITE_ZEROES with one segment. */
    int submitSegment(final int slot, final int type, final long sector, final int sectors, final int flags)
    {
        memory.putU32(header(slot), type);
        memory.putU64(header(slot) + 8, 0);
        memory.putU8(status(slot), 0xff);
        final long segment = data(slot, 0);
        memory.putU64(segment, sector);
        memory.putU32(segment + 8, sectors);
        memory.putU32(segment + 12, flags);
        final int head = driver.addChain(DriverBuffer.readable(header(slot), 16), DriverBuffer.readable(segment, 16),
            DriverBuffer.writable(status(slot), 1));
        inFlightHeads.add(head);
        expectedUsed++;
        return head;
    }

    /**
     * Processes the queue once, then drains until every submitted request has a used element; checks that each
     * head came back exactly once.
     */
    void run() throws DeviceException
    {
        final int[] completed = new int[1];
        device.processQueue(0);
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (driver.usedIdx() != (expectedUsed & 0xffff) && System.nanoTime() < deadline)
        {
            device.drainCompletions(completed, true);
            Thread.onSpinWait();
        }
        assertEquals(expectedUsed & 0xffff, driver.usedIdx(), "every request completed");
        while (driver.pollUsed(true))
        {
            assertTrue(inFlightHeads.remove(driver.lastUsedId()), "head " + driver.lastUsedId() + " completed once");
            usedLength.put(driver.lastUsedId(), driver.lastUsedLen());
        }
        assertTrue(inFlightHeads.isEmpty(), "no request left: " + inFlightHeads);
        assertEquals(0, device.inFlight());
    }

    int statusOf(final int slot)
    {
        return memory.getU8(status(slot));
    }

    @Override
    public void close() throws IOException
    {
        device.closeAsync();
        disk.close();
        ram.close();
    }
}
