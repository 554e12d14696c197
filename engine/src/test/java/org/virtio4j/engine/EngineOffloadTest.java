package org.virtio4j.engine;

import java.io.IOException;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.virtio4j.devices.blk.BlkBackend;
import org.virtio4j.devices.blk.BlkDevice;
import org.virtio4j.devices.blk.BlkOptions;
import org.virtio4j.devices.blk.RamBackend;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A backend that blocks runs on the device's I/O worker, never on the actor's thread; its completions come back
 * through the actor (the only writer of the used ring), and stop waits for requests in flight.
 */
class EngineOffloadTest
{
    /** A RAM disk that says it blocks, records which threads touch it, and can hold reads until released. */
    private static final class SlowBackend implements BlkBackend
    {
        final RamBackend ram = new RamBackend(1 << 20);
        final Set<String> threads = ConcurrentHashMap.newKeySet();
        final CountDownLatch release = new CountDownLatch(1);

        @Override
        public boolean blocks()
        {
            return true;
        }

        @Override
        public long capacity()
        {
            return ram.capacity();
        }

        @Override
        public void read(final long offset, final GuestMemory memory, final long address, final int length) throws IOException
        {
            threads.add(Thread.currentThread().getName());
            try
            {
                if (!release.await(10, TimeUnit.SECONDS))
                {
                    throw new IOException("not released");
                }
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
            ram.read(offset, memory, address, length);
        }

        @Override
        public void write(final long offset, final GuestMemory memory, final long address, final int length)
        {
            threads.add(Thread.currentThread().getName());
            ram.write(offset, memory, address, length);
        }

        @Override
        public void flush()
        {
        }

        @Override
        public void discard(final long offset, final long length)
        {
        }

        @Override
        public void writeZeroes(final long offset, final long length, final boolean unmap)
        {
        }

        @Override
        public void close()
        {
            ram.close();
        }
    }

    @Test
    void shouldRunBlockingRequestsOffTheActorAndCompleteThemThroughIt() throws Exception
    {
        final SlowBackend backend = new SlowBackend();
        try (MemoryBacking backing = MemoryBacking.memfd("offload", 4 << 20);
            EventFd kick = EventFd.create();
            EventFd call = EventFd.create();
            Engine engine = Engine.launch(new EngineContext().threadingMode(ThreadingMode.INVOKER).countersEnabled(false)))
        {
            final GuestMemory memory = GuestMemory.of(backing.region(0));
            final DriverQueue driver = new DriverQueue(memory, 0, 16);
            final SplitQueue[] queues = {driver.configure(new SplitQueue(16))};
            final BlkDevice device = new BlkDevice(backend, BlkOptions.defaults().withQueueSize(16));
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
                driver.addChain(DriverBuffer.readable(base, 16), DriverBuffer.writable(base + 0x1000, 512), DriverBuffer.writable(base + 16, 1));
            }
            engine.invoke();
            assertEquals(4, device.inFlight(), "all four requests are on the I/O worker");
            assertEquals(0, driver.usedIdx(), "none completed while the backend blocks");

            final CompletableFuture<Void> stopped = handle.stop();
            engine.invoke();
            assertFalse(stopped.isDone(), "stop waits for the requests in flight");

            backend.release.countDown();
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!stopped.isDone() && System.nanoTime() < deadline)
            {
                engine.invoke();
                Thread.onSpinWait();
            }
            assertTrue(stopped.isDone(), "stop completes once the I/O worker finished");
            assertEquals(4, driver.usedIdx(), "every request completed, through the actor");
            assertEquals(VirtioBlk.S_OK, memory.getU8(0x10_0000 + 3 * 0x2000L + 16));
            assertEquals(Set.of("virtio4j-io-blk0"), backend.threads, "the backend ran only on the I/O worker");
            assertEquals(1, call.drain(), "one call for the completions");
        }
        finally
        {
            backend.close();
        }
    }
}
