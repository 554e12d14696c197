package org.virtio4j.virtio;

import java.util.ArrayList;
import java.util.List;

import org.virtio4j.memory.GuestAddress;
import org.virtio4j.virtio.QueueScenarios.AddrSpec;
import org.virtio4j.virtio.QueueScenarios.DescSpec;
import org.virtio4j.virtio.QueueScenarios.LayoutSpec;
import org.virtio4j.virtio.QueueScenarios.Scenario;
import org.virtio4j.virtio.QueueScenarios.TableSpec;

import static org.virtio4j.virtio.QueueScenarios.RAW;

/**
 * Resolves a {@link Scenario} against its memory layout and writes the driver's side into guarded guest memory,
 * through the test's own view of memory: the background, the indirect tables, the descriptor table and the
 * available ring. Bytes that fall outside the regions are dropped, as a driver's stores there would never land.
 */
final class ScenarioSetup
{
    private final Scenario scenario;
    private final GuardedMemory guarded;
    private final int size;
    private final long[] tables;
    private final long descTable;
    private final long availRing;
    private final long usedRing;

    /**
     * Allocates the memory and writes the driver's side.
     *
     * @param scenario the scenario.
     */
    ScenarioSetup(final Scenario scenario)
    {
        this.scenario = scenario;
        guarded = layout(scenario.layout());
        guarded.fillRegions(scenario.background());
        size = 1 << scenario.queue().sizeLog();
        tables = new long[scenario.indirect().size()];
        for (int i = 0; i < tables.length; i++)
        {
            tables[i] = address(scenario.indirect().get(i).at());
        }
        final var rings = scenario.queue().rings();
        if (rings.placement() == QueueScenarios.Placement.PACKED)
        {
            final int region = Math.floorMod(rings.desc().pick(), guarded.regionCount());
            descTable = (guarded.base(region) + 15 & -16L) + 16 * Long.remainderUnsigned(rings.desc().offset(), 8);
            availRing = descTable + 16L * size;
            usedRing = availRing + AvailRingLayout.byteSize(size) + 3 & -4L;
        }
        else
        {
            descTable = address(rings.desc()) & -16L;
            availRing = address(rings.avail()) & -2L;
            usedRing = address(rings.used()) & -4L;
        }
        writeDriverSide();
    }

    /** @return the guarded guest memory (owned by the caller, who closes it). */
    GuardedMemory guarded()
    {
        return guarded;
    }

    /** @return the queue size. */
    int size()
    {
        return size;
    }

    /** @return the descriptor table address, 16-byte aligned. */
    long descTable()
    {
        return descTable;
    }

    /** @return the available ring address, 2-byte aligned. */
    long availRing()
    {
        return availRing;
    }

    /** @return the used ring address, 4-byte aligned. */
    long usedRing()
    {
        return usedRing;
    }

    /**
     * @return a queue configured as the scenario says (not yet checked against memory: that is what is tested).
     */
    SplitQueue queue()
    {
        final SplitQueue queue = new SplitQueue(SplitQueue.MAX_QUEUE_SIZE);
        queue.trySetSize(size);
        queue.trySetDescTableAddress(descTable);
        queue.trySetAvailRingAddress(availRing);
        queue.trySetUsedRingAddress(usedRing);
        queue.setEventIdx(scenario.queue().eventIdx());
        queue.setNextAvail(scenario.queue().nextAvail());
        queue.setNextUsed(scenario.queue().nextUsed());
        queue.setReady(scenario.queue().ready());
        return queue;
    }

    private static GuardedMemory layout(final LayoutSpec spec)
    {
        final List<Long> bases = new ArrayList<>();
        final List<Long> sizes = new ArrayList<>();
        final int pieces = Math.min(spec.pieces(), spec.lowSize());
        final long piece = spec.lowSize() / pieces;
        for (int i = 0; i < pieces; i++)
        {
            bases.add(spec.lowBase() + i * piece);
            sizes.add(i < pieces - 1 ? piece : spec.lowSize() - i * piece);
        }
        if (spec.midSize() > 0)
        {
            bases.add(spec.lowBase() + spec.lowSize() + spec.midGap());
            sizes.add((long)spec.midSize());
        }
        if (spec.topSize() > 0)
        {
            bases.add(-1L - spec.topGap() - spec.topSize());
            sizes.add((long)spec.topSize());
        }
        return new GuardedMemory(bases.stream().mapToLong(Long::longValue).toArray(), sizes.stream().mapToLong(Long::longValue).toArray());
    }

