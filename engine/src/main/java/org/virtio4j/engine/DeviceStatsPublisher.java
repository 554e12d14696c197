package org.virtio4j.engine;

import org.agrona.concurrent.status.AtomicCounter;
import org.virtio4j.devices.blk.BlkDevice;
import org.virtio4j.devices.blk.BlkError;
import org.virtio4j.devices.blk.BlkParseError;
import org.virtio4j.devices.core.VirtioDevice;

/**
 * Copies a device's own statistics (bytes, errors by reason) into published counters, once per batch on the
 * actor's thread. Devices without statistics publish nothing.
 */
final class DeviceStatsPublisher
{
    private static final BlkError[] EXECUTE_ERRORS = BlkError.values();
    private static final BlkParseError[] PARSE_ERRORS = BlkParseError.values();

    private final BlkDevice blk;
    private final AtomicCounter bytesRead;
    private final AtomicCounter bytesWritten;
    private final AtomicCounter[] executeErrors;
    private final AtomicCounter[] parseErrors;

    private DeviceStatsPublisher(final BlkDevice blk, final String name, final EngineCounters counters)
    {
        this.blk = blk;
        final String prefix = name + " ";
        bytesRead = counters.newCounter(CounterType.BYTES_READ, prefix);
        bytesWritten = counters.newCounter(CounterType.BYTES_WRITTEN, prefix);
        executeErrors = new AtomicCounter[EXECUTE_ERRORS.length];
        for (final BlkError error : EXECUTE_ERRORS)
        {
            executeErrors[error.ordinal()] = counters.newErrorCounter(prefix, error.name().toLowerCase());
        }
        parseErrors = new AtomicCounter[PARSE_ERRORS.length];
        for (final BlkParseError error : PARSE_ERRORS)
        {
            parseErrors[error.ordinal()] = counters.newErrorCounter(prefix, "parse " + error.name().toLowerCase());
        }
    }

    static DeviceStatsPublisher forDevice(final VirtioDevice device, final String name, final EngineCounters counters)
    {
        return device instanceof BlkDevice blk ? new DeviceStatsPublisher(blk, name, counters) : null;
    }

    void publish()
    {
        bytesRead.setRelease(blk.bytesRead());
        bytesWritten.setRelease(blk.bytesWritten());
        for (int i = 0; i < EXECUTE_ERRORS.length; i++)
        {
            executeErrors[i].setRelease(blk.errors(EXECUTE_ERRORS[i]));
        }
        for (int i = 0; i < PARSE_ERRORS.length; i++)
        {
            parseErrors[i].setRelease(blk.parseErrors(PARSE_ERRORS[i]));
        }
    }

    void close()
    {
        bytesRead.close();
        bytesWritten.close();
        for (final AtomicCounter counter : executeErrors)
        {
            counter.close();
        }
        for (final AtomicCounter counter : parseErrors)
        {
            counter.close();
        }
    }
}
