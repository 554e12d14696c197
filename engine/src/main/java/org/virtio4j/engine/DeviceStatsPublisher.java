package org.virtio4j.engine;

import java.util.List;

import org.agrona.concurrent.status.AtomicCounter;
import org.virtio4j.devices.core.DeviceCounters;
import org.virtio4j.devices.core.VirtioDevice;

/**
 * Copies a device's own statistics ({@link DeviceCounters}: bytes, errors by reason, ...) into published counters,
 * once per batch on the actor's thread. Devices without statistics publish nothing.
 */
final class DeviceStatsPublisher
{
    private final DeviceCounters device;
    private final AtomicCounter[] counters;

    private DeviceStatsPublisher(final DeviceCounters device, final String name, final EngineCounters engineCounters)
    {
        this.device = device;
        final List<String> names = device.counterNames();
        counters = new AtomicCounter[names.size()];
        for (int i = 0; i < counters.length; i++)
        {
            counters[i] = engineCounters.newDeviceCounter(name + " " + names.get(i), names.get(i).startsWith("errors: "));
        }
    }

    static DeviceStatsPublisher forDevice(final VirtioDevice device, final String name, final EngineCounters counters)
    {
        return device instanceof DeviceCounters statistics ? new DeviceStatsPublisher(statistics, name, counters) : null;
    }

    void publish()
    {
        for (int i = 0; i < counters.length; i++)
        {
            counters[i].setRelease(device.counterValue(i));
        }
    }

    void close()
    {
        for (final AtomicCounter counter : counters)
        {
            counter.close();
        }
    }
}
