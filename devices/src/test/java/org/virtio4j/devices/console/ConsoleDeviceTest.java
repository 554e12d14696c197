package org.virtio4j.devices.console;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.devices.testing.TestMemory;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.DescriptorLayout;
import org.virtio4j.virtio.DeviceType;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioConsole;
import org.virtio4j.virtio.VirtioFeatures;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.virtio4j.memory.GuestMemory.LE_U16;
import static org.virtio4j.memory.GuestMemory.LE_U32;
import static org.virtio4j.virtio.VirtioConsole.RECEIVEQ;
import static org.virtio4j.virtio.VirtioConsole.TRANSMITQ;
import static org.virtio4j.virtio.driver.DriverBuffer.readable;
import static org.virtio4j.virtio.driver.DriverBuffer.writable;

/**
 * virtio-console port 0 (vm-virtio's {@code Console} scenarios): capacity bounds, all-or-nothing input, transmit
 * and receive chains of the right and wrong direction, in and out of guest memory, partial fills, and no receive
 * chain consumed while there is no input. Our transmit refuses a chain with any device-writable descriptor whole
 * (vm-virtio writes the descriptors before it): used length 0, counted.
 */
class ConsoleDeviceTest
{
    private static final long MEMORY = 1 << 20;
    private static final long RX_BASE = 0;
    private static final long TX_BASE = 0x1_0000;
    private static final long BUFFERS = 0x4_0000;

    private final TestMemory testMemory = new TestMemory(MEMORY);
    private final GuestMemory memory = testMemory.memory();
    private final ScriptedBackend backend = new ScriptedBackend();
    private int usedSignals;
    private final Interrupt interrupt = new Interrupt()
    {
        @Override
        public void signalUsedBuffers(final int queue)
        {
            usedSignals++;
        }

        @Override
        public void signalConfigChange()
        {
        }
    };
    private final SplitQueue[] queues = {new SplitQueue(8), new SplitQueue(8)};
    private final DriverQueue rx = new DriverQueue(memory, RX_BASE, 8);
    private final DriverQueue tx = new DriverQueue(memory, TX_BASE, 8);

    /** Input the test scripts, output it captures; -1 once ended. */
    private static final class ScriptedBackend implements ConsoleBackend
    {
        private final ArrayDeque<Byte> input = new ArrayDeque<>();
        private final ByteArrayOutputStream output = new ByteArrayOutputStream();
        private boolean ended;
        private boolean failWrites;
        private int reads;
        private int largestWrite;

        void offer(final String text)
        {
            for (final byte b : text.getBytes(StandardCharsets.US_ASCII))
            {
                input.add(b);
            }
        }

        @Override
        public int read(final byte[] buffer, final int offset, final int length)
        {
            reads++;
            if (input.isEmpty())
            {
                return ended ? -1 : 0;
            }
            int n = 0;
            while (n < length && !input.isEmpty())
            {
                buffer[offset + n++] = input.poll();
            }
            return n;
        }

        @Override
        public void write(final byte[] buffer, final int offset, final int length) throws IOException
        {
            if (failWrites)
            {
                throw new IOException("sink failed");
            }
            largestWrite = Math.max(largestWrite, length);
            output.write(buffer, offset, length);
        }

        String output()
        {
            return output.toString(StandardCharsets.US_ASCII);
        }

        @Override
        public void close()
        {
        }
    }

    @AfterEach
    void tearDown()
    {
        testMemory.close();
    }

    private ConsoleDevice start(final int capacity) throws DeviceException
    {
        final ConsoleDevice device = new ConsoleDevice(backend, capacity, 8, 80, 25);
        rx.configure(queues[RECEIVEQ]);
        tx.configure(queues[TRANSMITQ]);
        device.activate(memory, queues, VirtioFeatures.bit(VirtioFeatures.VERSION_1), interrupt);
        return device;
    }

    private void put(final long address, final String text)
    {
        final byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        memory.write(address, bytes, 0, bytes.length);
    }

