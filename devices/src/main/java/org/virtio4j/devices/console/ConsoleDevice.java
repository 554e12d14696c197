package org.virtio4j.devices.console;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

import org.virtio4j.devices.core.ConfigSpace;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.devices.core.VirtioDevice;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.AvailIter;
import org.virtio4j.virtio.ChainReader;
import org.virtio4j.virtio.ChainWriter;
import org.virtio4j.virtio.DescriptorChain;
import org.virtio4j.virtio.DeviceType;
import org.virtio4j.virtio.QueueException;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioConsole;
import org.virtio4j.virtio.VirtioFeatures;

import static org.virtio4j.memory.GuestMemory.LE_U16;
import static org.virtio4j.memory.GuestMemory.LE_U32;

/**
 * A virtio-console device (device id 3), port 0 only: receiveq (host to guest) and transmitq (guest to host),
 * config {cols, rows} (VIRTIO_CONSOLE_F_SIZE).
 *
 * <p>Input: {@link #poll()} takes from the backend only as many bytes as the bounded input buffer has room for
 * (back-pressure: the rest waits in the backend), then fills guest receive buffers in order; a buffer may be
 * filled partly, and bytes left over wait for the next buffer. Nothing is dropped: {@link #enqueueInput} refuses
 * (and counts) bytes that do not fit. Output: each transmit chain's bytes reach the backend whole and in order.
 * A chain with a descriptor of the wrong direction or outside guest memory is returned with length 0 and counted.
 *
 * <p>Not thread-safe: one actor drives the device.
 */
public final class ConsoleDevice implements VirtioDevice
{
    /** vm-virtio's default input buffer: Linux hvc's page-sized buffer. */
    public static final int DEFAULT_CAPACITY = 4096;
    /** The largest input buffer. */
    public static final int MAX_CAPACITY = 16384;
    private static final int CONFIG_SIZE = 12;

    private final ConsoleBackend backend;
    private final int queueSize;
    private final byte[] input;
    private final byte[] config = new byte[CONFIG_SIZE];
    private final DescriptorChain chain = new DescriptorChain();
    private final ChainReader reader = new ChainReader();
    private final ChainWriter writer = new ChainWriter();
    private final byte[] transmitScratch = new byte[DEFAULT_CAPACITY];
    private final MemorySegment transmitSegment = MemorySegment.ofArray(transmitScratch);
    private int inputHead;
    private int inputCount;
    private boolean inputEnded;
    private GuestMemory memory;
    private SplitQueue[] queues;
    private Interrupt interrupt;
    private long bytesToGuest;
    private long bytesFromGuest;
    private long badChains;
    private long refusedInputBytes;
    private long backendErrors;

    /**
     * @param backend   the byte source and sink; the device does not close it.
     * @param capacity  the input buffer size, in [1, 16384].
     * @param queueSize each queue's maximum size.
     * @param cols      the terminal width reported in config.
     * @param rows      the terminal height reported in config.
     */
    public ConsoleDevice(final ConsoleBackend backend, final int capacity, final int queueSize, final int cols, final int rows)
    {
        if (capacity < 1 || capacity > MAX_CAPACITY)
        {
            throw new IllegalArgumentException("console capacity=" + capacity + " must be in [1, " + MAX_CAPACITY + "]");
        }
        this.backend = backend;
        this.queueSize = queueSize;
        this.input = new byte[capacity];
        final MemorySegment out = MemorySegment.ofArray(config);
        out.set(LE_U16, VirtioConsole.CONFIG_COLS, (short)cols);
        out.set(LE_U16, VirtioConsole.CONFIG_ROWS, (short)rows);
        out.set(LE_U32, VirtioConsole.CONFIG_MAX_NR_PORTS, 1);
    }

    /**
     * @param backend the byte source and sink.
     * @return a device with the default capacity, 256-entry queues and an 80x25 terminal.
     */
    public static ConsoleDevice withDefaults(final ConsoleBackend backend)
    {
        return new ConsoleDevice(backend, DEFAULT_CAPACITY, 256, 80, 25);
    }

    @Override
    public int deviceType()
    {
        return DeviceType.CONSOLE;
    }

