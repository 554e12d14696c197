package org.virtio4j.transport.vsock;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestRegion;
import org.virtio4j.memory.linux.FdPoller;
import org.virtio4j.virtio.VirtioVsock;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The vsock connection state machine and credit flow against host Unix sockets, driven by a simulated guest
 * driver: guest- and host-initiated connections, data both ways, half-close, credit updates, and every kind of bad
 * input answered with RST and a counter.
 */
class VsockHostTest
{
    private static final long CID = 3;
    private static final int GUEST_BUF = 64 * 1024;

    @TempDir
    Path dir;

    private final Arena arena = Arena.ofConfined();
    private VsockHost host;
    private GuestVsockDriver guest;
    private Path uds;

    @BeforeEach
    void setUp() throws Exception
    {
        uds = dir.resolve("vm.vsock");
        host = new VsockHost(CID, uds);
        final GuestMemory memory = GuestMemory.of(new GuestRegion(0, arena.allocate(8 << 20, 4096)));
        guest = new GuestVsockDriver(memory, CID, host);
    }

    @AfterEach
    void tearDown() throws Exception
    {
        host.close();
        arena.close();
    }

    private List<GuestVsockDriver.Packet> receiveUntil(final int op) throws Exception
    {
        final List<GuestVsockDriver.Packet> all = new ArrayList<>();
        final long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline)
        {
            final List<GuestVsockDriver.Packet> packets = guest.receive();
            all.addAll(packets);
            if (packets.stream().anyMatch(p -> p.op() == op))
            {
                return all;
            }
            Thread.onSpinWait();
        }
        throw new AssertionError("no packet with op " + op + " arrived; got " + all);
    }

    @Test
    void shouldConnectAGuestToAHostSocketAndCarryDataBothWays() throws Exception
    {
        try (ServerSocketChannel service = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            service.bind(UnixDomainSocketAddress.of(Path.of(uds + "_1234")));
            guest.send(VirtioVsock.HOST_CID, 40000, 1234, VirtioVsock.OP_REQUEST, 0, GUEST_BUF, 0, new byte[0]);
            final GuestVsockDriver.Packet response = receiveUntil(VirtioVsock.OP_RESPONSE).getLast();
            assertEquals(VirtioVsock.HOST_CID, response.srcCid());
            assertEquals(40000, response.dstPort());
            assertEquals(VsockConnection.BUF_ALLOC, response.bufAlloc());
            try (SocketChannel peer = service.accept())
            {
                final byte[] hello = "hello host\n".getBytes(StandardCharsets.US_ASCII);
                guest.send(VirtioVsock.HOST_CID, 40000, 1234, VirtioVsock.OP_RW, 0, GUEST_BUF, 0, hello);
                final String line = new BufferedReader(new InputStreamReader(Channels.newInputStream(peer), StandardCharsets.US_ASCII)).readLine();
                assertEquals("hello host", line);

                peer.write(ByteBuffer.wrap("hello guest".getBytes(StandardCharsets.US_ASCII)));
                final GuestVsockDriver.Packet data = receiveUntil(VirtioVsock.OP_RW).getLast();
                assertEquals("hello guest", new String(data.data(), StandardCharsets.US_ASCII));
                assertEquals(hello.length, data.fwdCnt(), "the host advertises the bytes it forwarded");

                peer.shutdownOutput();
                final GuestVsockDriver.Packet shutdown = receiveUntil(VirtioVsock.OP_SHUTDOWN).getLast();
                assertEquals(VirtioVsock.SHUTDOWN_SEND, shutdown.flags() & VirtioVsock.SHUTDOWN_SEND, "host EOF becomes SHUTDOWN(SEND)");

                guest.send(VirtioVsock.HOST_CID, 40000, 1234, VirtioVsock.OP_SHUTDOWN, VirtioVsock.SHUTDOWN_SEND | VirtioVsock.SHUTDOWN_RCV,
                    GUEST_BUF, 11, new byte[0]);
                receiveUntil(VirtioVsock.OP_RST);
                assertEquals(-1, peer.read(ByteBuffer.allocate(1)), "the guest's SHUTDOWN(SEND) reached the host as end of stream");
                assertEquals(0, host.connectionCount(), "the close completed");
            }
        }
    }

    @Test
    void shouldNotSendMoreThanTheGuestsCreditAndResumeOnCreditUpdate() throws Exception
    {
        try (ServerSocketChannel service = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            service.bind(UnixDomainSocketAddress.of(Path.of(uds + "_7")));
            guest.send(VirtioVsock.HOST_CID, 41000, 7, VirtioVsock.OP_REQUEST, 0, 1000, 0, new byte[0]);
            receiveUntil(VirtioVsock.OP_RESPONSE);
            try (SocketChannel peer = service.accept())
            {
                peer.write(ByteBuffer.wrap(new byte[3000]));
                int delivered = 0;
                for (int i = 0; i < 50; i++)
                {
                    delivered += guest.receive().stream().filter(p -> p.op() == VirtioVsock.OP_RW).mapToInt(p -> p.data().length).sum();
                }
                assertEquals(1000, delivered, "exactly the guest's buf_alloc, no more");
                guest.send(VirtioVsock.HOST_CID, 41000, 7, VirtioVsock.OP_CREDIT_UPDATE, 0, 1000, 1000, new byte[0]);
                for (int i = 0; i < 50; i++)
                {
                    delivered += guest.receive().stream().filter(p -> p.op() == VirtioVsock.OP_RW).mapToInt(p -> p.data().length).sum();
                }
                assertEquals(2000, delivered, "another buf_alloc after the guest consumed the first");
            }
        }
    }

    @Test
    void shouldSleepOnAFullHostSocketAndWakeWhenItDrains() throws Exception
    {
        try (ServerSocketChannel service = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
             FdPoller poller = new FdPoller(4))
        {
            service.bind(UnixDomainSocketAddress.of(Path.of(uds + "_9")));
            guest.send(VirtioVsock.HOST_CID, 42000, 9, VirtioVsock.OP_REQUEST, 0, GUEST_BUF, 0, new byte[0]);
            receiveUntil(VirtioVsock.OP_RESPONSE);
            try (SocketChannel peer = service.accept())
            {
                // The host's whole buf_alloc, more than a Unix socket buffers: the rest waits in the connection.
                final byte[] sent = new byte[VsockConnection.BUF_ALLOC];
                for (int i = 0; i < sent.length; i++)
                {
                    sent[i] = (byte)(i * 31 + 7);
                }
                final int chunk = 32 * 1024;
                for (int at = 0; at < sent.length; at += chunk)
                {
                    guest.send(VirtioVsock.HOST_CID, 42000, 9, VirtioVsock.OP_RW, 0, GUEST_BUF, 0, Arrays.copyOfRange(sent, at, at + chunk));
                }
                guest.receive();

                assertFalse(host.busy(), "bytes waiting for a full socket are no reason to spin");
                final List<Integer> writeFds = new ArrayList<>();
                host.addWriteWakeFds(writeFds::add);
                assertEquals(1, writeFds.size(), "the full socket is named as the descriptor to wait on");
                poller.addWritable(writeFds.getFirst());
                assertEquals(0, poller.poll(0), "nothing drained yet: a sleeping device stays asleep");

                final ByteBuffer received = ByteBuffer.allocate(sent.length);
                peer.read(received);
                assertEquals(1, poller.poll(5000), "the reader made room: the device wakes");

                final long deadline = System.nanoTime() + 5_000_000_000L;
                peer.configureBlocking(false);
                while (received.hasRemaining() && System.nanoTime() < deadline)
                {
                    guest.receive();
                    peer.read(received);
                }
                assertArrayEquals(sent, received.array(), "every byte reached the host program, in order");
                final List<Integer> after = new ArrayList<>();
                host.addWriteWakeFds(after::add);
                assertTrue(after.isEmpty(), "nothing left to write: no write wake-up");
            }
        }
    }

    @Test
    void shouldLetAHostProgramReachAGuestPortThroughConnect() throws Exception
    {
        try (SocketChannel program = SocketChannel.open(UnixDomainSocketAddress.of(uds)))
        {
            program.write(ByteBuffer.wrap("CONNECT 5000\n".getBytes(StandardCharsets.US_ASCII)));
            final GuestVsockDriver.Packet request = receiveUntil(VirtioVsock.OP_REQUEST).getLast();
            assertEquals(5000, request.dstPort());
            assertEquals(CID, request.dstCid());
            guest.send(VirtioVsock.HOST_CID, 5000, request.srcPort(), VirtioVsock.OP_RESPONSE, 0, GUEST_BUF, 0, new byte[0]);
            final BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(program), StandardCharsets.US_ASCII));
            assertEquals("OK " + request.srcPort(), in.readLine());
            guest.send(VirtioVsock.HOST_CID, 5000, request.srcPort(), VirtioVsock.OP_RW, 0, GUEST_BUF, 0,
                "from guest\n".getBytes(StandardCharsets.US_ASCII));
            assertEquals("from guest", in.readLine());
        }
    }

    @Test
    void shouldAnswerBadInputWithResetAndCountIt() throws Exception
    {
        guest.send(VirtioVsock.HOST_CID, 42000, 9, VirtioVsock.OP_RW, 0, GUEST_BUF, 0, new byte[] {1});
        assertEquals(42000, receiveUntil(VirtioVsock.OP_RST).getLast().dstPort(), "data for a connection that does not exist");
        guest.send(VirtioVsock.HOST_CID, 42001, 9, 99, 0, GUEST_BUF, 0, new byte[0]);
        receiveUntil(VirtioVsock.OP_RST);
        guest.send(VirtioVsock.HOST_CID, 42002, 4242, VirtioVsock.OP_REQUEST, 0, GUEST_BUF, 0, new byte[0]);
        receiveUntil(VirtioVsock.OP_RST);
        assertEquals(1, host.refusedConnections(), "no host listener on port 4242");
        assertEquals(2, host.badPackets());

        try (ServerSocketChannel service = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            service.bind(UnixDomainSocketAddress.of(Path.of(uds + "_8")));
            guest.send(VirtioVsock.HOST_CID, 43000, 8, VirtioVsock.OP_REQUEST, 0, GUEST_BUF, 0, new byte[0]);
            receiveUntil(VirtioVsock.OP_RESPONSE);
            try (SocketChannel peer = service.accept())
            {
                // The host never reads: the guest sends past our buf_alloc of 256 KiB.
                final byte[] chunk = new byte[4096];
                final long before = host.creditViolations();
                for (int i = 0; i < VsockConnection.BUF_ALLOC / chunk.length + 64 && host.creditViolations() == before; i++)
                {
                    guest.send(VirtioVsock.HOST_CID, 43000, 8, VirtioVsock.OP_RW, 0, GUEST_BUF, 0, chunk);
                }
                assertEquals(before + 1, host.creditViolations());
                receiveUntil(VirtioVsock.OP_RST);
                assertTrue(peer.isOpen());
            }
        }
    }

    @Test
    void shouldRefuseConnectionsBeyondTheBound() throws Exception
    {
        try (ServerSocketChannel service = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            service.bind(UnixDomainSocketAddress.of(Path.of(uds + "_77")), VsockHost.MAX_CONNECTIONS + 1);
            for (int port = 1; port <= VsockHost.MAX_CONNECTIONS; port++)
            {
                guest.send(VirtioVsock.HOST_CID, port, 77, VirtioVsock.OP_REQUEST, 0, GUEST_BUF, 0, new byte[0]);
                assertEquals(port, receiveUntil(VirtioVsock.OP_RESPONSE).getLast().dstPort());
            }
            assertEquals(VsockHost.MAX_CONNECTIONS, host.connectionCount());
            guest.send(VirtioVsock.HOST_CID, 1000, 77, VirtioVsock.OP_REQUEST, 0, GUEST_BUF, 0, new byte[0]);
            assertEquals(1000, receiveUntil(VirtioVsock.OP_RST).getLast().dstPort(), "the connection over the bound is refused");
            assertEquals(1, host.refusedConnections());
            assertEquals(VsockHost.MAX_CONNECTIONS, host.connectionCount(), "the others are untouched");
        }
    }

    @Test
    void shouldSignalTransportResetOnTheEventQueue() throws Exception
    {
        final long event = guest.postEventBuffer();
        guest.memory.putU32(event, 0xffff);
        assertTrue(guest.device.transportReset());
        assertTrue(guest.event.pollUsed());
        assertEquals(4, guest.event.lastUsedLen());
        assertEquals(VirtioVsock.EVENT_TRANSPORT_RESET, guest.memory.getU32(event));
    }
}
