package org.virtio4j.virtio;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import net.jqwik.api.statistics.Statistics;
import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.QueueScenarios.Op;
import org.virtio4j.virtio.QueueScenarios.Scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.virtio4j.virtio.Outcomes.attempt;
import static org.virtio4j.virtio.Outcomes.mustNotThrow;
import static org.virtio4j.virtio.QueueScenarios.RAW;

/**
 * Runs one arbitrary {@link Scenario} against a {@link SplitQueue} and checks, after every step:
 * <ul>
 *   <li>only {@link QueueException} is raised (popDescriptorChain, chain walks and the parsers raise nothing);</li>
 *   <li>every loop ends within its bound: a pop or iter loop takes at most {@code size} chains, a chain yields at
 *       most {@code size + 65535} descriptors ({@link ChainChecks});</li>
 *   <li>isValid, next_avail, next_used, errors, notification answers and ring stores agree with a model kept here, read
 *       through the test's own view of memory;</li>
 *   <li>every chain taken passes {@link ChainChecks};</li>
 *   <li>no guard byte around the regions changes.</li>
 * </ul>
 */
final class ArbitraryQueueRun implements AutoCloseable
{
    private final Scenario scenario;
    private final GuardedMemory guarded;
    private final GuestMemory memory;
    private final int size;
    private final long descTable;
    private final long availRing;
    private final long usedRing;
    private final boolean eventIdx;
    private final boolean ready;
    private final SplitQueue queue;
    private final ChainChecks chainChecks;

    private int nextAvail;
    private int nextUsed;
    private int numAdded;

