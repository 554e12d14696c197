package org.virtio4j.transport.vhost;

import org.virtio4j.memory.linux.EventFd;

/**
 * One vring's configuration as the front-end set it (SET_VRING_NUM, _BASE, _ADDR, _KICK, _CALL, _ERR, _ENABLE),
 * and the fds it holds.
 *
 * <p>Owned by the server thread of the connection.
 */
final class Vring
{
    int num;
    int base;
    boolean addressSet;
    long descUser;
    long usedUser;
    long availUser;
    /** SET_VRING_ADDR's VHOST_VRING_F_LOG: log the used ring's writes (at {@link #logAddr}, its guest address). */
    boolean logUsed;
    long logAddr;
    EventFd kick;
    EventFd call;
    int errFd = -1;
    boolean enabled;
    boolean kicked;

    /**
     * @param protocolFeatures true if VHOST_USER_F_PROTOCOL_FEATURES was negotiated (rings then start disabled).
     * @return true if the ring can be started: sized, addressed, kicked, and enabled where enabling applies.
     */
    boolean ready(final boolean protocolFeatures)
    {
        return num > 0 && addressSet && kicked && (enabled || !protocolFeatures);
    }

    /** Forgets the ring's configuration (a device reset); its fds stay. */
    void forget()
    {
        base = 0;
        enabled = false;
        kicked = false;
        addressSet = false;
        logUsed = false;
        logAddr = 0;
        num = 0;
    }

    /** Closes every fd the ring holds. */
    void closeFds()
    {
        Fds.close(kick);
        Fds.close(call);
        Fds.close(errFd);
        kick = null;
        call = null;
        errFd = -1;
    }
}
