package org.virtio4j.virtio;

import java.io.Serial;

/**
 * An encoded queue state that cannot be decoded: truncated, corrupted, or of a format this build does not know.
 */
public final class QueueStateFormatException extends IllegalArgumentException
{
    @Serial
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong, with {@code name=value} pairs. */
    public QueueStateFormatException(final String message)
    {
        super(message);
    }
}
