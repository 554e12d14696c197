package org.virtio4j.engine;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.virtio4j.devices.blk.BlkDevice;
import org.virtio4j.devices.blk.BlkIo;
import org.virtio4j.devices.blk.BlkOptions;
import org.virtio4j.devices.blk.FileDisk;
import org.virtio4j.devices.blk.IoUringBlkIo;
import org.virtio4j.devices.blk.ThreadPoolBlkIo;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.memory.linux.IoUring;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A file-backed blk device on the engine: requests go to the queue's own io_uring (or I/O threads) from the
 * actor, many at once; their completions come back through the actor (the only writer of the used ring); stop
 * waits for every request in flight and none is completed twice.
 */
class EngineAsyncBlkTest
{
    @TempDir
    Path dir;

    /** Real I/O whose completions the test holds back until it lets them through. */
    private static final class HeldIo implements BlkIo
    {
        final BlkIo inner;
        volatile boolean held = true;

        HeldIo(final BlkIo inner)
        {
            this.inner = inner;
        }

        @Override
        public int space()
        {
            return inner.space();
        }

        @Override
        public boolean prepareRead(final long tag, final int fd, final long iovecs, final int count, final long offset)
        {
            return inner.prepareRead(tag, fd, iovecs, count, offset);
        }

        @Override
        public boolean prepareWrite(final long tag, final int fd, final long iovecs, final int count, final long offset, final int rwFlags)
        {
            return inner.prepareWrite(tag, fd, iovecs, count, offset, rwFlags);
        }

        @Override
        public boolean prepareFsync(final long tag, final int fd)
        {
            return inner.prepareFsync(tag, fd);
        }

        @Override
        public boolean prepareFallocate(final long tag, final int fd, final int mode, final long offset, final long length)
        {
            return inner.prepareFallocate(tag, fd, mode, offset, length);
        }

        @Override
        public int submit()
        {
            return inner.submit();
        }

        @Override
        public int reap(final IoUring.Completions completions, final int limit)
        {
            return held ? 0 : inner.reap(completions, limit);
        }

        @Override
        public boolean hasCompletions()
        {
            return !held && inner.hasCompletions();
        }

        @Override
        public int prepareToSleep()
        {
            return inner.prepareToSleep();
        }

        @Override
        public String kind()
        {
            return inner.kind();
        }

        @Override
        public void close()
        {
            inner.close();
        }
    }

    enum Kind
    {
        IO_URING, THREADS
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldCompleteRequestsInFlightThroughTheActorAndMakeStopWaitForThem(final Kind kind) throws Exception
    {
        final Path image = dir.resolve("disk.img");
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw"))
        {
            file.setLength(1 << 20);
            file.seek(3 * 512);
            file.write(new byte[] {42});
        }
        final HeldIo[] held = new HeldIo[1];
        final FileDisk.RingFactory rings = entries ->
        {
            held[0] = new HeldIo(kind == Kind.IO_URING ? new IoUringBlkIo(entries) : new ThreadPoolBlkIo(entries, 2, "test"));
            return held[0];
        };
        try (MemoryBacking backing = MemoryBacking.memfd("async", 4 << 20);
            FileDisk disk = new FileDisk(image, FileDisk.Options.defaults(), rings);
            EventFd kick = EventFd.create();
            EventFd call = EventFd.create();
            Engine engine = Engine.launch(new EngineContext().threadingMode(ThreadingMode.INVOKER).countersEnabled(false)))
        {
            final GuestMemory memory = GuestMemory.of(backing.region(0));
            final DriverQueue driver = new DriverQueue(memory, 0, 16);
            final SplitQueue[] queues = {driver.configure(new SplitQueue(16))};
            final BlkDevice device = new BlkDevice(disk, BlkOptions.defaults().withQueueSize(16));
            device.activate(memory, queues, device.deviceFeatures(), new Interrupt()
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
            final DeviceHandle handle = engine.attach("blk0", device, memory, queues, new EventFd[] {kick}, new EventFd[] {call});
            final CompletableFuture<Void> started = handle.start();
            for (int i = 0; i < 5 && !started.isDone(); i++)
            {
                engine.invoke();
            }
            for (int i = 0; i < 4; i++)
            {
                final long base = 0x10_0000 + i * 0x2000L;
                memory.putU32(base, VirtioBlk.T_IN);
                memory.putU64(base + 8, i);
                memory.putU8(base + 16, 0xff);
                driver.addChain(DriverBuffer.readable(base, 16), DriverBuffer.writable(base + 0x1000, 512), DriverBuffer.writable(base + 16, 1));
            }
            engine.invoke();
            assertEquals(4, device.inFlight(), "all four requests are in flight at once");
            assertEquals(0, driver.usedIdx(), "none completed while the completions are held");

            final CompletableFuture<Void> stopped = handle.stop();
            engine.invoke();
            engine.invoke();
            assertFalse(stopped.isDone(), "stop waits for the requests in flight");

            held[0].held = false;
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!stopped.isDone() && System.nanoTime() < deadline)
            {
                engine.invoke();
                Thread.onSpinWait();
            }
            assertTrue(stopped.isDone(), "stop completes once the I/O finished");
            assertEquals(4, driver.usedIdx(), "every request completed, through the actor, once");
            for (int i = 0; i < 4; i++)
            {
                assertEquals(VirtioBlk.S_OK, memory.getU8(0x10_0000 + i * 0x2000L + 16));
            }
            assertEquals(42, memory.getU8(0x10_0000 + 3 * 0x2000L + 0x1000), "the file's bytes reached guest memory");
            final long calls = call.drain();
            if (kind == Kind.IO_URING)
            {
                assertEquals(1, calls, "one call for the batch of completions the ring held");
            }
            else
            {
                // I/O threads finish when they finish: one call per duty cycle that completed something.
                assertTrue(calls >= 1 && calls <= 4, "calls: " + calls);
            }
            for (int i = 0; i < 5; i++)
            {
                engine.invoke();
            }
            assertEquals(4, driver.usedIdx(), "nothing completed twice");
            device.closeAsync();
        }
    }
}
