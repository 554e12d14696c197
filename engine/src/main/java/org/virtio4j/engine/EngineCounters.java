package org.virtio4j.engine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.ConcurrentCountersManager;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;

/**
 * Allocates the engine's counters: in a {@link CountersFile} another process reads, or in heap memory when
 * counters are not published. Allocation is for the control plane; updating an {@link AtomicCounter} is a plain
 * memory write on the data path.
 */
public final class EngineCounters implements AutoCloseable
{
    private final CountersFile file;
    private final CountersManager manager;

    private EngineCounters(final CountersFile file, final CountersManager manager)
    {
        this.file = file;
        this.manager = manager;
    }

    /**
     * @param context a concluded context.
     * @return counters in a file under {@link EngineContext#countersDir()}, or in memory if counters are disabled.
     */
    public static EngineCounters create(final EngineContext context)
    {
        if (!context.countersEnabled())
        {
            final int values = 1024 * CountersReader.COUNTER_LENGTH;
            final CountersManager manager = new ConcurrentCountersManager(
                new UnsafeBuffer(ByteBuffer.allocateDirect(values / CountersReader.COUNTER_LENGTH * CountersReader.METADATA_LENGTH)),
                new UnsafeBuffer(ByteBuffer.allocateDirect(values)), StandardCharsets.US_ASCII);
            return new EngineCounters(null, manager);
        }
        try
        {
            final CountersFile file = CountersFile.create(context.countersDir(), CountersFile.DEFAULT_VALUES_LENGTH);
            return new EngineCounters(file, file.manager());
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException("cannot create the counters file in " + context.countersDir(), e);
        }
    }

    /**
     * @param type   what the counter counts.
     * @param prefix the owner, e.g. {@code "blk0 q0 "}.
     * @return a new counter at 0.
     */
    public AtomicCounter newCounter(final CounterType type, final String prefix)
    {
        return manager.newCounter(prefix + type.label(), type.id());
    }

    /**
     * @param prefix the owner.
     * @param reason the failure kind.
     * @return a new counter for failures of that kind.
     */
    public AtomicCounter newErrorCounter(final String prefix, final String reason)
    {
        return manager.newCounter(prefix + (prefix.isEmpty() ? "" : "errors: ") + reason, CounterType.ERRORS_BY_REASON.id());
    }

    /**
     * @param label the full label.
     * @param error true for an error counter (typed {@link CounterType#ERRORS_BY_REASON}).
     * @return a new device counter.
     */
    public AtomicCounter newDeviceCounter(final String label, final boolean error)
    {
        return manager.newCounter(label, error ? CounterType.ERRORS_BY_REASON.id() : CounterType.DEVICE_STATISTIC.id());
    }

    /** @return the counters, for reading. */
    public CountersReader reader()
    {
        return manager;
    }

    /** @return the counters file, or null when counters stay in memory. */
    public CountersFile file()
    {
        return file;
    }

    @Override
    public void close()
    {
        if (file != null)
        {
            try
            {
                file.close();
            }
            catch (final IOException e)
            {
                throw new UncheckedIOException(e);
            }
        }
    }
}
