package org.virtio4j.engine;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.virtio4j.virtio.VirtioBlk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An idle engine goes back to kick notifications and blocks on the kick eventfds: its thread uses under 1% of a
 * core, and a kick still gets a request served.
 */
class EngineIdleTest
{
    @TempDir
    Path countersDir;

    @Test
    void shouldUseUnderOnePercentOfACoreWhenIdleAndWakeOnAKick() throws Exception
    {
        try (BlkFixture fixture = new BlkFixture(2, false);
            Engine engine = Engine.launch(new EngineContext()
                .threadingMode(ThreadingMode.SHARED)
                .idleStrategy("busy-spin")
                .hybridIdleNanos(TimeUnit.MILLISECONDS.toNanos(1))
                .countersDir(countersDir)))
        {
            final DeviceHandle handle = engine.attach("blk0", fixture.device, fixture.memory, fixture.queues, fixture.kicks, fixture.calls);
            handle.start().join();
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (fixture.drivers[1].usedFlags() != 0 && System.nanoTime() < deadline)
            {
                Thread.onSpinWait();
            }
            assertEquals(0, fixture.drivers[0].usedFlags(), "idle queues ask for kicks again");
            assertEquals(0, fixture.drivers[1].usedFlags());

            final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
            assertEquals(1, engine.threads().size(), "SHARED: one engine thread");
            final Thread engineThread = engine.threads().getFirst();
            final long cpuBefore = threads.getThreadCpuTime(engineThread.threadId());
            final long wallBefore = System.nanoTime();
            Thread.sleep(1000);
            final long cpu = threads.getThreadCpuTime(engineThread.threadId()) - cpuBefore;
            final long wall = System.nanoTime() - wallBefore;
            System.out.printf("idle engine thread: %.3f ms CPU in %.0f ms (%.3f%% of a core)%n", cpu / 1e6, wall / 1e6, 100.0 * cpu / wall);
            assertTrue(cpu < wall / 100, "idle engine thread used " + cpu + " ns of CPU in " + wall + " ns");

            fixture.submit(1, 0, VirtioBlk.T_IN, 0, 512);
            fixture.kicks[1].signal();
            while (fixture.drivers[1].usedIdx() != 1 && System.nanoTime() < deadline + TimeUnit.SECONDS.toNanos(5))
            {
                Thread.onSpinWait();
            }
            assertEquals(1, fixture.drivers[1].usedIdx(), "the kick woke the engine");
            assertEquals(VirtioBlk.S_OK, fixture.status(1, 0));
            handle.stop().join();
        }
    }
}
