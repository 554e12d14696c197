package org.virtio4j.devices.blk;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.virtio4j.memory.DirtyLog;
import org.virtio4j.virtio.VirtioBlk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * While the guest migrates, the pages a file read fills are marked dirty in every I/O mode — the kernel stores
 * them (io_uring, preadv2 on I/O threads, an O_DIRECT read, a mapped memory file), not guest memory's own
 * methods — and so are status bytes and used elements; the buffers a write only reads are not.
 */
class AsyncBlkDirtyLogTest
{
    @TempDir
    Path dir;

    static Stream<Arguments> modes()
    {
        return Stream.of(Arguments.of(FileDisk.Aio.IO_URING, false, false), Arguments.of(FileDisk.Aio.IO_URING, true, false),
            Arguments.of(FileDisk.Aio.THREADS, false, false), Arguments.of(FileDisk.Aio.IO_URING, false, true));
    }

    private static long page(final long address)
    {
        return address >>> DirtyLog.PAGE_SHIFT;
    }

    @ParameterizedTest(name = "aio={0} direct={1} tmpfs={2}")
    @MethodSource("modes")
    void shouldMarkThePagesReadsFillAndNotThePagesWritesRead(final FileDisk.Aio aio, final boolean direct, final boolean tmpfs) throws Exception
    {
        final Path image = tmpfs ? Files.createTempFile(Path.of("/dev/shm"), "virtio4j-test", ".img") : dir.resolve("disk.img");
        final MemorySegment bitmap = Arena.ofAuto().allocate(16L << 20 >>> (DirtyLog.PAGE_SHIFT + 3), 8);
        final DirtyLog log = new DirtyLog(bitmap, pages -> { }, pages -> { });
        try (AsyncBlkFixture blk = new AsyncBlkFixture(image, FileDisk.Options.defaults().withAio(aio).withDirect(direct), null, -1))
        {
            blk.activate(blk.device.deviceFeatures(), blk.memory.withDirtyLog(log));
            for (int slot = 0; slot < 4; slot++)
            {
                blk.submit(slot, VirtioBlk.T_OUT, slot * 16L, 8192, 2, 0);
            }
            blk.run();
            for (int slot = 0; slot < 4; slot++)
            {
                assertEquals(VirtioBlk.S_OK, blk.statusOf(slot));
                assertTrue(log.isDirty(page(blk.status(slot))), "status of write " + slot);
                assertFalse(log.isDirty(page(blk.data(slot, 0))) || log.isDirty(page(blk.data(slot, 0)) + 1),
                    "a write's data is only read by the device");
            }
            assertTrue(log.isDirty(page(blk.driver.usedRing())), "used elements");
            bitmap.fill((byte)0);
            for (int slot = 4; slot < 8; slot++)
            {
                blk.submit(slot, VirtioBlk.T_IN, (slot - 4) * 16L, 8192, 2, 0);
            }
            blk.run();
            for (int slot = 4; slot < 8; slot++)
            {
                assertEquals(VirtioBlk.S_OK, blk.statusOf(slot));
                assertTrue(log.isDirty(page(blk.data(slot, 0))) && log.isDirty(page(blk.data(slot, 0)) + 1), "both pages read " + slot + " filled");
                assertFalse(log.isDirty(page(blk.data(slot, 0)) + 2), "nothing past the buffers");
            }
            assertTrue(log.isDirty(page(blk.driver.usedRing())), "used elements");
        }
        finally
        {
            if (tmpfs)
            {
                Files.deleteIfExists(image);
            }
        }
    }
}
