package org.virtio4j.devices.core;

import java.util.List;

/**
 * A device's own statistics (bytes, errors by reason, ...), which its owner copies into published counters once per
 * batch. Values are read on the owner's thread.
 */
public interface DeviceCounters
{
    /** @return the counters' labels, fixed for the device's life (an error counter's label starts "errors: "). */
    List<String> counterNames();

    /**
     * @param index an index into {@link #counterNames()}.
     * @return that counter's value now.
     */
    long counterValue(int index);
}
