package org.virtio4j.transport.vhost;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.UnixSocket;

import static org.virtio4j.memory.GuestMemory.LE_U32;
import static org.virtio4j.memory.GuestMemory.LE_U64;

/**
 * The front-end (VMM) side of vhost-user: sends requests with fds and reads replies, byte for byte as QEMU does.
 * Tests use it to drive the server with good and bad messages; the load generator uses it to play a VMM against
 * any vhost-user-blk back-end.
 *
 * <p>One thread at a time.
 */
public final class VhostUserFrontEnd implements AutoCloseable
{
    private final UnixSocket socket;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment out = arena.allocate(8192, 8);
    private final MemorySegment in = arena.allocate(8192, 8);
    private final int[] replyFds = new int[UnixSocket.MAX_FDS];
    private int lastReplyFd = -1;

    /**
     * @param path the back-end's socket.
     * @throws ErrnoException if the connection fails.
     */
    public VhostUserFrontEnd(final String path) throws ErrnoException
    {
        socket = UnixSocket.connect(path);
    }

    /**
     * Sends a request.
     *
     * @param request the request code.
     * @param flags   NEED_REPLY or 0 (the version is added).
     * @param payload the payload bytes.
     * @param fds     descriptors to pass with it.
     * @throws ErrnoException if the send fails.
     */
    public void send(final int request, final int flags, final byte[] payload, final int... fds) throws ErrnoException
    {
        out.set(LE_U32, 0, request);
        out.set(LE_U32, 4, VhostUserMessage.VERSION | flags);
        out.set(LE_U32, 8, payload.length);
        MemorySegment.copy(MemorySegment.ofArray(payload), 0, out, VhostUserMessage.HEADER_SIZE, payload.length);
        socket.send(out, VhostUserMessage.HEADER_SIZE + payload.length, fds, fds.length);
    }

    /**
     * Sends raw bytes (for malformed messages).
     *
     * @param bytes the bytes.
     * @throws ErrnoException if the send fails.
     */
    public void sendRaw(final byte[] bytes) throws ErrnoException
    {
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, out, 0, bytes.length);
        socket.send(out, bytes.length, new int[0], 0);
    }

    /**
     * @param expectedRequest the request being answered.
     * @return the reply payload of the next message (valid until the next call), or null if the back-end closed
     *         the connection.
     * @throws ErrnoException if the receive fails.
     */
    public MemorySegment reply(final int expectedRequest) throws ErrnoException
    {
        final long got = socket.receive(in, VhostUserMessage.HEADER_SIZE, replyFds);
        final int received = (int)got;
        final int fdCount = (int)(got >>> 32);
        lastReplyFd = fdCount > 0 ? replyFds[0] : -1;
        if (received == 0 || received < VhostUserMessage.HEADER_SIZE &&
            !socket.receiveFully(in, received, VhostUserMessage.HEADER_SIZE - received))
        {
            return null;
        }
        final int request = in.get(LE_U32, 0);
        final int flags = in.get(LE_U32, 4);
        final int size = in.get(LE_U32, 8);
        if (request != expectedRequest || (flags & VhostUserMessage.REPLY) == 0)
        {
            throw new IllegalStateException("reply to " + request + " flags " + flags + ", expected a reply to " + expectedRequest);
        }
        if (size > 0 && !socket.receiveFully(in, VhostUserMessage.HEADER_SIZE, size))
        {
            return null;
        }
        return in.asSlice(VhostUserMessage.HEADER_SIZE, size);
    }

    /** @return the fd that came with the last reply (GET_INFLIGHT_FD's region), or -1; the caller owns it. */
    public int lastReplyFd()
    {
        return lastReplyFd;
    }

    /**
     * @param request the request being answered.
     * @return the u64 reply (a REPLY_ACK answer: 0 for success).
     * @throws ErrnoException if the receive fails.
     */
    public long u64Reply(final int request) throws ErrnoException
    {
        final MemorySegment payload = reply(request);
        if (payload == null)
        {
            throw new IllegalStateException("connection closed instead of a reply to " + VhostUserRequest.name(request));
        }
        return payload.get(LE_U64, 0);
    }

    /**
     * @return true if the back-end closed the connection (a read sees end of stream).
     * @throws ErrnoException if the receive fails.
     */
    public boolean closedByBackEnd() throws ErrnoException
    {
        return !socket.receiveFully(in, 0, 1);
    }

    /**
     * @param value a u64.
     * @return its payload bytes.
     */
    public static byte[] u64(final long value)
    {
        final byte[] bytes = new byte[8];
        MemorySegment.ofArray(bytes).set(LE_U64, 0, value);
        return bytes;
    }

    /**
     * @param index a ring index.
     * @param num   the value.
     * @return a vring state payload.
     */
    public static byte[] state(final int index, final int num)
    {
        final byte[] bytes = new byte[8];
        MemorySegment.ofArray(bytes).set(LE_U32, 0, index);
        MemorySegment.ofArray(bytes).set(LE_U32, 4, num);
        return bytes;
    }

    /**
     * @param gpa        guest-physical base.
     * @param size       size.
     * @param userAddr   front-end virtual address.
     * @param mmapOffset offset in the fd.
     * @return a single-region payload (ADD_MEM_REG / REM_MEM_REG).
     */
    public static byte[] region(final long gpa, final long size, final long userAddr, final long mmapOffset)
    {
        final byte[] bytes = new byte[VhostUserMessage.SINGLE_REGION_SIZE];
        final MemorySegment segment = MemorySegment.ofArray(bytes);
        segment.set(LE_U64, 8, gpa);
        segment.set(LE_U64, 16, size);
        segment.set(LE_U64, 24, userAddr);
        segment.set(LE_U64, 32, mmapOffset);
        return bytes;
    }

    /**
     * @param index a ring index.
     * @param desc  descriptor table (front-end address).
     * @param used  used ring.
     * @param avail available ring.
     * @return a vring address payload.
     */
    public static byte[] address(final int index, final long desc, final long used, final long avail)
    {
        final byte[] bytes = new byte[VhostUserMessage.VRING_ADDR_SIZE];
        final MemorySegment segment = MemorySegment.ofArray(bytes);
        segment.set(LE_U32, 0, index);
        segment.set(LE_U64, 8, desc);
        segment.set(LE_U64, 16, used);
        segment.set(LE_U64, 24, avail);
        return bytes;
    }

    @Override
    public void close() throws ErrnoException
    {
        socket.close();
        arena.close();
    }
}
