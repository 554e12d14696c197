package org.virtio4j.transport.vsock;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.UnixSocket;

/**
 * One stream connection between a guest port and a host Unix socket, with both directions' credit:
 * <ul>
 *   <li>guest to host: bytes the guest sent wait in {@code toHost} (at most {@link #BUF_ALLOC}, our advertised
 *       buf_alloc) until the host socket takes them; {@code fwdCnt} counts the bytes it took, and is what we
 *       advertise, so the guest never has more in flight than we can hold;</li>
 *   <li>host to guest: bytes read from the host socket wait in {@code toGuest} until the guest offers a receive
 *       buffer; we send at most {@code peerBufAlloc - (txCnt - peerFwdCnt)}, the guest's advertised credit.</li>
 * </ul>
 * Owned by the device's thread.
 */
final class VsockConnection
{
    /** Our receive buffer per connection: what we advertise as buf_alloc. */
    static final int BUF_ALLOC = 256 * 1024;
    /** Host bytes read ahead per connection, waiting for guest buffers. */
    static final int READ_AHEAD = 64 * 1024;

    static final int CONNECTING = 0;
    static final int HANDSHAKE = 1;
    static final int CONNECTED = 2;
    static final int CLOSED = 3;

    // Control packets waiting to go to the guest.
    static final int SEND_RESPONSE = 1;
    static final int SEND_CREDIT_UPDATE = 2;
    static final int SEND_SHUTDOWN = 4;
    static final int SEND_RST = 8;
    static final int SEND_REQUEST = 16;

    int guestPort;
    final int hostPort;
    final UnixSocket socket;
    int state;
    int pendingControl;
    int shutdownFlags;

    private final Arena arena = Arena.ofShared();
    final MemorySegment toHost = arena.allocate(BUF_ALLOC);
    int toHostStart;
    int toHostCount;
    final MemorySegment toGuest = arena.allocate(READ_AHEAD);
    int toGuestStart;
    int toGuestCount;

    long rxCnt;
    long fwdCnt;
    long fwdCntAdvertised;
    long txCnt;
    long peerBufAlloc;
    long peerFwdCnt;
    boolean guestSendClosed;
    boolean guestReceiveClosed;
    boolean hostEof;
    boolean eofSignalled;
    final StringBuilder handshake = new StringBuilder();

    VsockConnection(final int guestPort, final int hostPort, final UnixSocket socket, final int state)
    {
        this.guestPort = guestPort;
        this.hostPort = hostPort;
        this.socket = socket;
        this.state = state;
    }

    /** @return the bytes the guest's credit lets us send now. */
    long guestCredit()
    {
        // fwd_cnt is the guest's u32 counter: the bytes in flight are the difference modulo 2^32.
        final long inFlight = (txCnt - peerFwdCnt) & 0xffff_ffffL;
        return Math.max(0, peerBufAlloc - inFlight);
    }

    void updatePeerCredit(final int bufAlloc, final int fwdCnt)
    {
        peerBufAlloc = Integer.toUnsignedLong(bufAlloc);
        peerFwdCnt = Integer.toUnsignedLong(fwdCnt);
    }

    /**
     * Queues guest bytes for the host socket.
     *
     * @return false if they exceed our advertised credit (a credit violation).
     */
    boolean acceptFromGuest(final MemorySegment data, final long length)
    {
        if (!fits(length))
        {
            return false;
        }
        long done = 0;
        while (done < length)
        {
            final int tail = (toHostStart + toHostCount) % BUF_ALLOC;
            final int chunk = (int)Math.min(length - done, BUF_ALLOC - tail);
            MemorySegment.copy(data, done, toHost, tail, chunk);
            toHostCount += chunk;
            done += chunk;
        }
        rxCnt += length;
        return true;
    }

    private boolean fits(final long length)
    {
        return rxCnt + length - fwdCnt <= BUF_ALLOC && toHostCount + length <= BUF_ALLOC;
    }

    /**
     * Queues guest bytes straight from guest memory (no intermediate view: nothing allocated per packet).
     *
     * @return false if they exceed our advertised credit (a credit violation).
     * @throws org.virtio4j.memory.GuestMemoryException if the data is not in guest memory.
     */
    boolean acceptFromGuest(final GuestMemory memory, final long address, final long length)
    {
        if (!fits(length))
        {
            return false;
        }
        long done = 0;
        while (done < length)
        {
            final int tail = (toHostStart + toHostCount) % BUF_ALLOC;
            final int chunk = (int)Math.min(length - done, BUF_ALLOC - tail);
            memory.read(address + done, toHost, tail, chunk);
            toHostCount += chunk;
            done += chunk;
        }
        rxCnt += length;
        return true;
    }

    /**
     * Writes queued guest bytes to the host socket, as many as it takes now.
     *
     * @return the bytes written.
     */
    long flushToHost() throws ErrnoException
    {
        long written = 0;
        while (toHostCount > 0)
        {
            final int chunk = Math.min(toHostCount, BUF_ALLOC - toHostStart);
            final long n = socket.write(toHost.asSlice(toHostStart, chunk), chunk);
            if (n <= 0)
            {
                break;
            }
            toHostStart = (int)((toHostStart + n) % BUF_ALLOC);
            toHostCount -= (int)n;
            written += n;
        }
        fwdCnt += written;
        return written;
    }

    /**
     * Reads host bytes ahead, up to the read-ahead buffer.
     *
     * @return the bytes read, or -1 at end of stream.
     */
    long readFromHost() throws ErrnoException
    {
        if (toGuestCount > 0 || hostEof)
        {
            return 0;
        }
        toGuestStart = 0;
        final long n = socket.read(toGuest, READ_AHEAD);
        if (n == UnixSocket.END_OF_STREAM)
        {
            hostEof = true;
            return -1;
        }
        toGuestCount = (int)n;
        return n;
    }

    void close()
    {
        state = CLOSED;
        try
        {
            socket.close();
        }
        catch (final ErrnoException e)
        {
            // Already gone.
        }
        arena.close();
    }
}
