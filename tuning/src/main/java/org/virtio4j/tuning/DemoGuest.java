package org.virtio4j.tuning;

import java.util.SplittableRandom;

import org.HdrHistogram.Recorder;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.memory.linux.FdPoller;
import org.virtio4j.virtio.DescriptorLayout;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

/**
 * The demo's guest: a blk driver on its own thread that keeps {@code iodepth} requests in flight on each queue,
 * fio style (random offsets, a read/write mix, a block size). Each request slot owns a chain built once (header,
 * data, status); completing a request re-offers the same chain with a new sector. It kicks through the kick
 * eventfd when the device asks (EVENT_IDX), and when no completion comes for a while it asks for a call and
 * sleeps on the call eventfd. Latency (submit to completion seen) goes into an HdrHistogram recorder.
 *
 * <p>Allocates nothing per request.
 */
public final class DemoGuest implements Runnable
{
    private static final long SPIN_BEFORE_SLEEP_NANOS = 50_000;
    private static final int SLEEP_MILLIS = 10;

    private final GuestMemory memory;
    private final DriverQueue[] queues;
    private final EventFd[] kicks;
    private final EventFd[] calls;
    private final int iodepth;
    private final int blockSize;
    private final int readPercent;
    private final long sectors;
    private final long dataBase;
    private final Recorder recorder;
    private final SplittableRandom random = new SplittableRandom(42);
    private final int[][] slotOfHead;
    private final int[][] dataDescOfSlot;
    private final boolean[][] dataWritable;
    private final long[][] submitNanos;
    private final FdPoller callPoller;
    private boolean waitForCalls;
    private boolean verify;
    private boolean[][] verifyReading;
    private long[][] verifyBlock;
    private long[][] verifyGeneration;
    private long verifyErrors;
    private long verified;
    private volatile boolean running = true;
    private long completed;
    private long failed;
    private long kicksSent;

    /**
     * @param memory      the guest memory the queues and request slots are in.
     * @param queues      the driver's half of each queue.
     * @param kicks       each queue's kick eventfd.
     * @param calls       each queue's call eventfd.
     * @param iodepth     requests in flight per queue.
     * @param blockSize   bytes per request.
     * @param readPercent percent of requests that read (the rest write).
     * @param diskBytes   the disk's size (random offsets stay below it).
     * @param dataBase    where the request slots start in guest memory ({@link #slotBytes} per queue).
     * @param recorder    where latencies go, in ns.
     */
    public DemoGuest(final GuestMemory memory, final DriverQueue[] queues, final EventFd[] kicks, final EventFd[] calls, final int iodepth,
        final int blockSize, final int readPercent, final long diskBytes, final long dataBase, final Recorder recorder)
    {
        this.memory = memory;
        this.queues = queues;
        this.kicks = kicks;
        this.calls = calls;
        this.iodepth = iodepth;
        this.blockSize = blockSize;
        this.readPercent = readPercent;
        this.sectors = diskBytes / blockSize * (blockSize / VirtioBlk.SECTOR_SIZE);
        this.dataBase = dataBase;
        this.recorder = recorder;
        slotOfHead = new int[queues.length][];
        dataDescOfSlot = new int[queues.length][iodepth];
        dataWritable = new boolean[queues.length][iodepth];
        submitNanos = new long[queues.length][];
        callPoller = new FdPoller(queues.length);
    }

    /**
     * Makes the guest interrupt-driven, as a Linux guest is: whenever a look at the used rings finds nothing, it
     * asks for a call and sleeps on the call eventfds (no spinning on the used ring).
     *
     * @param wait true for interrupt-driven, false (the default) to poll the used rings for a while first.
     * @return this.
     */
    public DemoGuest waitForCalls(final boolean wait)
    {
        waitForCalls = wait;
        return this;
    }

    /**
     * Makes every request slot write a pattern to a block of its own, read it back into a cleared buffer and
     * check it byte for byte, over and over (fio's verify): slots never share a block, and each write carries a
     * new generation, so a lost, stale or misplaced write is caught.
     *
     * @param on true to verify.
     * @return this.
     */
    public DemoGuest verify(final boolean on)
    {
        verify = on;
        return this;
    }

