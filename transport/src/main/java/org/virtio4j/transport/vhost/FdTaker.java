package org.virtio4j.transport.vhost;

/**
 * The fds that came with one message, handed out one by one to whoever keeps them; the ones not taken are closed
 * when the message is done.
 */
final class FdTaker
{
    private final int[] fds;
    private final int count;
    private int taken;

    FdTaker(final int[] fds, final int count)
    {
        this.fds = fds;
        this.count = count;
    }

    int count()
    {
        return count;
    }

    int take()
    {
        return fds[taken++];
    }

    void closeRest()
    {
        while (taken < count)
        {
            Fds.close(fds[taken++]);
        }
    }
}
