package org.virtio4j.transport.vhost;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.virtio4j.devices.blk.BlkDevice;
import org.virtio4j.devices.blk.BlkOptions;
import org.virtio4j.devices.blk.RamBackend;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.memory.linux.Linux;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One hostile front-end against two devices on one engine thread: whatever it does to its own device — shrinks
 * the memory it shared, exposes more chains than its ring holds, names a head outside its table — that device
 * fails, its connection is closed (how vhost-user tells a front-end its device needs a reset) and counted, and
 * the other device, driven by a well-behaved front-end, goes on completing requests. The hostile device accepts
 * the next connection.
 */
class VhostUserFaultContainmentTest extends VhostUserBlkSession
{
    private static final int SIZE = 16;
    /** Requests that make the engine's code compiled before the memory is shrunk. */
    private static final int WARM_UP = 20_000;
    /** Far above a request's time on an idle engine, far below the 10 s a stalled request is waited for. */
    private static final long SERVED_WITHIN_NANOS = TimeUnit.SECONDS.toNanos(2);

    private RamBackend otherDisk;
    private VhostUserServer other;
    private MemoryBacking otherRam;
    private GuestMemory otherMemory;
    private DriverQueue otherDriver;
    private EventFd otherKick;

    @BeforeEach
    void setUpOther() throws Exception
    {
        otherDisk = new RamBackend(1 << 20);
        other = new VhostUserServer(dir.resolve("other.sock"), "blk1", new BlkDevice(otherDisk, BlkOptions.defaults().withQueueSize(64)), engine);
        otherRam = MemoryBacking.memfd("other-guest", MEMORY);
        otherMemory = GuestMemory.of(otherRam.region(0));
    }

    @AfterEach
    void tearDownOther() throws Exception
    {
        other.close();
        otherDisk.close();
        otherRam.close();
    }

    /** What the hostile front-end does to its device once it serves. */
    private interface Attack
    {
        void run(DriverQueue driver, EventFd kick) throws Exception;
    }

    @Test
    void shouldFailOnlyTheDeviceWhoseFrontEndShrankTheMemoryItShared() throws Exception
    {
        // The SIGBUS of a mapping whose file shrank comes out of the access as an InternalError.
        attackAndCheck((driver, kick) ->
        {
            // Compiled code first: there the fault surfaces at the next safepoint poll, not at the access.
            for (int i = 0; i < WARM_UP; i++)
            {
                assertEquals(VirtioBlk.S_OK, serveGetId(driver, kick));
            }
            Linux.ftruncate(guestRam.fd(), 0);
            kick.signal();
        }, 1);
    }

    @Test
    void shouldFailOnlyTheDeviceWhoseDriverExposedMoreChainsThanItsRingHolds() throws Exception
    {
        attackAndCheck((driver, kick) ->
        {
            driver.setAvailIdx(driver.availIdx() + SIZE + 1);
            kick.signal();
        }, 0);
    }

    @Test
    void shouldFailOnlyTheDeviceWhoseDriverMadeAHeadOutsideItsTableAvailable() throws Exception
    {
        attackAndCheck((driver, kick) ->
        {
            driver.makeAvailable(SIZE + 3);
            kick.signal();
        }, 0);
    }

    @Test
    void shouldKeepServingEveryDeviceWhenAFrontEndClearsONonblockOnItsKickFd() throws Throwable
    {
        try (VhostUserFrontEnd hostile = connect();
            VhostUserFrontEnd healthy = new VhostUserFrontEnd(dir.resolve("other.sock").toString());
            EventFd kick = EventFd.create(); EventFd call = EventFd.create();
            EventFd otherKick = EventFd.create(); EventFd otherCall = EventFd.create())
        {
            final DriverQueue driver = startBoth(hostile, healthy, kick, call, otherKick, otherCall);
            // The flag lives on the file description the back-end shares: its reads of the kick fd would now wait.
            HostileFds.clearNonBlocking(kick.fd());
            assertFalse(HostileFds.nonBlocking(kick.fd()));
            // Idle, the hostile queue goes to sleep on its kick fd: the engine thread reads it from then on.
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (driver.usedFlags() != 0 && System.nanoTime() < deadline)
            {
                Thread.sleep(1);
            }
            assertEquals(0, driver.usedFlags(), "the hostile queue asks for kicks again (it sleeps)");
            Thread.sleep(100);
            otherKeepsServing();
            assertEquals(VirtioBlk.S_OK, serveGetId(driver, kick), "a kick still wakes the hostile queue");
            assertEquals(0, server.deviceFailures());
        }
    }

