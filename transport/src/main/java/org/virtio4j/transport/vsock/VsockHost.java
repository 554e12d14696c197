package org.virtio4j.transport.vsock;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;


import org.virtio4j.devices.vsock.VsockPacket;
import org.virtio4j.devices.vsock.VsockPacketHandler;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.UnixSocket;
import org.virtio4j.virtio.VirtioVsock;


/**
 * The host end of a guest's vsock connections, in the Firecracker / vhost-device-vsock convention: a guest
 * connecting to CID 2 port P reaches the Unix socket {@code <uds>_P}; a host program connecting to {@code <uds>}
 * and writing {@code CONNECT <port>\n} reaches the guest's port P and receives {@code OK <hostport>\n}.
 *
 * <p>It runs the connection state machine of the virtio-vsock spec (REQUEST, RESPONSE, RW, SHUTDOWN with its
 * RCV/SEND flags, CREDIT_UPDATE, CREDIT_REQUEST, RST) with credit flow control both ways, a bounded number of
 * connections and bounded buffers. Bad input — a malformed or unknown packet, a packet for a connection that does
 * not exist, a credit violation — gets RST for that connection and a counter, never more.
 *
 * <p>Not thread-safe: driven by the device's owner (its actor), through {@link VsockPacketHandler}.
 */
public final class VsockHost implements VsockPacketHandler, AutoCloseable
{
    /** Most connections at once. */
    public static final int MAX_CONNECTIONS = 64;
    private static final int FIRST_HOST_PORT = 1024;
    private static final int MAX_HANDSHAKE = 64;
    private static final int ORPHAN_RST_LIMIT = 256;
    private static final long ACCEPT_INTERVAL_NANOS = 1_000_000L;

    private final long guestCid;
    private final Path uds;
    private final UnixSocket listener;
    private final List<VsockConnection> connections = new ArrayList<>();
    private final List<VsockConnection> handshaking = new ArrayList<>();
    private final long[] orphanGuestPorts = new long[ORPHAN_RST_LIMIT];
    private final long[] orphanPeerPorts = new long[ORPHAN_RST_LIMIT];
    private final long[] orphanPeerCids = new long[ORPHAN_RST_LIMIT];
    private int orphanHead;
    private int orphanCount;
    private int nextToFill;
    private final BridgeRelay relay;
    private long lastAccept;
    private int nextHostPort = FIRST_HOST_PORT;
    private long resets;
    private long badPackets;
    private long creditViolations;
    private long refusedConnections;

    /**
     * @param guestCid the guest's context id.
     * @param uds      the host socket path prefix; the server listens on it for host-initiated connections.
     * @throws IOException if the listening socket cannot be bound.
     */
    public VsockHost(final long guestCid, final Path uds) throws IOException
    {
        this(guestCid, uds, null);
    }

