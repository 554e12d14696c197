package org.virtio4j.memory.linux;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IoUringTest
{
    @TempDir
    Path dir;

    private final Arena arena = Arena.ofConfined();
    private final List<long[]> completions = new ArrayList<>();
    private IoUring ring;
    private int fd;
    private Path file;

    @BeforeEach
    void setUp() throws IOException
    {
        ring = IoUring.create(8);
        file = dir.resolve("disk.img");
        final byte[] content = new byte[16384];
        for (int i = 0; i < content.length; i++)
        {
            content[i] = (byte)(i * 7 + 3);
        }
        Files.write(file, content);
        fd = Linux.open(file.toString(), Linux.O_RDWR | Linux.O_CLOEXEC);
    }

    @AfterEach
    void tearDown() throws ErrnoException
    {
        ring.close();
        Linux.close(fd);
        arena.close();
    }

    private void reapExactly(final int count)
    {
        while (completions.size() < count)
        {
            assertEquals(0, ring.awaitCompletion());
            ring.reap((userData, result) -> completions.add(new long[] {userData, result}), 64);
        }
        assertEquals(count, completions.size(), "each request completes exactly once");
    }

    @Test
    void shouldReadFileBytesStraightIntoNativeMemory()
    {
        final MemorySegment buffer = arena.allocate(4096, 4096);
        assertTrue(ring.prepare(IoUringLayout.OP_READ, fd, 4096, buffer.address(), 4096, 0, 77, 0));
        assertEquals(1, ring.submit());
        reapExactly(1);
        assertEquals(77, completions.get(0)[0]);
        assertEquals(4096, completions.get(0)[1]);
        assertEquals((byte)(4096 * 7 + 3), buffer.get(JAVA_BYTE, 0));
        assertEquals((byte)(8191 * 7 + 3), buffer.get(JAVA_BYTE, 4095));
    }

    @Test
    void shouldWriteScatteredBuffersWithOneVectoredSubmission() throws IOException
    {
        final MemorySegment a = arena.allocate(512);
        final MemorySegment b = arena.allocate(1024);
        a.fill((byte)0x11);
        b.fill((byte)0x22);
        final MemorySegment iov = arena.allocate(2 * IoUringLayout.IOVEC_SIZE, 8);
        iov.set(JAVA_LONG, 0, a.address());
        iov.set(JAVA_LONG, 8, 512);
        iov.set(JAVA_LONG, 16, b.address());
        iov.set(JAVA_LONG, 24, 1024);
        assertTrue(ring.prepare(IoUringLayout.OP_WRITEV, fd, 1024, iov.address(), 2, 0, 1, 0));
        assertTrue(ring.prepare(IoUringLayout.OP_FSYNC, fd, 0, 0, 0, IoUringLayout.FSYNC_DATASYNC, 2, 0));
        assertEquals(2, ring.submit(), "one enter for the batch");
        reapExactly(2);
        final byte[] disk = Files.readAllBytes(file);
        assertEquals(0x11, disk[1024]);
        assertEquals(0x11, disk[1535]);
        assertEquals(0x22, disk[1536]);
        assertEquals(0x22, disk[2559]);
        assertEquals((byte)(2560 * 7 + 3), disk[2560], "nothing written past the iovecs");
        for (final long[] c : completions)
        {
            assertEquals(c[0] == 1 ? 1536 : 0, c[1]);
        }
    }

    @Test
    void shouldPunchAHoleThatReadsBackAsZeros() throws IOException
    {
        assertTrue(ring.prepare(IoUringLayout.OP_FALLOCATE, fd, 4096, 4096, Linux.FALLOC_FL_PUNCH_HOLE | Linux.FALLOC_FL_KEEP_SIZE, 0, 9, 0));
        ring.submit();
        reapExactly(1);
        assertEquals(0, completions.get(0)[1]);
        final byte[] disk = Files.readAllBytes(file);
        assertEquals(16384, disk.length, "the file keeps its size");
        assertArrayEquals(new byte[4096], Arrays.copyOfRange(disk, 4096, 8192));
        assertEquals((byte)(8192 * 7 + 3), disk[8192]);
    }

    @Test
    void shouldReportErrorsAsNegativeErrno()
    {
        final MemorySegment buffer = arena.allocate(512);
        assertTrue(ring.prepare(IoUringLayout.OP_READ, 12345, 0, buffer.address(), 512, 0, 5, 0));
        ring.submit();
        reapExactly(1);
        assertEquals(-9, completions.get(0)[1], "EBADF for a descriptor that is not open");
    }

    @Test
    void shouldRefuseToPrepareWhenTheSubmissionQueueIsFull()
    {
        final int entries = ring.sqEntries();
        for (int i = 0; i < entries; i++)
        {
            assertTrue(ring.prepare(IoUringLayout.OP_NOP, -1, 0, 0, 0, 0, i, 0));
        }
        assertEquals(0, ring.sqSpace());
        assertFalse(ring.prepare(IoUringLayout.OP_NOP, -1, 0, 0, 0, 0, 99, 0), "no room: nothing written");
        assertEquals(entries, ring.submit());
        reapExactly(entries);
        assertTrue(ring.prepare(IoUringLayout.OP_NOP, -1, 0, 0, 0, 0, 100, 0), "room again once the kernel took them");
    }

    @Test
    void shouldSignalARegisteredEventFdWhenCompletionsArrive() throws ErrnoException
    {
        final EventFd eventFd = EventFd.create();
        try
        {
            ring.registerEventFd(eventFd.fd());
            assertEquals(0, eventFd.drain());
            ring.prepare(IoUringLayout.OP_NOP, -1, 0, 0, 0, 0, 1, 0);
            ring.submit();
            reapExactly(1);
            assertTrue(eventFd.drain() > 0, "the eventfd was signalled");
            assertFalse(ring.hasCompletions());
        }
        finally
        {
            eventFd.close();
        }
    }

    @Test
    void shouldProbeTheOpcodesABlockBackendNeeds()
    {
        for (final int op : new int[] {IoUringLayout.OP_READV, IoUringLayout.OP_WRITEV, IoUringLayout.OP_FSYNC,
            IoUringLayout.OP_FALLOCATE, IoUringLayout.OP_READ, IoUringLayout.OP_WRITE})
        {
            assertTrue(ring.supports(op), "opcode " + op);
        }
        assertFalse(ring.supports(250), "an opcode no kernel has");
    }
}
