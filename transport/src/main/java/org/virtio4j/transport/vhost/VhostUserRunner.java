package org.virtio4j.transport.vhost;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.devices.core.VirtioDevice;
import org.virtio4j.engine.DeviceHandle;
import org.virtio4j.engine.Engine;
import org.virtio4j.memory.GuestAddress;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.virtio.AvailRingLayout;
import org.virtio4j.virtio.DescriptorLayout;
import org.virtio4j.virtio.InflightQueue;
import org.virtio4j.virtio.QueueException;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.UsedRingLayout;
import org.virtio4j.virtio.VirtioFeatures;

import static org.virtio4j.transport.vhost.VhostUserMessage.F_PROTOCOL_FEATURES;

/**
 * The device of a vhost-user connection on the engine: started with the rings that are ready (each ring's
 * addresses translated through the front-end's memory table and checked), stopped through its actor (draining every
 * request in flight) with each ring's position recorded for GET_VRING_BASE, and reset.
 *
 * <p>Owned by the server thread of the connection; the device itself is touched only by its actors while it runs.
 */
final class VhostUserRunner
{
    private static final long STOP_TIMEOUT_SECONDS = 30;

    private final String name;
    private final VirtioDevice device;
    private final Engine engine;
    private final Vring[] vrings;
    private final VhostUserInflight inflight;
    private final VhostUserDirtyLog dirtyLog;
    private final VhostUserCounters counters;
    private FrontEndMemory memory;
    private long ackedFeatures;
    private volatile DeviceHandle running;
    private SplitQueue[] runningQueues;
    private long lastDrainNanos;
    private final Runnable onFailure;

    /**
     * @param onFailure run (on an engine thread) when the device fails: the connection is to be closed, which is
     *                  how a vhost-user front-end learns that the device needs a reset.
     */
    VhostUserRunner(final String name, final VirtioDevice device, final Engine engine, final Vring[] vrings, final VhostUserInflight inflight,
        final VhostUserDirtyLog dirtyLog, final VhostUserCounters counters, final Runnable onFailure)
    {
        this.onFailure = onFailure;
        this.inflight = inflight;
        this.dirtyLog = dirtyLog;
        this.name = name;
        this.device = device;
        this.engine = engine;
        this.vrings = vrings;
        this.counters = counters;
    }

    /**
     * Stops the device if it runs, then starts it with the rings that are ready in this memory and with these
     * features.
     *
     * @param memory        the front-end's memory table.
     * @param ackedFeatures the negotiated features.
     */
    void restart(final FrontEndMemory memory, final long ackedFeatures)
    {
        this.memory = memory;
        this.ackedFeatures = ackedFeatures;
        reconfigure();
    }

    private boolean protocolFeaturesNegotiated()
    {
        return VirtioFeatures.has(ackedFeatures, F_PROTOCOL_FEATURES);
    }

    private boolean ready(final Vring vring)
    {
        return vring.ready(protocolFeaturesNegotiated());
    }

