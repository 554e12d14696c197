package org.virtio4j.devices.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.virtio4j.devices.blk.BlkDevice;
import org.virtio4j.devices.blk.BlkOptions;
import org.virtio4j.devices.blk.RamBackend;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.devices.testing.GuardedMemory;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.SplitQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Coverage-guided fuzzing of what a hostile guest controls on a blk queue: the fuzzer writes the descriptor
 * table, the available ring, an indirect table and the buffers they point at, then the device walks the ring,
 * parses and executes every chain and publishes used elements. Whatever the bytes, it throws nothing but the
 * {@link DeviceException} that stops the device, never writes outside guest memory (guard pages around every
 * region), never takes more chains than the driver exposed, and every used element names a head in the table.
 *
 * <p>Memory: R0 [0, 0x8000) with the rings, R1 [0x8000, 0x10000) adjacent, R2 [0x2_0000, 0x2_1000) after a hole.
 */
class BlkQueueFuzzTest
{
    private static final int SIZE = 16;
    private static final long DESC = 0x0;
    private static final long AVAIL = 0x100;
    private static final long USED = 0x200;
    private static final long[] BUFFERS = {0x1000, 0x7e00, 0x8000, 0xf000, 0x2_0000, 0x2_0e00};
    private static final Interrupt NO_INTERRUPT = new Interrupt()
    {
        @Override
        public void signalUsedBuffers(final int queue)
        {
        }

        @Override
        public void signalConfigChange()
        {
        }
    };

    @FuzzTest(maxDuration = "")
    void walkParseAndExecute(final FuzzedDataProvider data) throws Exception
    {
        try (GuardedMemory guarded = new GuardedMemory(new long[] {0, 0x8000}, new long[] {0x8000, 0x8000}, new long[] {0x2_0000, 0x1000});
            RamBackend disk = new RamBackend(1 << 16))
        {
            final GuestMemory memory = guarded.memory();
            final long features = data.consumeLong();
            final boolean readOnly = data.consumeBoolean();
            // The descriptor table and the avail ring: raw bytes.
            writeRaw(memory, DESC, data.consumeBytes(SIZE * 16));
            writeRaw(memory, AVAIL, data.consumeBytes(4 + SIZE * 2));
            // What the descriptors point at: headers, segments, data.
            for (final long buffer : BUFFERS)
            {
                writeRaw(memory, buffer, data.consumeBytes(512));
            }
            final int startAvail = data.consumeInt(0, 0xffff);
            final SplitQueue queue = new SplitQueue(SIZE);
            queue.trySetSize(SIZE);
            queue.trySetDescTableAddress(DESC);
            queue.trySetAvailRingAddress(AVAIL);
            queue.trySetUsedRingAddress(USED);
            queue.setEventIdx((features & (1L << 29)) != 0);
            queue.setNextAvail(startAvail);
            queue.setNextUsed(startAvail);
            queue.setReady(true);
            final BlkDevice device = new BlkDevice(disk, new BlkOptions(readOnly, "fuzz", 1, SIZE, 8, 4096, 64, 4, 64, 4));
            device.activate(memory, new SplitQueue[] {queue}, features, NO_INTERRUPT);
            int completed = 0;
            try
            {
                completed = device.processQueue(0);
            }
            catch (final DeviceException e)
            {
                // A driver error that needs a reset (too many chains exposed, a head outside the table): allowed.
            }
            assertTrue(completed <= SIZE, () -> "more chains than the ring holds");
            assertEquals(-1, guarded.damagedGuardByte(), "a store outside guest memory");
            for (int i = 0; i < completed; i++)
            {
                final int slot = (startAvail + i) % SIZE;
                final int head = memory.getU32(USED + 4 + 8L * slot);
                assertTrue(head >= 0 && head < SIZE, () -> "used element with head " + head);
            }
        }
    }

    private static void writeRaw(final GuestMemory memory, final long address, final byte[] bytes)
    {
        memory.write(address, bytes, 0, bytes.length);
    }
}
