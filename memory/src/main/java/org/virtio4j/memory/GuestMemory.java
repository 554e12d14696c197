package org.virtio4j.memory;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.Arrays;
import java.util.List;

import static org.virtio4j.memory.GuestMemoryException.Kind.INVALID_BACKEND_ADDRESS;
import static org.virtio4j.memory.GuestMemoryException.Kind.PARTIAL_BUFFER;

/**
 * A guest's physical memory: an immutable, ordered set of non-overlapping {@link GuestRegion}s.
 *
 * <p>Every address and length comes from an untrusted guest, so every access is checked; an address in no
 * region, a range that runs into a hole, or an address + length that passes 2^64 throws
 * {@link GuestMemoryException} and never touches memory outside the regions. All multi-byte values are
 * little-endian.
 *
 * <p>Three kinds of access, with the semantics virtio back-ends are measured against (vm-memory's):
 * <ul>
 *   <li><b>non-atomic</b> ({@link #getU64}, {@link #read}, {@link #write}, ...): may run from one region into an
 *       adjacent one. A first byte in no region fails with {@code INVALID_GUEST_ADDRESS}; a hole after at least
 *       one byte fails with {@code PARTIAL_BUFFER}, and a write has then already stored the bytes before it.</li>
 *   <li><b>atomic 16-bit</b> ({@link #getU16Acquire}, {@link #putU16Release}, {@link #getAtomicU16}, ...), used for
 *       ring indices: the two bytes must lie in the region of the first byte, else
 *       {@code INVALID_BACKEND_ADDRESS}.</li>
 *   <li><b>single slice</b> ({@link #slice}): a segment view of a range inside one region.</li>
 * </ul>
 *
 * <p>Thread-safe: the set of regions never changes; concurrent accesses to the same bytes follow the Java memory
 * model for the ordering named in each method.
 */
public final class GuestMemory
{
    /** Little-endian, unaligned u16. */
    public static final ValueLayout.OfShort LE_U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Little-endian, unaligned u32. */
    public static final ValueLayout.OfInt LE_U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Little-endian, unaligned u64. */
    public static final ValueLayout.OfLong LE_U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final VarHandle ATOMIC_U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();
    private static final int LINEAR_SEARCH_LIMIT = 4;

    private final GuestRegion[] regions;
    private final long[] bases;
    private final long[] sizes;
    private final MemorySegment[] segments;
    private final DirtyLog log;

    private GuestMemory(final GuestRegion[] regions)
    {
        this(regions, null);
    }

    private GuestMemory(final GuestRegion[] regions, final DirtyLog log)
    {
        this.regions = regions;
        this.log = log;
        final int count = regions.length;
        bases = new long[count];
        sizes = new long[count];
        segments = new MemorySegment[count];
        for (int i = 0; i < count; i++)
        {
            bases[i] = regions[i].base();
            sizes[i] = regions[i].size();
            segments[i] = regions[i].segment();
        }
    }

    /**
     * Builds guest memory from regions in any order.
     *
     * @param regions the regions.
     * @return the memory, with the regions sorted by address.
     * @throws IllegalArgumentException naming the region if one is empty, ends past 2^64 - 1, or overlaps another.
     */
    public static GuestMemory of(final GuestRegion... regions)
    {
        final GuestRegion[] sorted = regions.clone();
        Arrays.sort(sorted, (a, b) -> Long.compareUnsigned(a.base(), b.base()));
        for (int i = 0; i < sorted.length; i++)
        {
            final GuestRegion region = sorted[i];
            if (region.size() == 0)
            {
                throw new IllegalArgumentException("guest memory region " + i + " at " + GuestAddress.hex(region.base()) + " is empty");
            }
            if (Long.compareUnsigned(region.base() + region.size(), region.base()) <= 0)
            {
                throw new IllegalArgumentException("guest memory region " + i + " at " + GuestAddress.hex(region.base()) +
                    " of 0x" + Long.toHexString(region.size()) + " bytes wraps past 2^64 - 1");
            }
            if (i > 0 && Long.compareUnsigned(sorted[i - 1].end(), region.base()) > 0)
            {
                throw new IllegalArgumentException("guest memory region " + region + " overlaps region " + sorted[i - 1]);
            }
        }
        return new GuestMemory(sorted);
    }