    /** Stops the device if it runs, then starts it with the rings that are ready. */
    private void reconfigure()
    {
        stop();
        final GuestMemory mapped = memory.guestMemory();
        if (mapped == null)
        {
            return;
        }
        // While the front-end migrates the guest, the device works on a view of its memory that logs every store;
        // otherwise on the plain one, which costs nothing.
        final GuestMemory guestMemory = mapped.withDirtyLog(VirtioFeatures.has(ackedFeatures, VhostUserMessage.F_LOG_ALL) ? dirtyLog.log() : null);
        boolean any = false;
        for (final Vring vring : vrings)
        {
            any |= ready(vring);
        }
        if (!any)
        {
            return;
        }
        final SplitQueue[] queues = new SplitQueue[vrings.length];
        final EventFd[] kicks = new EventFd[vrings.length];
        final EventFd[] calls = new EventFd[vrings.length];
        final boolean eventIdx = VirtioFeatures.has(ackedFeatures, VirtioFeatures.RING_EVENT_IDX);
        for (int i = 0; i < vrings.length; i++)
        {
            final Vring vring = vrings[i];
            final SplitQueue queue = new SplitQueue(SplitQueue.MAX_QUEUE_SIZE);
            queues[i] = queue;
            if (!ready(vring))
            {
                continue;
            }
            try
            {
                configure(queue, vring, guestMemory, eventIdx, i);
                kicks[i] = vring.kick;
                calls[i] = vring.call;
            }
            catch (final VhostUserException | QueueException e)
            {
                counters.badRing();
                log("vring " + i + " not started: " + e.getMessage());
                queue.reset();
            }
        }
        try
        {
            device.reset();
            final long transportOnly = VirtioFeatures.bit(F_PROTOCOL_FEATURES) | VirtioFeatures.bit(VhostUserMessage.F_LOG_ALL);
            device.activate(guestMemory, queues, ackedFeatures & ~transportOnly, new Interrupt()
            {
                @Override
                public void signalUsedBuffers(final int queue)
                {
                    if (calls[queue] != null)
                    {
                        calls[queue].signal();
                    }
                }

                @Override
                public void signalConfigChange()
                {
                }
            });
        }
        catch (final DeviceException e)
        {
            counters.deviceError();
            log("device not started: " + e.getMessage());
            return;
        }
        final DeviceHandle handle = engine.attach(name, device, guestMemory, queues, kicks, calls);
        final FrontEndMemory mappedMemory = memory;
        handle.memoryShrunk(mappedMemory::shrunk);
        handle.onError(e ->
        {
            counters.deviceError();
            if (e.getCause() instanceof InternalError)
            {
                counters.memoryFault();
            }
            log("device failed, it needs a reset: " + e.getMessage() + "; closing the connection");
            onFailure.run();
        });
        try
        {
            handle.start().orTimeout(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS).join();
        }
        catch (final CompletionException | CancellationException e)
        {
            // Never a half-attached device: its queues would be polled after the connection unmapped their memory.
            counters.deviceError();
            log("device did not start (" + (e.getCause() != null ? e.getCause() : e) + "): detaching it");
            detach(handle);
            return;
        }
        running = handle;
        runningQueues = queues;
        watchFirstCompletion(guestMemory, queues);
        // One call per started ring: completions a previous back-end (or this one, before a stop) wrote while the
        // front-end had the guest's notifier masked would otherwise wait for an interrupt that never comes.
        for (final EventFd call : calls)
        {
            if (call != null)
            {
                call.signal();
            }
        }
    }

    /**
     * Until a first request completes after the process began listening (a restarted back-end's stall), watches
     * the started rings' used indices from a virtual thread, once a millisecond, for up to a minute: off the engine,
     * read-only, and gone with the first completion or the ring's stop.
     */
    private void watchFirstCompletion(final GuestMemory guestMemory, final SplitQueue[] queues)
    {
        if (counters.completedOnce())
        {
            return;
        }
        final DeviceHandle handle = running;
        final int[] start = new int[queues.length];
        for (int i = 0; i < queues.length; i++)
        {
            start[i] = queues[i].ready() ? queues[i].usedIdxAcquire(guestMemory) : -1;
        }
        Thread.ofVirtual().name("virtio4j-first-completion-" + name).start(() ->
        {
            final long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
            try
            {
                while (running == handle && System.nanoTime() < deadline)
                {
                    for (int i = 0; i < queues.length; i++)
                    {
                        if (start[i] >= 0 && queues[i].usedIdxAcquire(guestMemory) != start[i])
                        {
                            counters.firstCompletion();
                            return;
                        }
                    }
                    Thread.sleep(1);
                }
            }
            catch (final InterruptedException | RuntimeException | InternalError e)
            {
                // The memory went away with the connection (or faults: the front-end shrank it): nothing to record.
            }
        });
    }

