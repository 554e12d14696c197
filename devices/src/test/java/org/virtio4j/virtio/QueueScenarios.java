package org.virtio4j.virtio;

import java.util.List;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.Tuple;

/**
 * Arbitrary split-queue scenarios: a guest memory layout (regions near address 0, possibly adjacent, and near
 * 2^64), a queue configuration, what the driver wrote (descriptor table, indirect tables, available ring) and a
 * sequence of device operations. The specs are small values that jqwik can shrink; {@link ArbitraryQueueRun}
 * resolves them against the layout.
 *
 * <p>Several ints encode "relative or raw": a value below {@link #RAW} is resolved relative to the queue (an index
 * modulo the queue size, an offset from next_avail, ...), a value from {@link #RAW} on is taken raw (its low 16
 * bits), so that most scenarios stay meaningful while some are plain garbage.
 */
final class QueueScenarios
{
    /** Values from here on are raw u16s; below it they are relative. */
    static final int RAW = 0x1_0000;

    private QueueScenarios()
    {
    }

    /** Where an address points. */
    enum AddrKind
    {
        /** Inside a region, at the offset modulo its size. */
        IN_REGION,
        /** Up to 63 bytes before a region's end (0: the first byte after it). */
        FROM_END,
        /** Up to 255 bytes below 2^64 - 1. */
        NEAR_TOP,
        /** The offset itself, any 64-bit value. */
        RAW,
        /** Zero. */
        ZERO,
        /** One of the scenario's indirect tables (a region, if there is none). */
        TABLE,
    }

    /**
     * @param kind   where it points.
     * @param pick   which region or table (modulo their count).
     * @param offset the offset (see {@link AddrKind}).
     */
    record AddrSpec(AddrKind kind, int pick, long offset)
    {
    }

    /** How an INDIRECT descriptor is aimed at one of the scenario's indirect tables. */
    enum IndirectAim
    {
        /** Not aimed: its address and length are whatever the spec says. */
        NONE,
        /** Length = 16 * the table's entries. */
        EXACT,
        /** Length = 16 * 65535, the largest table allowed: the walk reads on past the written entries. */
        MAX_ENTRIES,
        /** Length = 16 * 65536: one entry too many. */
        TOO_MANY,
        /** Length not a multiple of 16. */
        UNALIGNED_LEN,
        /** Length 0: an empty table. */
        EMPTY,
    }

    /**
     * @param addr    the buffer address.
     * @param len     the length (a u32 in an int).
     * @param flags   the flags (any u16).
     * @param next    the next field: relative (modulo the entries written) or raw (see {@link #RAW}).
     * @param aim     for an INDIRECT descriptor, how it is aimed at a table.
     */
    record DescSpec(AddrSpec addr, int len, int flags, int next, IndirectAim aim)
    {
    }

    /**
     * @param at      where the table is written (no alignment).
     * @param entries its descriptors.
     * @param loop    true to link the entries into a ring (NEXT set, INDIRECT cleared, entry i to i + 1), so that a
     *                walk only ends when its budget runs out.
     */
    record TableSpec(AddrSpec at, List<DescSpec> entries, boolean loop)
    {
    }

    /**
     * A low region (possibly cut into adjacent pieces), an optional second one after a gap (0: adjacent), an optional
     * one just under 2^64.
     *
     * @param lowBase the low region's base.
     * @param lowSize its size.
     * @param midSize the second region's size, 0 for none.
     * @param midGap  the bytes between the low region's end and the second region.
     * @param topSize the top region's size, 0 for none.
     * @param topGap  the bytes between the top region's end and 2^64 - 1.
     * @param pieces  how many adjacent regions the low region is cut into (more than four regions in all makes
     *                {@code GuestMemory} search them by bisection, and more accesses span a region boundary).
     */
    record LayoutSpec(long lowBase, int lowSize, int midSize, long midGap, int topSize, int topGap, int pieces)
    {
    }

