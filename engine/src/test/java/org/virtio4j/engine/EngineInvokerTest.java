package org.virtio4j.engine;

import java.util.concurrent.CompletableFuture;

import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.virtio4j.virtio.QueueState;
import org.virtio4j.virtio.UsedRingLayout;
import org.virtio4j.virtio.VirtioBlk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine's agents stepped by hand (INVOKER mode) with an injected clock: ordering, the batch-end
 * notification decision, hybrid polling both ways, drain on stop, reset with requests in flight.
 */
class EngineInvokerTest
{
    private static final long IDLE_NANOS = 1_000_000;
    private static final long MAX_WINDOW_NANOS = 64_000;

    private final long[] now = {0};
    private BlkFixture fixture;
    private Engine engine;
    private DeviceHandle handle;

    @AfterEach
    void tearDown() throws Exception
    {
        if (engine != null)
        {
            engine.close();
        }
        if (fixture != null)
        {
            fixture.close();
        }
    }

    private void start(final boolean eventIdx) throws Exception
    {
        start(eventIdx, "backoff");
    }

    private void start(final boolean eventIdx, final String idleStrategy) throws Exception
    {
        fixture = new BlkFixture(1, eventIdx);
        engine = Engine.launch(new EngineContext()
            .threadingMode(ThreadingMode.INVOKER)
            .countersEnabled(false)
            .idleStrategy(idleStrategy)
            .hybridIdleNanos(IDLE_NANOS)
            .pollMaxNanos(MAX_WINDOW_NANOS)
            .nanoClock(() -> now[0]));
        handle = engine.attach("blk0", fixture.device, fixture.memory, fixture.queues, fixture.kicks, fixture.calls);
        complete(handle.start());
    }

    private <T> T complete(final CompletableFuture<T> future)
    {
        for (int i = 0; i < 10 && !future.isDone(); i++)
        {
            engine.invoke();
        }
        assertTrue(future.isDone(), "command completed within 10 duty cycles");
        return future.join();
    }

    private long counter(final String label)
    {
        final CountersReader counters = engine.counters();
        final long[] value = {-1};
        counters.forEach((id, type, key, text) ->
        {
            if (text.equals(label))
            {
                value[0] = counters.getCounterValue(id);
            }
        });
        return value[0];
    }

    @Test
    void shouldCompleteChainsInAvailOrderAndSignalOncePerBatch() throws Exception
    {
        start(false);
        final int a = fixture.submit(0, 0, VirtioBlk.T_IN, 0, 512);
        final int b = fixture.submit(0, 1, VirtioBlk.T_IN, 1, 512);
        final int c = fixture.submit(0, 2, VirtioBlk.T_IN, 2, 512);
        engine.invoke();
        assertEquals(3, fixture.drivers[0].usedIdx());
        assertEquals(a, fixture.drivers[0].usedId(0));
        assertEquals(b, fixture.drivers[0].usedId(1));
        assertEquals(c, fixture.drivers[0].usedId(2));
        assertEquals(VirtioBlk.S_OK, fixture.status(0, 2));
        assertEquals(1, fixture.calls[0].drain(), "one call for the batch of three");
        assertEquals(3, counter("blk0 q0 chains"));
        assertEquals(1, counter("blk0 q0 notifications sent"));
        assertEquals(UsedRingLayout.F_NO_NOTIFY, fixture.drivers[0].usedFlags(), "kicks suppressed while polling");
    }

    @Test
    void shouldSuppressTheCallWhenTheEventIndexHasNotBeenReached() throws Exception
    {
        start(true);
        fixture.drivers[0].setUsedEvent(5);
        fixture.submit(0, 0, VirtioBlk.T_IN, 0, 512);
        fixture.submit(0, 1, VirtioBlk.T_IN, 1, 512);
        engine.invoke();
        assertEquals(2, fixture.drivers[0].usedIdx());
        assertEquals(0, fixture.calls[0].drain(), "used_event 5 not passed by used.idx 2");
        assertEquals(1, counter("blk0 q0 notifications suppressed"));
        for (int i = 2; i < 6; i++)
        {
            fixture.submit(0, i, VirtioBlk.T_IN, i, 512);
        }
        engine.invoke();
        assertEquals(6, fixture.drivers[0].usedIdx());
        assertEquals(1, fixture.calls[0].drain(), "used.idx passed used_event 5");
    }