    private void configure(final SplitQueue queue, final Vring vring, final GuestMemory guestMemory, final boolean eventIdx, final int index)
        throws VhostUserException
    {
        final long desc = translate("descriptor table", vring.descUser, (long)DescriptorLayout.SIZE * vring.num);
        final long avail = translate("available ring", vring.availUser, AvailRingLayout.byteSize(vring.num));
        final long used = translate("used ring", vring.usedUser, UsedRingLayout.byteSize(vring.num));
        queue.trySetSize(vring.num);
        queue.trySetDescTableAddress(desc);
        queue.trySetAvailRingAddress(avail);
        queue.trySetUsedRingAddress(used);
        queue.setEventIdx(eventIdx);
        queue.setNextAvail(vring.base);
        queue.setReady(true);
        // The used index continues where the ring's memory says it is.
        queue.setNextUsed(queue.usedIdxAcquire(guestMemory));
        if (!queue.isValid(guestMemory))
        {
            throw new VhostUserException("ring outside mapped memory", false);
        }
        if (vring.logUsed && vring.logAddr != used && guestMemory.dirtyLog() != null)
        {
            // The used ring's stores are logged at its guest address, which is what QEMU gives as the log address.
            log("vring " + index + ": used ring log address " + GuestAddress.hex(vring.logAddr) + " is not its guest address " +
                GuestAddress.hex(used) + "; logging at the guest address");
        }
        final InflightQueue tracking = inflight.queue(index, vring.num);
        if (tracking == null && inflight.mapped())
        {
            log("vring " + index + " of " + vring.num + " entries is not in the inflight region: no reconnect tracking for it");
        }
        if (tracking != null)
        {
            // A region a back-end tracked into: every avail entry before used.idx plus the chains still in flight was
            // taken; those chains are resubmitted (oldest first) and their entries not taken again. QEMU's base is
            // not enough: it is the used.idx it saw when the connection closed, and a back-end stopping gracefully
            // completes requests after that.
            final int resubmit = tracking.recover(queue.nextUsed());
            if (resubmit >= 0)
            {
                queue.setNextAvail(queue.nextUsed() + resubmit);
            }
            if (resubmit > 0)
            {
                log("vring " + index + ": resubmitting " + resubmit + " requests a previous back-end left in flight");
            }
            if (inflight.takeFirstStart(index) && resubmit >= 0)
            {
                counters.resumed(resubmit);
            }
            queue.trackInflight(tracking);
        }
    }

    private long translate(final String what, final long userAddr, final long length) throws VhostUserException
    {
        final long gpa = memory.toGuestPhysical(userAddr, length);
        if (gpa == -1)
        {
            throw new VhostUserException(what + " at front-end address " + GuestAddress.hex(userAddr) + " (+" + length +
                " bytes) is not in mapped memory", false);
        }
        return gpa;
    }

    /** Stops the device through its actor (draining requests in flight) and records each ring's position. */
    void stop()
    {
        final DeviceHandle handle = running;
        if (handle == null)
        {
            return;
        }
        running = null;
        final long start = System.nanoTime();
        try
        {
            handle.stop().orTimeout(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS).join();
            lastDrainNanos = System.nanoTime() - start;
            counters.drained(lastDrainNanos);
        }
        finally
        {
            // Eventfds and mappings are released only once no engine thread can touch the device.
            engine.detach(handle).orTimeout(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS).join();
        }
        for (int i = 0; i < vrings.length; i++)
        {
            if (runningQueues[i].ready())
            {
                vrings[i].base = runningQueues[i].nextAvail();
            }
        }
        runningQueues = null;
    }

    /** Detaches a device that did not start; a detach that times out too is logged (the engine is wedged). */
    private void detach(final DeviceHandle handle)
    {
        try
        {
            engine.detach(handle).orTimeout(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS).join();
        }
        catch (final CompletionException | CancellationException e)
        {
            log("detaching the device failed: " + (e.getCause() != null ? e.getCause() : e));
        }
    }

    /** Stops the device and resets it; the rings' configuration is the caller's to forget. */
    void reset()
    {
        stop();
        device.reset();
        device.guestGone();
    }

    /** @return how long the last stop waited for the requests in flight. */
    long lastDrainNanos()
    {
        return lastDrainNanos;
    }

    /** @return true while the device runs on the engine. */
    boolean running()
    {
        return running != null;
    }

    private void log(final String message)
    {
        counters.log("virtio4j vhost-user " + name + ": " + message);
    }
}