    /** @return blocks read back and checked (verify mode). */
    public long verified()
    {
        return verified;
    }

    /** @return blocks that read back different from what was written (verify mode). */
    public long verifyErrors()
    {
        return verifyErrors;
    }

    /**
     * @param iodepth   requests in flight per queue.
     * @param blockSize bytes per request.
     * @return the guest memory one queue's request slots need, from {@code dataBase}.
     */
    public static long slotBytes(final int iodepth, final int blockSize)
    {
        return (long)iodepth * (4096L + blockSize);
    }

    private long slotAddress(final int queue, final int slot)
    {
        return dataBase + ((long)queue * iodepth + slot) * (4096L + blockSize);
    }

    @Override
    public void run()
    {
        verifyReading = new boolean[queues.length][iodepth];
        verifyBlock = new long[queues.length][iodepth];
        verifyGeneration = new long[queues.length][iodepth];
        for (int q = 0; q < queues.length; q++)
        {
            slotOfHead[q] = new int[queues[q].size()];
            submitNanos[q] = new long[queues[q].size()];
            for (int slot = 0; slot < iodepth; slot++)
            {
                final long base = slotAddress(q, slot);
                final int head = queues[q].buildChain(
                    DriverBuffer.readable(base, VirtioBlk.HEADER_SIZE),
                    new DriverBuffer(base + 4096, blockSize, true),
                    DriverBuffer.writable(base + VirtioBlk.HEADER_SIZE, 1));
                slotOfHead[q][head] = slot;
                dataDescOfSlot[q][slot] = memory.getU16(queues[q].descTable() + (long)head * DescriptorLayout.SIZE + DescriptorLayout.NEXT_OFFSET);
                dataWritable[q][slot] = true;
                submit(q, head, System.nanoTime());
            }
            publishAndKick(q, iodepth);
        }
        long lastCompletion = System.nanoTime();
        while (running)
        {
            int done = 0;
            for (int q = 0; q < queues.length; q++)
            {
                done += reap(q);
            }
            final long now = System.nanoTime();
            if (done > 0)
            {
                lastCompletion = now;
            }
            else if (waitForCalls || now - lastCompletion > SPIN_BEFORE_SLEEP_NANOS)
            {
                sleepOnCalls();
                lastCompletion = System.nanoTime();
            }
        }
    }

    private int reap(final int q)
    {
        final DriverQueue queue = queues[q];
        int done = 0;
        while (queue.pollUsed(false))
        {
            // One clock read per completion: a request resubmitted in this loop may complete within it.
            final long now = System.nanoTime();
            final int head = queue.lastUsedId();
            recorder.recordValue(Math.max(0, now - submitNanos[q][head]));
            final long status = memory.getU8(slotAddress(q, slotOfHead[q][head]) + VirtioBlk.HEADER_SIZE);
            if (status == VirtioBlk.S_OK)
            {
                completed++;
                if (verify && verifyReading[q][slotOfHead[q][head]])
                {
                    check(q, slotOfHead[q][head]);
                }
            }
            else
            {
                failed++;
            }
            submit(q, head, now);
            done++;
        }
        if (done > 0)
        {
            publishAndKick(q, done);
        }
        return done;
    }

    private void submit(final int q, final int head, final long now)
    {
        final int slot = slotOfHead[q][head];
        final long base = slotAddress(q, slot);
        final long blocks = sectors / (blockSize / VirtioBlk.SECTOR_SIZE);
        if (verify)
        {
            submitVerify(q, slot, base, blocks);
        }
        else
        {
            final boolean read = readPercent == 100 || readPercent > 0 && random.nextInt(100) < readPercent;
            memory.putU32(base, read ? VirtioBlk.T_IN : VirtioBlk.T_OUT);
            memory.putU64(base + 8, random.nextLong(blocks) * (blockSize / VirtioBlk.SECTOR_SIZE));
        }
        direction(q, slot, memory.getU32(base) == VirtioBlk.T_IN);
        submitNanos[q][head] = now;
        queues[q].stageAvailable(0, head);
        // Staged one at a time at the current avail.idx, then published below.
        queues[q].publish(1);
    }

