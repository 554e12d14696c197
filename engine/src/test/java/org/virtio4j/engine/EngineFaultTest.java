package org.virtio4j.engine;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.VirtioDevice;
import org.virtio4j.virtio.VirtioBlk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What an engine thread does when a device's code throws an error: a guest memory fault fails that device only
 * (the thread goes on serving the others); anything else that ends the thread is reported, never silent.
 */
class EngineFaultTest
{
    @TempDir
    Path countersDir;

    /** The fixture's device, except that processing queue 0 throws what {@code error} makes. */
    private static VirtioDevice throwingOnQueue0(final VirtioDevice device, final Supplier<Error> error)
    {
        return (VirtioDevice)Proxy.newProxyInstance(VirtioDevice.class.getClassLoader(), new Class<?>[] {VirtioDevice.class}, (proxy, method, args) ->
        {
            if (method.getName().equals("processQueue") && (int)args[0] == 0)
            {
                throw error.get();
            }
            try
            {
                return method.invoke(device, args);
            }
            catch (final InvocationTargetException e)
            {
                throw e.getCause();
            }
        });
    }

    @Test
    void shouldFailOnlyTheDeviceWhoseQueueFaultedOnGuestMemory() throws Exception
    {
        final CompletableFuture<String> died = new CompletableFuture<>();
        try (BlkFixture faulty = new BlkFixture(1, false); BlkFixture healthy = new BlkFixture(1, false);
            Engine engine = Engine.launch(new EngineContext().threadingMode(ThreadingMode.SHARED).idleStrategy("backoff")
                .countersDir(countersDir).threadDeath(died::complete)))
        {
            final VirtioDevice device = throwingOnQueue0(faulty.device, () -> new InternalError("a fault occurred in an unsafe memory access operation"));
            final DeviceHandle bad = engine.attach("bad", device, faulty.memory, faulty.queues, faulty.kicks, faulty.calls);
            final DeviceHandle good = engine.attach("good", healthy.device, healthy.memory, healthy.queues, healthy.kicks, healthy.calls);
            final CompletableFuture<DeviceException> failure = new CompletableFuture<>();
            bad.onError(failure::complete);
            bad.start().join();
            good.start().join();

            faulty.submit(0, 0, VirtioBlk.T_IN, 0, 512);
            faulty.kicks[0].signal();
            final DeviceException e = failure.get(10, TimeUnit.SECONDS);
            assertTrue(e.getMessage().startsWith(DeviceFailure.MEMORY_FAULT), e.getMessage());

            for (int i = 0; i < 50; i++)
            {
                healthy.submit(0, i % BlkFixture.QUEUE_SIZE, VirtioBlk.T_IN, 0, 512);
                healthy.kicks[0].signal();
                final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                boolean served = false;
                while (!(served = healthy.drivers[0].pollUsed(true)) && System.nanoTime() < deadline)
                {
                    Thread.onSpinWait();
                }
                assertTrue(served, "the other device on the same thread still serves");
                assertEquals(VirtioBlk.S_OK, healthy.status(0, i % BlkFixture.QUEUE_SIZE));
            }
            assertFalse(died.isDone(), () -> "the engine thread ended: " + died.join());
            good.stop().join();
        }
    }

    @Test
    void shouldReportAnEngineThreadThatAnotherErrorEnded() throws Exception
    {
        final CompletableFuture<String> died = new CompletableFuture<>();
        try (BlkFixture fixture = new BlkFixture(1, false);
            Engine engine = Engine.launch(new EngineContext().threadingMode(ThreadingMode.SHARED).idleStrategy("backoff")
                .countersDir(countersDir).errorHandler(t -> { }).threadDeath(died::complete)))
        {
            final VirtioDevice device = throwingOnQueue0(fixture.device, () -> new StackOverflowError("deep"));
            final DeviceHandle handle = engine.attach("blk0", device, fixture.memory, fixture.queues, fixture.kicks, fixture.calls);
            handle.start().join();
            fixture.submit(0, 0, VirtioBlk.T_IN, 0, 512);
            fixture.kicks[0].signal();
            final String why = died.get(10, TimeUnit.SECONDS);
            assertTrue(why.contains("ended while the engine runs") && why.contains("StackOverflowError: deep"), why);
        }
    }

    @Test
    void shouldNotGrowWithEveryAttachOfAReconfiguringFrontEnd() throws Exception
    {
        try (BlkFixture fixture = new BlkFixture(2, false);
            Engine engine = Engine.launch(new EngineContext().threadingMode(ThreadingMode.SHARED).idleStrategy("backoff").countersDir(countersDir)))
        {
            DeviceActor actor = null;
            for (int i = 0; i < 500; i++)
            {
                // What a VMM toggling SET_VRING_ENABLE in a loop makes the back-end do.
                final DeviceHandle handle = engine.attach("blk0", fixture.device, fixture.memory, fixture.queues, fixture.kicks, fixture.calls);
                handle.start().join();
                handle.stop().join();
                engine.detach(handle).join();
                actor = handle.actor();
            }
            final DeviceActor last = actor;
            assertTrue(last.<Integer>command(future -> future.complete(last.touchedCapacity())).get(10, TimeUnit.SECONDS) <= 16,
                "the touched list holds the queues attached now, not every queue ever attached");
        }
    }
}
