package org.virtio4j.virtio;

import java.util.Arrays;
import java.util.List;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.statistics.Statistics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Properties of queue state snapshots: the codec round-trips, rejects every corruption and truncation, and a
 * restored queue either is exactly the snapshot or is refused for the first rule the snapshot breaks.
 */
class QueueStateProperties
{
    private static final int U16_MAX = 0xffff;

    /** Three ring addresses. @param desc the table. @param avail the available ring. @param used the used ring. */
    record Rings(long desc, long avail, long used)
    {
    }

    @Provide
    Arbitrary<QueueState> states()
    {
        final Arbitrary<Integer> sizes = Arbitraries.frequencyOf(List.of(
            Tuple.of(4, Arbitraries.integers().between(0, 15).map(log -> 1 << log)),
            Tuple.of(1, Arbitraries.integers().between(0, U16_MAX))));
        final Arbitrary<Integer> indices = Arbitraries.integers().between(0, U16_MAX);
        final Arbitrary<Rings> rings = Combinators.combine(address(16), address(2), address(4)).as(Rings::new);
        return Combinators.combine(sizes, indices, indices, Arbitraries.of(true, false), sizes, Arbitraries.of(true, false), rings)
            .as((maxSize, nextAvail, nextUsed, eventIdx, size, ready, r) ->
                new QueueState(maxSize, nextAvail, nextUsed, eventIdx, size, ready, r.desc(), r.avail(), r.used()));
    }

    /** @return addresses, mostly aligned to {@code alignment}. */
    private static Arbitrary<Long> address(final int alignment)
    {
        return Arbitraries.frequencyOf(List.of(
            Tuple.of(4, Arbitraries.longs().map(a -> a & -alignment)),
            Tuple.of(1, Arbitraries.longs())));
    }

    @Property(tries = 300)
    void shouldDecodeItsOwnEncodingToAnEqualState(@ForAll("states") final QueueState state)
    {
        final byte[] encoded = QueueStateCodec.encode(state);
        assertEquals(QueueStateCodec.ENCODED_LENGTH, encoded.length, "encoded length");
        assertEquals(state, QueueStateCodec.decode(encoded));
    }

    @Property(tries = 300)
    void shouldRejectEveryEncodingWithOneByteChanged(
        @ForAll("states") final QueueState state,
        @ForAll @IntRange(min = 0, max = QueueStateCodec.ENCODED_LENGTH - 1) final int position,
        @ForAll @IntRange(min = 1, max = 255) final int xor)
    {
        final byte[] encoded = QueueStateCodec.encode(state);
        encoded[position] ^= (byte)xor;
        assertThrows(QueueStateFormatException.class, () -> QueueStateCodec.decode(encoded),
            "byte " + position + " xor 0x" + Integer.toHexString(xor));
    }

    @Property(tries = 300)
    void shouldRejectEveryTruncatedEncoding(
        @ForAll("states") final QueueState state,
        @ForAll @IntRange(min = 0, max = QueueStateCodec.ENCODED_LENGTH - 1) final int length)
    {
        final byte[] truncated = Arrays.copyOf(QueueStateCodec.encode(state), length);
        assertThrows(QueueStateFormatException.class, () -> QueueStateCodec.decode(truncated), "truncated to " + length + " bytes");
    }

    @Property(tries = 100)
    void shouldRejectAnEncodingWithBytesAppended(@ForAll("states") final QueueState state, @ForAll @Size(min = 1, max = 16) final byte[] extra)
    {
        final byte[] encoded = QueueStateCodec.encode(state);
        final byte[] longer = Arrays.copyOf(encoded, encoded.length + extra.length);
        System.arraycopy(extra, 0, longer, encoded.length, extra.length);
        assertThrows(QueueStateFormatException.class, () -> QueueStateCodec.decode(longer), extra.length + " bytes appended");
    }

    @Property(tries = 300)
    void shouldDecodeArbitraryBytesOnlyToTheStateTheyEncodeAndRejectThemOtherwiseWithAFormatException(
        @ForAll @Size(max = 64) final byte[] bytes)
    {
        final QueueState state;
        try
        {
            state = QueueStateCodec.decode(bytes);
        }
        catch (final QueueStateFormatException expected)
        {
            return;
        }
        catch (final RuntimeException e)
        {
            throw new AssertionError("decode raised " + e + ", not a QueueStateFormatException", e);
        }
        assertArrayEquals(bytes, QueueStateCodec.encode(state), "a decoded state re-encodes to the same bytes");
    }

    /** The rules {@link SplitQueue#restore} applies, in vm-virtio's order; null if the state breaks none. */
    private static QueueError firstBrokenRule(final QueueState state)
    {
        final int maxSize = state.maxSize();
        if (maxSize < 1 || maxSize > SplitQueue.MAX_QUEUE_SIZE || Integer.bitCount(maxSize) != 1)
        {
            return QueueError.INVALID_MAX_SIZE;
        }
        final int size = state.size();
        if (size < 1 || size > maxSize || Integer.bitCount(size) != 1)
        {
            return QueueError.INVALID_SIZE;
        }
        if (state.descTable() % 16 != 0)
        {
            return QueueError.DESC_TABLE_MISALIGNED;
        }
        if (state.availRing() % 2 != 0)
        {
            return QueueError.AVAIL_RING_MISALIGNED;
        }
        if (state.usedRing() % 4 != 0)
        {
            return QueueError.USED_RING_MISALIGNED;
        }
        return null;
    }

    @Property(tries = 300)
    void shouldRestoreExactlyTheSnapshotOrRefuseItForTheFirstRuleItBreaks(@ForAll("states") final QueueState state)
    {
        final QueueError broken = firstBrokenRule(state);
        Statistics.label("restored").collect(broken == null);
        Statistics.label("restored").coverage(coverage ->
        {
            coverage.check(true).percentage(p -> p >= 10);
            coverage.check(false).percentage(p -> p >= 10);
        });
        final SplitQueue queue;
        try
        {
            queue = SplitQueue.restore(state);
        }
        catch (final QueueException e)
        {
            assertEquals(broken, e.error(), "why " + state + " was refused");
            return;
        }
        catch (final RuntimeException e)
        {
            throw new AssertionError("restore raised " + e + ", not a QueueException", e);
        }
        assertNull(broken, "restore took " + state + ", which breaks " + broken);
        assertEquals(state, queue.state(), "the restored queue's state");
        if (queue.eventIdxEnabled() != state.eventIdxEnabled() || queue.ready() != state.ready())
        {
            fail("restored flags differ from " + state);
        }
    }
}
