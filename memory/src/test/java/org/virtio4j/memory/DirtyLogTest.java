package org.virtio4j.memory;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The dirty log's bitmap (bit page % 64 of word page / 64, host order), and guest memory marking every kind of store
 * made through it — and nothing for loads, nor anything at all without a log.
 */
class DirtyLogTest
{
    private static final long PAGE = 4096;
    /** Two regions with a hole between: pages 0..15 and 32..47. */
    private static final long SECOND = 32 * PAGE;

    @TempDir
    Path dir;

    private final Arena arena = Arena.ofAuto();
    private final MemorySegment bitmap = arena.allocate(16, 8);
    private final AtomicLong dirtied = new AtomicLong();
    private final AtomicLong beyond = new AtomicLong();
    private final DirtyLog log = new DirtyLog(bitmap, dirtied::addAndGet, beyond::addAndGet);
    private final GuestMemory plain = GuestMemory.of(new GuestRegion(0, arena.allocate(16 * PAGE, 8)), new GuestRegion(SECOND, arena.allocate(16 * PAGE, 8)));
    private final GuestMemory logged = plain.withDirtyLog(log);

    private long word(final int index)
    {
        return bitmap.get(ValueLayout.JAVA_LONG, index * 8L);
    }

    @Test
    void shouldSetOneBitPerPageInHostOrderWords()
    {
        log.mark(5 * PAGE + 100, 1);
        assertEquals(1L << 5, word(0));
        log.mark(62 * PAGE + 4000, 3 * PAGE);
        assertEquals(1L << 5 | 1L << 62 | 1L << 63, word(0), "a range over a word boundary");
        assertEquals(0b11, word(1));
        assertEquals(1 + 4, dirtied.get(), "pages newly marked");
        log.mark(5 * PAGE, PAGE);
        assertEquals(5, dirtied.get(), "a page already marked is not counted again");
        log.mark(0, 0);
        assertEquals(5, dirtied.get(), "an empty range marks nothing");
        assertTrue(log.isDirty(64) && log.isDirty(65) && !log.isDirty(66));
        assertEquals(128 * PAGE, log.coveredBytes());
    }

    @Test
    void shouldCountAndDropMarksBeyondTheLog()
    {
        log.mark(128 * PAGE, 1);
        log.mark(-PAGE, 2 * PAGE);
        assertEquals(0, word(0) | word(1));
        assertEquals(2, beyond.get());
        log.mark(127 * PAGE, 2 * PAGE);
        assertEquals(1L << 63, word(1), "the part inside is marked");
        assertEquals(3, beyond.get());
    }

    @Test
    void shouldRefuseABitmapThatIsNotWordAligned()
    {
        assertThrows(IllegalArgumentException.class, () -> new DirtyLog(bitmap.asSlice(4, 8), p -> { }, p -> { }));
    }

    private void assertMarks(final String what, final long firstPage, final long lastPage, final Consumer<GuestMemory> store)
    {
        bitmap.fill((byte)0);
        store.accept(plain);
        assertEquals(0, word(0) | word(1), what + " through memory without a log marks nothing");
        store.accept(logged);
        for (long page = 0; page < 128; page++)
        {
            assertEquals(page >= firstPage && page <= lastPage, log.isDirty(page), what + ": page " + page);
        }
    }

    @Test
    void shouldMarkEveryKindOfStoreMadeThroughLoggedMemory() throws IOException
    {
        assertMarks("putU8", 3, 3, m -> m.putU8(3 * PAGE + 7, 1));
        assertMarks("putU16", 3, 4, m -> m.putU16(4 * PAGE - 1, 1));
        assertMarks("putU32", 4, 4, m -> m.putU32(4 * PAGE, 1));
        assertMarks("putU64", 5, 5, m -> m.putU64(5 * PAGE + 8, 1));
        assertMarks("putU16Release", 6, 6, m -> m.putU16Release(6 * PAGE + 2, 1));
        assertMarks("putAtomicU16", 7, 7, m -> m.putAtomicU16(7 * PAGE + 2, 1));
        final byte[] bytes = new byte[(int)(2 * PAGE)];
        assertMarks("write(byte[])", 8, 10, m -> m.write(8 * PAGE + 1, bytes, 0, bytes.length));
        assertMarks("write(ByteBuffer)", 1, 2, m -> m.write(PAGE, ByteBuffer.wrap(bytes)));
        assertMarks("fill", SECOND / PAGE, SECOND / PAGE + 2, m -> m.fill(SECOND + 10, 2 * PAGE + 1, (byte)1));
        assertMarks("markDirty", 11, 11, m -> m.markDirty(11 * PAGE, 1));

        final Path file = dir.resolve("f");
        Files.write(file, new byte[(int)(3 * PAGE)]);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            assertMarks("readFromFile", 12, 14, m ->
            {
                try
                {
                    m.readFromFile(channel, 0, 12 * PAGE, 3 * PAGE);
                }
                catch (final IOException e)
                {
                    throw new AssertionError(e);
                }
            });
            bitmap.fill((byte)0);
            logged.writeToFile(channel, 0, 12 * PAGE, PAGE);
            logged.read(12 * PAGE, bytes, 0, 100);
            logged.getU64(12 * PAGE);
            logged.getU16Acquire(12 * PAGE);
            assertEquals(0, word(0) | word(1), "loads mark nothing");
        }
    }

    @Test
    void shouldMarkTheBytesStoredBeforeAHole()
    {
        final byte[] bytes = new byte[(int)(2 * PAGE)];
        assertThrows(GuestMemoryException.class, () -> logged.write(15 * PAGE, bytes, 0, bytes.length));
        assertTrue(log.isDirty(15), "stored before the hole");
        assertFalse(log.isDirty(16));
        assertEquals(logged, logged.withDirtyLog(log), "the same log is the same view");
        assertEquals(log, logged.dirtyLog());
        assertEquals(null, plain.dirtyLog());
    }
}