    private long address(final AddrSpec spec)
    {
        final int region = Math.floorMod(spec.pick(), guarded.regionCount());
        return switch (spec.kind())
        {
            case IN_REGION -> guarded.base(region) + Long.remainderUnsigned(spec.offset(), guarded.size(region));
            case FROM_END -> guarded.end(region) - Long.remainderUnsigned(spec.offset(), 64);
            case NEAR_TOP -> -1L - Long.remainderUnsigned(spec.offset(), 256);
            case RAW -> spec.offset();
            case ZERO -> 0;
            case TABLE -> tables.length > 0 ? tables[Math.floorMod(spec.pick(), tables.length)]
                : guarded.base(region) + Long.remainderUnsigned(spec.offset(), guarded.size(region));
        };
    }

    private void pokeAt(final long base, final long offset, final long value, final int bytes)
    {
        if (!GuestAddress.addOverflows(base, offset))
        {
            guarded.poke(base + offset, value, bytes);
        }
    }

    private void writeDriverSide()
    {
        for (int t = 0; t < tables.length; t++)
        {
            final TableSpec spec = scenario.indirect().get(t);
            final List<DescSpec> entries = spec.entries();
            for (int i = 0; i < entries.size(); i++)
            {
                DescSpec entry = entries.get(i);
                if (spec.loop())
                {
                    final int flags = entry.flags() & ~DescriptorLayout.F_INDIRECT | DescriptorLayout.F_NEXT;
                    entry = new DescSpec(entry.addr(), entry.len(), flags, (i + 1) % entries.size(), entry.aim());
                }
                writeDescriptor(tables[t], i, entry, entries.size());
            }
        }
        final List<DescSpec> table = scenario.table();
        final int written = Math.min(size, table.size());
        for (int i = 0; i < written; i++)
        {
            writeDescriptor(descTable, i, table.get(i), written);
        }
        final var avail = scenario.avail();
        pokeAt(availRing, AvailRingLayout.FLAGS_OFFSET, avail.flags(), 2);
        final int idx = avail.idx() < RAW ? scenario.queue().nextAvail() + 1 + avail.idx() % (size + 1) : avail.idx();
        pokeAt(availRing, AvailRingLayout.IDX_OFFSET, idx, 2);
        if (!avail.heads().isEmpty())
        {
            final int range = table.isEmpty() ? size : Math.min(size, table.size());
            for (int slot = 0; slot < size; slot++)
            {
                final int head = avail.heads().get(slot % avail.heads().size());
                pokeAt(availRing, AvailRingLayout.RING_OFFSET + 2L * slot, head < RAW ? head % range : head, 2);
            }
        }
        final int usedEvent = avail.usedEvent() < RAW ? scenario.queue().nextUsed() + avail.usedEvent() % 16 - 8 : avail.usedEvent();
        pokeAt(availRing, AvailRingLayout.usedEventOffset(size), usedEvent, 2);
    }

    private void writeDescriptor(final long table, final int index, final DescSpec spec, final int entries)
    {
        long addr = address(spec.addr());
        long len = Integer.toUnsignedLong(spec.len());
        if ((spec.flags() & DescriptorLayout.F_INDIRECT) != 0 && spec.aim() != QueueScenarios.IndirectAim.NONE && tables.length > 0)
        {
            final int t = Math.floorMod(spec.addr().pick(), tables.length);
            final long n = scenario.indirect().get(t).entries().size();
            addr = tables[t];
            len = switch (spec.aim())
            {
                case EXACT, NONE -> 16 * n;
                case MAX_ENTRIES -> 16L * DescriptorLayout.MAX_INDIRECT_ENTRIES;
                case TOO_MANY -> 16L * (DescriptorLayout.MAX_INDIRECT_ENTRIES + 1);
                case UNALIGNED_LEN -> 16 * n + 8;
                case EMPTY -> 0;
            };
        }
        final int next = spec.next() < RAW ? spec.next() % Math.max(1, entries) : spec.next();
        final long at = 16L * index;
        pokeAt(table, at + DescriptorLayout.ADDR_OFFSET, addr, 8);
        pokeAt(table, at + DescriptorLayout.LEN_OFFSET, len, 4);
        pokeAt(table, at + DescriptorLayout.FLAGS_OFFSET, spec.flags(), 2);
        pokeAt(table, at + DescriptorLayout.NEXT_OFFSET, next, 2);
    }
}