    /** How the three rings are placed. */
    enum Placement
    {
        /** As a driver would: table, then available ring, then used ring, from the start of a region. */
        PACKED,
        /** Each ring at its own arbitrary address (aligned as the queue requires). */
        SCATTERED,
    }

    /**
     * @param placement how the rings are placed.
     * @param desc      the descriptor table (for PACKED: the region and offset of the whole layout).
     * @param avail     the available ring (SCATTERED only).
     * @param used      the used ring (SCATTERED only).
     */
    record RingSpec(Placement placement, AddrSpec desc, AddrSpec avail, AddrSpec used)
    {
    }

    /**
     * @param sizeLog   log2 of the queue size, 0 to 8.
     * @param eventIdx  EVENT_IDX negotiated.
     * @param ready     the queue is ready.
     * @param nextAvail the device's next_avail.
     * @param nextUsed  the device's next_used.
     * @param rings     where the rings are.
     */
    record QueueSpec(int sizeLog, boolean eventIdx, boolean ready, int nextAvail, int nextUsed, RingSpec rings)
    {
    }

    /**
     * What the driver wrote in the available ring.
     *
     * @param flags     avail.flags.
     * @param idx       avail.idx: relative ({@code next_avail + 1 + idx % (size + 1)}, so up to one too many) or raw.
     * @param heads     the ring entries, repeated over the ring: relative (modulo the entries written) or raw.
     * @param usedEvent used_event: relative ({@code next_used + usedEvent % 16 - 8}) or raw.
     */
    record AvailSpec(int flags, int idx, List<Integer> heads, int usedEvent)
    {
    }

    /** A device (or driver) step. */
    enum OpKind
    {
        /** popDescriptorChain until it says no; then walk, parse, read and write every chain taken. */
        POP,
        /** iter() and AvailIter.next until it says no; then the same for every chain taken. */
        ITER,
        /** addUsed(a as a head: relative, raw or -1; b as the length). */
        ADD_USED,
        /** enableNotification. */
        ENABLE,
        /** disableNotification. */
        DISABLE,
        /** needsNotification. */
        NEEDS,
        /** goToPreviousPosition. */
        GO_BACK,
        /** The driver moves avail.idx forward by a modulo (size + 2). */
        PUBLISH,
    }

    /**
     * @param kind what to do.
     * @param a    its first argument.
     * @param b    its second argument.
     */
    record Op(OpKind kind, int a, int b)
    {
    }

    /**
     * @param layout     the guest memory.
     * @param background a seed to fill the regions with garbage before the driver writes, 0 for zeros.
     * @param queue      the queue.
     * @param table      the descriptor table's first entries (the rest is background).
     * @param indirect   indirect tables.
     * @param avail      the available ring.
     * @param ops        the steps.
     * @param dataSeed   a seed for the bytes the device writes and how much it reads and writes.
     */
    record Scenario(LayoutSpec layout, long background, QueueSpec queue, List<DescSpec> table, List<TableSpec> indirect,
                    AvailSpec avail, List<Op> ops, long dataSeed)
    {
    }

    /**
     * @param edgeBiased true to aim most addresses at region ends and the top of the address space.
     * @return scenarios.
     */
    static Arbitrary<Scenario> scenarios(final boolean edgeBiased)
    {
        final Arbitrary<AddrSpec> addresses = addresses(edgeBiased);
        final Arbitrary<DescSpec> descriptors = descriptors(addresses);
        return Combinators.combine(
            layouts(),
            Arbitraries.frequencyOf(List.of(Tuple.of(1, Arbitraries.just(0L)), Tuple.of(2, Arbitraries.longs().filter(seed -> seed != 0)))),
            queues(addresses, edgeBiased),
            descriptors.list().ofMaxSize(64),
            Combinators.combine(addresses, descriptors.list().ofMaxSize(12), Arbitraries.of(false, true)).as(TableSpec::new).list().ofMinSize(1).ofMaxSize(3),
            availRings(),
            ops().list().ofMinSize(1).ofMaxSize(10),
            Arbitraries.longs()).as(Scenario::new);
    }

