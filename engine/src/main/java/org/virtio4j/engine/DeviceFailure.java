package org.virtio4j.engine;

import org.virtio4j.devices.core.DeviceException;

/**
 * What a device's failure is reported as. A fault on guest memory comes out of an FFM access as an
 * {@link InternalError} (the JVM turns the SIGBUS of a mapping the front-end shrank under us into one); it is that
 * device's failure like any other, never the end of the thread that serves every device.
 */
final class DeviceFailure
{
    static final String MEMORY_FAULT = "guest memory fault";

    private DeviceFailure()
    {
    }

    /**
     * @param thrown what device, ring or notification code threw.
     * @return the failure to report.
     */
    static DeviceException of(final Throwable thrown)
    {
        if (thrown instanceof DeviceException e)
        {
            return e;
        }
        if (thrown instanceof InternalError)
        {
            return new DeviceException(MEMORY_FAULT + " (" + thrown.getMessage() +
                "): the front-end truncated or unmapped memory it shared", thrown);
        }
        return new DeviceException(thrown.toString(), thrown);
    }

    /**
     * @param thrown what an engine thread caught.
     * @return true if it is, or wraps, a fault on guest memory.
     */
    static boolean isMemoryFault(final Throwable thrown)
    {
        return memoryFault(thrown) != null;
    }

    /**
     * @param thrown what an engine thread caught.
     * @return the InternalError of a fault on guest memory it is or wraps (a native call's wrapper may have
     *         caught it as it surfaced), or null.
     */
    static InternalError memoryFault(final Throwable thrown)
    {
        for (Throwable t = thrown; t != null; t = t.getCause())
        {
            if (t instanceof InternalError e)
            {
                return e;
            }
        }
        return null;
    }
}
