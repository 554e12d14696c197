package org.virtio4j.conformance;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import org.junit.jupiter.api.Test;
import org.virtio4j.testing.Json;
import org.virtio4j.virtio.QueueException;
import org.virtio4j.virtio.QueueState;
import org.virtio4j.virtio.SplitQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.virtio4j.conformance.Vectors.num;
import static org.virtio4j.conformance.Vectors.u64;

/**
 * Replays vm-virtio's recorded behaviour vectors against our implementation and compares every recorded field.
 * The public vectors are in the test resources; {@code -Dvirtio4j.conformance.vectors=PATH} replays another file
 * too. Prints one line per family and a total; fails on any mismatch.
 */
class VmVirtioConformanceTest
{
    private static final String RESOURCE = "/conformance/vm-virtio/vectors-public.jsonl";
    private static final String PROPERTY = "virtio4j.conformance.vectors";
    private static final int MISMATCHES_SHOWN = 10;

    @Test
    void shouldBehaveLikeVmVirtioOnEveryPublicVector() throws IOException
    {
        try (InputStream in = Objects.requireNonNull(getClass().getResourceAsStream(RESOURCE), RESOURCE))
        {
            final Tally tally = replay(new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8)));
            System.out.println("vm-virtio conformance: " + tally.summary());
            assertEquals(4000, tally.total(), "the public set holds 4000 vectors");
            tally.assertAllMatch();
        }
    }

    @Test
    void shouldReplayTheVectorsFileNamedBySystemProperty() throws IOException
    {
        final String path = System.getProperty(PROPERTY);
        if (path == null || path.isBlank())
        {
            // Nothing extra to replay: the property is how CI or a developer adds a held-out set.
            return;
        }
        try (BufferedReader reader = Files.newBufferedReader(Path.of(path), StandardCharsets.UTF_8))
        {
            final Tally tally = replay(reader);
            System.out.println("vm-virtio conformance (" + path + "): " + tally.summary());
            assertTrue(tally.total() > 0, "no vectors in " + path);
            tally.assertAllMatch();
        }
    }

    @Test
    void shouldDetectAMismatch()
    {
        // The comparison must be able to fail: a vector whose expectation we alter is reported.
        final String line = "{\"family\":\"state\",\"id\":\"altered\",\"input\":{\"max_size\":3,\"next_avail\":0,\"next_used\":0," +
            "\"event_idx_enabled\":false,\"size\":1,\"ready\":false,\"desc_table\":\"0x0\",\"avail_ring\":\"0x0\",\"used_ring\":\"0x0\"}," +
            "\"expect\":{\"err\":\"InvalidSize\"}}";
        final Tally tally = new Tally();
        tally.record(line);
        assertEquals(1, tally.mismatches.size());
        assertTrue(tally.mismatches.getFirst().contains("InvalidMaxSize"), tally.mismatches.getFirst());
    }

    private static Tally replay(final BufferedReader reader) throws IOException
    {
        final Tally tally = new Tally();
        String line;
        while ((line = reader.readLine()) != null)
        {
            if (!line.isBlank())
            {
                tally.record(line);
            }
        }
        return tally;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> run(final String family, final Map<String, Object> input)
    {
        return switch (family)
        {
            case "queue" -> QueueScenario.run(input);
            case "blk_parse" -> ParseScenario.blk(input);
            case "vsock" -> ParseScenario.vsock(input);
            case "state" -> restore(input);
            default -> throw new IllegalArgumentException("unknown family " + family);
        };
    }

    private static Map<String, Object> restore(final Map<String, Object> input)
    {
        final QueueState state = new QueueState(
            num(input.get("max_size")), num(input.get("next_avail")), num(input.get("next_used")),
            (Boolean)input.get("event_idx_enabled"), num(input.get("size")), (Boolean)input.get("ready"),
            u64(input.get("desc_table")), u64(input.get("avail_ring")), u64(input.get("used_ring")));
        try
        {
            return Vectors.map("ok", QueueScenario.state(SplitQueue.restore(state).state()));
        }
        catch (final QueueException e)
        {
            return Vectors.error(e);
        }
    }

    /** Counts per family (the four known ones first), and the mismatches. */
    private static final class Tally
    {
        private final Map<String, int[]> families = new LinkedHashMap<>();

        Tally()
        {
            for (final String family : List.of("queue", "blk_parse", "vsock", "state"))
            {
                families.put(family, new int[2]);
            }
        }
        private final List<String> mismatches = new ArrayList<>();

        @SuppressWarnings("unchecked")
        void record(final String line)
        {
            final Map<String, Object> vector = (Map<String, Object>)Json.parse(line);
            final String family = (String)vector.get("family");
            final int[] counts = families.computeIfAbsent(family, f -> new int[2]);
            counts[1]++;
            final Object expect = vector.get("expect");
            Object actual;
            try
            {
                actual = run(family, (Map<String, Object>)vector.get("input"));
            }
            catch (final RuntimeException e)
            {
                actual = "exception: " + e;
            }
            if (expect.equals(actual))
            {
                counts[0]++;
            }
            else
            {
                mismatches.add(vector.get("id") + ":\n  expected " + expect + "\n  actual   " + actual);
            }
        }

        int total()
        {
            return families.values().stream().mapToInt(c -> c[1]).sum();
        }

        String summary()
        {
            final StringBuilder out = new StringBuilder();
            int matched = 0;
            for (final Map.Entry<String, int[]> entry : families.entrySet())
            {
                if (entry.getValue()[1] == 0)
                {
                    continue;
                }
                out.append(entry.getKey()).append(' ').append(entry.getValue()[0]).append('/').append(entry.getValue()[1]).append(", ");
                matched += entry.getValue()[0];
            }
            return out.append("total ").append(matched).append('/').append(total()).toString();
        }

        void assertAllMatch()
        {
            assertTrue(mismatches.isEmpty(), mismatches.size() + " vectors differ from vm-virtio; the first ones:\n" +
                String.join("\n", mismatches.subList(0, Math.min(MISMATCHES_SHOWN, mismatches.size()))));
        }
    }
}