    @Override
    public long deviceFeatures()
    {
        return VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) |
            VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) | VirtioFeatures.bit(VirtioConsole.F_SIZE);
    }

    @Override
    public int[] queueMaxSizes()
    {
        return new int[] {queueSize, queueSize};
    }

    @Override
    public int configSize()
    {
        return CONFIG_SIZE;
    }

    @Override
    public int readConfig(final int offset, final byte[] data)
    {
        return ConfigSpace.read(config, offset, data);
    }

    @Override
    public int writeConfig(final int offset, final byte[] data)
    {
        // emerg_wr is for VIRTIO_CONSOLE_F_EMERG_WRITE, which we do not offer; nothing else is writable.
        return 0;
    }

    @Override
    public void activate(final GuestMemory memory, final SplitQueue[] queues, final long negotiatedFeatures, final Interrupt interrupt)
        throws DeviceException
    {
        if (queues.length != 2 || memory == null)
        {
            throw new DeviceException("console activate: queues=" + queues.length + " memory=" + memory);
        }
        this.memory = memory;
        this.queues = queues;
        this.interrupt = interrupt;
    }

    /**
     * Offers bytes to the guest, all or nothing.
     *
     * @param data the bytes.
     * @return false (counted) if they do not all fit in the input buffer; nothing is then taken.
     */
    public boolean enqueueInput(final byte[] data)
    {
        if (data.length > input.length - inputCount)
        {
            refusedInputBytes += data.length;
            return false;
        }
        for (final byte b : data)
        {
            input[(inputHead + inputCount++) % input.length] = b;
        }
        return true;
    }

    /** @return the free space in the input buffer. */
    public int availableCapacity()
    {
        return input.length - inputCount;
    }

    /** @return the bytes waiting for a guest receive buffer. */
    public int bufferedInput()
    {
        return inputCount;
    }

    /**
     * Moves backend input into the buffer (as much as fits) and the buffer into guest receive buffers.
     *
     * @return the receive chains completed.
     * @throws DeviceException if the receive queue needs a reset.
     */
    public int poll() throws DeviceException
    {
        pumpBackend();
        return queueNotify(VirtioConsole.RECEIVEQ);
    }

    private void pumpBackend()
    {
        while (!inputEnded && inputCount < input.length)
        {
            final int tail = (inputHead + inputCount) % input.length;
            final int room = Math.min(input.length - inputCount, input.length - tail);
            final int n;
            try
            {
                n = backend.read(input, tail, room);
            }
            catch (final IOException e)
            {
                backendErrors++;
                return;
            }
            if (n < 0)
            {
                inputEnded = true;
                return;
            }
            if (n == 0)
            {
                return;
            }
            inputCount += n;
        }
    }

    @Override
    public int queueNotify(final int queueIndex) throws DeviceException
    {
        final int completed = processQueue(queueIndex);
        try
        {
            if (completed > 0 && queues[queueIndex].needsNotification(memory))
            {
                interrupt.signalUsedBuffers(queueIndex);
            }
        }
        catch (final QueueException e)
        {
            throw new DeviceException("console queue " + queueIndex + ": " + e.getMessage(), e);
        }
        return completed;
    }

    @Override
    public int processQueue(final int queueIndex) throws DeviceException
    {
        if (queues == null || queueIndex < 0 || queueIndex > 1 || !queues[queueIndex].ready())
        {
            return 0;
        }
        final SplitQueue queue = queues[queueIndex];
        final boolean receive = queueIndex == VirtioConsole.RECEIVEQ;
        if (receive && inputCount == 0)
        {
            return 0;
        }
        int completed = 0;
        try
        {
            final AvailIter iter = queue.iterIfReady(memory);
            while (iter != null && (!receive || inputCount > 0) && iter.next(chain))
            {
                queue.addUsed(memory, chain.headIndex(), receive ? receive(chain) : transmit(chain));
                completed++;
            }
        }
        catch (final QueueException e)
        {
            throw new DeviceException("console queue " + queueIndex + ": " + e.getMessage(), e);
        }
        return completed;
    }

    /** Fills one receive chain from the input buffer; returns the bytes written. */
    private int receive(final DescriptorChain chain)
    {
        if (!allDescriptors(chain, true))
        {
            badChains++;
            return 0;
        }
        try
        {
            writer.load(memory, chain);
        }
        catch (final QueueException e)
        {
            badChains++;
            return 0;
        }
        int written = 0;
        while (inputCount > 0 && writer.availableBytes() > 0)
        {
            final int run = Math.min(inputCount, input.length - inputHead);
            final int n = writer.write(input, inputHead, run);
            inputHead = (inputHead + n) % input.length;
            inputCount -= n;
            written += n;
        }
        bytesToGuest += written;
        return written;
    }

    /** Sends one transmit chain's bytes to the backend; the used length is 0 (the device wrote nothing). */
    private int transmit(final DescriptorChain chain)
    {
        if (!allDescriptors(chain, false))
        {
            badChains++;
            return 0;
        }
        try
        {
            reader.load(memory, chain);
        }
        catch (final QueueException e)
        {
            badChains++;
            return 0;
        }
        // Streamed through a fixed buffer: a chain's length is the guest's to choose (up to 4 GiB with indirect
        // descriptors that repeat one page), host memory is not.
        int n;
        while ((n = (int)reader.read(transmitSegment, 0, transmitScratch.length)) > 0)
        {
            try
            {
                backend.write(transmitScratch, 0, n);
                bytesFromGuest += n;
            }
            catch (final IOException e)
            {
                backendErrors++;
                break;
            }
        }
        return 0;
    }

    /** Every descriptor of the chain has the given direction, and the chain is well formed. */
    private static boolean allDescriptors(final DescriptorChain chain, final boolean writable)
    {
        chain.rewind();
        while (chain.next())
        {
            if (chain.isWriteOnly() != writable)
            {
                return false;
            }
        }
        return !chain.end().isMalformed();
    }

    @Override
    public void reset()
    {
        memory = null;
        queues = null;
        interrupt = null;
    }

    /** @return bytes delivered into guest receive buffers. */
    public long bytesToGuest()
    {
        return bytesToGuest;
    }

    /** @return bytes taken from guest transmit buffers. */
    public long bytesFromGuest()
    {
        return bytesFromGuest;
    }

    /** @return chains returned unused because of a wrong direction or a buffer outside guest memory. */
    public long badChains()
    {
        return badChains;
    }

    /** @return bytes {@link #enqueueInput} refused for lack of room. */
    public long refusedInputBytes()
    {
        return refusedInputBytes;
    }

    /** @return backend read or write failures. */
    public long backendErrors()
    {
        return backendErrors;
    }
}
