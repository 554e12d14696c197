package org.virtio4j.memory;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.virtio4j.memory.linux.Errno;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.Linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Host memory behind guest regions: anonymous mappings, memfds (mapped twice, as a VMM and a back-end share them),
 * file mappings that persist, fds received from elsewhere, and the errno every failed system call reports.
 *
 * <p>No test closes an fd number it does not own: fd numbers are reused at once, so closing one twice could close
 * another thread's file.
 */
class MemoryBackingTest
{
    private static final long PAGE = 4096;

    @TempDir
    Path tempDir;

    @Test
    void shouldMapZeroedPageAlignedAnonymousMemory() throws ErrnoException
    {
        try (MemoryBacking backing = MemoryBacking.anonymous(3 * PAGE))
        {
            final MemorySegment segment = backing.segment();

            assertEquals(3 * PAGE, backing.size());
            assertEquals(3 * PAGE, segment.byteSize());
            assertEquals(0, segment.address() % PAGE);
            assertEquals(-1, backing.fd());
            assertEquals(0, segment.get(ValueLayout.JAVA_LONG, 0));
            assertEquals(0, segment.get(ValueLayout.JAVA_LONG, 3 * PAGE - 8));
            assertEquals("MemoryBacking[anonymous 12288 bytes]", backing.toString());
        }
    }

    @Test
    void shouldServeAsGuestRegionAtChosenBase() throws ErrnoException
    {
        try (MemoryBacking backing = MemoryBacking.anonymous(PAGE))
        {
            final GuestRegion region = backing.region(0x4000_0000L);
            final GuestMemory memory = GuestMemory.of(region);

            memory.putU32(0x4000_0010L, 0xcafe_f00d);

            assertEquals(0x4000_0000L, region.base());
            assertEquals(PAGE, region.size());
            assertEquals(0xcafe_f00d, backing.segment().get(GuestMemory.LE_U32, 0x10));
        }
    }

    @Test
    void shouldRefuseAccessAfterClose() throws ErrnoException
    {
        final MemoryBacking backing = MemoryBacking.anonymous(PAGE);
        final MemorySegment segment = backing.segment();
        segment.set(ValueLayout.JAVA_BYTE, 0, (byte)1);

        backing.close();

        assertThrows(IllegalStateException.class, () -> segment.get(ValueLayout.JAVA_BYTE, 0));
        final GuestMemory memory = GuestMemory.of(new GuestRegion(0, segment));
        assertThrows(IllegalStateException.class, () -> memory.getU8(0));
    }

    @Test
    void shouldRejectSizeThatIsNotPositive()
    {
        final IllegalArgumentException zero = assertThrows(IllegalArgumentException.class, () -> MemoryBacking.anonymous(0));
        final IllegalArgumentException negative = assertThrows(IllegalArgumentException.class, () -> MemoryBacking.memfd("x", -PAGE));
        final IllegalArgumentException file = assertThrows(IllegalArgumentException.class,
            () -> MemoryBacking.file(tempDir.resolve("never"), 0));

        assertEquals("memory backing size=0 must be above 0", zero.getMessage());
        assertEquals("memory backing size=-4096 must be above 0", negative.getMessage());
        assertEquals("memory backing size=0 must be above 0", file.getMessage());
        assertTrue(Files.notExists(tempDir.resolve("never")));
    }

    @Test
    void shouldShareMemfdBytesBetweenTwoMappings() throws ErrnoException
    {
        try (MemoryBacking first = MemoryBacking.memfd("virtio4j-test", 2 * PAGE))
        {
            assertTrue(first.fd() >= 0, "fd=" + first.fd());
            assertEquals("MemoryBacking[memfd virtio4j-test 8192 bytes]", first.toString());
            assertEquals(0, first.segment().get(ValueLayout.JAVA_LONG, 0), "a new memfd reads as zeros");
            try (MemoryBacking second = MemoryBacking.mapFd(first.fd(), 0, 2 * PAGE, false))
            {
                assertTrue(first.segment().address() != second.segment().address(), "two distinct mappings");
                assertEquals(first.fd(), second.fd());

                first.segment().set(GuestMemory.LE_U64, PAGE + 8, 0x1122_3344_5566_7788L);
                assertEquals(0x1122_3344_5566_7788L, second.segment().get(GuestMemory.LE_U64, PAGE + 8));

                GuestMemory.of(second.region(0)).putU16(0x10, 0xbeef);
                assertEquals(0xbeef, GuestMemory.of(first.region(0x10_0000)).getU16(0x10_0010));
            }
            // The second mapping did not own the fd: it is still open, and can be mapped again.
            try (MemoryBacking third = MemoryBacking.mapFd(first.fd(), 0, PAGE, false))
            {
                assertEquals(0xbeef, Short.toUnsignedInt(third.segment().get(GuestMemory.LE_U16, 0x10)));
            }
        }
    }

