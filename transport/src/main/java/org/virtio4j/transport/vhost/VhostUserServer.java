package org.virtio4j.transport.vhost;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import org.virtio4j.devices.core.VirtioDevice;
import org.virtio4j.engine.Engine;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.UnixSocket;

import static org.virtio4j.memory.GuestMemory.LE_U32;
import static org.virtio4j.memory.GuestMemory.LE_U64;

/**
 * Serves one virtio device over vhost-user on a Unix socket: it listens, takes one front-end (QEMU, Cloud
 * Hypervisor, ...) at a time, answers its messages, runs the device on the engine, and when the front-end goes
 * away releases everything and waits for the next one (a VMM that reconnects finds the device again).
 *
 * <p>Bad input from the front-end — a short, oversized or truncated message, a wrong number of fds, an unknown
 * request, an overlapping or out-of-file region, a ring outside mapped memory — gets a failure reply (REPLY_ACK)
 * or closes that connection, with a counter and a log line; the server keeps running.
 *
 * <p>One thread per server.
 */
public final class VhostUserServer implements AutoCloseable
{
    /** Memory slots offered with CONFIGURE_MEM_SLOTS (QEMU uses a handful). */
    public static final int MAX_MEM_SLOTS = 32;

    private final Path socketPath;
    private final String name;
    private final UnixSocket listener;
    private final VhostUserBackend backend;
    private final VhostUserCounters counters;
    private final Thread thread;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Arena arena = Arena.ofShared();
    private final MemorySegment header = arena.allocate(VhostUserMessage.HEADER_SIZE, 8);
    private final MemorySegment payload = arena.allocate(VhostUserMessage.MAX_PAYLOAD, 8);
    private final int[] replyFds = new int[1];
    private final MemorySegment reply = arena.allocate(VhostUserMessage.HEADER_SIZE + VhostUserMessage.MAX_PAYLOAD, 8);
    private final int[] fds = new int[UnixSocket.MAX_FDS];
    private volatile UnixSocket connection;
    private volatile boolean running = true;

    /**
     * Binds the socket and starts serving.
     *
     * @param socketPath where to listen (an old socket file there is replaced).
     * @param name       the device's name, in counters and logs.
     * @param device     the device; the server resets and activates it per connection.
     * @param engine     the engine the device runs on.
     * @throws IOException if the socket cannot be bound.
     */
    public VhostUserServer(final Path socketPath, final String name, final VirtioDevice device, final Engine engine) throws IOException
    {
        this.socketPath = socketPath;
        this.name = name;
        Files.deleteIfExists(socketPath);
        listener = UnixSocket.listen(socketPath.toString(), 1);
        counters = new VhostUserCounters(engine, name);
        backend = new VhostUserBackend(name, device, engine, MAX_MEM_SLOTS, counters, this::dropConnection);
        thread = new Thread(this::serve, "virtio4j-vhost-" + name);
        thread.start();
    }

    /** @return the socket path. */
    public Path socketPath()
    {
        return socketPath;
    }

    private void serve()
    {
        try
        {
            while (running)
            {
                final UnixSocket client;
                try
                {
                    client = listener.accept();
                }
                catch (final ErrnoException e)
                {
                    if (running)
                    {
                        log("accept failed: " + e.getMessage());
                    }
                    continue;
                }
                connection = client;
                counters.connection();
                log("front-end connected");
                try
                {
                    serveConnection(client);
                }
                catch (final RuntimeException | InternalError e)
                {
                    log("connection failed: " + e);
                }
                finally
                {
                    try
                    {
                        backend.disconnect();
                    }
                    catch (final RuntimeException | InternalError e)
                    {
                        log("releasing the connection's device failed: " + e);
                    }
                    synchronized (this)
                    {
                        connection = null;
                        closeQuietly(client);
                    }
                    log("front-end disconnected");
                }
            }
        }
        finally
        {
            stopped.countDown();
        }
    }

    private void serveConnection(final UnixSocket client)
    {
        while (running)
        {
            final int fdCount;
            try
            {
                final long result = client.receive(header, VhostUserMessage.HEADER_SIZE, fds);
                fdCount = (int)(result >>> 32);
                final int received = (int)result;
                if (received == 0)
                {
                    closeFds(fdCount);
                    return;
                }
                if (received < VhostUserMessage.HEADER_SIZE && !receiveRest(client, received, fdCount))
                {
                    return;
                }
            }
            catch (final ErrnoException | RuntimeException e)
            {
                if (running)
                {
                    refuseAndClose("receive failed: " + e.getMessage());
                }
                return;
            }
            final int request = header.get(LE_U32, 0);
            final int flags = header.get(LE_U32, 4);
            final int size = header.get(LE_U32, 8);
            if (size < 0 || size > VhostUserMessage.MAX_PAYLOAD || (flags & VhostUserMessage.VERSION_MASK) != VhostUserMessage.VERSION)
            {
                closeFds(fdCount);
                refuseAndClose("message " + VhostUserRequest.name(request) + " flags=0x" + Integer.toHexString(flags) +
                    " size=" + Integer.toUnsignedString(size) + ": bad version or oversized");
                return;
            }
            try
            {
                if (size > 0 && !client.receiveFully(payload, 0, size))
                {
                    closeFds(fdCount);
                    refuseAndClose("message " + VhostUserRequest.name(request) + " truncated: " + size + " payload bytes promised");
                    return;
                }
            }
            catch (final ErrnoException e)
            {
                closeFds(fdCount);
                refuseAndClose("receive failed: " + e.getMessage());
                return;
            }
            counters.message();
            if (!dispatch(client, request, flags, size, fdCount))
            {
                return;
            }
        }
    }