    /**
     * The same memory, with every store made through it marked in a dirty log (live migration). Stores the caller
     * makes around it (the kernel's, into {@link #hostAddress}es) are marked with {@link #markDirty}.
     *
     * @param dirtyLog the log, or null for none.
     * @return a view of the same regions that logs its stores.
     */
    public GuestMemory withDirtyLog(final DirtyLog dirtyLog)
    {
        return dirtyLog == log ? this : new GuestMemory(regions, dirtyLog);
    }

    /** @return the dirty log stores are marked in, or null. */
    public DirtyLog dirtyLog()
    {
        return log;
    }

    /**
     * Marks a range just stored into without this object (by the kernel, into {@link #hostAddress}es) in the dirty
     * log, if there is one; nothing otherwise.
     *
     * @param address the range's guest address.
     * @param length  its length.
     */
    public void markDirty(final long address, final long length)
    {
        if (log != null)
        {
            log.mark(address, length);
        }
    }

    /**
     * @param regions the regions.
     * @return the memory.
     * @see #of(GuestRegion...)
     */
    public static GuestMemory of(final List<GuestRegion> regions)
    {
        return of(regions.toArray(GuestRegion[]::new));
    }

    /** @return the number of regions. */
    public int regionCount()
    {
        return regions.length;
    }

    /**
     * @param index a region index, in address order.
     * @return that region.
     */
    public GuestRegion region(final int index)
    {
        return regions[index];
    }

    /**
     * @param address a guest-physical address.
     * @return the index of the region holding it, or -1.
     */
    public int regionIndexOf(final long address)
    {
        final long[] bases = this.bases;
        final long[] sizes = this.sizes;
        final int count = bases.length;
        if (count <= LINEAR_SEARCH_LIMIT)
        {
            for (int i = 0; i < count; i++)
            {
                // (address - base) as unsigned is below size exactly when base <= address < base + size.
                if (Long.compareUnsigned(address - bases[i], sizes[i]) < 0)
                {
                    return i;
                }
            }
            return -1;
        }
        int low = 0;
        int high = count - 1;
        while (low <= high)
        {
            final int mid = (low + high) >>> 1;
            if (Long.compareUnsigned(address, bases[mid]) < 0)
            {
                high = mid - 1;
            }
            else if (Long.compareUnsigned(address - bases[mid], sizes[mid]) < 0)
            {
                return mid;
            }
            else
            {
                low = mid + 1;
            }
        }
        return -1;
    }

    /**
     * @param index a region index.
     * @return the region's host memory.
     */
    public MemorySegment segment(final int index)
    {
        return segments[index];
    }

    /**
     * @param index a region index.
     * @return the region's guest-physical base.
     */
    public long base(final int index)
    {
        return bases[index];
    }

    /**
     * Counts how many bytes from {@code address} on are backed by regions, crossing adjacent regions.
     *
     * @param address the start.
     * @param length  the most bytes to count, unsigned.
     * @return the covered bytes, at most {@code length}; {@code address + result} is the first uncovered byte.
     */
    public long coveredLength(final long address, final long length)
    {
        long covered = 0;
        long cursor = address;
        while (Long.compareUnsigned(covered, length) < 0)
        {
            final int index = regionIndexOf(cursor);
            if (index < 0)
            {
                return covered;
            }
            final long inRegion = sizes[index] - (cursor - bases[index]);
            final long wanted = length - covered;
            if (Long.compareUnsigned(inRegion, wanted) >= 0)
            {
                return length;
            }
            covered += inRegion;
            cursor += inRegion;
        }
        return covered;
    }

    /**
     * The range check: is {@code [address, address + length)} fully backed, possibly across adjacent regions?
     * A zero-length range always passes.
     *
     * @param address the start.
     * @param length  the length, unsigned.
     * @return true if every byte is in some region.
     */
    public boolean checkRange(final long address, final long length)
    {
        return coveredLength(address, length) == length;
    }

