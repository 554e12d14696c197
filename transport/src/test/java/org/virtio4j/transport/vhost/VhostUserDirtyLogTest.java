package org.virtio4j.transport.vhost;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.virtio4j.memory.DirtyLog;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.virtio.UsedRingLayout;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.VirtioFeatures;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.virtio4j.transport.vhost.VhostUserFrontEnd.state;
import static org.virtio4j.transport.vhost.VhostUserFrontEnd.u64;

/**
 * Dirty logging for live migration (LOG_SHMFD) as QEMU 7.2 turns it on and off on a running ring: SET_LOG_BASE
 * (answered), SET_FEATURES with VHOST_F_LOG_ALL, SET_VRING_ADDR with the log flag. Every page the device stores
 * into — read data, the status byte, the used ring — is marked; pages it only reads are not; nothing is marked
 * while logging is off; the ring never loses its position across the switches.
 */
class VhostUserDirtyLogTest extends VhostUserBlkSession
{
    /** QEMU's size: one 64-bit word per 256 KiB of guest memory. */
    private static final long LOG_BYTES = MEMORY / (4096 * 64) * 8;
    private static final long HEADER = 0x10_0000;
    private static final long DATA = 0x20_0000;
    private static final long STATUS = 0x30_0000;

    private static long page(final long address)
    {
        return address >>> DirtyLog.PAGE_SHIFT;
    }

    private static byte[] logBase(final long size, final long offset)
    {
        final byte[] payload = new byte[VhostUserMessage.LOG_SIZE];
        final MemorySegment p = MemorySegment.ofArray(payload);
        p.set(GuestMemory.LE_U64, 0, size);
        p.set(GuestMemory.LE_U64, 8, offset);
        return payload;
    }

    private static byte[] loggedAddress(final DriverQueue driver, final boolean log)
    {
        final byte[] payload = VhostUserFrontEnd.address(0, USER_BASE + driver.descTable(), USER_BASE + driver.usedRing(), USER_BASE + driver.availRing());
        final MemorySegment p = MemorySegment.ofArray(payload);
        p.set(GuestMemory.LE_U32, 4, log ? VhostUserMessage.VRING_F_LOG : 0);
        p.set(GuestMemory.LE_U64, 32, log ? driver.usedRing() : 0);
        return payload;
    }

    /** One 4 KiB READ from sector 8 into {@link #DATA}, status at {@link #STATUS}. */
    private int serveRead(final DriverQueue driver, final EventFd kick)
    {
        memory.putU32(HEADER, VirtioBlk.T_IN);
        memory.putU32(HEADER + 4, 0);
        memory.putU64(HEADER + 8, 8);
        memory.putU8(STATUS, 0xff);
        final int before = driver.usedIdx();
        driver.addChain(DriverBuffer.readable(HEADER, 16), DriverBuffer.writable(DATA, 4096), DriverBuffer.writable(STATUS, 1));
        kick.signal();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (driver.usedIdx() == before && System.nanoTime() < deadline)
        {
            Thread.onSpinWait();
        }
        driver.pollUsed();
        return memory.getU8(STATUS);
    }

    private void turnLoggingOn(final VhostUserFrontEnd fe, final long features, final DriverQueue driver, final MemoryBacking log) throws Exception
    {
        // QEMU 7.2's order when a migration starts on a running device.
        fe.send(VhostUserRequest.SET_LOG_BASE, 0, logBase(LOG_BYTES, 0), log.fd());
        fe.reply(VhostUserRequest.SET_LOG_BASE);
        fe.send(VhostUserRequest.SET_FEATURES, NEED_REPLY, u64(features | VirtioFeatures.bit(VhostUserMessage.F_LOG_ALL)));
        assertEquals(0, fe.u64Reply(VhostUserRequest.SET_FEATURES));
        fe.send(VhostUserRequest.SET_VRING_ADDR, NEED_REPLY, loggedAddress(driver, true));
        assertEquals(0, fe.u64Reply(VhostUserRequest.SET_VRING_ADDR));
    }

    private static boolean anyDirty(final MemoryBacking log)
    {
        final MemorySegment bits = log.segment();
        for (long at = 0; at < LOG_BYTES; at += 8)
        {
            if (bits.get(ValueLayout.JAVA_LONG, at) != 0)
            {
                return true;
            }
        }
        return false;
    }

    @Test
    void shouldMarkEveryPageTheDeviceStoresIntoWhileLoggingIsOn() throws Exception
    {
        try (VhostUserFrontEnd fe = connect(); EventFd kick = EventFd.create(); EventFd call = EventFd.create();
            MemoryBacking log = MemoryBacking.memfd("vhost-log", LOG_BYTES))
        {
            final long features = negotiate(fe);
            addMemory(fe);
            final DriverQueue driver = new DriverQueue(memory, 0x1000, 64);
            startRing(fe, driver, 0, kick, call);
            turnLoggingOn(fe, features, driver, log);
            assertEquals(VirtioBlk.S_OK, serveRead(driver, kick));

            final DirtyLog bits = new DirtyLog(log.segment(), pages -> { }, pages -> { });
            assertTrue(bits.isDirty(page(DATA)), "the read's data page");
            assertTrue(bits.isDirty(page(STATUS)), "the status byte's page");
            assertTrue(bits.isDirty(page(driver.usedRing())), "the used ring's first page");
            assertTrue(bits.isDirty(page(driver.usedRing() + UsedRingLayout.byteSize(64) - 1)), "the used ring's last page");
            assertFalse(bits.isDirty(page(HEADER)), "the request header is only read");
            assertFalse(bits.isDirty(page(DATA) + 1), "nothing past the data buffer");
            assertTrue(server.dirtyPagesLogged() >= 3, "pages newly marked are counted");
        }
    }