    ArbitraryQueueRun(final Scenario scenario)
    {
        this.scenario = scenario;
        final ScenarioSetup setup = new ScenarioSetup(scenario);
        guarded = setup.guarded();
        memory = guarded.memory();
        size = setup.size();
        descTable = setup.descTable();
        availRing = setup.availRing();
        usedRing = setup.usedRing();
        eventIdx = scenario.queue().eventIdx();
        ready = scenario.queue().ready();
        nextAvail = scenario.queue().nextAvail();
        nextUsed = scenario.queue().nextUsed();
        queue = setup.queue();
        chainChecks = new ChainChecks(guarded, descTable, size, new SplittableRandom(scenario.dataSeed()));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The steps
    // ---------------------------------------------------------------------------------------------------------------

    /** Runs every step, checking after each. */
    void run()
    {
        guarded.assertGuardsIntact("setting up " + guarded);
        final boolean valid = ready && guarded.covered(descTable, 16L * size) && guarded.covered(availRing, AvailRingLayout.byteSize(size)) &&
            guarded.covered(usedRing, UsedRingLayout.byteSize(size));
        final boolean[] isValid = new boolean[1];
        mustNotThrow("isValid", () -> isValid[0] = queue.isValid(memory));
        assertEquals(valid, isValid[0], "isValid of a queue with ready=" + ready + " desc=" + GuestAddress.hex(descTable) +
            " avail=" + GuestAddress.hex(availRing) + " used=" + GuestAddress.hex(usedRing) + " size=" + size + " in " + guarded);
        final QueueError startError = iterError();
        Statistics.label("regions").collect(guarded.regionCount() > 4 ? "more than 4" : "up to 4");
        Statistics.label("available at start").collect(startError != null ? startError : exposed() == 0 ? "none" : "some");
        for (final Op op : scenario.ops())
        {
            final String step = op + " on queue size=" + size + " desc=" + GuestAddress.hex(descTable) + " avail=" +
                GuestAddress.hex(availRing) + " used=" + GuestAddress.hex(usedRing) + " in " + guarded;
            switch (op.kind())
            {
                case POP -> pop();
                case ITER -> iter();
                case ADD_USED -> addUsed(op.a() == -1 ? -1 : op.a() < RAW ? op.a() % size : op.a() & 0xffff, op.b());
                case ENABLE -> enable();
                case DISABLE -> disable();
                case NEEDS -> needs();
                case GO_BACK ->
                {
                    queue.goToPreviousPosition();
                    nextAvail = RingIndex.previous(nextAvail);
                }
                case PUBLISH -> publish(op.a());
            }
            assertEquals(nextAvail, queue.nextAvail(), "next_avail after " + step);
            assertEquals(nextUsed, queue.nextUsed(), "next_used after " + step);
            guarded.assertGuardsIntact(step);
        }
    }

    /** The model of a ring-index access: ring + offset must not pass 2^64, and both bytes lie in one region. */
    private QueueError atomicU16(final long ring, final long offset)
    {
        if (GuestAddress.addOverflows(ring, offset))
        {
            return QueueError.ADDRESS_OVERFLOW;
        }
        return guarded.inOneRegion(ring + offset, 2) ? null : QueueError.GUEST_MEMORY;
    }

    private QueueError iterError()
    {
        if (!ready || availRing == 0)
        {
            return QueueError.NOT_READY;
        }
        final QueueError error = atomicU16(availRing, AvailRingLayout.IDX_OFFSET);
        if (error != null)
        {
            return error;
        }
        return exposed() > size ? QueueError.TOO_MANY_AVAILABLE : null;
    }

    private int exposed()
    {
        return RingIndex.distance((int)guarded.peek(availRing + AvailRingLayout.IDX_OFFSET, 2), nextAvail);
    }

    /** @return the head the entry at next_avail holds, or -1 if it cannot be read. */
    private int headAtNextAvail()
    {
        final long offset = AvailRingLayout.RING_OFFSET + 2L * (nextAvail & size - 1);
        return atomicU16(availRing, offset) == null ? (int)guarded.peek(availRing + offset, 2) : -1;
    }

    private void pop()
    {
        final List<DescriptorChain> chains = new ArrayList<>();
        for (int i = 0; i <= size; i++)
        {
            final int expected = iterError() == null && exposed() > 0 ? headAtNextAvail() : -1;
            final DescriptorChain chain = new DescriptorChain();
            final boolean[] popped = new boolean[1];
            mustNotThrow("popDescriptorChain", () -> popped[0] = queue.popDescriptorChain(memory, chain));
            assertEquals(expected >= 0, popped[0], "popDescriptorChain took a chain (pop " + i + ")");
            if (!popped[0])
            {
                break;
            }
            assertEquals(expected, chain.headIndex(), "head of popped chain " + i);
            nextAvail = RingIndex.next(nextAvail);
            chains.add(chain);
        }
        assertTrue(chains.size() <= size, "a pop loop took " + chains.size() + " chains from a queue of size " + size);
        Statistics.label("op").collect("pop took " + (chains.isEmpty() ? "none" : "some"));
        chains.forEach(chainChecks::check);
    }

    private void iter()
    {
        final QueueError expectedError = iterError();
        final AvailIter[] iter = new AvailIter[1];
        final QueueError error = attempt("iter", () -> iter[0] = queue.iter(memory));
        assertEquals(expectedError, error, "iter error");
        Statistics.label("op").collect("iter " + error);
        if (error != null)
        {
            return;
        }
        final int exposed = exposed();
        assertEquals(exposed, iter[0].remaining(), "remaining after iter");
        assertEquals(RingIndex.wrap(nextAvail + exposed), iter[0].lastIndex(), "lastIndex after iter");
        final List<DescriptorChain> chains = new ArrayList<>();
        for (int i = 0; i <= size; i++)
        {
            final int expected = i < exposed ? headAtNextAvail() : -1;
            final DescriptorChain chain = new DescriptorChain();
            final boolean[] taken = new boolean[1];
            assertEquals(null, attempt("AvailIter.next", () -> taken[0] = iter[0].next(chain)), "AvailIter.next error");
            assertEquals(expected >= 0, taken[0], "AvailIter.next took a chain (step " + i + ")");
            if (!taken[0])
            {
                break;
            }
            assertEquals(expected, chain.headIndex(), "head of iterated chain " + i);
            nextAvail = RingIndex.next(nextAvail);
            assertEquals(exposed - i - 1, iter[0].remaining(), "remaining after step " + i);
            chains.add(chain);
        }
        assertTrue(chains.size() <= size, "an iter loop took " + chains.size() + " chains from a queue of size " + size);
        chains.forEach(chainChecks::check);
    }

    private void addUsed(final int head, final int len)
    {
        final long element = UsedRingLayout.RING_OFFSET + 8L * (nextUsed & size - 1);
        final QueueError expected;
        boolean advances = false;
        if (head < 0 || head >= size)
        {
            expected = QueueError.INVALID_DESCRIPTOR_INDEX;
        }
        else if (GuestAddress.addOverflows(usedRing, element))
        {
            expected = QueueError.ADDRESS_OVERFLOW;
        }
        else if (!guarded.covered(usedRing + element, 8))
        {
            expected = QueueError.GUEST_MEMORY;
        }
        else
        {
            advances = true;
            expected = atomicU16(usedRing, UsedRingLayout.IDX_OFFSET);
        }
        final QueueError error = attempt("addUsed", () -> queue.addUsed(memory, head, len));
        assertEquals(expected, error, "addUsed(" + head + ", " + len + ") error");
        Statistics.label("op").collect("addUsed " + error);
        if (advances)
        {
            nextUsed = RingIndex.next(nextUsed);
            numAdded = RingIndex.next(numAdded);
            assertEquals(head, (int)guarded.peek(usedRing + element, 4), "used element id");
            assertEquals(len, (int)guarded.peek(usedRing + element + UsedRingLayout.ELEMENT_LEN_OFFSET, 4), "used element len");
        }
        if (expected == null)
        {
            assertEquals(nextUsed, (int)guarded.peek(usedRing + UsedRingLayout.IDX_OFFSET, 2), "used.idx");
        }
    }

    private void enable()
    {
        final long field = eventIdx ? UsedRingLayout.availEventOffset(size) : UsedRingLayout.FLAGS_OFFSET;
        final QueueError writeError = atomicU16(usedRing, field);
        final QueueError expected = writeError != null ? writeError : atomicU16(availRing, AvailRingLayout.IDX_OFFSET);
        final boolean[] more = new boolean[1];
        final QueueError error = attempt("enableNotification", () -> more[0] = queue.enableNotification(memory));
        assertEquals(expected, error, "enableNotification error");
        Statistics.label("op").collect("enableNotification " + error);
        if (writeError == null)
        {
            assertEquals(eventIdx ? nextAvail : 0, (int)guarded.peek(usedRing + field, 2), eventIdx ? "avail_event" : "used.flags");
        }
        if (expected == null)
        {
            assertEquals((int)guarded.peek(availRing + AvailRingLayout.IDX_OFFSET, 2) != nextAvail, more[0], "enableNotification answer");
        }
    }

    private void disable()
    {
        final byte[] before = guarded.snapshot();
        final QueueError expected = eventIdx ? null : atomicU16(usedRing, UsedRingLayout.FLAGS_OFFSET);
        final QueueError error = attempt("disableNotification", () -> queue.disableNotification(memory));
        assertEquals(expected, error, "disableNotification error");
        if (eventIdx)
        {
            guarded.assertEquals(before, "disableNotification with EVENT_IDX (a no-op)");
        }
        else if (expected == null)
        {
            assertEquals(UsedRingLayout.F_NO_NOTIFY, (int)guarded.peek(usedRing + UsedRingLayout.FLAGS_OFFSET, 2), "used.flags");
        }
    }

    private void needs()
    {
        final QueueError expected = eventIdx ? atomicU16(availRing, AvailRingLayout.usedEventOffset(size)) : null;
        final boolean[] notify = new boolean[1];
        final QueueError error = attempt("needsNotification", () -> notify[0] = queue.needsNotification(memory));
        assertEquals(expected, error, "needsNotification error");
        Statistics.label("op").collect("needsNotification " + error);
        if (!eventIdx)
        {
            assertTrue(notify[0], "needsNotification without EVENT_IDX");
            return;
        }
        if (expected == null)
        {
            final int usedEvent = (int)guarded.peek(availRing + AvailRingLayout.usedEventOffset(size), 2);
            final int old = RingIndex.wrap(nextUsed - numAdded);
            assertEquals(QueueProperties.vringNeedEvent(usedEvent, nextUsed, old), notify[0],
                "needsNotification(used_event=" + usedEvent + ", next_used=" + nextUsed + ", old=" + old + ")");
            numAdded = 0;
        }
    }

    private void publish(final int a)
    {
        if (atomicU16(availRing, AvailRingLayout.IDX_OFFSET) == null)
        {
            final long idx = guarded.peek(availRing + AvailRingLayout.IDX_OFFSET, 2);
            guarded.poke(availRing + AvailRingLayout.IDX_OFFSET, idx + Math.floorMod(a, size + 2), 2);
        }
    }

    @Override
    public void close()
    {
        guarded.close();
    }
}