    /**
     * Finds the region that holds a whole range, without spanning regions.
     *
     * @param address the start.
     * @param length  the length, unsigned; may be 0.
     * @return the region index.
     * @throws GuestMemoryException {@code INVALID_GUEST_ADDRESS} if the start is in no region,
     *                              {@code INVALID_BACKEND_ADDRESS} if the range does not fit in that region.
     */
    public int regionHolding(final long address, final long length)
    {
        final int index = regionIndexOf(address);
        if (index < 0)
        {
            throw GuestMemoryException.invalidAddress(address);
        }
        if (Long.compareUnsigned(length, sizes[index] - (address - bases[index])) > 0)
        {
            throw new GuestMemoryException(INVALID_BACKEND_ADDRESS, address, length, 0);
        }
        return index;
    }

    /**
     * The host address of a guest address, for handing guest memory straight to the kernel (io_uring, preadv).
     * Valid while this memory stays mapped.
     *
     * @param address a guest address.
     * @return its host virtual address, or 0 if no region holds it.
     */
    public long hostAddress(final long address)
    {
        final int index = regionIndexOf(address);
        return index < 0 ? 0 : segments[index].address() + (address - bases[index]);
    }

    /**
     * @param address a guest address.
     * @return the bytes from it to the end of its region (host-contiguous from {@link #hostAddress}), or 0 if no
     * region holds it.
     */
    public long contiguousLength(final long address)
    {
        final int index = regionIndexOf(address);
        return index < 0 ? 0 : sizes[index] - (address - bases[index]);
    }

