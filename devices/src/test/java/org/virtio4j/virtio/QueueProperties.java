package org.virtio4j.virtio;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.statistics.Statistics;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.QueueScenarios.Scenario;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Properties of the split queue against hostile guests: arbitrary descriptor tables, rings and indices in guarded
 * guest memory (see {@link ArbitraryQueueRun} for everything checked there), plus focused properties for loop
 * bounds, chain buffers to and from files, the used ring's round trip across the 16-bit wrap, and EVENT_IDX
 * notification suppression.
 */
class QueueProperties
{
    private static final int U16 = 1 << 16;
    private static final long QUEUE_BASE = 0x10_0000L;
    private static final int FILE_DATA_SIZE = 0x8000;
    private static final long FILE_REGION_SIZE = 0x8000;

    // ---------------------------------------------------------------------------------------------------------------
    // Arbitrary queues
    // ---------------------------------------------------------------------------------------------------------------

    @Provide
    Arbitrary<Scenario> scenarios()
    {
        return QueueScenarios.scenarios(false);
    }

    @Provide
    Arbitrary<Scenario> edgeScenarios()
    {
        return QueueScenarios.scenarios(true);
    }

    @Property(tries = 300)
    void shouldWalkArbitraryQueuesAsTheReferenceModelSaysWithinBoundsRaisingOnlyQueueExceptions(@ForAll("scenarios") final Scenario scenario)
    {
        try (ArbitraryQueueRun run = new ArbitraryQueueRun(scenario))
        {
            run.run();
        }
        // The generator must keep reaching every common way a chain ends, and buffers the device really uses.
        Statistics.label("chain end").coverage(coverage ->
        {
            for (final ChainEnd end : List.of(ChainEnd.COMPLETE, ChainEnd.TTL_EXPIRED, ChainEnd.INDEX_OUT_OF_RANGE,
                ChainEnd.DESCRIPTOR_NOT_IN_MEMORY, ChainEnd.BAD_INDIRECT_TABLE, ChainEnd.LENGTH_OVERFLOW))
            {
                coverage.check(end).count(n -> n > 0);
            }
        });
        Statistics.label("regions").coverage(coverage -> coverage.check("more than 4").count(n -> n > 0));
        Statistics.label("reader").coverage(coverage -> coverage.check("loaded").percentage(p -> p >= 5));
        Statistics.label("writer").coverage(coverage -> coverage.check("loaded").percentage(p -> p >= 2));
    }

