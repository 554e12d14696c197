package org.virtio4j.virtio;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;

import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestRegion;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Guest memory for property tests: every region is a slice of one off-heap segment, with {@link #GUARD} bytes of a
 * known pattern before, between and after the regions, so that any access the code under test makes outside the
 * regions shows up as a changed guard byte.
 * <pre>
 *  | guard | region 0 | guard | region 1 | guard | ... | region n-1 | guard |
 * </pre>
 * The test's own view of guest memory ({@link #poke}, {@link #peek}, {@link #mapped}, {@link #covered},
 * {@link #inOneRegion}) translates guest addresses itself, independently of {@link GuestMemory}, so it can serve
 * as the model the code is checked against.
 *
 * <p>Confined to the thread that made it.
 */
final class GuardedMemory implements AutoCloseable
{
    /** Guard bytes around each region. */
    static final int GUARD = 128;

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment whole;
    private final long[] bases;
    private final long[] sizes;
    private final long[] hostOffsets;
    private final GuestMemory memory;

    /**
     * @param bases guest bases, in increasing unsigned order, regions not overlapping.
     * @param sizes region sizes, each at least 1.
     */
    GuardedMemory(final long[] bases, final long[] sizes)
    {
        this.bases = bases.clone();
        this.sizes = sizes.clone();
        hostOffsets = new long[bases.length];
        long total = GUARD;
        for (int i = 0; i < bases.length; i++)
        {
            hostOffsets[i] = total;
            total += sizes[i] + GUARD;
        }
        whole = arena.allocate(total, 16);
        for (long i = 0; i < total; i++)
        {
            whole.set(ValueLayout.JAVA_BYTE, i, guardByte(i));
        }
        final GuestRegion[] regions = new GuestRegion[bases.length];
        for (int i = 0; i < bases.length; i++)
        {
            final MemorySegment slice = whole.asSlice(hostOffsets[i], sizes[i]);
            slice.fill((byte)0);
            regions[i] = new GuestRegion(bases[i], slice);
        }
        memory = GuestMemory.of(regions);
    }

    private static byte guardByte(final long hostOffset)
    {
        return (byte)(0xA5 ^ (hostOffset * 0x3B));
    }

    /** @return the guest memory over the regions. */
    GuestMemory memory()
    {
        return memory;
    }

    /** @return the number of regions. */
    int regionCount()
    {
        return bases.length;
    }

    /** @return region {@code i}'s guest base. */
    long base(final int i)
    {
        return bases[i];
    }

    /** @return region {@code i}'s size. */
    long size(final int i)
    {
        return sizes[i];
    }

    /** @return region {@code i}'s guest end (one past its last byte). */
    long end(final int i)
    {
        return bases[i] + sizes[i];
    }

    /** Fills every region with bytes from {@code seed} (0: leaves them zero). */
    void fillRegions(final long seed)
    {
        if (seed == 0)
        {
            return;
        }
        final SplittableRandom random = new SplittableRandom(seed);
        final byte[] bytes = new byte[(int)Arrays.stream(sizes).max().orElse(0)];
        for (int i = 0; i < bases.length; i++)
        {
            random.nextBytes(bytes);
            MemorySegment.copy(bytes, 0, whole, ValueLayout.JAVA_BYTE, hostOffsets[i], (int)sizes[i]);
        }
    }

    /**
     * @param guest a guest address.
     * @return the region holding it, or -1.
     */
    int regionOf(final long guest)
    {
        for (int i = 0; i < bases.length; i++)
        {
            if (Long.compareUnsigned(guest, bases[i]) >= 0 && Long.compareUnsigned(guest - bases[i], sizes[i]) < 0)
            {
                return i;
            }
        }
        return -1;
    }

    /** @return true if the guest byte is in a region. */
    boolean mapped(final long guest)
    {
        return regionOf(guest) >= 0;
    }

    /**
     * @return true if every byte of {@code [guest, guest + length)} is in some region and the range does not pass
     *         2^64 (adjacent regions may share the range).
     */
    boolean covered(final long guest, final long length)
    {
        if (length == 0)
        {
            return true;
        }
        if (GuestAddress.addOverflows(guest, length - 1))
        {
            return false;
        }
        long cursor = guest;
        long left = length;
        while (left > 0)
        {
            final int region = regionOf(cursor);
            if (region < 0)
            {
                return false;
            }
            final long chunk = Math.min(left, bases[region] + sizes[region] - cursor);
            cursor += chunk;
            left -= chunk;
        }
        return true;
    }

    /** @return true if the whole range lies inside one region (what atomic ring-index accesses need). */
    boolean inOneRegion(final long guest, final long length)
    {
        final int region = regionOf(guest);
        return region >= 0 && Long.compareUnsigned(length, bases[region] + sizes[region] - guest) <= 0;
    }

    /** @return the offset in {@link #snapshot()} of a mapped guest byte. */
    long hostOffset(final long guest)
    {
        final int region = regionOf(guest);
        if (region < 0)
        {
            throw new IllegalArgumentException("guest byte " + GuestAddress.hex(guest) + " is not mapped");
        }
        return hostOffsets[region] + guest - bases[region];
    }

    /**
     * Stores bytes as a driver would, little-endian; bytes that fall outside the regions (or past 2^64) are dropped.
     *
     * @param guest where.
     * @param value the value.
     * @param bytes how many bytes of it, 1 to 8.
     */
    void poke(final long guest, final long value, final int bytes)
    {
        for (int i = 0; i < bytes; i++)
        {
            if (GuestAddress.addOverflows(guest, i))
            {
                return;
            }
            final long at = guest + i;
            if (mapped(at))
            {
                whole.set(ValueLayout.JAVA_BYTE, hostOffset(at), (byte)(value >>> (8 * i)));
            }
        }
    }

    /** @return the unsigned guest byte; the byte must be mapped. */
    int peekU8(final long guest)
    {
        return Byte.toUnsignedInt(whole.get(ValueLayout.JAVA_BYTE, hostOffset(guest)));
    }

    /**
     * @param guest where; every byte must be mapped.
     * @param bytes how many, 1 to 8.
     * @return the little-endian value.
     */
    long peek(final long guest, final int bytes)
    {
        long value = 0;
        for (int i = 0; i < bytes; i++)
        {
            value |= (long)peekU8(guest + i) << (8 * i);
        }
        return value;
    }

    /** @return a copy of the whole segment: guards and regions. */
    byte[] snapshot()
    {
        return whole.toArray(ValueLayout.JAVA_BYTE);
    }

    /** Fails naming the first guard byte that no longer holds its pattern. */
    void assertGuardsIntact(final String after)
    {
        long start = 0;
        for (int i = 0; i <= bases.length; i++)
        {
            final long end = i < bases.length ? hostOffsets[i] : whole.byteSize();
            for (long at = start; at < end; at++)
            {
                if (whole.get(ValueLayout.JAVA_BYTE, at) != guardByte(at))
                {
                    fail("guard byte at host offset " + at + " (" + describeHost(at) + ") changed after " + after);
                }
            }
            if (i < bases.length)
            {
                start = hostOffsets[i] + sizes[i];
            }
        }
    }

    /**
     * Fails naming the first byte where the memory differs from {@code expected} (a {@link #snapshot()} with the
     * expected changes applied).
     */
    void assertEquals(final byte[] expected, final String after)
    {
        final byte[] actual = snapshot();
        final int at = Arrays.mismatch(expected, actual);
        if (at >= 0)
        {
            fail("memory at host offset " + at + " (" + describeHost(at) + ") is 0x" +
                Integer.toHexString(Byte.toUnsignedInt(actual[at])) + ", expected 0x" +
                Integer.toHexString(Byte.toUnsignedInt(expected[at])) + " after " + after);
        }
    }

    private String describeHost(final long hostOffset)
    {
        for (int i = 0; i < bases.length; i++)
        {
            if (hostOffset >= hostOffsets[i] && hostOffset < hostOffsets[i] + sizes[i])
            {
                return "guest " + GuestAddress.hex(bases[i] + hostOffset - hostOffsets[i]);
            }
            if (hostOffset < hostOffsets[i])
            {
                return (hostOffsets[i] - hostOffset) + " bytes before region " + i;
            }
        }
        return "after the last region";
    }

    @Override
    public String toString()
    {
        return memory.toString();
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