    /**
     * A view of a range that lies inside one region. Allocates the view: not for per-request use on hot paths.
     *
     * @param address the start.
     * @param length  the length.
     * @return the host memory of exactly that range.
     * @throws GuestMemoryException as {@link #regionHolding}.
     */
    public MemorySegment slice(final long address, final long length)
    {
        final int index = regionHolding(address, length);
        return segments[index].asSlice(address - bases[index], length);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Atomic 16-bit accesses: ring indices and event fields. The two bytes must lie in the region of the first.
    // ---------------------------------------------------------------------------------------------------------------

    private int u16Region(final long address)
    {
        return regionHolding(address, Short.BYTES);
    }

    /**
     * An acquire load of a ring index: later loads (of the ring entries it publishes) cannot move before it.
     *
     * @param address a guest address, normally even.
     * @return the unsigned 16-bit value.
     */
    public int getU16Acquire(final long address)
    {
        final int index = u16Region(address);
        final MemorySegment segment = segments[index];
        final long offset = address - bases[index];
        if (((segment.address() + offset) & 1) == 0)
        {
            return Short.toUnsignedInt((short)ATOMIC_U16.getAcquire(segment, offset));
        }
        final int value = Short.toUnsignedInt(segment.get(LE_U16, offset));
        VarHandle.acquireFence();
        return value;
    }

    /**
     * A release store of a ring index: earlier stores (of the ring entries it publishes) cannot move after it.
     *
     * @param address a guest address, normally even.
     * @param value   the value; the low 16 bits are stored.
     */
    public void putU16Release(final long address, final int value)
    {
        final int index = u16Region(address);
        final MemorySegment segment = segments[index];
        final long offset = address - bases[index];
        if (((segment.address() + offset) & 1) == 0)
        {
            ATOMIC_U16.setRelease(segment, offset, (short)value);
        }
        else
        {
            VarHandle.releaseFence();
            segment.set(LE_U16, offset, (short)value);
        }
        markDirty(address, Short.BYTES);
    }

    /**
     * A 16-bit load with no ordering, confined to one region (a "relaxed" atomic load).
     *
     * @param address a guest address.
     * @return the unsigned 16-bit value.
     */
    public int getAtomicU16(final long address)
    {
        final int index = u16Region(address);
        return Short.toUnsignedInt(segments[index].get(LE_U16, address - bases[index]));
    }

    /**
     * A 16-bit store with no ordering, confined to one region.
     *
     * @param address a guest address.
     * @param value   the value; the low 16 bits are stored.
     */
    public void putAtomicU16(final long address, final int value)
    {
        final int index = u16Region(address);
        segments[index].set(LE_U16, address - bases[index], (short)value);
        markDirty(address, Short.BYTES);
    }

    /** A full two-way fence: no load or store moves across it (needed between a flag store and an index load). */
    public static void fullFence()
    {
        VarHandle.fullFence();
    }

    /** No later load or store moves before an earlier load. */
    public static void acquireFence()
    {
        VarHandle.acquireFence();
    }

    /** No earlier load or store moves after a later store. */
    public static void releaseFence()
    {
        VarHandle.releaseFence();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Non-atomic accesses: may span adjacent regions.
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * @param address where to read.
     * @return the byte, unsigned.
     */
    public int getU8(final long address)
    {
        final int index = regionIndexOf(address);
        if (index < 0)
        {
            throw GuestMemoryException.invalidAddress(address);
        }
        return Byte.toUnsignedInt(segments[index].get(ValueLayout.JAVA_BYTE, address - bases[index]));
    }

    /**
     * @param address where to write.
     * @param value   the byte (low 8 bits).
     */
    public void putU8(final long address, final int value)
    {
        final int index = regionIndexOf(address);
        if (index < 0)
        {
            throw GuestMemoryException.invalidAddress(address);
        }
        segments[index].set(ValueLayout.JAVA_BYTE, address - bases[index], (byte)value);
        markDirty(address, 1);
    }

    /**
     * @param address where to read.
     * @return the little-endian u16.
     */
    public int getU16(final long address)
    {
        return (int)getLittleEndian(address, Short.BYTES);
    }

    /**
     * @param address where to read.
     * @return the little-endian u32, as an int (use {@link Integer#toUnsignedLong} for its unsigned value).
     */
    public int getU32(final long address)
    {
        return (int)getLittleEndian(address, Integer.BYTES);
    }

    /**
     * @param address where to read.
     * @return the little-endian u64.
     */
    public long getU64(final long address)
    {
        return getLittleEndian(address, Long.BYTES);
    }

    /**
     * @param address where to write.
     * @param value   the low 16 bits are stored little-endian.
     */
    public void putU16(final long address, final int value)
    {
        putLittleEndian(address, value, Short.BYTES);
    }

    /**
     * @param address where to write.
     * @param value   stored little-endian.
     */
    public void putU32(final long address, final int value)
    {
        putLittleEndian(address, value, Integer.BYTES);
    }

    /**
     * @param address where to write.
     * @param value   stored little-endian.
     */
    public void putU64(final long address, final long value)
    {
        putLittleEndian(address, value, Long.BYTES);
    }

    private long getLittleEndian(final long address, final int size)
    {
        final int index = regionIndexOf(address);
        if (index < 0)
        {
            throw GuestMemoryException.invalidAddress(address);
        }
        final long offset = address - bases[index];
        if (sizes[index] - offset >= size)
        {
            final MemorySegment segment = segments[index];
            return switch (size)
            {
                case Long.BYTES -> segment.get(LE_U64, offset);
                case Integer.BYTES -> Integer.toUnsignedLong(segment.get(LE_U32, offset));
                default -> Short.toUnsignedInt(segment.get(LE_U16, offset));
            };
        }
        long value = 0;
        for (int i = 0; i < size; i++)
        {
            value |= (long)spanningByte(address, i, size) << (8 * i);
        }
        return value;
    }

    private void putLittleEndian(final long address, final long value, final int size)
    {
        final int index = regionIndexOf(address);
        if (index < 0)
        {
            throw GuestMemoryException.invalidAddress(address);
        }
        final long offset = address - bases[index];
        if (sizes[index] - offset >= size)
        {
            final MemorySegment segment = segments[index];
            switch (size)
            {
                case Long.BYTES -> segment.set(LE_U64, offset, value);
                case Integer.BYTES -> segment.set(LE_U32, offset, (int)value);
                default -> segment.set(LE_U16, offset, (short)value);
            }
            markDirty(address, size);
            return;
        }
        for (int i = 0; i < size; i++)
        {
            final int at = regionIndexOf(address + i);
            if (at < 0 || GuestAddress.addOverflows(address, i))
            {
                throw new GuestMemoryException(PARTIAL_BUFFER, address, size, i);
            }
            segments[at].set(ValueLayout.JAVA_BYTE, address + i - bases[at], (byte)(value >>> (8 * i)));
            markDirty(address + i, 1);
        }
    }

    private int spanningByte(final long address, final int i, final int size)
    {
        final int at = regionIndexOf(address + i);
        if (at < 0 || GuestAddress.addOverflows(address, i))
        {
            throw new GuestMemoryException(PARTIAL_BUFFER, address, size, i);
        }
        return Byte.toUnsignedInt(segments[at].get(ValueLayout.JAVA_BYTE, address + i - bases[at]));
    }

    /**
     * Copies guest bytes out, spanning adjacent regions.
     *
     * @param address   the first guest byte.
     * @param dst       where to copy to.
     * @param dstOffset the first byte of {@code dst} to fill.
     * @param length    how many bytes.
     * @throws GuestMemoryException {@code INVALID_GUEST_ADDRESS} if the first byte is unbacked, {@code PARTIAL_BUFFER}
     *                              with the bytes done if a hole follows (those bytes have been copied).
     */
    public void read(final long address, final MemorySegment dst, final long dstOffset, final long length)
    {
        copy(address, dst, dstOffset, length, false);
    }

    /**
     * Copies bytes into guest memory, spanning adjacent regions.
     *
     * @param address   the first guest byte.
     * @param src       where to copy from.
     * @param srcOffset the first byte of {@code src} to copy.
     * @param length    how many bytes.
     * @throws GuestMemoryException as {@link #read(long, MemorySegment, long, long)}; on {@code PARTIAL_BUFFER} the bytes
     *                              before the hole have been written.
     */
    public void write(final long address, final MemorySegment src, final long srcOffset, final long length)
    {
        copy(address, src, srcOffset, length, true);
    }

    /**
     * @param address the first guest byte.
     * @param dst     the array to fill.
     * @param offset  the first array index to fill.
     * @param length  how many bytes.
     * @see #read(long, MemorySegment, long, long)
     */
    public void read(final long address, final byte[] dst, final int offset, final int length)
    {
        read(address, MemorySegment.ofArray(dst), offset, length);
    }

    /**
     * @param address the first guest byte.
     * @param src     the array to copy from.
     * @param offset  the first array index to copy.
     * @param length  how many bytes.
     * @see #write(long, MemorySegment, long, long)
     */
    public void write(final long address, final byte[] src, final int offset, final int length)
    {
        write(address, MemorySegment.ofArray(src), offset, length);
    }

    /**
     * Fills the remaining bytes of a buffer from guest memory and advances its position.
     *
     * @param address the first guest byte.
     * @param dst     the buffer.
     */
    public void read(final long address, final ByteBuffer dst)
    {
        final int length = dst.remaining();
        read(address, MemorySegment.ofBuffer(dst), 0, length);
        dst.position(dst.position() + length);
    }

    /**
     * Writes the remaining bytes of a buffer into guest memory and advances its position.
     *
     * @param address the first guest byte.
     * @param src     the buffer.
     */
    public void write(final long address, final ByteBuffer src)
    {
        final int length = src.remaining();
        write(address, MemorySegment.ofBuffer(src), 0, length);
        src.position(src.position() + length);
    }

    /**
     * Sets guest bytes to a value, spanning adjacent regions.
     *
     * @param address the first guest byte.
     * @param length  how many bytes.
     * @param value   the byte to store.
     */
    public void fill(final long address, final long length, final byte value)
    {
        long done = 0;
        while (Long.compareUnsigned(done, length) < 0)
        {
            final long cursor = address + done;
            final int index = regionIndexOf(cursor);
            if (index < 0 || GuestAddress.addOverflows(address, done))
            {
                throw hole(address, length, done);
            }
            final long offset = cursor - bases[index];
            final long chunk = unsignedMin(sizes[index] - offset, length - done);
            segments[index].asSlice(offset, chunk).fill(value);
            markDirty(cursor, chunk);
            done += chunk;
        }
    }

    private void copy(final long address, final MemorySegment other, final long otherOffset, final long length, final boolean toGuest)
    {
        long done = 0;
        while (Long.compareUnsigned(done, length) < 0)
        {
            final long cursor = address + done;
            final int index = regionIndexOf(cursor);
            if (index < 0 || GuestAddress.addOverflows(address, done))
            {
                throw hole(address, length, done);
            }
            final long offset = cursor - bases[index];
            final long chunk = unsignedMin(sizes[index] - offset, length - done);
            if (toGuest)
            {
                MemorySegment.copy(other, otherOffset + done, segments[index], offset, chunk);
                markDirty(cursor, chunk);
            }
            else
            {
                MemorySegment.copy(segments[index], offset, other, otherOffset + done, chunk);
            }
            done += chunk;
        }
    }

    /** Region sizes and offsets are below 2^63; a remaining length may not be (an untrusted u64). */
    private static long unsignedMin(final long a, final long b)
    {
        return Long.compareUnsigned(a, b) <= 0 ? a : b;
    }

    private static GuestMemoryException hole(final long address, final long length, final long done)
    {
        return done == 0 ? GuestMemoryException.invalidAddress(address) : new GuestMemoryException(PARTIAL_BUFFER, address, length, done);
    }

    /**
     * Reads file bytes into guest memory at a file position ({@code pread}), spanning adjacent regions.
     *
     * @param channel  the file.
     * @param position where in the file to start.
     * @param address  the first guest byte.
     * @param length   how many bytes.
     * @return the bytes transferred: less than {@code length} only at end of file.
     * @throws IOException          if the file read fails.
     * @throws GuestMemoryException if the guest range is not backed (checked before any transfer).
     */
    public long readFromFile(final FileChannel channel, final long position, final long address, final long length) throws IOException
    {
        return fileTransfer(channel, position, address, length, true);
    }

    /**
     * Writes guest memory to a file at a file position ({@code pwrite}), spanning adjacent regions.
     *
     * @param channel  the file.
     * @param position where in the file to start.
     * @param address  the first guest byte.
     * @param length   how many bytes.
     * @return the bytes transferred.
     * @throws IOException          if the file write fails.
     * @throws GuestMemoryException if the guest range is not backed (checked before any transfer).
     */
    public long writeToFile(final FileChannel channel, final long position, final long address, final long length) throws IOException
    {
        return fileTransfer(channel, position, address, length, false);
    }

    private long fileTransfer(final FileChannel channel, final long position, final long address, final long length, final boolean intoGuest)
        throws IOException
    {
        final long covered = coveredLength(address, length);
        if (covered != length)
        {
            throw hole(address, length, covered);
        }
        long done = 0;
        while (done < length)
        {
            final long cursor = address + done;
            final int index = regionIndexOf(cursor);
            final long offset = cursor - bases[index];
            final int chunk = (int)Math.min(Math.min(sizes[index] - offset, length - done), Integer.MAX_VALUE);
            final ByteBuffer buffer = segments[index].asSlice(offset, chunk).asByteBuffer();
            while (buffer.hasRemaining())
            {
                final int n = intoGuest ? channel.read(buffer, position + done + buffer.position()) : channel.write(buffer, position + done + buffer.position());
                if (n < 0)
                {
                    if (intoGuest)
                    {
                        markDirty(cursor, buffer.position());
                    }
                    return done + buffer.position();
                }
            }
            if (intoGuest)
            {
                markDirty(cursor, chunk);
            }
            done += chunk;
        }
        return done;
    }

    @Override
    public String toString()
    {
        return "GuestMemory" + Arrays.toString(regions);
    }
}