    @Test
    void shouldMapFdFromPageOffset() throws ErrnoException
    {
        try (MemoryBacking whole = MemoryBacking.memfd("offset", 3 * PAGE);
             MemoryBacking tail = MemoryBacking.mapFd(whole.fd(), PAGE, 2 * PAGE, false))
        {
            whole.segment().set(ValueLayout.JAVA_BYTE, PAGE, (byte)0x42);
            whole.segment().set(ValueLayout.JAVA_BYTE, 3 * PAGE - 1, (byte)0x43);

            assertEquals(2 * PAGE, tail.size());
            assertEquals(0x42, tail.segment().get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(0x43, tail.segment().get(ValueLayout.JAVA_BYTE, 2 * PAGE - 1));
            assertEquals("MemoryBacking[fd " + whole.fd() + " offset 4096 8192 bytes]", tail.toString());
        }
    }

    @Test
    void shouldCloseOwnedDuplicateFdWithItsMapping() throws ErrnoException
    {
        try (MemoryBacking original = MemoryBacking.memfd("dup", PAGE))
        {
            final int duplicate = Linux.dup(original.fd());
            assertTrue(duplicate >= 0 && duplicate != original.fd());
            try (MemoryBacking owner = MemoryBacking.mapFd(duplicate, 0, PAGE, true))
            {
                owner.segment().set(ValueLayout.JAVA_INT, 0, 77);
                assertEquals(77, original.segment().get(ValueLayout.JAVA_INT, 0));
                assertEquals(duplicate, owner.fd());
            }
            assertEquals(77, original.segment().get(ValueLayout.JAVA_INT, 0), "the original mapping and fd live on");
        }
    }

    @Test
    void shouldReportErrnoWhenMappingBadFd()
    {
        final ErrnoException e = assertThrows(ErrnoException.class, () -> MemoryBacking.mapFd(-1, 0, PAGE, false));

        assertEquals("mmap", e.call());
        assertEquals(9, e.errno());
        assertTrue(e.getMessage().startsWith("mmap failed: errno=9 (EBADF): length=4096"), e.getMessage());
        assertTrue(e.getMessage().contains("fd=-1"), e.getMessage());
    }

    @Test
    void shouldReportEinvalWhenMappingUnalignedOffset() throws ErrnoException
    {
        try (MemoryBacking backing = MemoryBacking.memfd("unaligned", 2 * PAGE))
        {
            final ErrnoException e = assertThrows(ErrnoException.class, () -> MemoryBacking.mapFd(backing.fd(), 100, PAGE, false));

            assertEquals(22, e.errno());
            assertTrue(e.getMessage().startsWith("mmap failed: errno=22 (EINVAL)"), e.getMessage());
            assertTrue(e.getMessage().contains("offset=100"), e.getMessage());
        }
    }

    @Test
    void shouldPersistFileBackedBytesToFile() throws IOException
    {
        final Path path = tempDir.resolve("guest.ram");

        try (MemoryBacking backing = MemoryBacking.file(path, 2 * PAGE))
        {
            assertEquals(-1, backing.fd());
            assertEquals(2 * PAGE, backing.size());
            final GuestMemory memory = GuestMemory.of(backing.region(0x8000));
            memory.write(0x8000 + PAGE - 2, new byte[] {1, 2, 3, 4}, 0, 4);
            memory.putU64(0x8000 + 2 * PAGE - 8, 0x0102_0304_0506_0708L);
            assertEquals("MemoryBacking[file " + path + " 8192 bytes]", backing.toString());
        }

        final byte[] content = Files.readAllBytes(path);
        assertEquals(2 * PAGE, content.length);
        assertEquals(1, content[(int)PAGE - 2]);
        assertEquals(4, content[(int)PAGE + 1]);
        assertEquals(8, content[(int)(2 * PAGE) - 8]);
        assertEquals(1, content[(int)(2 * PAGE) - 1]);
        assertEquals(0, content[0]);
    }

    @Test
    void shouldMapExistingFileContentAndExtendShortFile() throws IOException
    {
        final Path path = tempDir.resolve("existing.img");
        Files.write(path, new byte[] {10, 20, 30});

        try (MemoryBacking backing = MemoryBacking.file(path, PAGE))
        {
            assertEquals(10, backing.segment().get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(30, backing.segment().get(ValueLayout.JAVA_BYTE, 2));
            assertEquals(0, backing.segment().get(ValueLayout.JAVA_BYTE, 3));
            assertEquals(PAGE, Files.size(path));
        }

        try (MemoryBacking again = MemoryBacking.file(path, PAGE))
        {
            assertEquals(20, again.segment().get(ValueLayout.JAVA_BYTE, 1), "bytes survive a remap");
        }
    }

    @Test
    void shouldFailToMapFileInMissingDirectory()
    {
        assertThrows(IOException.class, () -> MemoryBacking.file(tempDir.resolve("missing/dir/guest.ram"), PAGE));
    }

    @Test
    void shouldNameErrnoInFailedSystemCalls()
    {
        final ErrnoException close = assertThrows(ErrnoException.class, () -> Linux.close(-1));
        final ErrnoException dup = assertThrows(ErrnoException.class, () -> Linux.dup(-1));
        final ErrnoException ftruncate = assertThrows(ErrnoException.class, () -> Linux.ftruncate(-1, PAGE));
        final ErrnoException munmap = assertThrows(ErrnoException.class, () -> Linux.munmap(1, PAGE));

        assertEquals("close", close.call());
        assertEquals(9, close.errno());
        assertEquals("close failed: errno=9 (EBADF): fd=-1", close.getMessage());
        assertEquals("dup failed: errno=9 (EBADF): fd=-1", dup.getMessage());
        assertEquals("ftruncate failed: errno=9 (EBADF): fd=-1 length=4096", ftruncate.getMessage());
        assertEquals(22, munmap.errno(), "an unaligned address");
        assertEquals("munmap failed: errno=22 (EINVAL): address=0x1 length=4096", munmap.getMessage());
    }

    @Test
    void shouldNameKnownErrnoValuesAndNumberUnknownOnes()
    {
        assertEquals("EPERM", Errno.name(1));
        assertEquals("ENOENT", Errno.name(2));
        assertEquals("EINTR", Errno.name(Errno.EINTR));
        assertEquals("EBADF", Errno.name(9));
        assertEquals("EAGAIN", Errno.name(Errno.EAGAIN));
        assertEquals("ENOMEM", Errno.name(12));
        assertEquals("EINVAL", Errno.name(22));
        assertEquals("EMFILE", Errno.name(24));
        assertEquals("ECONNREFUSED", Errno.name(111));
        assertEquals("errno 3", Errno.name(3));
        assertEquals("errno 999", Errno.name(999));
        assertEquals("errno -1", Errno.name(-1));
        assertEquals("x failed: errno=999 (errno 999)", new ErrnoException("x", 999, "").getMessage());
    }

    @Test
    void shouldCreateAndSizeMemfdThroughLinux() throws ErrnoException
    {
        final int fd = Linux.memfdCreate("raw", Linux.MFD_CLOEXEC);
        try
        {
            Linux.ftruncate(fd, PAGE);
            final long address = Linux.mmap(PAGE, Linux.PROT_READ | Linux.PROT_WRITE, Linux.MAP_SHARED, fd, 0);
            assertEquals(0, address % Linux.pageSize());
            Linux.munmap(address, PAGE);
            try (MemoryBacking view = MemoryBacking.mapFd(fd, 0, PAGE, false))
            {
                assertEquals(PAGE, view.size());
            }
        }
        finally
        {
            Linux.close(fd);
        }
    }
}
