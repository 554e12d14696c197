package org.virtio4j.transport.vhost;

import java.io.Serial;

/**
 * A front-end message the back-end refuses: malformed, out of place, or asking for something impossible. It is
 * answered with a failure (REPLY_ACK) when the front-end asked for one, otherwise the connection is closed.
 */
public final class VhostUserException extends Exception
{
    @Serial
    private static final long serialVersionUID = 1L;

    private final boolean fatal;

    /**
     * @param message what is wrong, with {@code name=value} pairs.
     * @param fatal   true if the connection cannot go on (a broken stream).
     */
    public VhostUserException(final String message, final boolean fatal)
    {
        super(message);
        this.fatal = fatal;
    }

    /** @return true if the connection must be closed whatever the front-end asked. */
    public boolean fatal()
    {
        return fatal;
    }
}
