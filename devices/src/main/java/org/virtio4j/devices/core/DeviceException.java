package org.virtio4j.devices.core;

import java.io.Serial;

/**
 * A device cannot activate, or hit an error it cannot recover from without a reset.
 */
public final class DeviceException extends Exception
{
    @Serial
    private static final long serialVersionUID = 1L;

    /** @param message what went wrong, with {@code name=value} pairs. */
    public DeviceException(final String message)
    {
        super(message);
    }

    /**
     * @param message what went wrong.
     * @param cause   the underlying failure.
     */
    public DeviceException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
