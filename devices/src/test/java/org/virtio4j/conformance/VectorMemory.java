package org.virtio4j.conformance;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestRegion;

/**
 * The guest memory of one vector: its regions, zeroed, with the vector's writes applied, and a snapshot of that
 * starting point so that {@link #changes()} can list what the scenario changed.
 */
final class VectorMemory implements AutoCloseable
{
    private static final HexFormat HEX = HexFormat.of();

    private final Arena arena = Arena.ofConfined();
    final GuestMemory memory;
    private final byte[][] initial;

    @SuppressWarnings("unchecked")
    VectorMemory(final Map<String, Object> spec)
    {
        final List<GuestRegion> regions = new ArrayList<>();
        for (final Object o : (List<Object>)spec.get("regions"))
        {
            final Map<String, Object> region = (Map<String, Object>)o;
            final long size = Vectors.u64(region.get("size"));
            regions.add(new GuestRegion(Vectors.u64(region.get("gpa")), arena.allocate(size, 4096)));
        }
        memory = GuestMemory.of(regions);
        for (final Object o : (List<Object>)spec.get("writes"))
        {
            final Map<String, Object> write = (Map<String, Object>)o;
            final byte[] bytes = HEX.parseHex((String)write.get("hex"));
            memory.write(Vectors.u64(write.get("gpa")), bytes, 0, bytes.length);
        }
        initial = new byte[memory.regionCount()][];
        for (int i = 0; i < initial.length; i++)
        {
            initial[i] = memory.segment(i).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** @return the maximal runs of bytes that differ from the starting point, in address order, as the vectors list them. */
    List<Object> changes()
    {
        final List<Object> runs = new ArrayList<>();
        long runStart = 0;
        final StringBuilder runHex = new StringBuilder();
        long runEnd = -1;
        for (int r = 0; r < initial.length; r++)
        {
            final MemorySegment segment = memory.segment(r);
            final long base = memory.base(r);
            final byte[] before = initial[r];
            for (int i = 0; i < before.length; i++)
            {
                final byte now = segment.get(ValueLayout.JAVA_BYTE, i);
                if (now == before[i])
                {
                    continue;
                }
                final long address = base + i;
                if (runHex.length() > 0 && address != runEnd)
                {
                    runs.add(run(runStart, runHex));
                    runHex.setLength(0);
                }
                if (runHex.length() == 0)
                {
                    runStart = address;
                }
                HEX.toHexDigits(runHex, now);
                runEnd = address + 1;
            }
        }
        if (runHex.length() > 0)
        {
            runs.add(run(runStart, runHex));
        }
        return runs;
    }

    private static Map<String, Object> run(final long start, final StringBuilder hex)
    {
        final Map<String, Object> run = new LinkedHashMap<>();
        run.put("gpa", GuestAddress.hex(start));
        run.put("hex", hex.toString());
        return run;
    }

    @Override
    public void close()
    {
        arena.close();
    }
}