    /**
     * @param guestCid the guest's context id.
     * @param uds      the host socket path prefix.
     * @param bridge   the guest's port into the vsock fabric, or null for host sockets only.
     * @throws IOException if the listening socket cannot be bound.
     */
    public VsockHost(final long guestCid, final Path uds, final VsockBridge bridge) throws IOException
    {
        this.guestCid = guestCid;
        this.uds = uds;
        this.relay = bridge == null ? null : new BridgeRelay(guestCid, bridge.port(guestCid), this::orphanReset);
        Files.deleteIfExists(uds);
        listener = UnixSocket.listen(uds.toString(), 16);
        listener.configureNonBlocking();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Guest to host
    // ---------------------------------------------------------------------------------------------------------------

    @Override
    public boolean onTransmit(final GuestMemory memory, final VsockPacket packet)
    {
        if (packet.dstCid() != VirtioVsock.HOST_CID && packet.srcCid() == guestCid && packet.type() == VirtioVsock.TYPE_STREAM)
        {
            if (relay != null && relay.routes(packet.dstCid()))
            {
                return relay.forward(memory, packet);
            }
            // No route to that CID: refuse from the CID the guest asked for, so its connect fails at once.
            badPackets++;
            if (packet.op() != VirtioVsock.OP_RST)
            {
                orphanReset(packet.srcPort(), packet.dstPort(), packet.dstCid());
            }
            return true;
        }
        handleLocal(memory, packet);
        return true;
    }

    @Override
    public void onBadPacket(final VsockPacket packet)
    {
        // The header parsed but the data did not: the stream cannot go on without a gap, so it is reset.
        badPackets++;
        if (packet.dstCid() == VirtioVsock.HOST_CID)
        {
            reset(find(packet.srcPort(), packet.dstPort()), packet.srcPort(), packet.dstPort());
        }
        else if (packet.op() != VirtioVsock.OP_RST)
        {
            orphanReset(packet.srcPort(), packet.dstPort(), packet.dstCid());
        }
    }

    private void handleLocal(final GuestMemory memory, final VsockPacket packet)
    {
        final int guestPort = packet.srcPort();
        final int hostPort = packet.dstPort();
        final VsockConnection connection = find(guestPort, hostPort);
        if (packet.srcCid() != guestCid || packet.dstCid() != VirtioVsock.HOST_CID || packet.type() != VirtioVsock.TYPE_STREAM)
        {
            badPackets++;
            if (packet.op() != VirtioVsock.OP_RST)
            {
                reset(connection, guestPort, hostPort);
            }
            return;
        }
        if (connection != null)
        {
            connection.updatePeerCredit(packet.bufAlloc(), packet.fwdCnt());
        }
        switch (packet.op())
        {
            case VirtioVsock.OP_REQUEST -> onRequest(connection, packet);
            case VirtioVsock.OP_RESPONSE -> onResponse(connection, guestPort, hostPort);
            case VirtioVsock.OP_RW -> onData(connection, memory, packet);
            case VirtioVsock.OP_CREDIT_UPDATE ->
            {
                if (connection == null)
                {
                    badPackets++;
                    reset(null, guestPort, hostPort);
                }
            }
            case VirtioVsock.OP_CREDIT_REQUEST ->
            {
                if (connection == null)
                {
                    badPackets++;
                    reset(null, guestPort, hostPort);
                }
                else
                {
                    connection.pendingControl |= VsockConnection.SEND_CREDIT_UPDATE;
                }
            }
            case VirtioVsock.OP_SHUTDOWN -> onShutdown(connection, packet, guestPort, hostPort);
            case VirtioVsock.OP_RST ->
            {
                if (connection != null)
                {
                    remove(connection);
                }
            }
            default ->
            {
                badPackets++;
                reset(connection, guestPort, hostPort);
            }
        }
    }

    private void onRequest(final VsockConnection existing, final VsockPacket packet)
    {
        if (existing != null)
        {
            badPackets++;
            reset(existing, packet.srcPort(), packet.dstPort());
            return;
        }
        if (connections.size() >= MAX_CONNECTIONS)
        {
            refusedConnections++;
            reset(null, packet.srcPort(), packet.dstPort());
            return;
        }
        final Path target = Path.of(uds + "_" + Integer.toUnsignedString(packet.dstPort()));
        final UnixSocket socket;
        try
        {
            // Non-blocking from the start: a host service with a full backlog must not stall the device's thread.
            socket = UnixSocket.connectNonBlocking(target.toString());
        }
        catch (final ErrnoException | IllegalArgumentException e)
        {
            refusedConnections++;
            reset(null, packet.srcPort(), packet.dstPort());
            return;
        }
        final VsockConnection connection = new VsockConnection(packet.srcPort(), packet.dstPort(), socket, VsockConnection.CONNECTED);
        connection.updatePeerCredit(packet.bufAlloc(), packet.fwdCnt());
        connection.pendingControl |= VsockConnection.SEND_RESPONSE;
        connections.add(connection);
    }

    private void onResponse(final VsockConnection connection, final int guestPort, final int hostPort)
    {
        if (connection == null || connection.state != VsockConnection.CONNECTING)
        {
            badPackets++;
            reset(connection, guestPort, hostPort);
            return;
        }
        connection.state = VsockConnection.CONNECTED;
        final byte[] ok = ("OK " + Integer.toUnsignedString(connection.hostPort) + "\n").getBytes(StandardCharsets.US_ASCII);
        connection.acceptFromGuest(MemorySegment.ofArray(ok), ok.length);
        // The OK line is ours, not the guest's: it does not count against the guest's credit.
        connection.rxCnt -= ok.length;
        connection.fwdCnt -= ok.length;
        flush(connection);
    }

    private void onData(final VsockConnection connection, final GuestMemory memory, final VsockPacket packet)
    {
        if (connection == null || connection.state != VsockConnection.CONNECTED || connection.guestSendClosed)
        {
            badPackets++;
            reset(connection, packet.srcPort(), packet.dstPort());
            return;
        }
        if (!packet.hasData())
        {
            return;
        }
        final boolean accepted;
        try
        {
            accepted = connection.acceptFromGuest(memory, packet.dataAddr(), packet.dataLen());
        }
        catch (final RuntimeException e)
        {
            badPackets++;
            reset(connection, packet.srcPort(), packet.dstPort());
            return;
        }
        if (!accepted)
        {
            creditViolations++;
            reset(connection, packet.srcPort(), packet.dstPort());
            return;
        }
        flush(connection);
    }

    private void onShutdown(final VsockConnection connection, final VsockPacket packet, final int guestPort, final int hostPort)
    {
        if (connection == null)
        {
            badPackets++;
            reset(null, guestPort, hostPort);
            return;
        }
        if ((packet.flags() & VirtioVsock.SHUTDOWN_SEND) != 0)
        {
            connection.guestSendClosed = true;
        }
        if ((packet.flags() & VirtioVsock.SHUTDOWN_RCV) != 0)
        {
            connection.guestReceiveClosed = true;
        }
        flush(connection);
    }

    private void flush(final VsockConnection connection)
    {
        try
        {
            connection.flushToHost();
            if (connection.guestSendClosed && connection.toHostCount == 0)
            {
                connection.socket.shutdownOutput();
                if (connection.guestReceiveClosed)
                {
                    // Both directions closed and every byte delivered: we complete the close with RST.
                    connection.pendingControl |= VsockConnection.SEND_RST;
                }
            }
            if (connection.fwdCnt - connection.fwdCntAdvertised >= VsockConnection.BUF_ALLOC / 4)
            {
                connection.pendingControl |= VsockConnection.SEND_CREDIT_UPDATE;
            }
        }
        catch (final ErrnoException e)
        {
            reset(connection, connection.guestPort, connection.hostPort);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Host to guest
    // ---------------------------------------------------------------------------------------------------------------

    @Override
    public int pollHost()
    {
        final long now = System.nanoTime();
        int work = 0;
        if (now - lastAccept >= ACCEPT_INTERVAL_NANOS)
        {
            // A system call: at most once a millisecond while busy (a sleeping device wakes on the listener fd).
            lastAccept = now;
            work += acceptHostConnections();
        }
        if (relay != null)
        {
            work += relay.poll(now);
        }
        for (int i = handshaking.size() - 1; i >= 0; i--)
        {
            work += handshake(handshaking.get(i));
        }
        for (int i = connections.size() - 1; i >= 0; i--)
        {
            final VsockConnection connection = connections.get(i);
            if (connection.state != VsockConnection.CONNECTED)
            {
                continue;
            }
            if (connection.toHostCount > 0)
            {
                flush(connection);
            }
            if (connection.guestReceiveClosed || connection.guestCredit() == 0)
            {
                continue;
            }
            try
            {
                final long n = connection.readFromHost();
                if (n > 0)
                {
                    work++;
                }
                else if (n < 0 && !connection.eofSignalled)
                {
                    connection.eofSignalled = true;
                    connection.pendingControl |= VsockConnection.SEND_SHUTDOWN;
                    work++;
                }
            }
            catch (final ErrnoException e)
            {
                reset(connection, connection.guestPort, connection.hostPort);
            }
        }
        return work;
    }

    private int acceptHostConnections()
    {
        int accepted = 0;
        while (true)
        {
            final UnixSocket socket;
            try
            {
                socket = listener.tryAccept();
                if (socket == null)
                {
                    return accepted;
                }
                socket.configureNonBlocking();
            }
            catch (final ErrnoException e)
            {
                return accepted;
            }
            if (connections.size() + handshaking.size() >= MAX_CONNECTIONS)
            {
                refusedConnections++;
                closeQuietly(socket);
                continue;
            }
            handshaking.add(new VsockConnection(0, nextHostPort(), socket, VsockConnection.HANDSHAKE));
            accepted++;
        }
    }

    private int nextHostPort()
    {
        final int port = nextHostPort;
        nextHostPort = nextHostPort == Integer.MAX_VALUE ? FIRST_HOST_PORT : nextHostPort + 1;
        return port;
    }

    /** Reads {@code CONNECT <port>\n} from a host program, then asks the guest to connect. */
    private int handshake(final VsockConnection pending)
    {
        final MemorySegment one = pending.toGuest.asSlice(0, 1);
        try
        {
            while (true)
            {
                final long n = pending.socket.read(one, 1);
                if (n == UnixSocket.WOULD_BLOCK)
                {
                    return 0;
                }
                if (n == UnixSocket.END_OF_STREAM)
                {
                    handshaking.remove(pending);
                    pending.close();
                    return 1;
                }
                final char c = (char)one.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0);
                if (c == '\n')
                {
                    break;
                }
                pending.handshake.append(c);
                if (pending.handshake.length() > MAX_HANDSHAKE)
                {
                    throw new IllegalArgumentException("handshake too long");
                }
            }
            final String line = pending.handshake.toString().trim();
            if (!line.startsWith("CONNECT "))
            {
                throw new IllegalArgumentException(line);
            }
            final int guestPort = Integer.parseUnsignedInt(line.substring("CONNECT ".length()).trim());
            handshaking.remove(pending);
            pending.guestPort = guestPort;
            pending.state = VsockConnection.CONNECTING;
            pending.pendingControl |= VsockConnection.SEND_REQUEST;
            connections.add(pending);
            return 1;
        }
        catch (final ErrnoException | RuntimeException e)
        {
            refusedConnections++;
            handshaking.remove(pending);
            pending.close();
            return 1;
        }
    }

    @Override
    public boolean hasPacketForGuest()
    {
        if (orphanCount > 0 || relay != null && relay.hasPacket())
        {
            return true;
        }
        for (final VsockConnection connection : connections)
        {
            if (connection.pendingControl != 0 ||
                connection.state == VsockConnection.CONNECTED && connection.toGuestCount > 0 && connection.guestCredit() > 0)
            {
                return true;
            }
        }
        return false;
    }

    @Override
    public long fillPacketForGuest(final GuestMemory memory, final VsockPacket packet)
    {
        if (orphanCount > 0)
        {
            final int at = orphanHead;
            orphanHead = (orphanHead + 1) % ORPHAN_RST_LIMIT;
            orphanCount--;
            packet.header(orphanPeerCids[at], guestCid, (int)orphanPeerPorts[at], (int)orphanGuestPorts[at], 0, VirtioVsock.TYPE_STREAM,
                VirtioVsock.OP_RST, 0, 0, 0);
            resets++;
            return 0;
        }
        if (relay != null && relay.hasPacket())
        {
            return relay.deliver(memory, packet);
        }
        final int count = connections.size();
        for (int n = 0; n < count; n++)
        {
            // Round-robin: every connection gets its turn, whatever its place in the list.
            final int i = (nextToFill + n) % count;
            final VsockConnection connection = connections.get(i);
            final long filled = fill(connection, memory, packet);
            if (filled >= 0)
            {
                nextToFill = i + 1;
                return filled;
            }
        }
        return -1;
    }

    /** @return the data length of the packet made for this connection, or -1 if it has nothing to send. */
    private long fill(final VsockConnection connection, final GuestMemory memory, final VsockPacket packet)
    {
        final int control = connection.pendingControl;
        final int bufAlloc = VsockConnection.BUF_ALLOC;
        if ((control & VsockConnection.SEND_RST) != 0)
        {
            header(packet, connection.hostPort, connection.guestPort, VirtioVsock.OP_RST, 0, 0, bufAlloc, (int)connection.fwdCnt);
            resets++;
            remove(connection);
            return 0;
        }
        if ((control & VsockConnection.SEND_REQUEST) != 0)
        {
            connection.pendingControl &= ~VsockConnection.SEND_REQUEST;
            header(packet, connection.hostPort, connection.guestPort, VirtioVsock.OP_REQUEST, 0, 0, bufAlloc, (int)connection.fwdCnt);
            return 0;
        }
        if ((control & VsockConnection.SEND_RESPONSE) != 0)
        {
            connection.pendingControl &= ~VsockConnection.SEND_RESPONSE;
            header(packet, connection.hostPort, connection.guestPort, VirtioVsock.OP_RESPONSE, 0, 0, bufAlloc, (int)connection.fwdCnt);
            return 0;
        }
        if (connection.state == VsockConnection.CONNECTED && connection.toGuestCount > 0 && connection.guestCredit() > 0 && packet.hasData())
        {
            final int length = (int)Math.min(Math.min(connection.toGuestCount, connection.guestCredit()), packet.dataLen());
            memory.write(packet.dataAddr(), connection.toGuest, connection.toGuestStart, length);
            connection.toGuestStart += length;
            connection.toGuestCount -= length;
            connection.txCnt += length;
            connection.fwdCntAdvertised = connection.fwdCnt;
            connection.pendingControl &= ~VsockConnection.SEND_CREDIT_UPDATE;
            header(packet, connection.hostPort, connection.guestPort, VirtioVsock.OP_RW, length, 0, bufAlloc, (int)connection.fwdCnt);
            return length;
        }
        if ((control & VsockConnection.SEND_CREDIT_UPDATE) != 0)
        {
            connection.pendingControl &= ~VsockConnection.SEND_CREDIT_UPDATE;
            connection.fwdCntAdvertised = connection.fwdCnt;
            header(packet, connection.hostPort, connection.guestPort, VirtioVsock.OP_CREDIT_UPDATE, 0, 0, bufAlloc, (int)connection.fwdCnt);
            return 0;
        }
        if ((control & VsockConnection.SEND_SHUTDOWN) != 0 && connection.toGuestCount == 0)
        {
            connection.pendingControl &= ~VsockConnection.SEND_SHUTDOWN;
            header(packet, connection.hostPort, connection.guestPort, VirtioVsock.OP_SHUTDOWN, 0,
                VirtioVsock.SHUTDOWN_SEND | (connection.guestSendClosed ? VirtioVsock.SHUTDOWN_RCV : 0), bufAlloc, (int)connection.fwdCnt);
            return 0;
        }
        return -1;
    }

    private void header(final VsockPacket packet, final int hostPort, final int guestPort, final int op, final int len, final int flags,
        final int bufAlloc, final int fwdCnt)
    {
        packet.header(VirtioVsock.HOST_CID, guestCid, hostPort, guestPort, len, VirtioVsock.TYPE_STREAM, op, flags, bufAlloc, fwdCnt);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Bookkeeping
    // ---------------------------------------------------------------------------------------------------------------

    private VsockConnection find(final int guestPort, final int hostPort)
    {
        for (final VsockConnection connection : connections)
        {
            if (connection.guestPort == guestPort && connection.hostPort == hostPort)
            {
                return connection;
            }
        }
        return null;
    }

    /** Resets a connection (or, if there is none, answers the packet's ports with RST). */
    private void reset(final VsockConnection connection, final int guestPort, final int hostPort)
    {
        if (connection != null)
        {
            connection.pendingControl = VsockConnection.SEND_RST;
            connection.state = VsockConnection.CLOSED;
            return;
        }
        orphanReset(guestPort, hostPort, VirtioVsock.HOST_CID);
    }

    private void orphanReset(final int guestPort, final int peerPort, final long peerCid)
    {
        if (orphanCount == ORPHAN_RST_LIMIT)
        {
            // More refusals pending than we keep: the guest times these connects out itself.
            return;
        }
        final int at = (orphanHead + orphanCount) % ORPHAN_RST_LIMIT;
        orphanGuestPorts[at] = guestPort;
        orphanPeerPorts[at] = peerPort;
        orphanPeerCids[at] = peerCid;
        orphanCount++;
    }

    private void remove(final VsockConnection connection)
    {
        connections.remove(connection);
        connection.close();
    }

    private static void closeQuietly(final UnixSocket socket)
    {
        try
        {
            socket.close();
        }
        catch (final ErrnoException e)
        {
            // Already gone.
        }
    }

    @Override
    public boolean busy()
    {
        if (relay != null)
        {
            // Aeron has no descriptor to wait on: a bridged device is polled.
            return true;
        }
        // Bytes for a host socket that is full are not busy work: the socket announces room (addWriteWakeFds).
        return false;
    }

    @Override
    public void addWakeFds(final IntConsumer sink)
    {
        sink.accept(listener.fd());
        for (final VsockConnection connection : handshaking)
        {
            sink.accept(connection.socket.fd());
        }
        for (final VsockConnection connection : connections)
        {
            if (connection.state == VsockConnection.CONNECTED && connection.toGuestCount == 0 && !connection.hostEof &&
                !connection.guestReceiveClosed && connection.guestCredit() > 0)
            {
                sink.accept(connection.socket.fd());
            }
        }
    }

    @Override
    public void addWriteWakeFds(final IntConsumer sink)
    {
        for (final VsockConnection connection : connections)
        {
            if (connection.state == VsockConnection.CONNECTED && connection.toHostCount > 0)
            {
                sink.accept(connection.socket.fd());
            }
        }
    }

    @Override
    public void transportReset()
    {
        resetAll();
    }

    /** Drops every connection (device reset: the guest forgets them too). */
    public void resetAll()
    {
        for (final VsockConnection connection : new ArrayList<>(connections))
        {
            remove(connection);
        }
        for (final VsockConnection connection : new ArrayList<>(handshaking))
        {
            handshaking.remove(connection);
            connection.close();
        }
        orphanCount = 0;
        if (relay != null)
        {
            relay.clear();
        }
    }

    @Override
    public List<String> counterNames()
    {
        return List.of("connections", "resets sent", "packets bridged out", "packets bridged in", "errors: bad packets",
            "errors: credit violations", "errors: refused connections", "errors: peer resets");
    }

    @Override
    public long counterValue(final int index)
    {
        return switch (index)
        {
            case 0 -> connections.size();
            case 1 -> resets;
            case 2 -> relay == null ? 0 : relay.packetsBridgedOut();
            case 3 -> relay == null ? 0 : relay.packetsBridgedIn();
            case 4 -> badPackets + (relay == null ? 0 : relay.badPackets());
            case 5 -> creditViolations;
            case 6 -> refusedConnections;
            default -> relay == null ? 0 : relay.peerResets();
        };
    }

    /** @return open connections. */
    public int connectionCount()
    {
        return connections.size();
    }

    /** @return RST packets sent to the guest. */
    public long resets()
    {
        return resets;
    }

    /** @return malformed, unknown or misdirected packets. */
    public long badPackets()
    {
        return badPackets + (relay == null ? 0 : relay.badPackets());
    }

    /** @return packets that exceeded our advertised credit. */
    public long creditViolations()
    {
        return creditViolations;
    }

    /** @return connections refused (no host listener, too many connections, bad handshake). */
    public long refusedConnections()
    {
        return refusedConnections;
    }

    /** @return packets sent to other hosts. */
    public long packetsBridgedOut()
    {
        return relay == null ? 0 : relay.packetsBridgedOut();
    }

    /** @return packets received from other hosts. */
    public long packetsBridgedIn()
    {
        return relay == null ? 0 : relay.packetsBridgedIn();
    }

    /** @return connections reset because their host became unreachable. */
    public long peerResets()
    {
        return relay == null ? 0 : relay.peerResets();
    }

    @Override
    public void close() throws IOException
    {
        resetAll();
        if (relay != null)
        {
            relay.close();
        }
        try
        {
            listener.close();
        }
        finally
        {
            Files.deleteIfExists(uds);
        }
    }
}