    static Arbitrary<LayoutSpec> layouts()
    {
        return Combinators.combine(
            Arbitraries.of(0L, 0x1000L, 0xffff_0000L),
            Arbitraries.frequencyOf(List.of(Tuple.of(4, uniform(4096, 24576)), Tuple.of(1, uniform(1, 4095)))),
            Arbitraries.frequencyOf(List.of(Tuple.of(1, Arbitraries.just(0)), Tuple.of(3, uniform(1, 16384)))),
            Arbitraries.of(0L, 0L, 1L, 16L, 0x1000L, 0x1_0000_0000L),
            Arbitraries.frequencyOf(List.of(Tuple.of(1, Arbitraries.just(0)), Tuple.of(2, uniform(1, 8192)))),
            Arbitraries.frequencyOf(List.of(Tuple.of(3, Arbitraries.just(0)), Tuple.of(1, Arbitraries.integers().between(1, 64)))),
            Arbitraries.frequencyOf(List.of(Tuple.of(2, Arbitraries.just(1)), Tuple.of(1, Arbitraries.integers().between(2, 6)))))
            .as(LayoutSpec::new);
    }

    private static Arbitrary<Integer> uniform(final int min, final int max)
    {
        return Arbitraries.integers().between(min, max).withDistribution(RandomDistribution.uniform());
    }

    static Arbitrary<AddrSpec> addresses(final boolean edgeBiased)
    {
        final Arbitrary<AddrKind> kinds = Arbitraries.frequencyOf(List.of(
            Tuple.of(edgeBiased ? 2 : 6, Arbitraries.just(AddrKind.IN_REGION)),
            Tuple.of(edgeBiased ? 6 : 2, Arbitraries.just(AddrKind.FROM_END)),
            Tuple.of(edgeBiased ? 3 : 1, Arbitraries.just(AddrKind.NEAR_TOP)),
            Tuple.of(1, Arbitraries.just(AddrKind.RAW)),
            Tuple.of(1, Arbitraries.just(AddrKind.ZERO)),
            Tuple.of(2, Arbitraries.just(AddrKind.TABLE))));
        return Combinators.combine(kinds, Arbitraries.integers().between(0, 7), Arbitraries.longs()).as(AddrSpec::new);
    }

    static Arbitrary<Integer> lengths()
    {
        return Arbitraries.frequencyOf(List.of(
            Tuple.of(6, Arbitraries.integers().between(0, 64)),
            Tuple.of(2, Arbitraries.integers().between(0, 40_000)),
            Tuple.of(2, Arbitraries.integers().between(0, 24).map(entries -> 16 * entries)),
            Tuple.of(1, Arbitraries.of(-1, Integer.MIN_VALUE, Integer.MAX_VALUE, -16, 16 * 65535, 16 * 65536, 0xffff_f000)),
            Tuple.of(1, Arbitraries.integers())));
    }

    static Arbitrary<Integer> flags()
    {
        final int next = DescriptorLayout.F_NEXT;
        final int write = DescriptorLayout.F_WRITE;
        final int indirect = DescriptorLayout.F_INDIRECT;
        return Arbitraries.frequencyOf(List.of(
            Tuple.of(6, Arbitraries.of(next, next | write)),
            Tuple.of(3, Arbitraries.of(0, write)),
            Tuple.of(3, Arbitraries.of(indirect, indirect | next, indirect | write)),
            Tuple.of(1, Arbitraries.integers().between(0, 0xffff))));
    }

    /** @return u16 values, mostly relative (below {@link #RAW}), some raw. */
    static Arbitrary<Integer> relativeOrRaw(final int relativeMax)
    {
        return Arbitraries.frequencyOf(List.of(
            Tuple.of(8, Arbitraries.integers().between(0, relativeMax)),
            Tuple.of(1, Arbitraries.integers().between(RAW, RAW + 0xffff))));
    }

