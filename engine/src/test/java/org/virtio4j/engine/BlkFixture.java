package org.virtio4j.engine;

import java.io.IOException;

import org.virtio4j.devices.blk.BlkDevice;
import org.virtio4j.devices.blk.BlkOptions;
import org.virtio4j.devices.blk.RamBackend;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.VirtioFeatures;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

/**
 * A virtio-blk device on a RAM disk, activated with driver-side queues in memfd guest memory, with real kick and
 * call eventfds: what engine tests attach.
 */
final class BlkFixture implements AutoCloseable
{
    static final int QUEUE_SIZE = 64;
    static final long DATA_BASE = 0x10_0000;
    static final int SLOT_BYTES = 0x2000;

    final MemoryBacking backing;
    final GuestMemory memory;
    final RamBackend disk;
    final BlkDevice device;
    final SplitQueue[] queues;
    final DriverQueue[] drivers;
    final EventFd[] kicks;
    final EventFd[] calls;

    BlkFixture(final int queueCount, final boolean eventIdx) throws ErrnoException
    {
        backing = MemoryBacking.memfd("engine-test", 16L << 20);
        memory = GuestMemory.of(backing.region(0));
        disk = new RamBackend(8L << 20);
        device = new BlkDevice(disk, BlkOptions.defaults().withQueues(queueCount).withQueueSize(QUEUE_SIZE));
        queues = new SplitQueue[queueCount];
        drivers = new DriverQueue[queueCount];
        kicks = new EventFd[queueCount];
        calls = new EventFd[queueCount];
        for (int q = 0; q < queueCount; q++)
        {
            drivers[q] = new DriverQueue(memory, q * 0x1_0000L, QUEUE_SIZE);
            queues[q] = drivers[q].configure(new SplitQueue(QUEUE_SIZE));
            queues[q].setEventIdx(eventIdx);
            kicks[q] = EventFd.create();
            calls[q] = EventFd.create();
        }
        long features = device.deviceFeatures();
        if (!eventIdx)
        {
            features &= ~VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);
        }
        try
        {
            device.activate(memory, queues, features, new Interrupt()
            {
                @Override
                public void signalUsedBuffers(final int queue)
                {
                    calls[queue].signal();
                }

                @Override
                public void signalConfigChange()
                {
                }
            });
        }
        catch (final Exception e)
        {
            throw new IllegalStateException(e);
        }
    }

    /** The guest address of request slot {@code slot} of queue {@code q}: header at +0, status at +16, data at +0x1000. */
    static long slot(final int q, final int slot)
    {
        return DATA_BASE + ((long)q * QUEUE_SIZE + slot) * SLOT_BYTES;
    }

    /** Makes a request chain available (not kicked). */
    int submit(final int q, final int slot, final int type, final long sector, final int length)
    {
        final long base = slot(q, slot);
        memory.putU32(base, type);
        memory.putU32(base + 4, 0);
        memory.putU64(base + 8, sector);
        memory.putU8(base + 16, 0xff);
        return drivers[q].addChain(DriverBuffer.readable(base, 16),
            new DriverBuffer(base + 0x1000, length, type == VirtioBlk.T_IN), DriverBuffer.writable(base + 16, 1));
    }

    int status(final int q, final int slot)
    {
        return memory.getU8(slot(q, slot) + 16);
    }

    @Override
    public void close() throws IOException
    {
        for (int q = 0; q < queues.length; q++)
        {
            kicks[q].close();
            calls[q].close();
        }
        disk.close();
        backing.close();
    }
}
