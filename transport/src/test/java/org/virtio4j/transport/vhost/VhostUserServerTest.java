package org.virtio4j.transport.vhost;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
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
 * The vhost-user server against a front-end written here: QEMU's session shape (memory as ADD_MEM_REG, rings
 * stopped with GET_VRING_BASE and started again), and every kind of bad input, each answered with a failure or a
 * closed connection while the server keeps serving.
 */
class VhostUserServerTest extends VhostUserBlkSession
{
    @Test
    void shouldServeTheRingAcrossAStopAndRestartOnOneConnection() throws Exception
    {
        try (VhostUserFrontEnd fe = connect(); EventFd kick = EventFd.create(); EventFd call = EventFd.create())
        {
            negotiate(fe);
            fe.send(VhostUserRequest.GET_QUEUE_NUM, 0, new byte[0]);
            assertEquals(1, fe.u64Reply(VhostUserRequest.GET_QUEUE_NUM));
            fe.send(VhostUserRequest.GET_MAX_MEM_SLOTS, 0, new byte[0]);
            assertEquals(VhostUserServer.MAX_MEM_SLOTS, fe.u64Reply(VhostUserRequest.GET_MAX_MEM_SLOTS));
            final byte[] configRequest = new byte[12 + 8];
            MemorySegment.ofArray(configRequest).set(org.virtio4j.memory.GuestMemory.LE_U32, 4, 8);
            fe.send(VhostUserRequest.GET_CONFIG, 0, configRequest);
            final MemorySegment config = fe.reply(VhostUserRequest.GET_CONFIG);
            assertEquals((1 << 20) / 512, config.get(org.virtio4j.memory.GuestMemory.LE_U64, 12), "capacity in sectors");
            addMemory(fe);

            final DriverQueue driver = new DriverQueue(memory, 0x1000, 64);
            startRing(fe, driver, 0, kick, call);
            assertEquals(VirtioBlk.S_OK, serveGetId(driver, kick));
            assertTrue(server.deviceRunning());

            fe.send(VhostUserRequest.SET_VRING_ENABLE, 0, state(0, 0));
            fe.send(VhostUserRequest.GET_VRING_BASE, 0, state(0, 0));
            final MemorySegment base = fe.reply(VhostUserRequest.GET_VRING_BASE);
            assertEquals(1, base.get(org.virtio4j.memory.GuestMemory.LE_U32, 4), "one chain consumed before the stop");

            startRing(fe, driver, 1, kick, call);
            assertEquals(VirtioBlk.S_OK, serveGetId(driver, kick), "served again after the restart, from the same position");
            assertEquals(2, driver.usedIdx());
        }
    }

    @Test
    void shouldKeepTheRingPositionWhenTheFrontEndStopsTheVmWithStatusZero() throws Exception
    {
        try (VhostUserFrontEnd fe = connect(); EventFd kick = EventFd.create(); EventFd call = EventFd.create())
        {
            negotiate(fe);
            addMemory(fe);
            final DriverQueue driver = new DriverQueue(memory, 0x1000, 64);
            startRing(fe, driver, 0, kick, call);
            assertEquals(VirtioBlk.S_OK, serveGetId(driver, kick));
            assertEquals(VirtioBlk.S_OK, serveGetId(driver, kick));
            // QEMU 7.2 pausing a VM (stop, snapshot, migration) with STATUS: status 0, disable, then GET_VRING_BASE.
            fe.send(VhostUserRequest.SET_STATUS, 0, u64(0));
            fe.send(VhostUserRequest.SET_VRING_ENABLE, 0, state(0, 0));
            fe.send(VhostUserRequest.GET_VRING_BASE, 0, state(0, 0));
            final MemorySegment base = fe.reply(VhostUserRequest.GET_VRING_BASE);
            assertEquals(2, base.get(org.virtio4j.memory.GuestMemory.LE_U32, 4), "a stop is not a reset: the ring keeps its position");
            // cont: QEMU restarts the ring where GET_VRING_BASE said.
            startRing(fe, driver, 2, kick, call);
            assertEquals(VirtioBlk.S_OK, serveGetId(driver, kick), "I/O resumes after cont");
            assertEquals(3, driver.usedIdx());
        }
    }