    @Property(tries = 200)
    void shouldTouchNoByteOutsideGuestMemoryWhenRingsAndBuffersStraddleRegionEnds(@ForAll("edgeScenarios") final Scenario scenario)
    {
        try (ArbitraryQueueRun run = new ArbitraryQueueRun(scenario))
        {
            run.run();
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Loop bounds
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * A chain whose descriptors loop forever is cut after as many descriptors as its tables allow: the queue size
     * for a direct loop, the direct prefix plus the indirect table's declared entries (up to 65535) for a loop
     * inside an indirect table.
     */
    @Property(tries = 100)
    void shouldCutLoopingChainsAfterAsManyDescriptorsAsTheirTablesHold(
        @ForAll @IntRange(min = 0, max = 8) final int sizeLog,
        @ForAll @IntRange(min = 0, max = 255) final int prefixSeed,
        @ForAll @IntRange(min = 1, max = DescriptorLayout.MAX_INDIRECT_ENTRIES) final int declaredEntries,
        @ForAll @IntRange(min = 1, max = 16) final int loopLength,
        @ForAll final boolean viaIndirect)
    {
        final int size = 1 << sizeLog;
        final long data = QUEUE_BASE + DriverQueue.layoutBytes(size) + 15 & -16L;
        final long indirectTable = data + 0x1000;
        try (GuardedMemory guarded = new GuardedMemory(new long[]{QUEUE_BASE}, new long[]{indirectTable + 16L * 16 - QUEUE_BASE}))
        {
            final GuestMemory memory = guarded.memory();
            final DriverQueue driver = new DriverQueue(memory, QUEUE_BASE, size);
            final SplitQueue queue = driver.configure(new SplitQueue(size));
            final int expected;
            if (viaIndirect)
            {
                final int prefix = prefixSeed % size;
                for (int i = 0; i < prefix; i++)
                {
                    driver.writeDescriptor(i, data, 1, DescriptorLayout.F_NEXT, i + 1);
                }
                driver.writeDescriptor(prefix, indirectTable, 16 * declaredEntries, DescriptorLayout.F_INDIRECT, 0);
                final int loop = Math.min(loopLength, declaredEntries);
                for (int j = 0; j < loop; j++)
                {
                    memory.putU64(indirectTable + 16L * j, data);
                    memory.putU32(indirectTable + 16L * j + 8, 1);
                    memory.putU16(indirectTable + 16L * j + 12, DescriptorLayout.F_NEXT | DescriptorLayout.F_WRITE);
                    memory.putU16(indirectTable + 16L * j + 14, (j + 1) % loop);
                }
                expected = prefix + declaredEntries;
            }
            else
            {
                for (int i = 0; i < size; i++)
                {
                    driver.writeDescriptor(i, data, 1, DescriptorLayout.F_NEXT, (i + 1) % size);
                }
                expected = size;
            }
            driver.makeAvailable(0);
            final DescriptorChain chain = new DescriptorChain();
            assertTrue(queue.popDescriptorChain(memory, chain), "the looping chain is available");
            int count = 0;
            while (chain.next())
            {
                count++;
                if (count > size + DescriptorLayout.MAX_INDIRECT_ENTRIES)
                {
                    fail("a chain of a size-" + size + " queue yielded more than size + 65535 descriptors");
                }
            }
            assertEquals(expected, count, "descriptors yielded by the looping chain");
            assertEquals(ChainEnd.TTL_EXPIRED, chain.end(), "why the looping chain ended");
            assertEquals(expected, chain.yieldedBytes(), "length of the looping chain");
            assertFalse(queue.popDescriptorChain(memory, chain), "a pop loop ends after the one available chain");
            guarded.assertGuardsIntact("walking a looping chain");
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Chain buffers and files
    // ---------------------------------------------------------------------------------------------------------------

    /** One buffer of a chain. @param offset where in the data area. @param len its length. @param writable its direction. */
    record Buffer(int offset, int len, boolean writable)
    {
    }

    @Provide
    Arbitrary<List<Buffer>> buffers()
    {
        return Combinators.combine(Arbitraries.integers().between(0, FILE_DATA_SIZE - 1), Arbitraries.integers().between(0, 3000),
                Arbitraries.of(true, false))
            .as((offset, len, writable) -> new Buffer(Math.min(offset, FILE_DATA_SIZE - len), len, writable))
            .list().ofMinSize(1).ofMaxSize(8);
    }

    /**
     * writeFromFile fills exactly the chain's writable bytes with the file's bytes from a position, stopping at the
     * end of the file or of the buffers; readToFile puts exactly the chain's readable bytes in the file. The data
     * area spans two adjacent regions, so buffers split into slices; nothing else in memory changes.
     */
    @Property(tries = 60)
    void shouldMoveFileBytesIntoAndOutOfExactlyTheChainsBuffers(
        @ForAll("buffers") final List<Buffer> buffers,
        @ForAll @IntRange(min = 0, max = 20000) final int fileLength,
        @ForAll @IntRange(min = 0, max = 6000) final int filePosition,
        @ForAll @IntRange(min = 0, max = 30000) final int requested,
        @ForAll final long seed) throws IOException
    {
        final long data = QUEUE_BASE + 0x1000;
        final Path file = Files.createTempFile("virtio4j-chain", ".bin");
        try (GuardedMemory guarded = new GuardedMemory(new long[]{QUEUE_BASE, QUEUE_BASE + FILE_REGION_SIZE},
                new long[]{FILE_REGION_SIZE, FILE_REGION_SIZE});
             FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            final GuestMemory memory = guarded.memory();
            final SplittableRandom random = new SplittableRandom(seed);
            final byte[] background = new byte[FILE_DATA_SIZE];
            random.nextBytes(background);
            memory.write(data, background, 0, background.length);
            final byte[] fileBytes = new byte[fileLength];
            random.nextBytes(fileBytes);
            channel.write(ByteBuffer.wrap(fileBytes), 0);

            final DriverQueue driver = new DriverQueue(memory, QUEUE_BASE, 8);
            final SplitQueue queue = driver.configure(new SplitQueue(8));
            final DriverBuffer[] chainBuffers = buffers.stream().map(b -> new DriverBuffer(data + b.offset(), b.len(), b.writable())).toArray(DriverBuffer[]::new);
            driver.addChain(chainBuffers);
            final DescriptorChain chain = new DescriptorChain();
            assertTrue(queue.popDescriptorChain(memory, chain), "the chain is available");
            final ReferenceChain model = ReferenceChain.walk(guarded, driver.descTable(), 8, chain.headIndex());

            // Into the guest.
            final List<ReferenceChain.Descriptor> writable = model.buffers(true);
            final long writableBytes = writable.stream().mapToLong(ReferenceChain.Descriptor::len).sum();
            final ChainWriter writer = new ChainWriter().load(memory, chain);
            final byte[] expected = guarded.snapshot();
            final long moved = writer.writeFromFile(channel, filePosition, requested);
            final long expectedMoved = Math.min(Math.min(requested, writableBytes), Math.max(0, fileLength - filePosition));
            assertEquals(expectedMoved, moved, "bytes moved from the file");
            assertEquals(moved, writer.bytesWritten(), "bytesWritten after writeFromFile");
            final long[] into = ReferenceChain.streamAddresses(writable, 0, (int)moved);
            for (int i = 0; i < moved; i++)
            {
                expected[(int)guarded.hostOffset(into[i])] = fileBytes[filePosition + i];
            }
            guarded.assertEquals(expected, "writeFromFile into " + writable);

            // Out of the guest.
            final List<ReferenceChain.Descriptor> readable = model.buffers(false);
            final long readableBytes = readable.stream().mapToLong(ReferenceChain.Descriptor::len).sum();
            final ChainReader reader = new ChainReader().load(memory, chain);
            final long written = reader.readToFile(channel, filePosition, requested);
            assertEquals(Math.min(requested, readableBytes), written, "bytes moved to the file");
            assertEquals(written, reader.bytesRead(), "bytesRead after readToFile");
            final ByteBuffer back = ByteBuffer.allocate((int)written);
            while (back.hasRemaining() && channel.read(back, filePosition + back.position()) >= 0)
            {
                // Read until full: the bytes were just written, so they are all there.
            }
            final long[] from = ReferenceChain.streamAddresses(readable, 0, (int)written);
            for (int i = 0; i < written; i++)
            {
                assertEquals(guarded.peekU8(from[i]), Byte.toUnsignedInt(back.get(i)), "file byte " + (filePosition + i) + " from guest " + from[i]);
            }
            guarded.assertEquals(expected, "readToFile (which must not change guest memory)");
            guarded.assertGuardsIntact("moving file bytes");
        }
        finally
        {
            Files.deleteIfExists(file);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The used ring, as the driver reads it
    // ---------------------------------------------------------------------------------------------------------------

    /** A used element the device adds. @param head the head index, modulo the queue size. @param len its length. */
    record Used(int head, int len)
    {
    }

    /**
     * Used elements and where next_used starts: mostly close enough below 65536 that the elements carry it past
     * the wrap.
     *
     * @param start    next_used before the first element.
     * @param elements the elements, in the order the device adds them.
     */
    record UsedRun(int start, List<Used> elements)
    {
    }

    @Provide
    Arbitrary<UsedRun> usedRuns()
    {
        final Arbitrary<List<Used>> elements =
            Combinators.combine(Arbitraries.integers().between(0, 0xffff), Arbitraries.integers()).as(Used::new).list().ofMinSize(1).ofMaxSize(600);
        return elements.flatMap(list -> Arbitraries.frequencyOf(List.of(
                Tuple.of(3, Arbitraries.integers().between(U16 - list.size(), U16 - 1)),
                Tuple.of(1, Arbitraries.integers().between(0, U16 - 1))))
            .map(start -> new UsedRun(start, list)));
    }

    @Provide
    Arbitrary<Integer> indicesNearWrap()
    {
        return Arbitraries.frequencyOf(List.of(
            Tuple.of(3, Arbitraries.integers().between(U16 - 600, U16 - 1)),
            Tuple.of(1, Arbitraries.integers().between(0, U16 - 1))));
    }

    @Property(tries = 300)
    void shouldShowTheDriverEveryUsedElementInOrderAcrossTheWrapOfNextUsed(
        @ForAll @IntRange(min = 0, max = 8) final int sizeLog,
        @ForAll("usedRuns") final UsedRun run)
    {
        final int size = 1 << sizeLog;
        final int start = run.start();
        final List<Used> elements = run.elements();
        try (GuardedMemory guarded = new GuardedMemory(new long[]{QUEUE_BASE}, new long[]{DriverQueue.layoutBytes(size)}))
        {
            final GuestMemory memory = guarded.memory();
            final DriverQueue driver = new DriverQueue(memory, QUEUE_BASE, size);
            final SplitQueue queue = driver.configure(new SplitQueue(size));
            queue.setNextUsed(start);
            for (int i = 0; i < elements.size(); i++)
            {
                final int position = RingIndex.wrap(start + i);
                final Used element = elements.get(i);
                queue.addUsed(memory, element.head() % size, element.len());
                assertEquals(RingIndex.wrap(position + 1), driver.usedIdx(), "used.idx after element " + i);
                assertEquals(element.head() % size, driver.usedId(position), "id of element " + i);
                assertEquals(element.len(), driver.usedLen(position), "len of element " + i);
            }
            // The ring still holds the last `size` elements, in order.
            for (int i = Math.max(0, elements.size() - size); i < elements.size(); i++)
            {
                final int position = RingIndex.wrap(start + i);
                assertEquals(elements.get(i).head() % size, driver.usedId(position), "id of element " + i + " at the end");
                assertEquals(elements.get(i).len(), driver.usedLen(position), "len of element " + i + " at the end");
            }
            guarded.assertGuardsIntact("adding used elements");
            Statistics.label("next_used wrapped").collect(start + elements.size() >= U16);
        }
        Statistics.label("next_used wrapped").coverage(coverage -> coverage.check(true).percentage(p -> p >= 25));
    }

    /**
     * The whole round trip, many times over: the driver adds chains, the device pops them and returns them in a
     * shuffled order with arbitrary lengths, the driver's pollUsed sees exactly that order, and frees them. Runs past
     * 65536 chains so that every index wraps.
     */
    @Property(tries = 4)
    void shouldHandEveryChainBackThroughPollUsedInTheDevicesOrderAcrossTheWrap(
        @ForAll @IntRange(min = 0, max = 8) final int sizeLog,
        @ForAll final long seed)
    {
        final int size = 1 << sizeLog;
        final SplittableRandom random = new SplittableRandom(seed);
        final long data = QUEUE_BASE + DriverQueue.layoutBytes(size) + 15 & -16L;
        try (GuardedMemory guarded = new GuardedMemory(new long[]{QUEUE_BASE}, new long[]{data + 4096 - QUEUE_BASE}))
        {
            final GuestMemory memory = guarded.memory();
            final DriverQueue driver = new DriverQueue(memory, QUEUE_BASE, size);
            final SplitQueue queue = driver.configure(new SplitQueue(size));
            final DescriptorChain chain = new DescriptorChain();
            final List<Integer> heads = new ArrayList<>();
            long returned = 0;
            while (returned < U16 + 2L * size)
            {
                final int batch = 1 + random.nextInt(driver.freeDescriptors());
                for (int i = 0; i < batch; i++)
                {
                    driver.addChain(DriverBuffer.writable(data + random.nextInt(4096), 0));
                }
                heads.clear();
                while (queue.popDescriptorChain(memory, chain))
                {
                    heads.add(chain.headIndex());
                }
                assertEquals(batch, heads.size(), "chains popped of a batch");
                Collections.shuffle(heads, new Random(random.nextLong()));
                final int[] lens = new int[batch];
                for (int i = 0; i < batch; i++)
                {
                    lens[i] = random.nextInt();
                    queue.addUsed(memory, heads.get(i), lens[i]);
                }
                for (int i = 0; i < batch; i++)
                {
                    assertTrue(driver.pollUsed(), "element " + i + " of a batch of " + batch + " after " + returned);
                    assertEquals(heads.get(i), driver.lastUsedId(), "id of element " + i + " after " + returned);
                    assertEquals(lens[i], driver.lastUsedLen(), "len of element " + i + " after " + returned);
                }
                assertFalse(driver.pollUsed(), "no more used elements than the device added");
                returned += batch;
            }
            assertEquals(size, driver.freeDescriptors(), "every descriptor back on the driver's free list");
            assertEquals(RingIndex.wrap((int)returned), driver.usedIdx(), "used.idx after " + returned + " chains");
            assertEquals(RingIndex.wrap((int)returned), queue.nextUsed(), "next_used after " + returned + " chains");
            guarded.assertGuardsIntact("the round trip");
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Notification suppression
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * Linux's {@code vring_need_event}, written from its meaning rather than its formula: after moving an index from
     * {@code old} to {@code newIdx}, notify iff {@code event} is one of the indices passed, {@code old, old + 1, ...,
     * newIdx - 1} (mod 2^16).
     */
    static boolean vringNeedEvent(final int event, final int newIdx, final int old)
    {
        final int passed = Math.floorMod(newIdx - old, U16);
        final int eventAfterOld = Math.floorMod(event - old, U16);
        return eventAfterOld < passed;
    }

    @Property(tries = 1000)
    void shouldAgreeWithVringNeedEventOnEveryIndexTriple(
        @ForAll @IntRange(min = 0, max = U16 - 1) final int event,
        @ForAll @IntRange(min = 0, max = U16 - 1) final int newIdx,
        @ForAll @IntRange(min = 0, max = U16 - 1) final int old)
    {
        assertEquals(vringNeedEvent(event, newIdx, old), RingIndex.needsEvent(event, newIdx, old),
            "needsEvent(event=" + event + ", new=" + newIdx + ", old=" + old + ")");
    }

    @Example
    void shouldNeedEventForExactlyTheIndicesTheMovePassed()
    {
        final int[][] moves = {{0, 0}, {0, 1}, {65535, 0}, {65530, 5}, {100, 300}, {1, 0}, {40000, 39999}};
        for (final int[] move : moves)
        {
            final int old = move[0];
            final int newIdx = move[1];
            final boolean[] passed = new boolean[U16];
            for (int index = old; index != newIdx; index = (index + 1) % U16)
            {
                passed[index] = true;
            }
            for (int event = 0; event < U16; event++)
            {
                assertEquals(passed[event], RingIndex.needsEvent(event, newIdx, old), "event=" + event + " old=" + old + " new=" + newIdx);
                assertEquals(passed[event], vringNeedEvent(event, newIdx, old), "the model, event=" + event + " old=" + old + " new=" + newIdx);
            }
        }
    }

    /**
     * One notification step.
     *
     * @param adds      used elements the device adds first.
     * @param usedEvent the driver's used_event: relative to next_used before the adds (below {@link QueueScenarios#RAW})
     *                  or raw.
     * @param eventIdx  whether EVENT_IDX is on for the needsNotification call.
     */
    record NotifyStep(int adds, int usedEvent, boolean eventIdx)
    {
    }

    @Provide
    Arbitrary<List<NotifyStep>> notifySteps()
    {
        final Arbitrary<Integer> adds = Arbitraries.frequencyOf(List.of(
            Tuple.of(30, Arbitraries.integers().between(0, 40)),
            Tuple.of(1, Arbitraries.integers().between(U16 - 3, U16 + 3))));
        final Arbitrary<Integer> events = Arbitraries.frequencyOf(List.of(
            Tuple.of(5, Arbitraries.integers().between(0, 60)),
            Tuple.of(1, Arbitraries.integers().between(QueueScenarios.RAW, QueueScenarios.RAW + 0xffff))));
        final Arbitrary<Boolean> eventIdx = Arbitraries.frequencyOf(List.of(
            Tuple.of(4, Arbitraries.just(true)), Tuple.of(1, Arbitraries.just(false))));
        return Combinators.combine(adds, events, eventIdx).as(NotifyStep::new).list().ofMinSize(1).ofMaxSize(12);
    }

    @Property(tries = 300)
    void shouldNotifyWithEventIdxExactlyWhenUsedIdxPassesUsedEventAndAlwaysWithout(
        @ForAll @IntRange(min = 0, max = 8) final int sizeLog,
        @ForAll("indicesNearWrap") final int start,
        @ForAll("notifySteps") final List<NotifyStep> steps)
    {
        final int size = 1 << sizeLog;
        try (GuardedMemory guarded = new GuardedMemory(new long[]{QUEUE_BASE}, new long[]{DriverQueue.layoutBytes(size)}))
        {
            final GuestMemory memory = guarded.memory();
            final DriverQueue driver = new DriverQueue(memory, QUEUE_BASE, size);
            final SplitQueue queue = driver.configure(new SplitQueue(size));
            queue.setNextUsed(start);
            int nextUsed = start;
            int lastNotified = start;
            for (final NotifyStep step : steps)
            {
                final int event = step.usedEvent() < QueueScenarios.RAW ? RingIndex.wrap(nextUsed + step.usedEvent() - 8) : step.usedEvent() & 0xffff;
                driver.setUsedEvent(event);
                for (int i = 0; i < step.adds(); i++)
                {
                    queue.addUsed(memory, i % size, i);
                }
                nextUsed = RingIndex.wrap(nextUsed + step.adds());
                queue.setEventIdx(step.eventIdx());
                final boolean notify = queue.needsNotification(memory);
                if (!step.eventIdx())
                {
                    assertTrue(notify, "needsNotification without EVENT_IDX");
                    continue;
                }
                assertEquals(vringNeedEvent(event, nextUsed, lastNotified), notify,
                    "needsNotification(used_event=" + event + ", next_used=" + nextUsed + ", at last call " + lastNotified + ")");
                lastNotified = nextUsed;
                Statistics.label("notified with EVENT_IDX").collect(notify);
            }
            assertEquals(nextUsed, queue.nextUsed(), "next_used");
            guarded.assertGuardsIntact("needsNotification");
        }
        Statistics.label("notified with EVENT_IDX").coverage(coverage ->
        {
            coverage.check(true).percentage(p -> p >= 10);
            coverage.check(false).percentage(p -> p >= 10);
        });
    }
}