    static Arbitrary<DescSpec> descriptors(final Arbitrary<AddrSpec> addresses)
    {
        return Combinators.combine(addresses, lengths(), flags(), relativeOrRaw(0xffff),
                Arbitraries.frequencyOf(List.of(Tuple.of(2, Arbitraries.just(IndirectAim.NONE)),
                    Tuple.of(5, Arbitraries.just(IndirectAim.EXACT)),
                    Tuple.of(2, Arbitraries.just(IndirectAim.MAX_ENTRIES)),
                    Tuple.of(1, Arbitraries.of(IndirectAim.TOO_MANY, IndirectAim.UNALIGNED_LEN, IndirectAim.EMPTY)))))
            .as(DescSpec::new);
    }

    static Arbitrary<Integer> ringIndices()
    {
        return Arbitraries.frequencyOf(List.of(
            Tuple.of(2, Arbitraries.integers().between(0, 0xffff)),
            Tuple.of(1, Arbitraries.integers().between(0xffff - 300, 0xffff)),
            Tuple.of(1, Arbitraries.integers().between(0, 300))));
    }

    static Arbitrary<QueueSpec> queues(final Arbitrary<AddrSpec> addresses, final boolean edgeBiased)
    {
        final Arbitrary<Placement> placements = Arbitraries.frequencyOf(List.of(
            Tuple.of(edgeBiased ? 1 : 5, Arbitraries.just(Placement.PACKED)),
            Tuple.of(edgeBiased ? 3 : 1, Arbitraries.just(Placement.SCATTERED))));
        return Combinators.combine(
            Arbitraries.frequencyOf(List.of(Tuple.of(3, Arbitraries.integers().between(0, 4)), Tuple.of(2, Arbitraries.integers().between(5, 8)))),
            Arbitraries.of(true, false),
            Arbitraries.frequencyOf(List.of(Tuple.of(9, Arbitraries.just(true)), Tuple.of(1, Arbitraries.just(false)))),
            ringIndices(),
            ringIndices(),
            Combinators.combine(placements, addresses, addresses, addresses).as(RingSpec::new))
            .as(QueueSpec::new);
    }

    static Arbitrary<AvailSpec> availRings()
    {
        return Combinators.combine(
            Arbitraries.frequencyOf(List.of(Tuple.of(3, Arbitraries.just(0)), Tuple.of(1, Arbitraries.integers().between(0, 0xffff)))),
            relativeOrRaw(0xffff),
            relativeOrRaw(0xffff).list().ofMaxSize(64),
            relativeOrRaw(15))
            .as(AvailSpec::new);
    }

    static Arbitrary<Op> ops()
    {
        final Arbitrary<OpKind> kinds = Arbitraries.frequencyOf(List.of(
            Tuple.of(4, Arbitraries.just(OpKind.POP)),
            Tuple.of(2, Arbitraries.just(OpKind.ITER)),
            Tuple.of(4, Arbitraries.just(OpKind.ADD_USED)),
            Tuple.of(1, Arbitraries.just(OpKind.ENABLE)),
            Tuple.of(1, Arbitraries.just(OpKind.DISABLE)),
            Tuple.of(2, Arbitraries.just(OpKind.NEEDS)),
            Tuple.of(2, Arbitraries.just(OpKind.GO_BACK)),
            Tuple.of(2, Arbitraries.just(OpKind.PUBLISH))));
        final Arbitrary<Integer> heads = Arbitraries.frequencyOf(List.of(
            Tuple.of(8, Arbitraries.integers().between(0, 0xffff)),
            Tuple.of(1, Arbitraries.integers().between(RAW, RAW + 0xffff)),
            Tuple.of(1, Arbitraries.just(-1))));
        return Combinators.combine(kinds, heads, Arbitraries.integers()).as(Op::new);
    }
}