    @Test
    void shouldSleepOnTheKickAfterTheIdlePeriodAndPollAgainWhenKicked() throws Exception
    {
        start(false);
        engine.invoke();
        assertEquals(UsedRingLayout.F_NO_NOTIFY, fixture.drivers[0].usedFlags());
        now[0] += IDLE_NANOS - 1;
        engine.invoke();
        assertEquals(UsedRingLayout.F_NO_NOTIFY, fixture.drivers[0].usedFlags(), "not idle long enough yet");
        now[0] += 1;
        engine.invoke();
        engine.invoke();
        assertEquals(0, fixture.drivers[0].usedFlags(), "idle: the guest is asked to kick again");
        assertEquals(1, counter("blk0 q0 sleeps"));

        fixture.submit(0, 0, VirtioBlk.T_IN, 0, 512);
        fixture.kicks[0].signal();
        engine.invoke();
        assertEquals(1, fixture.drivers[0].usedIdx(), "the kicked request is served");
        assertEquals(1, counter("blk0 q0 kicks"));
        assertEquals(UsedRingLayout.F_NO_NOTIFY, fixture.drivers[0].usedFlags(), "polling again: kicks suppressed");
    }

    /** Sleeps the queue (the window has closed), then makes the guest queue a request and kick after gapNanos. */
    private void kickAfter(final long gapNanos, final int slot)
    {
        now[0] += gapNanos;
        fixture.submit(0, slot, VirtioBlk.T_IN, slot, 512);
        fixture.kicks[0].signal();
        engine.invoke();
    }

    /** Lets the queue's poll window pass, runs duty cycles until it has re-enabled notifications and sleeps. */
    private void invokeUntilArmed()
    {
        now[0] += counter("blk0 q0 poll window ns");
        for (int i = 0; i < 4 && fixture.drivers[0].usedFlags() != 0; i++)
        {
            engine.invoke();
        }
        engine.invoke();
    }

    @Test
    void shouldSleepAtOnceWithAnAdaptiveWindowThatHasNotGrown() throws Exception
    {
        start(false, "adaptive");
        invokeUntilArmed();
        assertEquals(0, fixture.drivers[0].usedFlags(), "a new queue has no poll window: kicks re-enabled at once");
        assertEquals(1, counter("blk0 q0 sleeps"));
        assertEquals(0, counter("blk0 q0 poll window ns"));
    }

    @Test
    void shouldGrowTheAdaptiveWindowWhenKicksComeWithinTheMaximumAndPollThatLong() throws Exception
    {
        start(false, "adaptive");
        invokeUntilArmed();
        kickAfter(10_000, 0);
        assertEquals(1, fixture.drivers[0].usedIdx());
        assertEquals(PollWindow.GROW_START_NANOS, counter("blk0 q0 poll window ns"), "a 10 µs gap is worth polling for");
        invokeUntilArmed();
        kickAfter(10_000, 1);
        assertEquals(2 * PollWindow.GROW_START_NANOS, counter("blk0 q0 poll window ns"), "doubles while gaps stay short");
        now[0] += 2 * PollWindow.GROW_START_NANOS - 1;
        engine.invoke();
        engine.invoke();
        assertEquals(UsedRingLayout.F_NO_NOTIFY, fixture.drivers[0].usedFlags(), "still inside the window: polling, no kicks");
        now[0] += 1;
        engine.invoke();
        engine.invoke();
        assertEquals(0, fixture.drivers[0].usedFlags(), "window over: kicks re-enabled");
        engine.invoke();
        for (int i = 2; i < 10; i++)
        {
            kickAfter(20_000, i);
            invokeUntilArmed();
        }
        assertEquals(MAX_WINDOW_NANOS, counter("blk0 q0 poll window ns"), "never beyond the maximum");
    }

