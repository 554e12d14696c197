package org.virtio4j.devices.console;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.devices.testing.TestMemory;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.virtio4j.virtio.VirtioConsole.RECEIVEQ;
import static org.virtio4j.virtio.VirtioConsole.TRANSMITQ;
import static org.virtio4j.virtio.driver.DriverBuffer.readable;
import static org.virtio4j.virtio.driver.DriverBuffer.writable;

/**
 * A console on a Unix socket: a client connecting to the socket types bytes that reach the guest and reads what the
 * guest transmits; the next client may connect once one leaves. The device is polled in a bounded loop until the
 * bytes arrive (or a deadline passes): no sleeps.
 */
class UnixSocketConsoleBackendTest
{
    private static final long DEADLINE_NANOS = 5_000_000_000L;
    private static final long BUFFERS = 0x4_0000;

    @TempDir
    Path dir;

    private final TestMemory testMemory = new TestMemory(1 << 20);
    private final GuestMemory memory = testMemory.memory();
    private final SplitQueue[] queues = {new SplitQueue(8), new SplitQueue(8)};
    private final DriverQueue rx = new DriverQueue(memory, 0, 8);
    private final DriverQueue tx = new DriverQueue(memory, 0x1_0000, 8);
    private UnixSocketConsoleBackend backend;
    private ConsoleDevice device;

    @AfterEach
    void tearDown() throws IOException
    {
        if (backend != null)
        {
            backend.close();
        }
        testMemory.close();
    }

    private void start() throws IOException, DeviceException
    {
        backend = new UnixSocketConsoleBackend(dir.resolve("console.sock"));
        device = new ConsoleDevice(backend, 64, 8, 80, 25);
        rx.configure(queues[RECEIVEQ]);
        tx.configure(queues[TRANSMITQ]);
        device.activate(memory, queues, 0, new Interrupt()
        {
            @Override
            public void signalUsedBuffers(final int queue)
            {
            }

            @Override
            public void signalConfigChange()
            {
            }
        });
    }

    private SocketChannel connect() throws IOException
    {
        return SocketChannel.open(UnixDomainSocketAddress.of(backend.path()));
    }

    /** Runs {@code step} until {@code done} holds or the deadline passes; returns whether it holds. */
    private static boolean until(final BooleanSupplier done, final Step step) throws Exception
    {
        final long deadline = System.nanoTime() + DEADLINE_NANOS;
        while (!done.getAsBoolean())
        {
            if (System.nanoTime() - deadline > 0)
            {
                return false;
            }
            step.run();
            Thread.onSpinWait();
        }
        return true;
    }

    /** One polling step. */
    @FunctionalInterface
    private interface Step
    {
        void run() throws Exception;
    }

    private String guest(final long address, final int length)
    {
        final byte[] bytes = new byte[length];
        memory.read(address, bytes, 0, length);
        return new String(bytes, StandardCharsets.US_ASCII);
    }

    private static String readFrom(final SocketChannel client, final int length) throws Exception
    {
        client.configureBlocking(false);
        final ByteBuffer buffer = ByteBuffer.allocate(length);
        assertTrue(until(() -> !buffer.hasRemaining(), () -> client.read(buffer)), "the client got " + length + " bytes in time");
        return new String(buffer.array(), StandardCharsets.US_ASCII);
    }

    @Test
    void shouldCarryBytesBetweenASocketClientAndTheGuest() throws Exception
    {
        start();
        try (SocketChannel client = connect())
        {
            client.write(ByteBuffer.wrap("ping from client".getBytes(StandardCharsets.US_ASCII)));
            rx.addChain(writable(BUFFERS, 64));
            assertTrue(until(() -> device.bytesToGuest() >= 16, device::poll), "the typed bytes reached the guest in time");
            assertTrue(rx.pollUsed());
            assertEquals(16, rx.lastUsedLen());
            assertEquals("ping from client", guest(BUFFERS, 16));

            memory.write(BUFFERS + 0x100, "pong from guest".getBytes(StandardCharsets.US_ASCII), 0, 15);
            tx.addChain(readable(BUFFERS + 0x100, 15));
            assertEquals(1, device.queueNotify(TRANSMITQ));
            assertEquals("pong from guest", readFrom(client, 15));
            assertEquals(0, backend.droppedOutputBytes());
        }
    }

    @Test
    void shouldServeTheNextClientOnceTheFirstLeaves() throws Exception
    {
        start();
        try (SocketChannel first = connect())
        {
            first.write(ByteBuffer.wrap("first".getBytes(StandardCharsets.US_ASCII)));
            rx.addChain(writable(BUFFERS, 64));
            assertTrue(until(() -> device.bytesToGuest() >= 5, device::poll));
        }
        try (SocketChannel second = connect())
        {
            second.write(ByteBuffer.wrap("second".getBytes(StandardCharsets.US_ASCII)));
            rx.addChain(writable(BUFFERS + 0x100, 64));
            assertTrue(until(() -> device.bytesToGuest() >= 11, device::poll), "the second client's bytes reached the guest in time");
            assertEquals("first", guest(BUFFERS, 5));
            assertEquals("second", guest(BUFFERS + 0x100, 6));

            memory.write(BUFFERS + 0x200, "bye".getBytes(StandardCharsets.US_ASCII), 0, 3);
            tx.addChain(readable(BUFFERS + 0x200, 3));
            device.queueNotify(TRANSMITQ);
            assertEquals("bye", readFrom(second, 3), "output goes to the client now connected");
        }
    }

    @Test
    void shouldCountOutputWrittenWhileNoClientIsConnected() throws Exception
    {
        start();
        memory.write(BUFFERS, "nobody".getBytes(StandardCharsets.US_ASCII), 0, 6);
        tx.addChain(readable(BUFFERS, 6));
        assertEquals(1, device.queueNotify(TRANSMITQ));
        assertEquals(6, backend.droppedOutputBytes());
        assertTrue(tx.pollUsed(), "the chain is returned all the same");
    }

    @Test
    void shouldRemoveTheSocketFileOnClose() throws Exception
    {
        start();
        final Path path = backend.path();
        assertTrue(Files.exists(path));
        backend.close();
        backend = null;
        assertFalse(Files.exists(path));
    }

    @Test
    void shouldReplaceAStaleSocketFile() throws Exception
    {
        final Path path = dir.resolve("console.sock");
        Files.writeString(path, "stale");
        start();
        try (SocketChannel client = connect())
        {
            assertTrue(client.isConnected());
        }
    }
}
