package org.virtio4j.transport.vhost;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.UnixSocket;

import static org.virtio4j.memory.GuestMemory.LE_U32;
import static org.virtio4j.memory.GuestMemory.LE_U64;

/**
 * The front-end (VMM) side of vhost-user, for tests: sends requests with fds and reads replies, byte for byte as
 * QEMU does.
 */
final class VhostUserFrontEnd implements AutoCloseable
{
    private final UnixSocket socket;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment out = arena.allocate(8192, 8);
    private final MemorySegment in = arena.allocate(8192, 8);

    VhostUserFrontEnd(final String path) throws ErrnoException
    {
        socket = UnixSocket.connect(path);
    }

    /** Sends a request; {@code payload} is written little-endian as u64 words unless raw bytes are given. */
    void send(final int request, final int flags, final byte[] payload, final int... fds) throws ErrnoException
    {
        out.set(LE_U32, 0, request);
        out.set(LE_U32, 4, VhostUserMessage.VERSION | flags);
        out.set(LE_U32, 8, payload.length);
        MemorySegment.copy(MemorySegment.ofArray(payload), 0, out, VhostUserMessage.HEADER_SIZE, payload.length);
        socket.send(out, VhostUserMessage.HEADER_SIZE + payload.length, fds, fds.length);
    }

    /** Sends raw bytes (for malformed messages). */
    void sendRaw(final byte[] bytes) throws ErrnoException
    {
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, out, 0, bytes.length);
        socket.send(out, bytes.length, new int[0], 0);
    }

    /**
     * @return the reply payload of the next message, or null if the back-end closed the connection.
     */
    MemorySegment reply(final int expectedRequest) throws ErrnoException
    {
        if (!socket.receiveFully(in, 0, VhostUserMessage.HEADER_SIZE))
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

    long u64Reply(final int request) throws ErrnoException
    {
        final MemorySegment payload = reply(request);
        if (payload == null)
        {
            throw new IllegalStateException("connection closed instead of a reply to " + VhostUserRequest.name(request));
        }
        return payload.get(LE_U64, 0);
    }

    /** @return true if the back-end closed the connection (a read sees end of stream). */
    boolean closedByBackEnd() throws ErrnoException
    {
        return !socket.receiveFully(in, 0, 1);
    }

    static byte[] u64(final long value)
    {
        final byte[] bytes = new byte[8];
        MemorySegment.ofArray(bytes).set(LE_U64, 0, value);
        return bytes;
    }

    static byte[] state(final int index, final int num)
    {
        final byte[] bytes = new byte[8];
        MemorySegment.ofArray(bytes).set(LE_U32, 0, index);
        MemorySegment.ofArray(bytes).set(LE_U32, 4, num);
        return bytes;
    }

    static byte[] region(final long gpa, final long size, final long userAddr, final long mmapOffset)
    {
        final byte[] bytes = new byte[VhostUserMessage.SINGLE_REGION_SIZE];
        final MemorySegment segment = MemorySegment.ofArray(bytes);
        segment.set(LE_U64, 8, gpa);
        segment.set(LE_U64, 16, size);
        segment.set(LE_U64, 24, userAddr);
        segment.set(LE_U64, 32, mmapOffset);
        return bytes;
    }

    static byte[] address(final int index, final long desc, final long used, final long avail)
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
