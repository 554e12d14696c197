package org.virtio4j.transport.vhost;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.memory.linux.Linux;
import org.virtio4j.tuning.ServeProcess;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real {@code virtio4j serve} with two disks on its one engine thread, each driven by its own front-end: one
 * shrinks the memory it shared after its ring runs; its connection closes, the other disk goes on completing
 * requests, and SIGTERM still stops the process cleanly.
 */
class ServeFaultContainmentTest
{
    @TempDir
    Path dir;

    @Test
    void shouldKeepServingTheOtherDiskAndStopOnSigtermAfterAFrontEndShrankItsMemory() throws Exception
    {
        final Path hostileSocket = dir.resolve("hostile.sock");
        final Path healthySocket = dir.resolve("healthy.sock");
        final Process serve = ServeProcess.start(dir.resolve("counters"), dir.resolve("serve.log"),
            "--blk", "socket=" + hostileSocket + ",backend=null,size=1048576,serial=hostile",
            "--blk", "socket=" + healthySocket + ",backend=null,size=1048576,serial=healthy");
        try (MemoryBacking hostileRam = MemoryBacking.memfd("hostile-guest", VhostUserBlkSession.MEMORY);
            MemoryBacking healthyRam = MemoryBacking.memfd("healthy-guest", VhostUserBlkSession.MEMORY);
            EventFd kick = EventFd.create(); EventFd call = EventFd.create();
            EventFd otherKick = EventFd.create(); EventFd otherCall = EventFd.create())
        {
            ServeProcess.awaitSocket(hostileSocket, serve);
            ServeProcess.awaitSocket(healthySocket, serve);
            final GuestMemory hostileMemory = GuestMemory.of(hostileRam.region(0));
            final GuestMemory healthyMemory = GuestMemory.of(healthyRam.region(0));
            try (VhostUserFrontEnd hostile = new VhostUserFrontEnd(hostileSocket.toString());
                VhostUserFrontEnd healthy = new VhostUserFrontEnd(healthySocket.toString()))
            {
                VhostUserBlkSession.negotiate(hostile);
                VhostUserBlkSession.addMemory(hostile, hostileRam);
                final DriverQueue driver = new DriverQueue(hostileMemory, 0x1000, 16);
                VhostUserBlkSession.startRing(hostile, driver, 0, kick, call);
                assertEquals(VirtioBlk.S_OK, VhostUserBlkSession.serveGetId(hostileMemory, driver, kick));

                VhostUserBlkSession.negotiate(healthy);
                VhostUserBlkSession.addMemory(healthy, healthyRam);
                final DriverQueue otherDriver = new DriverQueue(healthyMemory, 0x1000, 16);
                VhostUserBlkSession.startRing(healthy, otherDriver, 0, otherKick, otherCall);
                assertEquals(VirtioBlk.S_OK, VhostUserBlkSession.serveGetId(healthyMemory, otherDriver, otherKick));

                Linux.ftruncate(hostileRam.fd(), 0);
                kick.signal();
                assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertTrue(hostile.closedByBackEnd()),
                    "the failed disk's connection is closed");
                for (int i = 0; i < 200; i++)
                {
                    assertEquals(VirtioBlk.S_OK, VhostUserBlkSession.serveGetId(healthyMemory, otherDriver, otherKick), "the other disk still serves");
                }
            }
            assertEquals(1, ServeProcess.counter(dir.resolve("counters"), "blk0 vhost-user errors: guest memory faults"));
            serve.toHandle().destroy();
            assertTrue(serve.waitFor(60, TimeUnit.SECONDS), "serve stops on SIGTERM");
            assertEquals(128 + 15, serve.exitValue(), "the status of a JVM that SIGTERM stopped once its shutdown hooks finished");
            assertTrue(java.nio.file.Files.readString(dir.resolve("serve.log")).contains("virtio4j serve: stopped"));
        }
        finally
        {
            serve.toHandle().destroyForcibly();
        }
    }
}
