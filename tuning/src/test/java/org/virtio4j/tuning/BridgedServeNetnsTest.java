package org.virtio4j.tuning;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.transport.vhost.VhostUserFrontEnd;
import org.virtio4j.transport.vhost.VhostUserMessage;
import org.virtio4j.transport.vhost.VhostUserRequest;
import org.virtio4j.transport.vsock.GuestVsockDriver;
import org.virtio4j.transport.vsock.GuestVsockStack;
import org.virtio4j.virtio.VirtioFeatures;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.virtio4j.memory.GuestMemory.LE_U32;
import static org.virtio4j.memory.GuestMemory.LE_U64;
import static org.virtio4j.transport.vhost.VhostUserFrontEnd.address;
import static org.virtio4j.transport.vhost.VhostUserFrontEnd.state;
import static org.virtio4j.transport.vhost.VhostUserFrontEnd.u64;

/**
 * Two {@code virtio4j serve} processes as two hosts, each in a network namespace this test makes (a veth pair,
 * 10.77.0.1 and 10.77.0.2), bridged over Aeron UDP. The test plays each host's VMM over vhost-user (memfd guest
 * memory, rx and tx vrings, eventfd kicks and calls) and each guest's vsock stack: the guest on host A connects to
 * the guest on host B by CID, and 8 MiB go each way with checksums.
 */
class BridgedServeNetnsTest
{
    private static final long CID_A = 3;
    private static final long CID_B = 4;
    private static final long BYTES = 8L << 20;

    @TempDir
    Path dir;

    private final String suffix = String.valueOf(ProcessHandle.current().pid() % 100000);
    private final String nsA = "v4jA" + suffix;
    private final String nsB = "v4jB" + suffix;

    @Test
    void shouldBridgeTwoServeProcessesInTheirOwnNetworkNamespaces() throws Exception
    {
        assertEquals("0", GuestImage.run("id", "-u").trim(), "this test makes network namespaces: run it as root (CI does)");
        final List<Process> servers = new ArrayList<>();
        try
        {
            GuestImage.run("ip", "netns", "add", nsA);
            GuestImage.run("ip", "netns", "add", nsB);
            GuestImage.run("ip", "link", "add", "va" + suffix, "type", "veth", "peer", "name", "vb" + suffix);
            GuestImage.run("ip", "link", "set", "va" + suffix, "netns", nsA);
            GuestImage.run("ip", "link", "set", "vb" + suffix, "netns", nsB);
            GuestImage.run("ip", "-n", nsA, "addr", "add", "10.77.0.1/24", "dev", "va" + suffix);
            GuestImage.run("ip", "-n", nsB, "addr", "add", "10.77.0.2/24", "dev", "vb" + suffix);
            for (final String ns : List.of(nsA, nsB))
            {
                GuestImage.run("ip", "-n", ns, "link", "set", "lo", "up");
                GuestImage.run("ip", "-n", ns, "link", "set", ns.equals(nsA) ? "va" + suffix : "vb" + suffix, "up");
            }
            servers.add(serve(nsA, "a", CID_A, "10.77.0.1:40101", CID_B, "10.77.0.2:40101"));
            servers.add(serve(nsB, "b", CID_B, "10.77.0.2:40101", CID_A, "10.77.0.1:40101"));
            awaitSocket(dir.resolve("a.sock"), servers.get(0));
            awaitSocket(dir.resolve("b.sock"), servers.get(1));
            try (Vmm a = new Vmm(dir.resolve("a.sock"), CID_A); Vmm b = new Vmm(dir.resolve("b.sock"), CID_B))
            {
                a.stack.connect(CID_B, 9000, 50000);
                run(a, b, () -> a.stack.connected && b.stack.connected, 30);
                a.stack.toSend = BYTES;
                b.stack.toSend = BYTES;
                run(a, b, () -> a.stack.rxCnt == BYTES && b.stack.rxCnt == BYTES, 120);
                assertEquals(a.stack.sentCrc.getValue(), b.stack.receivedCrc.getValue(), "host A's guest to host B's guest, intact");
                assertEquals(b.stack.sentCrc.getValue(), a.stack.receivedCrc.getValue(), "host B's guest to host A's guest, intact");
            }
        }
        finally
        {
            for (final Process server : servers)
            {
                server.toHandle().destroy();
                server.waitFor(30, TimeUnit.SECONDS);
            }
            deleteNamespace(nsA);
            deleteNamespace(nsB);
        }
    }

    private interface Condition
    {
        boolean met();
    }

