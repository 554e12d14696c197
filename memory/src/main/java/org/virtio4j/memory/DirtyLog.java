package org.virtio4j.memory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * A dirty-page log for live migration: a bitmap with one bit per 4 KiB guest page (page = guest physical address /
 * 4096, bit {@code page % 64} of 64-bit word {@code page / 64}, in the host's byte order), shared with the VMM, which
 * exchanges each word with zero and re-sends the pages whose bits were set (vhost-user's VHOST_USER_SET_LOG_BASE).
 *
 * <p>A device marks a range after it has stored into it, never before: the VMM clears a word and then copies the
 * pages, so a bit set before the store could be cleared and the page copied without the new bytes. Each word is
 * updated with one atomic OR; any number of threads may mark at once.
 *
 * <p>Marks outside the bitmap (a guest address beyond what the VMM sized it for) are counted and dropped.
 */
public final class DirtyLog
{
    /** log2 of the page size the log tracks. */
    public static final int PAGE_SHIFT = 12;

    private static final VarHandle WORD = ValueLayout.JAVA_LONG.varHandle();

    /** Where the pages a log newly marks dirty are counted. */
    @FunctionalInterface
    public interface Sink
    {
        /**
         * @param pages pages whose bits went from clear to set in one mark.
         */
        void pagesDirtied(int pages);
    }

    private final MemorySegment bitmap;
    private final long words;
    private final Sink sink;
    private final Sink outOfRange;

    /**
     * @param bitmap     the shared bitmap, 8-byte aligned; its size is rounded down to whole 64-bit words.
     * @param sink       counts pages newly marked.
     * @param outOfRange counts marks (of one page range each) that fall outside the bitmap.
     */
    public DirtyLog(final MemorySegment bitmap, final Sink sink, final Sink outOfRange)
    {
        if ((bitmap.address() & 7) != 0)
        {
            throw new IllegalArgumentException("a dirty log must be 8-byte aligned");
        }
        this.bitmap = bitmap;
        this.words = bitmap.byteSize() >>> 3;
        this.sink = sink;
        this.outOfRange = outOfRange;
    }

    /** @return the guest physical bytes the log covers (from address 0). */
    public long coveredBytes()
    {
        return words << (6 + PAGE_SHIFT);
    }

    /**
     * Marks the pages a just-stored range touches.
     *
     * @param address the range's guest physical address.
     * @param length  its length in bytes (0 marks nothing).
     */
    public void mark(final long address, final long length)
    {
        if (length == 0)
        {
            return;
        }
        final long end = address + length - 1;
        final long firstPage = address >>> PAGE_SHIFT;
        final long lastPage = Long.compareUnsigned(end, address) < 0 ? -1L >>> PAGE_SHIFT : end >>> PAGE_SHIFT;
        final long firstWord = firstPage >>> 6;
        final long lastWord = lastPage >>> 6;
        for (long word = firstWord; Long.compareUnsigned(word, lastWord) <= 0; word++)
        {
            if (Long.compareUnsigned(word, words) >= 0)
            {
                outOfRange.pagesDirtied(1);
                return;
            }
            final long low = word == firstWord ? -1L << (firstPage & 63) : -1L;
            final long high = word == lastWord ? -1L >>> (63 - (lastPage & 63)) : -1L;
            final long mask = low & high;
            final long old = (long)WORD.getAndBitwiseOr(bitmap, word << 3, mask);
            final long fresh = mask & ~old;
            if (fresh != 0)
            {
                sink.pagesDirtied(Long.bitCount(fresh));
            }
        }
    }

    /**
     * @param page a page number.
     * @return true if its bit is set (for tests and tools; a plain read).
     */
    public boolean isDirty(final long page)
    {
        final long word = page >>> 6;
        return Long.compareUnsigned(word, words) < 0 && (bitmap.get(ValueLayout.JAVA_LONG, word << 3) & (1L << (page & 63))) != 0;
    }
}
