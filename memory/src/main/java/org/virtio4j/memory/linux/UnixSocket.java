package org.virtio4j.memory.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A Unix stream socket with file-descriptor passing ({@code SCM_RIGHTS}), through {@code java.lang.foreign}: what
 * vhost-user needs and {@code java.nio} does not offer. Blocking; every failure throws {@link ErrnoException}.
 *
 * <p>One thread at a time per socket.
 */
public final class UnixSocket implements AutoCloseable
{
    /** Most descriptors one message may carry (vhost-user sends at most 8). */
    public static final int MAX_FDS = 16;

    private static final int AF_UNIX = 1;
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int SOCK_NONBLOCK = 0x800;
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_CTRUNC = 0x8;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int SHUT_RDWR = 2;
    private static final int SUN_PATH_MAX = 108;
    private static final long SOCKADDR_UN_SIZE = 110;
    private static final long MSGHDR_SIZE = 56;
    private static final long CMSG_HEADER = 16;
    private static final long CONTROL_SIZE = CMSG_HEADER + MAX_FDS * Integer.BYTES;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SOCKET = handle("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle BIND = handle("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle LISTEN = handle("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle ACCEPT4 = handle("accept4", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle CONNECT = handle("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle RECVMSG = handle("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SENDMSG = handle("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SHUTDOWN = handle("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle FCNTL = handle("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle READ = handle("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = handle("send", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;
    private static final int O_NONBLOCK = 0x800;
    private static final int EAGAIN = 11;
    private static final int SHUT_WR = 1;
    /** {@link #read} and {@link #write}: nothing could be moved now (the socket is non-blocking). */
    public static final int WOULD_BLOCK = 0;
    /** {@link #read}: the peer closed its side. */
    public static final int END_OF_STREAM = -1;

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment state = arena.allocate(Linux.CALL_STATE);
    private final MemorySegment message = arena.allocate(MSGHDR_SIZE, 8);
    private final MemorySegment iov = arena.allocate(16, 8);
    private final MemorySegment control = arena.allocate(CONTROL_SIZE, 8);
    private volatile boolean closed;

    private UnixSocket(final int fd)
    {
        this.fd = fd;
    }

    @SuppressWarnings("restricted") // the descriptors match the libc prototypes
    private static MethodHandle handle(final String name, final FunctionDescriptor descriptor)
    {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(() -> new UnsatisfiedLinkError(name)),
            descriptor, Linker.Option.captureCallState("errno"));
    }

    private long check(final String call, final long rc, final String detail) throws ErrnoException
    {
        if (rc < 0)
        {
            throw new ErrnoException(call, Linux.errno(state), detail);
        }
        return rc;
    }

    private static MemorySegment address(final Arena arena, final String path)
    {
        final byte[] bytes = path.getBytes(StandardCharsets.UTF_8);
        if (bytes.length >= SUN_PATH_MAX)
        {
            throw new IllegalArgumentException("unix socket path too long (" + bytes.length + " bytes, at most 107): " + path);
        }
        final MemorySegment address = arena.allocate(SOCKADDR_UN_SIZE, 2);
        address.set(JAVA_SHORT, 0, (short)AF_UNIX);
        MemorySegment.copy(bytes, 0, address, JAVA_BYTE, 2, bytes.length);
        return address;
    }

    private static UnixSocket newSocket() throws ErrnoException
    {
        return newSocket(0);
    }

    private static UnixSocket newSocket(final int extraType) throws ErrnoException
    {
        final UnixSocket socket;
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment callState = arena.allocate(Linux.CALL_STATE);
            final int fd = (int)SOCKET.invokeExact(callState, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | extraType, 0);
            if (fd < 0)
            {
                throw new ErrnoException("socket", Linux.errno(callState), "AF_UNIX");
            }
            socket = new UnixSocket(fd);
        }
        catch (final ErrnoException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("socket", t);
        }
        return socket;
    }

    /**
     * Binds and listens on a path (an existing socket file there must be removed first).
     *
     * @param path    the socket path.
     * @param backlog pending connections to queue.
     * @return the listening socket.
     * @throws ErrnoException if bind or listen fails.
     */
    public static UnixSocket listen(final String path, final int backlog) throws ErrnoException
    {
        final UnixSocket socket = newSocket();
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment address = address(arena, path);
            socket.check("bind", (int)BIND.invokeExact(socket.state, socket.fd, address, (int)SOCKADDR_UN_SIZE), "path=" + path);
            socket.check("listen", (int)LISTEN.invokeExact(socket.state, socket.fd, backlog), "path=" + path);
            return socket;
        }
        catch (final ErrnoException e)
        {
            socket.close();
            throw e;
        }
        catch (final Throwable t)
        {
            socket.close();
            throw new IllegalStateException("bind/listen", t);
        }
    }

    /**
     * Connects to a listening path.
     *
     * @param path the socket path.
     * @return the connected socket.
     * @throws ErrnoException if connect fails.
     */
    public static UnixSocket connect(final String path) throws ErrnoException
    {
        return connect(path, 0);
    }

    /**
     * Connects without ever waiting: a listener whose backlog is full refuses at once (EAGAIN).
     *
     * @param path the socket path.
     * @return the connected, non-blocking socket.
     * @throws ErrnoException if the connection is refused, would wait, or fails.
     */
    public static UnixSocket connectNonBlocking(final String path) throws ErrnoException
    {
        return connect(path, SOCK_NONBLOCK);
    }

    private static UnixSocket connect(final String path, final int typeFlags) throws ErrnoException
    {
        final UnixSocket socket = newSocket(typeFlags);
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment address = address(arena, path);
            socket.check("connect", (int)CONNECT.invokeExact(socket.state, socket.fd, address, (int)SOCKADDR_UN_SIZE), "path=" + path);
            return socket;
        }
        catch (final ErrnoException e)
        {
            socket.close();
            throw e;
        }
        catch (final Throwable t)
        {
            socket.close();
            throw new IllegalStateException("connect", t);
        }
    }

    /**
     * Waits for a connection.
     *
     * @return the connected socket.
     * @throws ErrnoException if accept fails (EBADF/EINVAL once the listening socket is shut down).
     */
    public UnixSocket accept() throws ErrnoException
    {
        try
        {
            final int client = (int)check("accept4",
                (int)ACCEPT4.invokeExact(state, fd, MemorySegment.NULL, MemorySegment.NULL, SOCK_CLOEXEC), "fd=" + fd);
            return new UnixSocket(client);
        }
        catch (final ErrnoException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("accept4", t);
        }
    }

    /**
     * Receives up to {@code length} bytes and any descriptors that came with them.
     *
     * @param buffer where to put the bytes.
     * @param length the most bytes.
     * @param fds    filled with received descriptors; the caller owns them.
     * @return the bytes received (0 at end of stream) in the low 32 bits, the descriptor count in the high 32.
     * @throws ErrnoException if recvmsg fails or the descriptors did not fit (they are then closed).
     */
    public long receive(final MemorySegment buffer, final int length, final int[] fds) throws ErrnoException
    {
        iov.set(ADDRESS, 0, buffer);
        iov.set(JAVA_LONG, 8, length);
        message.fill((byte)0);
        message.set(ADDRESS, 16, iov);
        message.set(JAVA_LONG, 24, 1);
        message.set(ADDRESS, 32, control);
        message.set(JAVA_LONG, 40, CONTROL_SIZE);
        control.fill((byte)0);
        final long received;
        try
        {
            received = check("recvmsg", (long)RECVMSG.invokeExact(state, fd, message, 0), "fd=" + fd);
        }
        catch (final ErrnoException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("recvmsg", t);
        }
        int count = 0;
        final long controlLength = message.get(JAVA_LONG, 40);
        if (controlLength >= CMSG_HEADER && control.get(JAVA_INT, 8) == SOL_SOCKET && control.get(JAVA_INT, 12) == SCM_RIGHTS)
        {
            final long dataBytes = control.get(JAVA_LONG, 0) - CMSG_HEADER;
            count = (int)(dataBytes / Integer.BYTES);
            for (int i = 0; i < count; i++)
            {
                final int received_fd = control.get(JAVA_INT, CMSG_HEADER + (long)i * Integer.BYTES);
                if (i < fds.length)
                {
                    fds[i] = received_fd;
                }
                else
                {
                    Linux.close(received_fd);
                }
            }
            if (count > fds.length)
            {
                for (int i = 0; i < fds.length; i++)
                {
                    Linux.close(fds[i]);
                }
                throw new ErrnoException("recvmsg", 7 /* E2BIG */, count + " descriptors, at most " + fds.length);
            }
        }
        if ((message.get(JAVA_INT, 48) & MSG_CTRUNC) != 0)
        {
            for (int i = 0; i < count; i++)
            {
                Linux.close(fds[i]);
            }
            throw new ErrnoException("recvmsg", 105 /* ENOBUFS */, "control data truncated: too many descriptors");
        }
        return received | (long)count << 32;
    }

    /**
     * Receives exactly {@code length} bytes (descriptors are not expected after the first bytes of a message).
     *
     * @param buffer where to put them.
     * @param offset where in the buffer.
     * @param length how many.
     * @return false if the stream ended first.
     * @throws ErrnoException if recvmsg fails or descriptors arrive here.
     */
    public boolean receiveFully(final MemorySegment buffer, final long offset, final int length) throws ErrnoException
    {
        final int[] unexpected = new int[MAX_FDS];
        int done = 0;
        while (done < length)
        {
            final long result = receive(buffer.asSlice(offset + done), length - done, unexpected);
            final int fdCount = (int)(result >>> 32);
            for (int i = 0; i < fdCount; i++)
            {
                Linux.close(unexpected[i]);
            }
            final int n = (int)result;
            if (n == 0)
            {
                return false;
            }
            done += n;
        }
        return true;
    }

    /**
     * Sends bytes with descriptors attached to the first of them.
     *
     * @param buffer  the bytes.
     * @param length  how many.
     * @param fds     descriptors to pass (may be empty).
     * @param fdCount how many of {@code fds}.
     * @throws ErrnoException if sendmsg fails (EPIPE when the peer has gone).
     */
    public void send(final MemorySegment buffer, final int length, final int[] fds, final int fdCount) throws ErrnoException
    {
        int done = 0;
        boolean withFds = fdCount > 0;
        while (done < length)
        {
            iov.set(ADDRESS, 0, buffer.asSlice(done));
            iov.set(JAVA_LONG, 8, length - done);
            message.fill((byte)0);
            message.set(ADDRESS, 16, iov);
            message.set(JAVA_LONG, 24, 1);
            if (withFds)
            {
                control.fill((byte)0);
                control.set(JAVA_LONG, 0, CMSG_HEADER + (long)fdCount * Integer.BYTES);
                control.set(JAVA_INT, 8, SOL_SOCKET);
                control.set(JAVA_INT, 12, SCM_RIGHTS);
                for (int i = 0; i < fdCount; i++)
                {
                    control.set(JAVA_INT, CMSG_HEADER + (long)i * Integer.BYTES, fds[i]);
                }
                message.set(ADDRESS, 32, control);
                message.set(JAVA_LONG, 40, CMSG_HEADER + align8((long)fdCount * Integer.BYTES));
            }
            final long sent;
            try
            {
                sent = check("sendmsg", (long)SENDMSG.invokeExact(state, fd, message, MSG_NOSIGNAL), "fd=" + fd);
            }
            catch (final ErrnoException e)
            {
                throw e;
            }
            catch (final Throwable t)
            {
                throw new IllegalStateException("sendmsg", t);
            }
            withFds = false;
            done += (int)sent;
        }
    }

    private static long align8(final long value)
    {
        return (value + 7) & ~7L;
    }

    /**
     * Makes reads, writes and accepts on this socket return at once instead of waiting.
     *
     * @throws ErrnoException if fcntl fails.
     */
    public void configureNonBlocking() throws ErrnoException
    {
        try
        {
            final int flags = (int)check("fcntl", (int)FCNTL.invokeExact(state, fd, F_GETFL, 0), "fd=" + fd);
            check("fcntl", (int)FCNTL.invokeExact(state, fd, F_SETFL, flags | O_NONBLOCK), "fd=" + fd);
        }
        catch (final ErrnoException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("fcntl", t);
        }
    }

    /**
     * Takes a pending connection of a non-blocking listening socket.
     *
     * @return the connection, or null if none is pending.
     * @throws ErrnoException if accept fails for another reason.
     */
    public UnixSocket tryAccept() throws ErrnoException
    {
        try
        {
            final int client = (int)ACCEPT4.invokeExact(state, fd, MemorySegment.NULL, MemorySegment.NULL, SOCK_CLOEXEC);
            if (client < 0)
            {
                if (Linux.errno(state) == EAGAIN)
                {
                    return null;
                }
                throw new ErrnoException("accept4", Linux.errno(state), "fd=" + fd);
            }
            return new UnixSocket(client);
        }
        catch (final ErrnoException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("accept4", t);
        }
    }

    /**
     * Reads what is there, without waiting on a non-blocking socket.
     *
     * @param buffer where to put the bytes.
     * @param length the most bytes.
     * @return the bytes read, {@link #WOULD_BLOCK} if none are there, or {@link #END_OF_STREAM}.
     * @throws ErrnoException if the read fails (ECONNRESET when the peer reset it).
     */
    public long read(final MemorySegment buffer, final long length) throws ErrnoException
    {
        try
        {
            final long n = (long)READ.invokeExact(state, fd, buffer, length);
            if (n > 0)
            {
                return n;
            }
            if (n == 0)
            {
                return length == 0 ? WOULD_BLOCK : END_OF_STREAM;
            }
            if (Linux.errno(state) == EAGAIN)
            {
                return WOULD_BLOCK;
            }
            throw new ErrnoException("read", Linux.errno(state), "fd=" + fd);
        }
        catch (final ErrnoException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("read", t);
        }
    }

    /**
     * Writes what fits, without waiting on a non-blocking socket.
     *
     * @param buffer the bytes.
     * @param length how many.
     * @return the bytes written, or {@link #WOULD_BLOCK} if none fit now.
     * @throws ErrnoException if the write fails (EPIPE when the peer has gone).
     */
    public long write(final MemorySegment buffer, final long length) throws ErrnoException
    {
        try
        {
            final long n = (long)WRITE.invokeExact(state, fd, buffer, length, MSG_NOSIGNAL);
            if (n >= 0)
            {
                return n;
            }
            if (Linux.errno(state) == EAGAIN)
            {
                return WOULD_BLOCK;
            }
            throw new ErrnoException("send", Linux.errno(state), "fd=" + fd);
        }
        catch (final ErrnoException e)
        {
            throw e;
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("send", t);
        }
    }

    /** Half-closes: the peer reads end of stream; this side can still read. */
    public void shutdownOutput()
    {
        try
        {
            final int ignored = (int)SHUTDOWN.invokeExact(state, fd, SHUT_WR);
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("shutdown", t);
        }
    }

    /** @return the file descriptor. */
    public int fd()
    {
        return fd;
    }

    /** Wakes a thread blocked in {@link #accept()} or {@link #receive}: they fail at once. */
    public void shutdown()
    {
        try
        {
            final int ignored = (int)SHUTDOWN.invokeExact(state, fd, SHUT_RDWR);
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("shutdown", t);
        }
    }

    @Override
    public void close() throws ErrnoException
    {
        if (closed)
        {
            return;
        }
        closed = true;
        Linux.close(fd);
        arena.close();
    }
}
