package org.virtio4j.devices.testing;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.devices.core.VirtioDevice;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.SplitQueue;

/**
 * A device that does nothing but record what the transport asks of it: activations (with what they were handed),
 * resets, notifications and config writes. Its config space is a plain byte array with vm-virtio's partial
 * read/write semantics. Activation and notification can be told to fail.
 */
public final class RecordingDevice implements VirtioDevice
{
    /** Device id reported (virtio-rng, an arbitrary real id). */
    public static final int DEVICE_TYPE = 4;

    private final long features;
    private final int[] queueMaxSizes;
    private final byte[] config;
    private final List<Integer> notifications = new ArrayList<>();
    private final List<String> configWrites = new ArrayList<>();
    private int activations;
    private int resets;
    private RuntimeException activateRuntimeFailure;
    private boolean activateFails;
    private boolean notifyFails;
    private GuestMemory activatedMemory;
    private SplitQueue[] activatedQueues;
    private long activatedFeatures;
    private Interrupt activatedInterrupt;

    /**
     * @param features      the features offered.
     * @param config        the initial config space (copied).
     * @param queueMaxSizes each queue's maximum size.
     */
    public RecordingDevice(final long features, final byte[] config, final int... queueMaxSizes)
    {
        this.features = features;
        this.config = config.clone();
        this.queueMaxSizes = queueMaxSizes.clone();
    }

    /** @param fails whether the next activations throw a {@link DeviceException}. */
    public void failActivation(final boolean fails)
    {
        activateFails = fails;
    }

    /** @param failure thrown (unchecked) by the next activations, or null. */
    public void failActivationWith(final RuntimeException failure)
    {
        activateRuntimeFailure = failure;
    }

    /** @param fails whether notifications throw a {@link DeviceException}. */
    public void failNotifications(final boolean fails)
    {
        notifyFails = fails;
    }

    @Override
    public int deviceType()
    {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures()
    {
        return features;
    }

    @Override
    public int[] queueMaxSizes()
    {
        return queueMaxSizes.clone();
    }

    @Override
    public int configSize()
    {
        return config.length;
    }

    @Override
    public int readConfig(final int offset, final byte[] data)
    {
        if (offset < 0 || offset >= config.length)
        {
            return 0;
        }
        final int length = Math.min(data.length, config.length - offset);
        System.arraycopy(config, offset, data, 0, length);
        return length;
    }

    @Override
    public int writeConfig(final int offset, final byte[] data)
    {
        configWrites.add(offset + ":" + Arrays.toString(data));
        if (offset < 0 || offset >= config.length)
        {
            return 0;
        }
        final int length = Math.min(data.length, config.length - offset);
        System.arraycopy(data, 0, config, offset, length);
        return length;
    }

    @Override
    public void activate(final GuestMemory memory, final SplitQueue[] queues, final long negotiatedFeatures, final Interrupt interrupt)
        throws DeviceException
    {
        activations++;
        if (activateRuntimeFailure != null)
        {
            throw activateRuntimeFailure;
        }
        if (activateFails)
        {
            throw new DeviceException("recording device told to fail activation");
        }
        activatedMemory = memory;
        activatedQueues = queues;
        activatedFeatures = negotiatedFeatures;
        activatedInterrupt = interrupt;
    }

    @Override
    public int queueNotify(final int queue) throws DeviceException
    {
        notifications.add(queue);
        if (notifyFails)
        {
            throw new DeviceException("recording device told to fail notification of queue " + queue);
        }
        return 0;
    }

    @Override
    public int processQueue(final int queue) throws DeviceException
    {
        return queueNotify(queue);
    }

    @Override
    public void reset()
    {
        resets++;
    }

    /** @return activate calls, failed ones included. */
    public int activations()
    {
        return activations;
    }

    /** @return reset calls. */
    public int resets()
    {
        return resets;
    }

    /** @return the queue indices notified, in order. */
    public List<Integer> notifications()
    {
        return notifications;
    }

    /** @return every config write as "offset:[bytes]", in order. */
    public List<String> configWrites()
    {
        return configWrites;
    }

    /** @return the config space now. */
    public byte[] config()
    {
        return config.clone();
    }

    /** @return the memory the last successful activation was handed. */
    public GuestMemory activatedMemory()
    {
        return activatedMemory;
    }

    /** @return the queues the last successful activation was handed. */
    public SplitQueue[] activatedQueues()
    {
        return activatedQueues;
    }

    /** @return the features the last successful activation was handed. */
    public long activatedFeatures()
    {
        return activatedFeatures;
    }

    /** @return the interrupt the last successful activation was handed. */
    public Interrupt activatedInterrupt()
    {
        return activatedInterrupt;
    }
}
