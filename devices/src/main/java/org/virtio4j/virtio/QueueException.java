package org.virtio4j.virtio;

import java.io.Serial;

import org.virtio4j.memory.GuestMemoryException;

/**
 * A queue operation failed for the {@link QueueError} it carries. Guests can cause these at will, so they have
 * no stack trace; for memory failures {@link #memoryError()} holds the detail (kind, address, partial counts).
 */
public final class QueueException extends RuntimeException
{
    @Serial
    private static final long serialVersionUID = 1L;

    private final QueueError error;

    /**
     * @param error   why.
     * @param message the detail, with {@code name=value} pairs.
     */
    public QueueException(final QueueError error, final String message)
    {
        super(error + ": " + message, null, false, false);
        this.error = error;
    }

    /**
     * @param error why.
     * @param cause the memory access that failed.
     */
    public QueueException(final QueueError error, final GuestMemoryException cause)
    {
        super(error + ": " + cause.getMessage(), cause, false, false);
        this.error = error;
    }

    /** @return why the operation failed. */
    public QueueError error()
    {
        return error;
    }

    /** @return the failed memory access, or null if the failure was not a memory access. */
    public GuestMemoryException memoryError()
    {
        return getCause() instanceof GuestMemoryException e ? e : null;
    }
}