    @Test
    void shouldShrinkTheAdaptiveWindowWhenTheGuestGoesQuiet() throws Exception
    {
        start(false, "adaptive");
        invokeUntilArmed();
        for (int i = 0; i < 5; i++)
        {
            kickAfter(10_000, i);
            invokeUntilArmed();
        }
        assertEquals(MAX_WINDOW_NANOS, counter("blk0 q0 poll window ns"));
        kickAfter(1_000_000, 5);
        assertEquals(MAX_WINDOW_NANOS / 2, counter("blk0 q0 poll window ns"), "a gap beyond the maximum halves the window");
        for (int i = 6; i < 12; i++)
        {
            invokeUntilArmed();
            kickAfter(1_000_000, i);
        }
        assertEquals(0, counter("blk0 q0 poll window ns"), "a quiet guest is not polled for at all");
        assertEquals(12, fixture.drivers[0].usedIdx(), "every kicked request served");
    }

    @Test
    void shouldServeARequestThatArrivesWhileArming() throws Exception
    {
        start(true);
        now[0] += IDLE_NANOS;
        fixture.drivers[0].setUsedEvent(0);
        engine.invoke();
        fixture.submit(0, 0, VirtioBlk.T_IN, 0, 512);
        engine.invoke();
        engine.invoke();
        assertEquals(1, fixture.drivers[0].usedIdx(), "no request is lost around the switch to kicks");
    }

    @Test
    void shouldDrainEveryAvailableRequestOnStop() throws Exception
    {
        start(false);
        for (int i = 0; i < 5; i++)
        {
            fixture.submit(0, i, VirtioBlk.T_IN, i, 512);
        }
        final CompletableFuture<Void> stopped = handle.stop();
        complete(stopped);
        assertEquals(5, fixture.drivers[0].usedIdx(), "every request made available before stop completes");
        assertEquals(1, fixture.calls[0].drain());
        fixture.submit(0, 5, VirtioBlk.T_IN, 5, 512);
        engine.invoke();
        engine.invoke();
        assertEquals(5, fixture.drivers[0].usedIdx(), "nothing is taken after stop");
    }

    @Test
    void shouldDropRequestsInFlightOnResetAndTakeNoMore() throws Exception
    {
        start(false);
        fixture.submit(0, 0, VirtioBlk.T_IN, 0, 512);
        fixture.submit(0, 1, VirtioBlk.T_IN, 1, 512);
        final CompletableFuture<Void> reset = handle.reset();
        complete(reset);
        engine.invoke();
        final QueueState[] states = complete(handle.snapshot());
        assertFalse(states[0].ready(), "reset un-readies the queue");
        assertEquals(0, states[0].nextAvail());
        assertEquals(0xff, fixture.status(0, 1), "the request in flight at reset was not executed");
        assertThrows(IllegalStateException.class, () -> engine.context().conclude());
    }

    @Test
    void shouldPauseAndResumePolling() throws Exception
    {
        start(false);
        complete(handle.pause());
        fixture.submit(0, 0, VirtioBlk.T_IN, 0, 512);
        engine.invoke();
        assertEquals(0, fixture.drivers[0].usedIdx(), "paused: not polled");
        complete(handle.resume());
        engine.invoke();
        assertEquals(1, fixture.drivers[0].usedIdx());
    }

    @Test
    void shouldReportABadSettingByName()
    {
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> new EngineContext().ringSize(1000).conclude());
        assertTrue(e.getMessage().contains(EngineContext.RING_SIZE_PROP + "=1000"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new EngineContext().idleStrategy("spin-ish").conclude());
    }
}
