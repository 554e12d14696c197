package org.virtio4j.devices.blk;

import java.io.IOException;

import org.virtio4j.memory.GuestMemory;

/**
 * Where a virtio-blk device keeps its bytes. Transfers go straight between the backend and guest memory; the
 * executor has already checked every range against {@link #capacity()} and guest memory.
 *
 * <p>The RAM and null backends never block and run on the actor. A file is served asynchronously ({@link FileDisk}:
 * io_uring or I/O threads, many requests in flight); {@link FileBackend} is its blocking form, for callers that
 * may block (the in-process MMIO model, tools, tests). Not required to be thread-safe.
 */
public interface BlkBackend extends AutoCloseable
{
    /** @return the size in bytes (a multiple of 512; any remainder is not exposed). */
    long capacity();

    /**
     * Copies backend bytes into guest memory.
     *
     * @param offset  the byte offset in the backend.
     * @param memory  the guest's memory.
     * @param address the guest address.
     * @param length  the bytes to copy.
     * @throws IOException if the backend fails.
     */
    void read(long offset, GuestMemory memory, long address, int length) throws IOException;

    /**
     * Copies guest memory into the backend.
     *
     * @param offset  the byte offset in the backend.
     * @param memory  the guest's memory.
     * @param address the guest address.
     * @param length  the bytes to copy.
     * @throws IOException if the backend fails.
     */
    void write(long offset, GuestMemory memory, long address, int length) throws IOException;

    /**
     * Makes every completed write durable.
     *
     * @throws IOException if the backend fails.
     */
    void flush() throws IOException;

    /**
     * The guest no longer needs a range; the backend may deallocate it (reads then return zeros or old data).
     *
     * @param offset the byte offset.
     * @param length the bytes.
     * @throws IOException if the backend fails.
     */
    void discard(long offset, long length) throws IOException;

    /**
     * Zeroes a range.
     *
     * @param offset the byte offset.
     * @param length the bytes.
     * @param unmap  true if the backend may deallocate the range instead of writing zeros.
     * @throws IOException if the backend fails.
     */
    void writeZeroes(long offset, long length, boolean unmap) throws IOException;

    /** Releases the backend's resources. */
    @Override
    void close() throws IOException;
}