    @Test
    void shouldMarkNothingWhileLoggingIsOffAndKeepTheRingPositionAcrossEverySwitch() throws Exception
    {
        try (VhostUserFrontEnd fe = connect(); EventFd kick = EventFd.create(); EventFd call = EventFd.create();
            MemoryBacking log = MemoryBacking.memfd("vhost-log", LOG_BYTES))
        {
            final long features = negotiate(fe);
            addMemory(fe);
            final DriverQueue driver = new DriverQueue(memory, 0x1000, 64);
            startRing(fe, driver, 0, kick, call);
            assertEquals(VirtioBlk.S_OK, serveRead(driver, kick));

            // A log mapped but LOG_ALL not acked: nothing is marked.
            fe.send(VhostUserRequest.SET_LOG_BASE, 0, logBase(LOG_BYTES, 0), log.fd());
            fe.reply(VhostUserRequest.SET_LOG_BASE);
            assertEquals(VirtioBlk.S_OK, serveRead(driver, kick));
            assertFalse(anyDirty(log), "logging is off until LOG_ALL is acked");

            turnLoggingOn(fe, features, driver, log);
            assertEquals(VirtioBlk.S_OK, serveRead(driver, kick));
            assertTrue(anyDirty(log));

            // A cancelled migration: LOG_ALL cleared, the log stays mapped.
            fe.send(VhostUserRequest.SET_FEATURES, NEED_REPLY, u64(features));
            assertEquals(0, fe.u64Reply(VhostUserRequest.SET_FEATURES));
            fe.send(VhostUserRequest.SET_VRING_ADDR, NEED_REPLY, loggedAddress(driver, false));
            assertEquals(0, fe.u64Reply(VhostUserRequest.SET_VRING_ADDR));
            log.segment().fill((byte)0);
            assertEquals(VirtioBlk.S_OK, serveRead(driver, kick));
            assertFalse(anyDirty(log), "logging stops when LOG_ALL is cleared");

            assertEquals(4, driver.usedIdx(), "every request completed once, in order, across the switches");
            fe.send(VhostUserRequest.SET_VRING_ENABLE, 0, state(0, 0));
            fe.send(VhostUserRequest.GET_VRING_BASE, 0, state(0, 0));
            assertEquals(4, fe.reply(VhostUserRequest.GET_VRING_BASE).get(GuestMemory.LE_U32, 4), "no switch rewound the ring");
        }
    }

    @Test
    void shouldRefuseALogThatIsNotWholeWordsOrRunsPastItsFile() throws Exception
    {
        try (VhostUserFrontEnd fe = connect(); MemoryBacking log = MemoryBacking.memfd("vhost-log", LOG_BYTES))
        {
            negotiate(fe);
            fe.send(VhostUserRequest.SET_LOG_BASE, NEED_REPLY, logBase(LOG_BYTES - 4, 0), log.fd());
            assertNotEquals(0, fe.u64Reply(VhostUserRequest.SET_LOG_BASE), "not whole 64-bit words");
            fe.send(VhostUserRequest.SET_LOG_BASE, NEED_REPLY, logBase(1 << 20, 0), log.fd());
            assertNotEquals(0, fe.u64Reply(VhostUserRequest.SET_LOG_BASE), "past the end of the file");
            fe.send(VhostUserRequest.SET_LOG_BASE, NEED_REPLY, logBase(LOG_BYTES, 100), log.fd());
            assertNotEquals(0, fe.u64Reply(VhostUserRequest.SET_LOG_BASE), "offset not page-aligned");
            fe.send(VhostUserRequest.SET_LOG_BASE, NEED_REPLY, logBase(LOG_BYTES, 0));
            assertNotEquals(0, fe.u64Reply(VhostUserRequest.SET_LOG_BASE), "no fd");
            assertEquals(4, server.refusedMessages());
            fe.send(VhostUserRequest.SET_LOG_BASE, 0, logBase(LOG_BYTES, 0), log.fd());
            fe.reply(VhostUserRequest.SET_LOG_BASE);
        }
    }

    @Test
    void shouldOfferDirtyLoggingToTheFrontEnd() throws Exception
    {
        try (VhostUserFrontEnd fe = connect())
        {
            fe.send(VhostUserRequest.GET_FEATURES, 0, new byte[0]);
            assertTrue(VirtioFeatures.has(fe.u64Reply(VhostUserRequest.GET_FEATURES), VhostUserMessage.F_LOG_ALL),
                "QEMU blocks migration without VHOST_F_LOG_ALL");
            fe.send(VhostUserRequest.GET_PROTOCOL_FEATURES, 0, new byte[0]);
            assertTrue(VirtioFeatures.has(fe.u64Reply(VhostUserRequest.GET_PROTOCOL_FEATURES), VhostUserMessage.PROTOCOL_F_LOG_SHMFD),
                "QEMU blocks migration without LOG_SHMFD");
        }
    }
}
