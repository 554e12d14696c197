package org.virtio4j.transport.vhost;

import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.memory.linux.Linux;

/** Closing the descriptors a front-end gave us, quietly: one that its peer's exit already closed is not an error. */
final class Fds
{
    private Fds()
    {
    }

    static void close(final EventFd eventFd)
    {
        if (eventFd != null)
        {
            try
            {
                eventFd.close();
            }
            catch (final ErrnoException e)
            {
                // Already closed by its peer's exit: nothing to release.
            }
        }
    }

    static void close(final int fd)
    {
        if (fd >= 0)
        {
            try
            {
                Linux.close(fd);
            }
            catch (final ErrnoException e)
            {
                // Already closed.
            }
        }
    }
}