    /**
     * Makes the data descriptor device-writable for a read and device-readable for a write (a device may take
     * only readable descriptors as the data of a write, as qemu-storage-daemon does).
     */
    private void direction(final int q, final int slot, final boolean read)
    {
        if (dataWritable[q][slot] != read)
        {
            dataWritable[q][slot] = read;
            final long desc = queues[q].descTable() + (long)dataDescOfSlot[q][slot] * DescriptorLayout.SIZE;
            final int flags = DescriptorLayout.F_NEXT | (read ? DescriptorLayout.F_WRITE : 0);
            memory.putU16(desc + DescriptorLayout.FLAGS_OFFSET, flags);
        }
    }

    /** Verify mode: after a write, read the block back; after a read, write a new generation to a new block. */
    private void submitVerify(final int q, final int slot, final long base, final long blocks)
    {
        final long data = base + 4096;
        if (verifyReading[q][slot] || verifyGeneration[q][slot] == 0)
        {
            // The slot's blocks: those whose number is the slot's own, modulo every slot of every queue.
            final long slots = (long)queues.length * iodepth;
            final long own = (long)q * iodepth + slot;
            final long block = own + random.nextLong(Math.max(1, blocks / slots)) * slots;
            verifyBlock[q][slot] = block;
            verifyGeneration[q][slot]++;
            verifyReading[q][slot] = false;
            for (int i = 0; i < blockSize; i += 8)
            {
                memory.putU64(data + i, pattern(block, verifyGeneration[q][slot], i));
            }
            memory.putU32(base, VirtioBlk.T_OUT);
        }
        else
        {
            verifyReading[q][slot] = true;
            memory.fill(data, blockSize, (byte)0);
            memory.putU32(base, VirtioBlk.T_IN);
        }
        memory.putU64(base + 8, verifyBlock[q][slot] * (blockSize / VirtioBlk.SECTOR_SIZE));
    }

    private static long pattern(final long block, final long generation, final int offset)
    {
        return (block * 0x9E37_79B9_7F4A_7C15L) ^ (generation << 40) ^ offset;
    }

    private void check(final int q, final int slot)
    {
        final long data = slotAddress(q, slot) + 4096;
        for (int i = 0; i < blockSize; i += 8)
        {
            if (memory.getU64(data + i) != pattern(verifyBlock[q][slot], verifyGeneration[q][slot], i))
            {
                verifyErrors++;
                return;
            }
        }
        verified++;
    }

    private void publishAndKick(final int q, final int count)
    {
        final DriverQueue queue = queues[q];
        if (queue.shouldKick(true, (queue.availIdx() - count) & 0xffff))
        {
            kicks[q].signal();
            kicksSent++;
        }
    }

    private void sleepOnCalls()
    {
        callPoller.clear();
        for (int q = 0; q < queues.length; q++)
        {
            // Ask for a call at the next completion, then re-check before sleeping.
            queues[q].setUsedEvent(queues[q].usedIdx());
            callPoller.add(calls[q].fd());
        }
        GuestMemory.fullFence();
        for (final DriverQueue queue : queues)
        {
            if (queue.usedIdx() != queue.lastSeenUsedIdx())
            {
                return;
            }
        }
        callPoller.poll(SLEEP_MILLIS);
        for (final EventFd call : calls)
        {
            call.drain();
        }
    }

    /** Stops submitting; the thread returns. */
    public void stop()
    {
        running = false;
    }

    /** @return requests completed with status OK. */
    public long completed()
    {
        return completed;
    }

    /** @return requests completed with another status. */
    public long failed()
    {
        return failed;
    }

    /** @return kicks the guest sent. */
    public long kicksSent()
    {
        return kicksSent;
    }
}
