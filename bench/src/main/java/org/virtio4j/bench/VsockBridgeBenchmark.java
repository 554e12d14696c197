package org.virtio4j.bench;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import org.HdrHistogram.Histogram;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.virtio4j.transport.vsock.GuestVsockStack;

/**
 * Round trip of a 64-byte message between two guests' vsock connections over the bridge — Aeron IPC, and Aeron
 * UDP on loopback — side by side with the same 64-byte ping-pong over a plain TCP loopback socket, with
 * HdrHistogram p50/p99/p99.9; then stream throughput over the UDP bridge.
 *
 * <p>The bridge runs take 2 threads (the benchmark thread steps both simulated guests and both vsock devices; one
 * embedded media driver thread busy-spins); the TCP run takes 2 threads (ping and echo). Core budget: 2.
 * Run: {@code java --add-exports java.base/jdk.internal.misc=ALL-UNNAMED --enable-native-access=ALL-UNNAMED
 * -cp bench/target/benchmarks.jar org.virtio4j.bench.VsockBridgeBenchmark}.
 */
public final class VsockBridgeBenchmark
{
    private static final int MESSAGE = 64;
    private static final int WARMUP = 200_000;
    private static final int MEASURED = 300_000;
    private static final long STREAM_BYTES = 512L << 20;

    private VsockBridgeBenchmark()
    {
    }

    /**
     * @param args ignored.
     * @throws Exception if a run fails.
     */
    public static void main(final String[] args) throws Exception
    {
        final Path dir = Files.createTempDirectory("virtio4j-vsock-bench");

        System.out.println("64-byte round trip, " + MEASURED + " samples after " + WARMUP + " warm-up (microseconds):");
        System.out.println("transport            p50       p99     p99.9       max");
        print("bridge, Aeron IPC", bridgeRoundTrips(dir, "ipc", "ipc", null));
        print("bridge, Aeron UDP", bridgeRoundTrips(dir, "127.0.0.1:40301", "127.0.0.1:40302", null));
        print("TCP loopback", tcpRoundTrips());
        bridgeRoundTrips(dir, "127.0.0.1:40303", "127.0.0.1:40304", STREAM_BYTES);
    }

    private static void print(final String name, final Histogram histogram)
    {
        System.out.printf(Locale.ROOT, "%-18s %8.2f  %8.2f  %8.2f  %8.2f%n", name, histogram.getValueAtPercentile(50) / 1000.0,
            histogram.getValueAtPercentile(99) / 1000.0, histogram.getValueAtPercentile(99.9) / 1000.0, histogram.getMaxValue() / 1000.0);
    }

    /** Two guests on two bridged "hosts" sharing one busy-spinning media driver: ping-pong, or a stream if {@code stream != null}. */
    private static Histogram bridgeRoundTrips(final Path dir, final String endpointA, final String endpointB, final Long stream) throws Exception
    {
        final Histogram histogram = new Histogram(3);
        try (BridgedGuests guests = new BridgedGuests(dir, endpointA, endpointB, new BusySpinIdleStrategy()))
        {
            final GuestVsockStack a = guests.a;
            final GuestVsockStack b = guests.b;
            guests.connect();
            if (stream != null)
            {
                a.toSend = stream;
                final long start = System.nanoTime();
                while (b.rxCnt < stream)
                {
                    a.step(false);
                    b.step(true);
                }
                final double seconds = (System.nanoTime() - start) / 1e9;
                System.out.printf(Locale.ROOT, "%nstream over the UDP bridge: %d MiB in %.2f s = %.0f MB/s (checksums %s)%n",
                    stream >> 20, seconds, stream / seconds / 1e6, a.sentCrc.getValue() == b.receivedCrc.getValue() ? "match" : "DIFFER");
                return histogram;
            }
            for (int i = 0; i < WARMUP + MEASURED; i++)
            {
                final long start = System.nanoTime();
                a.toSend += MESSAGE;
                while (b.rxCnt < (long)(i + 1) * MESSAGE)
                {
                    a.step(false);
                    b.step(true);
                }
                b.toSend += MESSAGE;
                while (a.rxCnt < (long)(i + 1) * MESSAGE)
                {
                    b.step(true);
                    a.step(false);
                }
                if (i >= WARMUP)
                {
                    histogram.recordValue(System.nanoTime() - start);
                }
            }
            final long expected = (long)(WARMUP + MEASURED) * MESSAGE;
            if (a.rxCnt != expected || b.rxCnt != expected || a.sentCrc.getValue() != b.receivedCrc.getValue() ||
                b.sentCrc.getValue() != a.receivedCrc.getValue())
            {
                throw new IllegalStateException("round trips lost, duplicated or corrupted bytes: A received " + a.rxCnt +
                    ", B received " + b.rxCnt + ", expected " + expected);
            }
        }
        return histogram;
    }

    /** The same ping-pong over TCP on loopback: an echo thread and this thread. */
    private static Histogram tcpRoundTrips() throws IOException, InterruptedException
    {
        final Histogram histogram = new Histogram(3);
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            final Thread echo = Thread.ofPlatform().start(() ->
            {
                try (Socket peer = server.accept())
                {
                    peer.setTcpNoDelay(true);
                    final DataInputStream in = new DataInputStream(peer.getInputStream());
                    final DataOutputStream out = new DataOutputStream(peer.getOutputStream());
                    final byte[] buffer = new byte[MESSAGE];
                    for (int i = 0; i < WARMUP + MEASURED; i++)
                    {
                        in.readFully(buffer);
                        out.write(buffer);
                        out.flush();
                    }
                }
                catch (final IOException e)
                {
                    throw new IllegalStateException(e);
                }
            });
            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort()))
            {
                client.setTcpNoDelay(true);
                final DataInputStream in = new DataInputStream(client.getInputStream());
                final DataOutputStream out = new DataOutputStream(client.getOutputStream());
                final byte[] buffer = new byte[MESSAGE];
                for (int i = 0; i < WARMUP + MEASURED; i++)
                {
                    final long start = System.nanoTime();
                    out.write(buffer);
                    out.flush();
                    in.readFully(buffer);
                    if (i >= WARMUP)
                    {
                        histogram.recordValue(System.nanoTime() - start);
                    }
                }
            }
            echo.join();
        }
        return histogram;
    }
}