    @Test
    void shouldRefuseAPipeAsCallFdAndKeepServing() throws Throwable
    {
        final int[] pipe = HostileFds.pipe();
        try (VhostUserFrontEnd hostile = connect();
            VhostUserFrontEnd healthy = new VhostUserFrontEnd(dir.resolve("other.sock").toString());
            EventFd kick = EventFd.create(); EventFd call = EventFd.create();
            EventFd otherKick = EventFd.create(); EventFd otherCall = EventFd.create())
        {
            startBoth(hostile, healthy, kick, call, otherKick, otherCall);
            final long refused = server.refusedMessages();
            // A pipe nobody reads fills up: a write to it would block the engine thread.
            hostile.send(VhostUserRequest.SET_VRING_CALL, NEED_REPLY, VhostUserFrontEnd.u64(0), pipe[1]);
            assertEquals(1, hostile.u64Reply(VhostUserRequest.SET_VRING_CALL), "refused with a failure reply");
            assertEquals(refused + 1, server.refusedMessages());
            hostile.send(VhostUserRequest.SET_VRING_KICK, NEED_REPLY, VhostUserFrontEnd.u64(0), pipe[0]);
            assertEquals(1, hostile.u64Reply(VhostUserRequest.SET_VRING_KICK), "a pipe is no kick fd either");
            otherKeepsServing();
        }
        finally
        {
            org.virtio4j.memory.linux.Linux.close(pipe[0]);
            org.virtio4j.memory.linux.Linux.close(pipe[1]);
        }
    }

    /** Both front-ends negotiate and start their ring; each device serves one request. @return the hostile driver. */
    private DriverQueue startBoth(final VhostUserFrontEnd hostile, final VhostUserFrontEnd healthy, final EventFd kick, final EventFd call,
        final EventFd otherKick, final EventFd otherCall) throws Exception
    {
        negotiate(hostile);
        addMemory(hostile);
        final DriverQueue driver = new DriverQueue(memory, 0x1000, SIZE);
        startRing(hostile, driver, 0, kick, call);
        assertEquals(VirtioBlk.S_OK, serveGetId(driver, kick));
        negotiate(healthy);
        addMemory(healthy, otherRam);
        otherDriver = new DriverQueue(otherMemory, 0x1000, SIZE);
        startRing(healthy, otherDriver, 0, otherKick, otherCall);
        this.otherKick = otherKick;
        assertEquals(VirtioBlk.S_OK, serveGetId(otherMemory, otherDriver, otherKick));
        return driver;
    }

    /** The well-behaved front-end's device completes 200 requests, each well within its deadline. */
    private void otherKeepsServing() throws Exception
    {
        for (int i = 0; i < 200; i++)
        {
            final long start = System.nanoTime();
            assertEquals(VirtioBlk.S_OK, serveGetId(otherMemory, otherDriver, otherKick), "the other device still serves");
            final long took = System.nanoTime() - start;
            assertTrue(took < SERVED_WITHIN_NANOS, () -> "request took " + took / 1000 + " us");
        }
        assertEquals(0, other.deviceFailures());
    }

    private void attackAndCheck(final Attack attack, final long memoryFaults) throws Exception
    {
        try (VhostUserFrontEnd hostile = connect();
            VhostUserFrontEnd healthy = new VhostUserFrontEnd(dir.resolve("other.sock").toString());
            EventFd kick = EventFd.create(); EventFd call = EventFd.create();
            EventFd otherKick = EventFd.create(); EventFd otherCall = EventFd.create())
        {
            final DriverQueue driver = startBoth(hostile, healthy, kick, call, otherKick, otherCall);
            attack.run(driver, kick);
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertTrue(hostile.closedByBackEnd()),
                "the failed device's connection is closed");
            assertEquals(1, server.deviceFailures());
            assertEquals(memoryFaults, server.memoryFaults());
            assertEquals(0, other.deviceFailures());

            otherKeepsServing();
        }
        // The failed device takes a front-end again (QEMU reconnects and resets it).
        try (VhostUserFrontEnd again = connect())
        {
            negotiate(again);
        }
    }
}
