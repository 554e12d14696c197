package org.virtio4j.tuning;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real Linux guest (QEMU 7.2's vhost-user-vsock-pci) in front of {@code virtio4j serve --vsock}: the guest
 * connects to the host's Unix socket {@code <uds>_1234}, sends a line and receives 1 MiB (more than its receive
 * buffer: credit flow control), and a host program reaches a guest listener through {@code CONNECT 5000}.
 */
class RealGuestVsockTest
{
    private static final int HOST_BYTES = 1 << 20;
    private static final long GUEST_CID = 3;

    @TempDir
    Path dir;

    private static final String INIT = GuestInit.script("-c /dev/vsock", """
        /bin/vsock-tool listen 5000 &
        listener=$!
        /bin/vsock-tool connect 2 1234 "hello from guest"
        wait $listener
        echo "GUEST: done"
        poweroff -f
        """);

    @Test
    void shouldCarryStreamsBothWaysBetweenARealGuestAndHostSockets() throws Exception
    {
        final Path tool = dir.resolve("vsock-tool");
        final Path source = dir.resolve("vsock-tool.c");
        try (var in = getClass().getResourceAsStream("/guest/vsock-tool.c"))
        {
            Files.write(source, in.readAllBytes());
        }
        GuestImage.run("gcc", "-static", "-O2", "-o", tool.toString(), source.toString());
        final GuestImage guest = GuestImage.build(dir, List.of("virtio_pci", "vmw_vsock_virtio_transport"), List.of(),
            Map.of("/bin/vsock-tool", tool), INIT);
        final Path socket = dir.resolve("vsock.sock");
        final Path uds = dir.resolve("vm3.vsock");

        // The host service the guest connects to: reads a line, answers with 1 MiB, closes.
        final CompletableFuture<String> hostSaw = new CompletableFuture<>();
        final ServerSocketChannel service = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        service.bind(UnixDomainSocketAddress.of(Path.of(uds + "_1234")));
        Thread.ofPlatform().daemon().start(() ->
        {
            try (SocketChannel peer = service.accept())
            {
                final String line = new BufferedReader(new InputStreamReader(Channels.newInputStream(peer), StandardCharsets.US_ASCII)).readLine();
                final ByteBuffer data = ByteBuffer.wrap(pattern());
                while (data.hasRemaining())
                {
                    peer.write(data);
                }
                hostSaw.complete(line);
            }
            catch (final IOException e)
            {
                hostSaw.completeExceptionally(e);
            }
        });

        final Process server = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED",
            "-Dvirtio4j.engine.countersDir=" + dir.resolve("counters"),
            "-cp", System.getProperty("java.class.path"), Virtio4j.class.getName(), "serve",
            "--vsock", "socket=" + socket + ",cid=" + GUEST_CID + ",uds=" + uds).redirectErrorStream(true).start();
        final BlockingQueue<String> serverOutput = new LinkedBlockingQueue<>();
        Thread.ofPlatform().daemon().start(() ->
        {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = reader.readLine()) != null)
                {
                    serverOutput.add(line);
                    System.out.println("[serve] " + line);
                }
            }
            catch (final IOException e)
            {
                serverOutput.add(e.toString());
            }
        });
        final CompletableFuture<String> hostToGuest = new CompletableFuture<>();
        try
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.exists(socket) || !Files.exists(uds))
            {
                assertTrue(server.isAlive() && System.nanoTime() < deadline, () -> "virtio4j serve did not start: " + serverOutput);
                Thread.sleep(20);
            }
            final long start = System.nanoTime();
            final String console = guest.boot(List.of("-chardev", "socket,id=v0,path=" + socket, "-device", "vhost-user-vsock-pci,chardev=v0"),
                1, 300, line ->
                {
                    if (line.contains("GUEST: listening on 5000"))
                    {
                        Thread.ofPlatform().daemon().start(() -> hostToGuest.complete(connectToGuest(uds)));
                    }
                });
            System.out.printf("real vsock guest: %.1f s wall time%n", (System.nanoTime() - start) / 1e9);
            assertEquals("hello from guest", hostSaw.get(10, TimeUnit.SECONDS), console);
            long sum = 0;
            for (final byte b : pattern())
            {
                sum += b & 0xff;
            }
            final String received = "GUEST: received " + HOST_BYTES + " bytes sum " + sum;
            assertTrue(console.contains(received), () -> "missing '" + received + "':\n" + console);
            assertEquals("OK|guest got: ping from host", hostToGuest.get(10, TimeUnit.SECONDS), console);
            assertTrue(console.contains("GUEST: served 'ping from host'"), console);
            assertTrue(console.contains("GUEST: done"), console);
        }
        finally
        {
            server.toHandle().destroy();
            assertTrue(server.waitFor(60, TimeUnit.SECONDS), "virtio4j serve did not stop on SIGTERM");
            service.close();
        }
    }

    private static byte[] pattern()
    {
        final byte[] bytes = new byte[HOST_BYTES];
        for (int i = 0; i < bytes.length; i++)
        {
            bytes[i] = (byte)(i * 13 + (i >> 12));
        }
        return bytes;
    }

    /** A host program reaching the guest's port 5000 through {@code CONNECT}: returns "OK|answer". */
    private static String connectToGuest(final Path uds)
    {
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(uds)))
        {
            final OutputStream out = Channels.newOutputStream(channel);
            out.write("CONNECT 5000\n".getBytes(StandardCharsets.US_ASCII));
            final BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.US_ASCII));
            final String ok = in.readLine();
            out.write("ping from host\n".getBytes(StandardCharsets.US_ASCII));
            final String answer = in.readLine();
            return (ok != null && ok.startsWith("OK ") ? "OK" : "no OK: " + ok) + "|" + answer;
        }
        catch (final IOException e)
        {
            return "failed: " + e;
        }
    }
}