    private static void run(final Vmm a, final Vmm b, final Condition condition, final int seconds) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.met())
        {
            assertTrue(System.nanoTime() < deadline, "timed out");
            a.stack.step(false);
            b.stack.step(true);
        }
    }

    private static void deleteNamespace(final String ns)
    {
        try
        {
            GuestImage.run("ip", "netns", "del", ns);
        }
        catch (final IOException | InterruptedException | IllegalStateException e)
        {
            // Never made.
        }
    }

    private Process serve(final String ns, final String name, final long cid, final String endpoint, final long peerCid, final String peer)
        throws IOException
    {
        final Process process = new ProcessBuilder("ip", "netns", "exec", ns,
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED",
            "-Dvirtio4j.engine.countersDir=" + dir.resolve("counters-" + name),
            "-cp", System.getProperty("java.class.path"), Virtio4j.class.getName(), "serve",
            "--vsock", "socket=" + dir.resolve(name + ".sock") + ",cid=" + cid + ",uds=" + dir.resolve(name + ".vsock"),
            "--bridge", "endpoint=" + endpoint, "--peer", "cid=" + peerCid + ",endpoint=" + peer)
            .redirectErrorStream(true).start();
        Thread.ofPlatform().daemon().start(() ->
        {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = reader.readLine()) != null)
                {
                    System.out.println("[" + ns + "] " + line);
                }
            }
            catch (final IOException e)
            {
                System.out.println("[" + ns + "] " + e);
            }
        });
        return process;
    }

    private static void awaitSocket(final Path socket, final Process server) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(socket))
        {
            assertTrue(server.isAlive() && System.nanoTime() < deadline, "virtio4j serve did not listen on " + socket);
            Thread.sleep(20);
        }
    }

    /** One host's VMM and guest: vhost-user set-up of the rx and tx vrings, then a guest vsock stack on them. */
    private static final class Vmm implements AutoCloseable
    {
        final MemoryBacking ram;
        final VhostUserFrontEnd frontEnd;
        final EventFd[] kicks = new EventFd[2];
        final EventFd[] calls = new EventFd[2];
        final GuestVsockStack stack;

        Vmm(final Path socket, final long cid) throws Exception
        {
            ram = MemoryBacking.memfd("vmm-" + cid, 8L << 20);
            final GuestMemory memory = GuestMemory.of(ram.region(0));
            final long user = ram.segment().address();
            frontEnd = new VhostUserFrontEnd(socket.toString());
            frontEnd.send(VhostUserRequest.GET_FEATURES, 0, new byte[0]);
            final long offered = frontEnd.u64Reply(VhostUserRequest.GET_FEATURES);
            frontEnd.send(VhostUserRequest.GET_PROTOCOL_FEATURES, 0, new byte[0]);
            final long protocol = frontEnd.u64Reply(VhostUserRequest.GET_PROTOCOL_FEATURES) &
                (VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_REPLY_ACK) | VirtioFeatures.bit(VhostUserMessage.PROTOCOL_F_CONFIG));
            frontEnd.send(VhostUserRequest.SET_PROTOCOL_FEATURES, 0, u64(protocol));
            frontEnd.send(VhostUserRequest.SET_OWNER, 0, new byte[0]);
            frontEnd.send(VhostUserRequest.SET_FEATURES, 0, u64(offered & (VirtioFeatures.bit(VirtioFeatures.VERSION_1) |
                VirtioFeatures.bit(VhostUserMessage.F_PROTOCOL_FEATURES))));
            final byte[] table = new byte[8 + VhostUserMessage.MEM_REGION_SIZE];
            final MemorySegment t = MemorySegment.ofArray(table);
            t.set(LE_U32, 0, 1);
            t.set(LE_U64, 16, 8L << 20);
            t.set(LE_U64, 24, user);
            frontEnd.send(VhostUserRequest.SET_MEM_TABLE, VhostUserMessage.NEED_REPLY, table, ram.fd());
            assertEquals(0, frontEnd.u64Reply(VhostUserRequest.SET_MEM_TABLE));
            final DriverQueue[] rings = {new DriverQueue(memory, 0, 64), new DriverQueue(memory, 0x1_0000, 64)};
            for (int q = 0; q < 2; q++)
            {
                kicks[q] = EventFd.create();
                calls[q] = EventFd.create();
                frontEnd.send(VhostUserRequest.SET_VRING_NUM, 0, state(q, 64));
                frontEnd.send(VhostUserRequest.SET_VRING_BASE, 0, state(q, 0));
                frontEnd.send(VhostUserRequest.SET_VRING_ADDR, 0, address(q, user + rings[q].descTable(), user + rings[q].usedRing(),
                    user + rings[q].availRing()));
                frontEnd.send(VhostUserRequest.SET_VRING_CALL, 0, u64(q), calls[q].fd());
                frontEnd.send(VhostUserRequest.SET_VRING_KICK, 0, u64(q), kicks[q].fd());
                frontEnd.send(VhostUserRequest.SET_VRING_ENABLE, VhostUserMessage.NEED_REPLY, state(q, 1));
                assertEquals(0, frontEnd.u64Reply(VhostUserRequest.SET_VRING_ENABLE));
            }
            stack = new GuestVsockStack(new GuestVsockDriver(memory, cid, rings[0], rings[1], kicks));
        }

        @Override
        public void close() throws ErrnoException
        {
            frontEnd.close();
            for (int q = 0; q < 2; q++)
            {
                kicks[q].close();
                calls[q].close();
            }
            ram.close();
        }
    }
}
