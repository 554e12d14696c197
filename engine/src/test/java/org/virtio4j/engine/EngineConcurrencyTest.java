package org.virtio4j.engine;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32C;

import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Several guest threads, each driving its own queue of one multi-queue blk device, write checksummed blocks and
 * read them back for a while, on real engine threads (backoff idle: no thread spins on this 2-core machine).
 * Every request must complete exactly once, with the right status and the right data.
 */
class EngineConcurrencyTest
{
    private static final int GUESTS = 3;
    private static final long RUN_NANOS = 1_500_000_000L;
    private static final int BLOCK = 4096;
    private static final int IN_FLIGHT = 8;

    @TempDir
    Path countersDir;

    @ParameterizedTest
    @EnumSource(value = ThreadingMode.class, names = {"SHARED", "DEDICATED", "RUN_TO_COMPLETION"})
    void shouldCompleteEveryRequestExactlyOnceWithTheRightData(final ThreadingMode mode) throws Exception
    {
        try (BlkFixture fixture = new BlkFixture(GUESTS, true);
            Engine engine = Engine.launch(new EngineContext()
                .threadingMode(mode)
                .idleStrategy("backoff")
                .countersDir(countersDir)
                .hybridIdleNanos(200_000)))
        {
            final DeviceHandle handle = engine.attach("blk0", fixture.device, fixture.memory, fixture.queues, fixture.kicks, fixture.calls);
            handle.start().join();
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final long[] completed = new long[GUESTS];
            final List<Thread> guests = new ArrayList<>();
            for (int q = 0; q < GUESTS; q++)
            {
                final int queue = q;
                final Thread guest = new Thread(() ->
                {
                    try
                    {
                        completed[queue] = runGuest(fixture, queue);
                    }
                    catch (final Throwable t)
                    {
                        failure.compareAndSet(null, t);
                    }
                }, "guest-" + q);
                guests.add(guest);
                guest.start();
            }
            for (final Thread guest : guests)
            {
                guest.join();
            }
            assertNull(failure.get(), () -> "guest failed: " + failure.get());
            handle.stop().join();
            long total = 0;
            for (int q = 0; q < GUESTS; q++)
            {
                assertTrue(completed[q] > 100, "guest " + q + " completed " + completed[q]);
                assertEquals(completed[q], handle.chainsCompleted(q), "engine and guest agree on queue " + q);
                total += completed[q];
            }
            assertEquals(total, counterSum(engine.counters(), CounterType.CHAINS.id()));
            try (CountersFile file = CountersFile.open(engine.countersFile().path()))
            {
                assertEquals(total, counterSum(file.reader(), CounterType.CHAINS.id()), "a second mapping of the file sees the counts");
                assertEquals(ProcessHandle.current().pid(), file.pid());
            }
        }
    }

    private static long counterSum(final CountersReader reader, final int typeId)
    {
        final long[] sum = {0};
        reader.forEach((id, type, key, label) ->
        {
            if (type == typeId && label.startsWith("blk0"))
            {
                sum[0] += reader.getCounterValue(id);
            }
        });
        return sum[0];
    }

    /** Writes then reads back blocks with a per-request pattern; returns the requests completed. */
    private static long runGuest(final BlkFixture fixture, final int queue)
    {
        final DriverQueue driver = fixture.drivers[queue];
        final long[] expectedCrc = new long[BlkFixture.QUEUE_SIZE];
        final int[] slotOfHead = new int[BlkFixture.QUEUE_SIZE];
        final boolean[] outstanding = new boolean[BlkFixture.QUEUE_SIZE];
        final int[] phase = new int[IN_FLIGHT];
        final byte[] block = new byte[BLOCK];
        final long deadline = System.nanoTime() + RUN_NANOS;
        long completed = 0;
        long serial = 0;
        int inFlight = 0;
        for (int slot = 0; slot < IN_FLIGHT; slot++)
        {
            submitWrite(fixture, queue, slot, ++serial, block, expectedCrc, slotOfHead, outstanding, phase);
            inFlight++;
        }
        kick(fixture, queue);
        while (inFlight > 0)
        {
            if (!driver.pollUsed())
            {
                Thread.yield();
                continue;
            }
            final int head = driver.lastUsedId();
            if (!outstanding[head])
            {
                throw new AssertionError("head " + head + " completed twice or never submitted");
            }
            outstanding[head] = false;
            completed++;
            inFlight--;
            final int slot = slotOfHead[head];
            if (fixture.status(queue, slot) != VirtioBlk.S_OK)
            {
                throw new AssertionError("status " + fixture.status(queue, slot) + " on queue " + queue + " slot " + slot);
            }
            if (phase[slot] == 1)
            {
                fixture.memory.read(BlkFixture.slot(queue, slot) + 0x1000, block, 0, BLOCK);
                final CRC32C crc = new CRC32C();
                crc.update(block);
                if (crc.getValue() != expectedCrc[slot] || driver.lastUsedLen() != BLOCK + 1)
                {
                    throw new AssertionError("read-back mismatch on queue " + queue + " slot " + slot);
                }
            }
            if (System.nanoTime() < deadline)
            {
                if (phase[slot] == 0)
                {
                    // Read back what this slot just wrote, into a zeroed buffer.
                    fixture.memory.fill(BlkFixture.slot(queue, slot) + 0x1000, BLOCK, (byte)0);
                    final int readHead = fixture.submit(queue, slot, VirtioBlk.T_IN, sector(queue, slot), BLOCK);
                    slotOfHead[readHead] = slot;
                    outstanding[readHead] = true;
                    phase[slot] = 1;
                }
                else
                {
                    submitWrite(fixture, queue, slot, ++serial, block, expectedCrc, slotOfHead, outstanding, phase);
                }
                inFlight++;
                kick(fixture, queue);
            }
        }
        return completed;
    }

    private static long sector(final int queue, final int slot)
    {
        return ((long)queue * IN_FLIGHT + slot) * (BLOCK / VirtioBlk.SECTOR_SIZE);
    }

    private static void submitWrite(final BlkFixture fixture, final int queue, final int slot, final long serial, final byte[] block,
        final long[] expectedCrc, final int[] slotOfHead, final boolean[] outstanding, final int[] phase)
    {
        for (int i = 0; i < BLOCK; i++)
        {
            block[i] = (byte)(serial * 31 + i * 7 + queue);
        }
        final CRC32C crc = new CRC32C();
        crc.update(block);
        expectedCrc[slot] = crc.getValue();
        fixture.memory.write(BlkFixture.slot(queue, slot) + 0x1000, block, 0, BLOCK);
        final int head = fixture.submit(queue, slot, VirtioBlk.T_OUT, sector(queue, slot), BLOCK);
        slotOfHead[head] = slot;
        outstanding[head] = true;
        phase[slot] = 0;
    }

    private static void kick(final BlkFixture fixture, final int queue)
    {
        final DriverQueue driver = fixture.drivers[queue];
        // With EVENT_IDX the device publishes avail_event when it wants a kick; kick only then.
        if (driver.shouldKick(true, (driver.availIdx() - 1) & 0xffff))
        {
            fixture.kicks[queue].signal();
        }
    }
}
