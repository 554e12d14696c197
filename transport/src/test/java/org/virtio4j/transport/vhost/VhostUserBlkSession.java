package org.virtio4j.transport.vhost;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.virtio4j.devices.blk.BlkDevice;
import org.virtio4j.devices.blk.BlkOptions;
import org.virtio4j.devices.blk.RamBackend;
import org.virtio4j.engine.Engine;
import org.virtio4j.engine.EngineContext;
import org.virtio4j.engine.ThreadingMode;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.VirtioFeatures;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.virtio4j.transport.vhost.VhostUserFrontEnd.address;
import static org.virtio4j.transport.vhost.VhostUserFrontEnd.region;
import static org.virtio4j.transport.vhost.VhostUserFrontEnd.state;
import static org.virtio4j.transport.vhost.VhostUserFrontEnd.u64;

/**
 * A vhost-user-blk server on a RAM disk and the steps of a session as QEMU makes them, for tests that drive it
 * with the project's own front-end.
 */
abstract class VhostUserBlkSession
{
    static final long USER_BASE = 0x7f12_0000_0000L;
    static final long MEMORY = 4L << 20;
    static final int NEED_REPLY = VhostUserMessage.NEED_REPLY;

    @TempDir
    Path dir;

    RamBackend disk;
    Engine engine;
    VhostUserServer server;
    MemoryBacking guestRam;
    GuestMemory memory;

    @BeforeEach
    void setUp() throws Exception
    {
        disk = new RamBackend(1 << 20);
        engine = Engine.launch(new EngineContext().threadingMode(ThreadingMode.SHARED).idleStrategy("backoff").countersDir(dir.resolve("c")));
        server = new VhostUserServer(dir.resolve("blk.sock"), "blk0", new BlkDevice(disk, BlkOptions.defaults().withQueueSize(64)), engine);
        guestRam = MemoryBacking.memfd("front-end-guest", MEMORY);
        memory = GuestMemory.of(guestRam.region(0));
    }

    @AfterEach
    void tearDown() throws Exception
    {
        server.close();
        engine.close();
        disk.close();
        guestRam.close();
    }

    VhostUserFrontEnd connect() throws Exception
    {
        return new VhostUserFrontEnd(dir.resolve("blk.sock").toString());
    }

    /** Negotiates as QEMU does outside a migration. @return the features acked (dirty logging off). */
    static long negotiate(final VhostUserFrontEnd fe) throws Exception
    {
        fe.send(VhostUserRequest.GET_FEATURES, 0, new byte[0]);
        final long offered = fe.u64Reply(VhostUserRequest.GET_FEATURES);
        assertTrue(VirtioFeatures.has(offered, VhostUserMessage.F_PROTOCOL_FEATURES));
        fe.send(VhostUserRequest.GET_PROTOCOL_FEATURES, 0, new byte[0]);
        final long protocol = fe.u64Reply(VhostUserRequest.GET_PROTOCOL_FEATURES);
        assertTrue(VirtioFeatures.has(protocol, VhostUserMessage.PROTOCOL_F_CONFIGURE_MEM_SLOTS));
        fe.send(VhostUserRequest.SET_PROTOCOL_FEATURES, 0, u64(protocol));
        fe.send(VhostUserRequest.SET_OWNER, 0, new byte[0]);
        // Dirty logging is acked only while a migration runs.
        final long acked = offered & ~VirtioFeatures.bit(VhostUserMessage.F_LOG_ALL);
        fe.send(VhostUserRequest.SET_FEATURES, NEED_REPLY, u64(acked));
        assertEquals(0, fe.u64Reply(VhostUserRequest.SET_FEATURES));
        return acked;
    }

    void addMemory(final VhostUserFrontEnd fe) throws Exception
    {
        addMemory(fe, guestRam);
    }

    static void addMemory(final VhostUserFrontEnd fe, final MemoryBacking ram) throws Exception
    {
        fe.send(VhostUserRequest.ADD_MEM_REG, NEED_REPLY, region(0, MEMORY, USER_BASE, 0), ram.fd());
        assertEquals(0, fe.u64Reply(VhostUserRequest.ADD_MEM_REG));
    }

    static void startRing(final VhostUserFrontEnd fe, final DriverQueue driver, final int base, final EventFd kick, final EventFd call) throws Exception
    {
        fe.send(VhostUserRequest.SET_VRING_NUM, NEED_REPLY, state(0, driver.size()));
        assertEquals(0, fe.u64Reply(VhostUserRequest.SET_VRING_NUM));
        fe.send(VhostUserRequest.SET_VRING_BASE, 0, state(0, base));
        fe.send(VhostUserRequest.SET_VRING_ADDR, 0, address(0, USER_BASE + driver.descTable(), USER_BASE + driver.usedRing(), USER_BASE + driver.availRing()));
        fe.send(VhostUserRequest.SET_VRING_CALL, 0, u64(0), call.fd());
        fe.send(VhostUserRequest.SET_VRING_KICK, 0, u64(0), kick.fd());
        fe.send(VhostUserRequest.SET_VRING_ENABLE, NEED_REPLY, state(0, 1));
        assertEquals(0, fe.u64Reply(VhostUserRequest.SET_VRING_ENABLE));
    }

    int serveGetId(final DriverQueue driver, final EventFd kick) throws Exception
    {
        return serveGetId(memory, driver, kick);
    }

    /** One GET_ID request, kicked, waited for (10 s at most). @return its status byte (0xff if it did not complete). */
    static int serveGetId(final GuestMemory memory, final DriverQueue driver, final EventFd kick) throws Exception
    {
        memory.putU32(0x20_0000, VirtioBlk.T_GET_ID);
        memory.putU64(0x20_0008, 0);
        memory.putU8(0x20_0010, 0xff);
        driver.addChain(DriverBuffer.readable(0x20_0000, 16), DriverBuffer.writable(0x20_1000, 20), DriverBuffer.writable(0x20_0010, 1));
        kick.signal();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!driver.pollUsed() && System.nanoTime() < deadline)
        {
            Thread.onSpinWait();
        }
        return memory.getU8(0x20_0010);
    }
}
