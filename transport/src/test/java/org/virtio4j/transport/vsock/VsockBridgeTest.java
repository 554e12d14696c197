package org.virtio4j.transport.vsock;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.virtio4j.engine.DeviceHandle;
import org.virtio4j.engine.Engine;
import org.virtio4j.engine.EngineContext;
import org.virtio4j.engine.ThreadingMode;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestRegion;
import org.virtio4j.memory.linux.EventFd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two hosts in one process — each an engine (INVOKER mode, stepped here) with a vsock device whose guest is
 * simulated — bridged over Aeron UDP on loopback, each with its own embedded media driver. A guest on host A
 * connects to a guest on host B exactly as if it were local: 100 MiB each way with checksums and credit flow end
 * to end, half-close, reset, a slow reader, and host B killed mid-stream.
 */
class VsockBridgeTest
{
    private static final long CID_A = 3;
    private static final long CID_B = 4;
    private static final long STREAM = 100L << 20;
    private static final String ENDPOINT_A = "127.0.0.1:40871";
    private static final String ENDPOINT_B = "127.0.0.1:40872";

    @TempDir
    Path dir;

    private final Arena arena = Arena.ofShared();
    private Host a;
    private Host b;

    /** One host: a bridge, a vsock host side, an engine, and a simulated guest. */
    private final class Host implements AutoCloseable
    {
        final VsockBridge bridge;
        final VsockHost host;
        final Engine engine;
        final GuestVsockDriver driver;
        final GuestVsockStack stack;
        final DeviceHandle handle;

        Host(final long cid, final String endpoint, final long peerCid, final String peerEndpoint) throws Exception
        {
            bridge = new VsockBridge(new BridgeConfig(endpoint, Map.of(peerCid, peerEndpoint), null, 1000));
            host = new VsockHost(cid, dir.resolve("vm" + cid + ".vsock"), bridge);
            engine = Engine.launch(new EngineContext().threadingMode(ThreadingMode.INVOKER).countersEnabled(false).hybridIdleNanos(0));
            final GuestMemory memory = GuestMemory.of(new GuestRegion(0, arena.allocate(8 << 20, 4096)));
            driver = new GuestVsockDriver(memory, cid, host, true);
            handle = engine.attach("vsock" + cid, driver.device, memory, driver.queues, new EventFd[3], new EventFd[3]);
            handle.start();
            engine.invoke();
            engine.invoke();
            stack = new GuestVsockStack(driver);
        }

        void step(final boolean listen) throws Exception
        {
            engine.invoke();
            stack.step(listen);
        }

        @Override
        public void close() throws IOException
        {
            engine.close();
            host.close();
            bridge.close();
        }
    }

    @BeforeEach
    void setUp() throws Exception
    {
        a = new Host(CID_A, ENDPOINT_A, CID_B, ENDPOINT_B);
        b = new Host(CID_B, ENDPOINT_B, CID_A, ENDPOINT_A);
    }

    @AfterEach
    void tearDown() throws Exception
    {
        if (a != null)
        {
            a.close();
        }
        if (b != null)
        {
            b.close();
        }
        arena.close();
    }

    private void run(final BooleanSupplier done, final long seconds) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!done.getAsBoolean())
        {
            assertTrue(System.nanoTime() < deadline, "timed out");
            a.step(false);
            if (b != null)
            {
                b.step(true);
            }
        }
    }

    private void connect() throws Exception
    {
        a.stack.connect(CID_B, 9000, 50000);
        run(() -> a.stack.connected && b.stack.connected, 20);
    }

    @Test
    void shouldStream100MiBEachWayWithChecksumsAndCreditFlowEndToEnd() throws Exception
    {
        connect();
        a.stack.toSend = STREAM;
        b.stack.toSend = STREAM;
        final long start = System.nanoTime();
        run(() -> b.stack.rxCnt == STREAM && a.stack.rxCnt == STREAM, 240);
        final double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("bridge: 100 MiB each way in %.2f s (%.0f MB/s each way); packets A->B %d, B->A %d%n",
            seconds, STREAM / seconds / 1e6, a.host.packetsBridgedOut(), b.host.packetsBridgedOut());
        assertEquals(a.stack.sentCrc.getValue(), b.stack.receivedCrc.getValue(), "A to B bytes arrive intact and in order");
        assertEquals(b.stack.sentCrc.getValue(), a.stack.receivedCrc.getValue(), "B to A bytes arrive intact and in order");
        assertTrue(a.host.packetsBridgedOut() > 0 && b.host.packetsBridgedIn() > 0);

        a.stack.shutdownSend();
        run(() -> b.stack.peerSendClosed, 10);
        assertTrue(b.stack.connected, "half-close: B can still send");
        b.stack.toSend = STREAM + 4096;
        run(() -> a.stack.rxCnt == STREAM + 4096, 20);

        a.stack.resetConnection();
        run(() -> b.stack.reset, 10);
    }

    @Test
    void shouldSlowTheWriterToTheSlowReaderWithoutDroppingAnything() throws Exception
    {
        connect();
        b.stack.consumePerStep = 4096;
        a.stack.toSend = 8L << 20;
        run(() -> b.stack.rxCnt >= 4L << 20, 120);
        assertTrue(a.stack.sent - b.stack.fwdCnt <= GuestVsockStack.BUF_ALLOC, "the writer never runs more than the reader's buffer ahead");
        b.stack.consumePerStep = 0;
        run(() -> b.stack.rxCnt == 8L << 20, 60);
        assertEquals(a.stack.sentCrc.getValue(), b.stack.receivedCrc.getValue(), "nothing dropped or reordered");
    }

    @Test
    void shouldResetTheConnectionsOfAHostThatDiesAndConnectAgainWhenItReturns() throws Exception
    {
        connect();
        a.stack.toSend = Long.MAX_VALUE;
        run(() -> b.stack.rxCnt > (1 << 20), 30);
        b.close();
        b = null;
        run(() -> a.stack.reset, 30);
        assertFalse(a.stack.connected);
        assertEquals(1, a.host.peerResets());

        b = new Host(CID_B, ENDPOINT_B, CID_A, ENDPOINT_A);
        final GuestVsockStack fresh = new GuestVsockStack(a.driver);
        fresh.connect(CID_B, 9000, 50001);
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!(fresh.connected && b.stack.connected))
        {
            assertTrue(System.nanoTime() < deadline, "no new connection after the host returned");
            a.engine.invoke();
            fresh.step(false);
            b.step(true);
        }
    }
}
