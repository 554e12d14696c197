package org.virtio4j.memory.linux;

import java.io.IOException;
import java.io.Serial;

/**
 * A Linux system call failed. Carries the call's name and the {@code errno} it set, so that every
 * message names both: {@code "memfd_create failed: errno=24 (EMFILE)"}.
 */
public final class ErrnoException extends IOException
{
    @Serial
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    /**
     * @param call  the name of the system call that failed.
     * @param errno the value of {@code errno} right after the call.
     * @param detail what the call was asked to do, for the message; may be empty.
     */
    public ErrnoException(final String call, final int errno, final String detail)
    {
        super(call + " failed: errno=" + errno + " (" + Errno.name(errno) + ")" + (detail.isEmpty() ? "" : ": " + detail));
        this.call = call;
        this.errno = errno;
    }

    /** @return the name of the system call that failed. */
    public String call()
    {
        return call;
    }

    /** @return the {@code errno} the call set. */
    public int errno()
    {
        return errno;
    }
}