    /** Reads the rest of a header; closes the message's fds and refuses it if the stream breaks. */
    private boolean receiveRest(final UnixSocket client, final int received, final int fdCount)
    {
        try
        {
            if (client.receiveFully(header, received, VhostUserMessage.HEADER_SIZE - received))
            {
                return true;
            }
            closeFds(fdCount);
            refuseAndClose("truncated header");
        }
        catch (final ErrnoException | RuntimeException e)
        {
            closeFds(fdCount);
            refuseAndClose("receive failed: " + e.getMessage());
        }
        return false;
    }

    /** @return false if the connection must close. */
    private boolean dispatch(final UnixSocket client, final int request, final int flags, final int size, final int fdCount)
    {
        final boolean needReply = (flags & VhostUserMessage.NEED_REPLY) != 0;
        final MemorySegment replyPayload = reply.asSlice(VhostUserMessage.HEADER_SIZE);
        int replySize;
        boolean failed = false;
        try
        {
            replySize = backend.handle(request, payload, size, fds, fdCount, replyPayload);
        }
        catch (final VhostUserException e)
        {
            counters.refused();
            log("refused " + VhostUserRequest.name(request) + ": " + e.getMessage());
            if (e.fatal() || !(needReply && backend.replyAckNegotiated()))
            {
                counters.closedOnError();
                log("closing the connection");
                return false;
            }
            replySize = -1;
            failed = true;
        }
        catch (final RuntimeException | InternalError e)
        {
            // An InternalError here is a fault on guest memory the front-end shrank while we read its rings.
            counters.refused();
            counters.closedOnError();
            if (e instanceof InternalError)
            {
                counters.memoryFault();
            }
            log("internal error on " + VhostUserRequest.name(request) + ", closing the connection: " + e);
            return false;
        }
        if (replySize < 0)
        {
            if (!(needReply && backend.replyAckNegotiated()))
            {
                return true;
            }
            replyPayload.set(LE_U64, 0, failed ? 1 : 0);
            replySize = 8;
        }
        reply.set(LE_U32, 0, request);
        reply.set(LE_U32, 4, VhostUserMessage.VERSION | VhostUserMessage.REPLY);
        reply.set(LE_U32, 8, replySize);
        final int replyFd = failed ? -1 : backend.takeReplyFd();
        try
        {
            if (replyFd >= 0)
            {
                replyFds[0] = replyFd;
                client.send(reply, VhostUserMessage.HEADER_SIZE + replySize, replyFds, 1);
                return true;
            }
            client.send(reply, VhostUserMessage.HEADER_SIZE + replySize, fds, 0);
            return true;
        }
        catch (final ErrnoException e)
        {
            log("reply failed: " + e.getMessage());
            return false;
        }
    }

    /**
     * Ends the current connection from any thread (the device failed): the serve thread sees the socket close,
     * releases the device and waits for the front-end to come back.
     */
    private void dropConnection()
    {
        synchronized (this)
        {
            final UnixSocket client = connection;
            if (client != null)
            {
                counters.closedOnError();
                client.shutdown();
            }
        }
    }

    private void refuseAndClose(final String why)
    {
        counters.refused();
        counters.closedOnError();
        log(why + "; closing the connection");
    }

    private void closeFds(final int count)
    {
        for (int i = 0; i < count; i++)
        {
            try
            {
                org.virtio4j.memory.linux.Linux.close(fds[i]);
            }
            catch (final ErrnoException e)
            {
                // Already closed.
            }
        }
    }

    private void log(final String message)
    {
        counters.log("virtio4j vhost-user " + name + " (" + socketPath + "): " + message);
    }

    private static void closeQuietly(final UnixSocket socket)
    {
        try
        {
            socket.close();
        }
        catch (final ErrnoException e)
        {
            // Nothing left to release.
        }
    }

    /** @return true while a front-end is connected. */
    public boolean connected()
    {
        return connection != null;
    }

    /** @return true while the device runs on the engine. */
    public boolean deviceRunning()
    {
        return backend.running();
    }

    /** @return messages refused so far. */
    public long refusedMessages()
    {
        return counters.refusedCount();
    }

    /** @return connections closed because of bad input. */
    public long connectionsClosedOnError()
    {
        return counters.closedOnErrorCount();
    }

    /** @return device failures so far (each closed its connection). */
    public long deviceFailures()
    {
        return counters.deviceErrorCount();
    }

    /** @return memory regions mapped whose file could shrink under the mapping (not a sealed memfd). */
    public long unsealedRegions()
    {
        return counters.unsealedRegionCount();
    }

    /** @return device failures that were faults on guest memory. */
    public long memoryFaults()
    {
        return counters.memoryFaultCount();
    }

    /** @return connections accepted so far. */
    public long connections()
    {
        return counters.connectionCount();
    }

    /** @return pages the dirty log has marked (while front-ends migrated guests). */
    public long dirtyPagesLogged()
    {
        return counters.dirtyPageCount();
    }

    /** @return requests resubmitted from inflight regions after reconnects. */
    public long requestsResubmitted()
    {
        return counters.resubmittedCount();
    }

    /**
     * Stops serving: the current front-end is disconnected (its device stopped with every request in flight
     * completed), the socket is removed.
     */
    @Override
    public void close() throws IOException
    {
        running = false;
        listener.shutdown();
        synchronized (this)
        {
            // Under the lock the serve thread closes the connection with: never a closed or reused fd.
            final UnixSocket client = connection;
            if (client != null)
            {
                client.shutdown();
            }
        }
        try
        {
            stopped.await();
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
        closeQuietly(listener);
        counters.close();
        Files.deleteIfExists(socketPath);
    }
}