    @Test
    void shouldNotOfferTheStatusProtocolFeature() throws Exception
    {
        try (VhostUserFrontEnd fe = connect())
        {
            fe.send(VhostUserRequest.GET_PROTOCOL_FEATURES, 0, new byte[0]);
            final long protocol = fe.u64Reply(VhostUserRequest.GET_PROTOCOL_FEATURES);
            assertFalse(VirtioFeatures.has(protocol, VhostUserMessage.PROTOCOL_F_STATUS),
                "QEMU 7.2 then sends SET_STATUS(0) before every VM stop and expects the ring position to survive it");
        }
    }

    @Test
    void shouldServeRingsLargerThanTheDevicesDefaultQueueSize() throws Exception
    {
        for (final int size : new int[] {512, 1024, 32768})
        {
            try (VhostUserFrontEnd fe = connect(); EventFd kick = EventFd.create(); EventFd call = EventFd.create())
            {
                negotiate(fe);
                addMemory(fe);
                final DriverQueue driver = new DriverQueue(memory, 0x1000, size);
                startRing(fe, driver, 0, kick, call);
                assertEquals(VirtioBlk.S_OK, serveGetId(driver, kick), "a ring of " + size + " entries is served");
            }
        }
    }

    @Test
    void shouldPollARingWhoseKickCameWithTheNoFdFlag() throws Exception
    {
        try (VhostUserFrontEnd fe = connect(); EventFd call = EventFd.create())
        {
            negotiate(fe);
            addMemory(fe);
            final DriverQueue driver = new DriverQueue(memory, 0x1000, 64);
            fe.send(VhostUserRequest.SET_VRING_NUM, 0, state(0, 64));
            fe.send(VhostUserRequest.SET_VRING_ADDR, 0, address(0, USER_BASE + driver.descTable(), USER_BASE + driver.usedRing(),
                USER_BASE + driver.availRing()));
            fe.send(VhostUserRequest.SET_VRING_CALL, 0, u64(0), call.fd());
            fe.send(VhostUserRequest.SET_VRING_KICK, NEED_REPLY, u64(VhostUserMessage.VRING_NOFD));
            assertEquals(0, fe.u64Reply(VhostUserRequest.SET_VRING_KICK), "no fd, and the flag says so");
            fe.send(VhostUserRequest.SET_VRING_ENABLE, NEED_REPLY, state(0, 1));
            assertEquals(0, fe.u64Reply(VhostUserRequest.SET_VRING_ENABLE));
            try (EventFd unusedKick = EventFd.create())
            {
                assertEquals(VirtioBlk.S_OK, serveGetId(driver, unusedKick), "served by polling, without kicks");
            }
        }
    }

    @Test
    void shouldCloseTheConnectionOnAnOversizedMessageAndAcceptTheNext() throws Exception
    {
        try (VhostUserFrontEnd fe = connect())
        {
            final byte[] header = new byte[12];
            final MemorySegment h = MemorySegment.ofArray(header);
            h.set(org.virtio4j.memory.GuestMemory.LE_U32, 0, VhostUserRequest.SET_FEATURES);
            h.set(org.virtio4j.memory.GuestMemory.LE_U32, 4, VhostUserMessage.VERSION);
            h.set(org.virtio4j.memory.GuestMemory.LE_U32, 8, 1 << 20);
            fe.sendRaw(header);
            assertTrue(fe.closedByBackEnd());
        }
        try (VhostUserFrontEnd fe = connect())
        {
            negotiate(fe);
        }
        assertEquals(1, server.connectionsClosedOnError());
    }

