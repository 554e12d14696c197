package org.virtio4j.devices.blk;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.virtio4j.devices.testing.TestChains;
import org.virtio4j.devices.testing.TestMemory;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.virtio.DescriptorChain;
import org.virtio4j.virtio.VirtioBlk;
import org.virtio4j.virtio.VirtioFeatures;
import org.virtio4j.virtio.driver.DriverBuffer;

import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * A virtio-blk executor over a RAM or file disk with guest memory and a descriptor table, for request-level tests:
 * {@link #submit} builds header, data and status descriptors, parses them and executes the request.
 */
final class BlkHarness implements AutoCloseable
{
    /** Disk size: 128 sectors. */
    static final long CAPACITY = 64 * 1024;
    /** Sectors on the disk. */
    static final long SECTORS = CAPACITY / VirtioBlk.SECTOR_SIZE;
    /** Guest memory size. */
    static final long MEMORY = 0x4_0000;
    /** Where requests' headers go. */
    static final long HEADER = 0x1000;
    /** Where requests' status bytes go. */
    static final long STATUS = 0x1100;
    /** Where DISCARD / WRITE_ZEROES segments go. */
    static final long SEGMENTS = 0x2000;
    /** Where data buffers go (up to the end of memory). */
    static final long DATA = 0x1_0000;
    /** Every feature that gates a request type. */
    static final long ALL_FEATURES = VirtioFeatures.bit(VirtioBlk.F_FLUSH) | VirtioFeatures.bit(VirtioBlk.F_DISCARD) |
        VirtioFeatures.bit(VirtioBlk.F_WRITE_ZEROES);

    private final TestMemory testMemory = new TestMemory(MEMORY);
    final GuestMemory memory = testMemory.memory();
    final BlkBackend backend;
    final Path image;
    final BlkExecutor executor;
    final BlkRequestParser parser = new BlkRequestParser();
    final BlkRequest request = new BlkRequest();
    final TestChains chains = new TestChains(memory, 0, 64);

    private BlkHarness(final BlkBackend backend, final Path image, final BlkOptions options, final long features)
    {
        this.backend = backend;
        this.image = image;
        executor = new BlkExecutor(backend, options);
        executor.setFeatures(features);
    }

    /**
     * @param options  the device's options.
     * @param features the negotiated features.
     * @return a harness over a zeroed RAM disk.
     */
    static BlkHarness ram(final BlkOptions options, final long features)
    {
        return new BlkHarness(new RamBackend(CAPACITY), null, options, features);
    }

    /**
     * @param backend  the disk.
     * @param options  the device's options.
     * @param features the negotiated features.
     * @return a harness over the given backend.
     */
    static BlkHarness over(final BlkBackend backend, final BlkOptions options, final long features)
    {
        return new BlkHarness(backend, null, options, features);
    }

    /**
     * @param dir      where the image file goes.
     * @param options  the device's options.
     * @param features the negotiated features.
     * @return a harness over a zeroed image file, opened read-only if the options say so.
     * @throws IOException if the file cannot be made.
     */
    static BlkHarness file(final Path dir, final BlkOptions options, final long features) throws IOException
    {
        final Path image = dir.resolve("disk.img");
        try (FileChannel channel = FileChannel.open(image, StandardOpenOption.CREATE, StandardOpenOption.WRITE))
        {
            channel.truncate(0);
            channel.write(ByteBuffer.wrap(new byte[(int)CAPACITY]), 0);
        }
        return new BlkHarness(new FileBackend(image, options.readOnly()), image, options, features);
    }

    /**
     * @param kind    "ram" or "file".
     * @param dir     where an image file goes.
     * @param options the device's options.
     * @return a harness with every feature negotiated.
     * @throws IOException if the file cannot be made.
     */
    static BlkHarness of(final String kind, final Path dir, final BlkOptions options) throws IOException
    {
        return kind.equals("ram") ? ram(options, ALL_FEATURES) : file(dir, options, ALL_FEATURES);
    }

    /**
     * Builds header, data and status descriptors, parses them (which must succeed) and executes the request.
     *
     * @param type   the request type.
     * @param sector the header's sector.
     * @param data   the data buffers.
     * @return the used length.
     */
    int submit(final int type, final long sector, final DriverBuffer... data)
    {
        prepare(type, sector, data);
        return executor.execute(memory, request);
    }

    /**
     * Builds header, data and status descriptors and parses them (which must succeed) into {@link #request}.
     *
     * @param type   the request type.
     * @param sector the header's sector.
     * @param data   the data buffers.
     */
    void prepare(final int type, final long sector, final DriverBuffer... data)
    {
        memory.putU32(HEADER, type);
        memory.putU32(HEADER + 4, 0);
        memory.putU64(HEADER + 8, sector);
        memory.putU8(STATUS, 0xff);
        final DriverBuffer[] buffers = new DriverBuffer[data.length + 2];
        buffers[0] = DriverBuffer.readable(HEADER, VirtioBlk.HEADER_SIZE);
        System.arraycopy(data, 0, buffers, 1, data.length);
        buffers[buffers.length - 1] = DriverBuffer.writable(STATUS, 1);
        final DescriptorChain chain = chains.chain(buffers);
        assertNull(parser.parse(chain, request), "the request parses");
    }

    /** @return the status byte the last request left. */
    int status()
    {
        return memory.getU8(STATUS);
    }

    /**
     * Writes a DISCARD / WRITE_ZEROES segment.
     *
     * @param at      its guest address.
     * @param sector  the first sector.
     * @param sectors how many.
     * @param flags   its flags.
     */
    void segment(final long at, final long sector, final int sectors, final int flags)
    {
        memory.putU64(at, sector);
        memory.putU32(at + 8, sectors);
        memory.putU32(at + 12, flags);
    }

    /**
     * @param length bytes.
     * @param seed   varies the bytes.
     * @return bytes that are never all zero and differ per seed.
     */
    static byte[] pattern(final int length, final int seed)
    {
        final byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(i * 31 + seed * 7 + 1 + (i >> 8));
        }
        return bytes;
    }

    /** Fills the whole disk with {@link #pattern}(CAPACITY, seed). */
    void fillDisk(final int seed)
    {
        final byte[] bytes = pattern((int)CAPACITY, seed);
        if (image == null)
        {
            MemorySegment.copy(MemorySegment.ofArray(bytes), 0, ((RamBackend)backend).segment(), 0, CAPACITY);
            return;
        }
        try (FileChannel channel = FileChannel.open(image, StandardOpenOption.WRITE))
        {
            channel.write(ByteBuffer.wrap(bytes), 0);
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * @param offset a disk byte offset.
     * @param length bytes.
     * @return the disk's bytes there.
     */
    byte[] disk(final long offset, final int length)
    {
        final byte[] bytes = new byte[length];
        if (image == null)
        {
            MemorySegment.copy(((RamBackend)backend).segment(), offset, MemorySegment.ofArray(bytes), 0, length);
            return bytes;
        }
        try (FileChannel channel = FileChannel.open(image, StandardOpenOption.READ))
        {
            final ByteBuffer buffer = ByteBuffer.wrap(bytes);
            int n = 0;
            while (buffer.hasRemaining() && n >= 0)
            {
                n = channel.read(buffer, offset + buffer.position());
            }
            return bytes;
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * @param address a guest address.
     * @param length  bytes.
     * @return guest memory there.
     */
    byte[] guest(final long address, final int length)
    {
        final byte[] bytes = new byte[length];
        memory.read(address, bytes, 0, length);
        return bytes;
    }

    /**
     * @param address a guest address.
     * @param bytes   stored there.
     */
    void putGuest(final long address, final byte[] bytes)
    {
        memory.write(address, bytes, 0, bytes.length);
    }

    @Override
    public void close() throws IOException
    {
        try
        {
            backend.close();
        }
        finally
        {
            testMemory.close();
        }
    }
}
