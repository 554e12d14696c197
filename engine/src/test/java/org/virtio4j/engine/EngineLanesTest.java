package org.virtio4j.engine;

import java.util.concurrent.CompletableFuture;

import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.virtio4j.virtio.QueueState;
import org.virtio4j.virtio.VirtioBlk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A two-queue blk device on an engine with two actors: each queue is a lane attached to its own actor (so on its
 * own thread outside the invoker), both are served, and the device's handle controls both lanes.
 */
class EngineLanesTest
{
    private BlkFixture fixture;
    private Engine engine;

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

    private <T> T complete(final CompletableFuture<T> future)
    {
        for (int i = 0; i < 20 && !future.isDone(); i++)
        {
            engine.invoke();
        }
        assertTrue(future.isDone(), "command completed");
        return future.join();
    }

    @Test
    void shouldServeEachQueueOfAMultiQueueDeviceOnItsOwnActor() throws Exception
    {
        fixture = new BlkFixture(2, false);
        engine = Engine.launch(new EngineContext().threadingMode(ThreadingMode.INVOKER).actors(2).pollers(1).countersEnabled(false));
        final DeviceHandle handle = engine.attach("blk0", fixture.device, fixture.memory, fixture.queues, fixture.kicks, fixture.calls);
        complete(handle.start());
        for (int i = 0; i < 4; i++)
        {
            fixture.submit(0, i, VirtioBlk.T_IN, i, 512);
            fixture.submit(1, i, VirtioBlk.T_IN, i + 8, 512);
        }
        for (int i = 0; i < 4; i++)
        {
            engine.invoke();
        }
        assertEquals(4, fixture.drivers[0].usedIdx());
        assertEquals(4, fixture.drivers[1].usedIdx());
        assertEquals(VirtioBlk.S_OK, fixture.status(1, 3));
        assertTrue(counter("actor-0 batches") > 0, "queue 0's actor worked");
        assertTrue(counter("actor-1 batches") > 0, "queue 1's actor worked");
        assertEquals(4, counter("blk0.0 q0 chains"), "queue 0 is its own lane");
        assertEquals(4, counter("blk0.1 q0 chains"), "queue 1 is its own lane");
        final QueueState[] states = complete(handle.snapshot());
        assertEquals(2, states.length, "one state per queue of the device");
        assertEquals(4, states[1].nextAvail());
        complete(handle.stop());
        fixture.submit(1, 4, VirtioBlk.T_IN, 20, 512);
        engine.invoke();
        engine.invoke();
        assertEquals(4, fixture.drivers[1].usedIdx(), "stopping the device stops every lane");
        final CompletableFuture<Void> detached = engine.detach(handle);
        for (int i = 0; i < 5; i++)
        {
            engine.invoke();
        }
        detached.get(10, java.util.concurrent.TimeUnit.SECONDS);
    }
}