    private String get(final long address, final int length)
    {
        final byte[] bytes = new byte[length];
        memory.read(address, bytes, 0, length);
        return new String(bytes, StandardCharsets.US_ASCII);
    }

    private static byte[] text(final String text)
    {
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void shouldDefaultToAPageSizedInputBuffer()
    {
        final ConsoleDevice device = ConsoleDevice.withDefaults(backend);
        assertEquals(4096, ConsoleDevice.DEFAULT_CAPACITY);
        assertEquals(4096, device.availableCapacity());
        assertEquals(0, device.bufferedInput());
        assertEquals(DeviceType.CONSOLE, device.deviceType());
        assertArrayEquals(new int[] {256, 256}, device.queueMaxSizes());
    }

    @Test
    void shouldRefuseCapacitiesOutsideOneTo16384()
    {
        assertThrows(IllegalArgumentException.class, () -> new ConsoleDevice(backend, 0, 8, 80, 25));
        assertThrows(IllegalArgumentException.class, () -> new ConsoleDevice(backend, -1, 8, 80, 25));
        assertThrows(IllegalArgumentException.class, () -> new ConsoleDevice(backend, 16385, 8, 80, 25));
        assertEquals(16384, new ConsoleDevice(backend, 16384, 8, 80, 25).availableCapacity());
        assertEquals(16384, ConsoleDevice.MAX_CAPACITY);
        assertEquals(1, new ConsoleDevice(backend, 1, 8, 80, 25).availableCapacity());
    }

    @Test
    void shouldTakeInputAllOrNothing()
    {
        final ConsoleDevice device = new ConsoleDevice(backend, 16, 8, 80, 25);
        assertTrue(device.enqueueInput(text("0123456789")));
        assertFalse(device.enqueueInput(text("abcdefg")), "7 more do not fit in 16");
        assertEquals(10, device.bufferedInput(), "none of the 7 taken");
        assertEquals(6, device.availableCapacity());
        assertEquals(7, device.refusedInputBytes());
        assertTrue(device.enqueueInput(text("abcdef")), "exactly the room left");
        assertEquals(0, device.availableCapacity());
        assertFalse(device.enqueueInput(text("x")));
        assertTrue(device.enqueueInput(new byte[0]));
        assertEquals(8, device.refusedInputBytes());
        assertEquals(16, device.bufferedInput());
    }

    @Test
    void shouldKeepInputInOrderAcrossTheBufferWrap() throws DeviceException
    {
        final ConsoleDevice device = start(8);
        assertTrue(device.enqueueInput(text("abcdef")));
        rx.addChain(writable(BUFFERS, 4));
        assertEquals(1, device.queueNotify(RECEIVEQ));
        assertTrue(device.enqueueInput(text("ghijkl")), "6 fit once 4 are gone");
        rx.addChain(writable(BUFFERS + 0x100, 16));
        assertEquals(1, device.queueNotify(RECEIVEQ));
        assertTrue(rx.pollUsed());
        assertEquals(4, rx.lastUsedLen());
        assertTrue(rx.pollUsed());
        assertEquals(8, rx.lastUsedLen());
        assertEquals("abcd", get(BUFFERS, 4));
        assertEquals("efghijkl", get(BUFFERS + 0x100, 8));
    }

    @Test
    void shouldSendTransmitChainsWholeAndInOrder() throws DeviceException
    {
        final ConsoleDevice device = start(64);
        put(BUFFERS, "hello");
        put(BUFFERS + 0x100, ", ");
        put(BUFFERS + 0x200, "world");
        tx.addChain(readable(BUFFERS, 5), readable(BUFFERS + 0x100, 2));
        tx.addChain(readable(BUFFERS + 0x200, 5));
        assertEquals(2, device.queueNotify(TRANSMITQ));
        assertEquals("hello, world", backend.output());
        assertTrue(tx.pollUsed());
        assertEquals(0, tx.lastUsedLen(), "the device writes nothing into transmit buffers");
        assertTrue(tx.pollUsed());
        assertEquals(0, tx.lastUsedLen());
        assertEquals(12, device.bytesFromGuest());
        assertEquals(1, usedSignals, "one interrupt for the batch");
    }

    @Test
    void shouldStreamAChainLongerThanItsBufferInPieces() throws DeviceException
    {
        // 256 indirect descriptors that all repeat one 64 KiB page: 16 MiB of chain from 64 KiB of guest memory.
        final ConsoleDevice device = start(64);
        final int page = 0x1_0000;
        final byte[] pattern = new byte[page];
        for (int i = 0; i < page; i++)
        {
            pattern[i] = (byte)(i * 7 + i / 251);
        }
        memory.write(BUFFERS, pattern, 0, page);
        final DriverBuffer[] repeats = new DriverBuffer[256];
        Arrays.fill(repeats, readable(BUFFERS, page));
        tx.addIndirectChain(0x8_0000, repeats);
        assertEquals(1, device.queueNotify(TRANSMITQ));

        final byte[] out = backend.output.toByteArray();
        assertEquals(256L * page, out.length, "every byte of the chain reached the backend");
        assertEquals(256L * page, device.bytesFromGuest());
        for (int i = 0; i < 256; i++)
        {
            assertArrayEquals(pattern, Arrays.copyOfRange(out, i * page, (i + 1) * page), "repeat " + i);
        }
        assertTrue(backend.largestWrite <= ConsoleDevice.DEFAULT_CAPACITY, "written through a fixed buffer: " + backend.largestWrite);
    }

    @Test
    void shouldRefuseAWholeTransmitChainWithADeviceWritableDescriptor() throws DeviceException
    {
        final ConsoleDevice device = start(64);
        put(BUFFERS, "abc");
        put(BUFFERS + 0x100, "def");
        tx.addChain(readable(BUFFERS, 3), writable(BUFFERS + 0x100, 3));
        tx.addChain(writable(BUFFERS, 3));
        tx.addChain(readable(BUFFERS + 0x100, 3));
        assertEquals(3, device.queueNotify(TRANSMITQ));
        assertEquals("def", backend.output(), "nothing of the bad chains, not even their readable part");
        assertEquals(2, device.badChains());
        for (int i = 0; i < 3; i++)
        {
            assertTrue(tx.pollUsed());
            assertEquals(0, tx.lastUsedLen());
        }
    }

    @Test
    void shouldRefuseTransmitChainsOutsideGuestMemory() throws DeviceException
    {
        final ConsoleDevice device = start(64);
        put(BUFFERS, "ok");
        tx.addChain(readable(BUFFERS, 2), readable(MEMORY, 4));
        tx.addChain(readable(MEMORY - 2, 4));
        tx.addChain(readable(BUFFERS, 2));
        assertEquals(3, device.queueNotify(TRANSMITQ));
        assertEquals("ok", backend.output());
        assertEquals(2, device.badChains());
        assertEquals(2, device.bytesFromGuest());
    }

    @Test
    void shouldRefuseAMalformedTransmitChain() throws DeviceException
    {
        final ConsoleDevice device = start(64);
        put(BUFFERS, "loop");
        tx.writeDescriptor(0, BUFFERS, 4, DescriptorLayout.F_NEXT, 1);
        tx.writeDescriptor(1, BUFFERS, 4, DescriptorLayout.F_NEXT, 0);
        tx.makeAvailable(0);
        assertEquals(1, device.queueNotify(TRANSMITQ));
        assertEquals("", backend.output());
        assertEquals(1, device.badChains());
    }

    @Test
    void shouldCountABackendWriteFailureAndStillReturnTheChain() throws DeviceException
    {
        final ConsoleDevice device = start(64);
        backend.failWrites = true;
        put(BUFFERS, "lost");
        tx.addChain(readable(BUFFERS, 4));
        assertEquals(1, device.queueNotify(TRANSMITQ));
        assertEquals(1, device.backendErrors());
        assertTrue(tx.pollUsed());
        assertEquals(0, device.bytesFromGuest());
    }

    @Test
    void shouldFillAReceiveBuffer() throws DeviceException
    {
        final ConsoleDevice device = start(64);
        device.enqueueInput(text("hello"));
        rx.addChain(writable(BUFFERS, 16));
        assertEquals(1, device.queueNotify(RECEIVEQ));
        assertTrue(rx.pollUsed());
        assertEquals(5, rx.lastUsedLen());
        assertEquals("hello", get(BUFFERS, 5));
        assertEquals(0, device.bufferedInput());
        assertEquals(5, device.bytesToGuest());
        assertEquals(1, usedSignals);
    }

    @Test
    void shouldFillReceiveChainsPartlyAndKeepTheRestForTheNextChain() throws DeviceException
    {
        final ConsoleDevice device = start(64);
        device.enqueueInput(text("0123456789"));
        rx.addChain(writable(BUFFERS, 4), writable(BUFFERS + 0x100, 3));
        assertEquals(1, device.queueNotify(RECEIVEQ));
        assertTrue(rx.pollUsed());
        assertEquals(7, rx.lastUsedLen());
        assertEquals("0123", get(BUFFERS, 4));
        assertEquals("456", get(BUFFERS + 0x100, 3));
        assertEquals(3, device.bufferedInput());
        rx.addChain(writable(BUFFERS + 0x200, 64));
        assertEquals(1, device.queueNotify(RECEIVEQ));
        assertTrue(rx.pollUsed());
        assertEquals(3, rx.lastUsedLen());
        assertEquals("789", get(BUFFERS + 0x200, 3));
    }

    @Test
    void shouldReturnAReadOnlyReceiveChainUnusedAndKeepTheInput() throws DeviceException
    {
        final ConsoleDevice device = start(64);
        device.enqueueInput(text("xyz"));
        rx.addChain(writable(BUFFERS, 16), readable(BUFFERS + 0x100, 16));
        assertEquals(1, device.queueNotify(RECEIVEQ));
        assertTrue(rx.pollUsed());
        assertEquals(0, rx.lastUsedLen());
        assertEquals(1, device.badChains());
        assertEquals(3, device.bufferedInput(), "nothing taken from the input");
        assertEquals(0, memory.getU8(BUFFERS), "nothing written into its writable part");
    }

    @Test
    void shouldReturnAReceiveChainOutsideGuestMemoryUnusedAndKeepTheInput() throws DeviceException
    {
        final ConsoleDevice device = start(64);
        device.enqueueInput(text("xyz"));
        rx.addChain(writable(MEMORY, 16));
        rx.addChain(writable(MEMORY - 1, 16));
        assertEquals(2, device.queueNotify(RECEIVEQ));
        assertEquals(2, device.badChains());
        assertEquals(3, device.bufferedInput());
        assertEquals(0, memory.getU8(MEMORY - 1), "not even the byte that is in memory");
        rx.addChain(writable(BUFFERS, 16));
        assertEquals(1, device.queueNotify(RECEIVEQ));
        assertEquals("xyz", get(BUFFERS, 3));
    }

    @Test
    void shouldNotConsumeAReceiveChainWhileThereIsNoInput() throws DeviceException
    {
        final ConsoleDevice device = start(64);
        rx.addChain(writable(BUFFERS, 16));
        assertEquals(0, device.queueNotify(RECEIVEQ));
        assertEquals(0, device.poll());
        assertEquals(0, queues[RECEIVEQ].nextAvail(), "the chain is still available");
        assertFalse(rx.pollUsed());
        assertEquals(0, usedSignals);
        backend.offer("late");
        assertEquals(1, device.poll());
        assertTrue(rx.pollUsed());
        assertEquals(4, rx.lastUsedLen());
        assertEquals("late", get(BUFFERS, 4));
    }

    @Test
    void shouldStopTakingReceiveChainsOnceTheInputIsDrained() throws DeviceException
    {
        final ConsoleDevice device = start(64);
        device.enqueueInput(text("ab"));
        rx.addChain(writable(BUFFERS, 16));
        rx.addChain(writable(BUFFERS + 0x100, 16));
        assertEquals(1, device.queueNotify(RECEIVEQ));
        assertEquals(1, queues[RECEIVEQ].nextAvail(), "the second chain waits for input");
    }

    @Test
    void shouldPullBackendInputOnlyAsTheGuestDrainsIt() throws DeviceException
    {
        final ConsoleDevice device = start(8);
        backend.offer("abcdefghijkl");
        assertEquals(0, device.poll(), "no receive buffer yet");
        assertEquals(8, device.bufferedInput(), "back-pressure: 4 bytes wait in the backend");
        assertEquals(4, backend.input.size());
        rx.addChain(writable(BUFFERS, 6));
        assertEquals(1, device.poll());
        assertEquals("abcdef", get(BUFFERS, 6));
        rx.addChain(writable(BUFFERS + 0x100, 16));
        assertEquals(1, device.poll());
        assertTrue(rx.pollUsed());
        assertTrue(rx.pollUsed());
        assertEquals(6, rx.lastUsedLen());
        assertEquals("ghijkl", get(BUFFERS + 0x100, 6));
    }

    @Test
    void shouldStopReadingABackendWhoseInputEnded() throws DeviceException
    {
        final ConsoleDevice device = start(8);
        backend.ended = true;
        device.poll();
        final int reads = backend.reads;
        backend.offer("ignored");
        device.poll();
        assertEquals(reads, backend.reads, "no read after end of input");
        assertEquals(0, device.bufferedInput());
    }

    @Test
    void shouldDoNothingBeforeActivationOrAfterReset() throws DeviceException
    {
        final ConsoleDevice device = new ConsoleDevice(backend, 64, 8, 80, 25);
        device.enqueueInput(text("x"));
        assertEquals(0, device.queueNotify(RECEIVEQ));
        assertEquals(0, device.queueNotify(TRANSMITQ));
        rx.configure(queues[RECEIVEQ]);
        tx.configure(queues[TRANSMITQ]);
        device.activate(memory, queues, 0, interrupt);
        device.reset();
        rx.addChain(writable(BUFFERS, 16));
        assertEquals(0, device.poll());
        assertEquals(0, device.queueNotify(5));
        assertEquals(1, device.bufferedInput());
        assertThrows(DeviceException.class, () -> device.activate(memory, new SplitQueue[] {queues[0]}, 0, interrupt));
    }

    @Test
    void shouldReportItsTerminalSizeAndOnePortInConfig()
    {
        final ConsoleDevice device = new ConsoleDevice(backend, 64, 8, 132, 43);
        assertEquals(12, device.configSize());
        final byte[] config = new byte[12];
        assertEquals(12, device.readConfig(0, config));
        final MemorySegment fields = MemorySegment.ofArray(config);
        assertEquals(132, fields.get(LE_U16, VirtioConsole.CONFIG_COLS));
        assertEquals(43, fields.get(LE_U16, VirtioConsole.CONFIG_ROWS));
        assertEquals(1, fields.get(LE_U32, VirtioConsole.CONFIG_MAX_NR_PORTS));
        assertTrue(VirtioFeatures.has(device.deviceFeatures(), VirtioConsole.F_SIZE));
        assertFalse(VirtioFeatures.has(device.deviceFeatures(), VirtioConsole.F_MULTIPORT));
        assertFalse(VirtioFeatures.has(device.deviceFeatures(), VirtioConsole.F_EMERG_WRITE));
        assertEquals(0, device.writeConfig(VirtioConsole.CONFIG_EMERG_WR, new byte[] {'!', 0, 0, 0}));
        assertEquals(0, device.readConfig(12, config));
    }
}