    @Test
    void shouldCloseTheConnectionOnATruncatedMessage() throws Exception
    {
        try (VhostUserFrontEnd fe = connect())
        {
            final byte[] partial = new byte[12 + 4];
            final MemorySegment h = MemorySegment.ofArray(partial);
            h.set(org.virtio4j.memory.GuestMemory.LE_U32, 0, VhostUserRequest.SET_FEATURES);
            h.set(org.virtio4j.memory.GuestMemory.LE_U32, 4, VhostUserMessage.VERSION);
            h.set(org.virtio4j.memory.GuestMemory.LE_U32, 8, 8);
            fe.sendRaw(partial);
        }
        try (VhostUserFrontEnd fe = connect())
        {
            negotiate(fe);
        }
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (server.connectionsClosedOnError() == 0 && System.nanoTime() < deadline)
        {
            Thread.onSpinWait();
        }
        assertEquals(1, server.connectionsClosedOnError());
        assertEquals(2, server.connections());
    }

    @Test
    void shouldRefuseBadRequestsWithAFailureReplyAndKeepServing() throws Exception
    {
        try (VhostUserFrontEnd fe = connect(); MemoryBacking small = MemoryBacking.memfd("small", 1 << 20))
        {
            negotiate(fe);
            fe.send(99, NEED_REPLY, new byte[0]);
            assertNotEquals(0, fe.u64Reply(99), "unknown request");

            fe.send(VhostUserRequest.SET_VRING_KICK, NEED_REPLY, u64(0));
            assertNotEquals(0, fe.u64Reply(VhostUserRequest.SET_VRING_KICK), "kick without an fd and without NOFD");

            fe.send(VhostUserRequest.ADD_MEM_REG, NEED_REPLY, region(0, 2L << 20, USER_BASE, 0), small.fd());
            assertNotEquals(0, fe.u64Reply(VhostUserRequest.ADD_MEM_REG), "region past the end of its file");

            addMemory(fe);
            fe.send(VhostUserRequest.ADD_MEM_REG, NEED_REPLY, region(0x1000, 0x1000, USER_BASE + (8L << 20), 0), small.fd());
            assertNotEquals(0, fe.u64Reply(VhostUserRequest.ADD_MEM_REG), "region overlapping another");

            final byte[] farConfig = new byte[12 + 16];
            MemorySegment.ofArray(farConfig).set(org.virtio4j.memory.GuestMemory.LE_U32, 0, 0xfffffff0);
            MemorySegment.ofArray(farConfig).set(org.virtio4j.memory.GuestMemory.LE_U32, 4, 16);
            fe.send(VhostUserRequest.GET_CONFIG, NEED_REPLY, farConfig);
            assertNotEquals(0, fe.u64Reply(VhostUserRequest.GET_CONFIG), "config range past config space");

            fe.send(VhostUserRequest.SET_VRING_NUM, NEED_REPLY, state(0, 100));
            assertNotEquals(0, fe.u64Reply(VhostUserRequest.SET_VRING_NUM), "ring size not a power of two");

            fe.send(VhostUserRequest.SET_VRING_NUM, NEED_REPLY, state(7, 64));
            assertNotEquals(0, fe.u64Reply(VhostUserRequest.SET_VRING_NUM), "ring index out of range");

            // A ring outside mapped memory is not started; the connection and the server go on.
            try (EventFd kick = EventFd.create(); EventFd call = EventFd.create())
            {
                fe.send(VhostUserRequest.SET_VRING_NUM, 0, state(0, 64));
                fe.send(VhostUserRequest.SET_VRING_ADDR, 0, address(0, 0x1000, 0x2000, 0x3000));
                fe.send(VhostUserRequest.SET_VRING_CALL, 0, u64(0), call.fd());
                fe.send(VhostUserRequest.SET_VRING_KICK, 0, u64(0), kick.fd());
                fe.send(VhostUserRequest.SET_VRING_ENABLE, NEED_REPLY, state(0, 1));
                assertEquals(0, fe.u64Reply(VhostUserRequest.SET_VRING_ENABLE));
            }
            fe.send(VhostUserRequest.GET_FEATURES, 0, new byte[0]);
            assertNotEquals(0, fe.u64Reply(VhostUserRequest.GET_FEATURES), "still answering");
            assertEquals(7, server.refusedMessages());
            assertEquals(0, server.connectionsClosedOnError());
        }
    }
}
