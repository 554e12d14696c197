package org.virtio4j.devices.blk;

import org.virtio4j.memory.linux.IoUring;

/**
 * Asynchronous file I/O for the actor that owns a queue: operations are prepared (buffers given as native iovec
 * arrays that may point straight into guest memory), handed over together by {@link #submit()} once per batch,
 * and their completions reaped in the actor's own duty cycle, in any order. Implemented on io_uring
 * ({@link IoUringBlkIo}) and, where io_uring is refused, on a pool of I/O threads ({@link ThreadPoolBlkIo}).
 *
 * <p>Owned by one thread: every method but {@link #hasCompletions()} is called by the owner only. Nothing here
 * allocates per operation. An iovec array and the memory it names stay untouched until the operation completes.
 */
public interface BlkIo extends AutoCloseable
{
    /** @return operations that can be prepared now. */
    int space();

    /**
     * @param tag    echoed in the completion.
     * @param fd     the file.
     * @param iovecs a native array of {@code count} iovecs.
     * @param count  how many (1 to 1024).
     * @param offset the file offset.
     * @return false if there is no room now.
     */
    boolean prepareRead(long tag, int fd, long iovecs, int count, long offset);

    /**
     * @param tag     echoed in the completion.
     * @param fd      the file.
     * @param iovecs  a native array of {@code count} iovecs.
     * @param count   how many (1 to 1024).
     * @param offset  the file offset.
     * @param rwFlags {@code RWF_*} (RWF_DSYNC for a write-through write).
     * @return false if there is no room now.
     */
    boolean prepareWrite(long tag, int fd, long iovecs, int count, long offset, int rwFlags);

    /**
     * An {@code fdatasync}: covers every write completed before it.
     *
     * @param tag echoed in the completion.
     * @param fd  the file.
     * @return false if there is no room now.
     */
    boolean prepareFsync(long tag, int fd);

    /**
     * @param tag    echoed in the completion.
     * @param fd     the file.
     * @param mode   {@code FALLOC_FL_*}.
     * @param offset the start.
     * @param length the length.
     * @return false if there is no room now.
     */
    boolean prepareFallocate(long tag, int fd, int mode, long offset, long length);

    /**
     * Hands every prepared operation over.
     *
     * @return how many were handed over, or {@code -errno} if none could be (they stay prepared).
     */
    int submit();

    /**
     * @param completions receives each completion: the tag and the result (bytes or 0, or {@code -errno}).
     * @param limit       the most to reap.
     * @return how many were reaped.
     */
    int reap(IoUring.Completions completions, int limit);

    /** @return true if completions wait to be reaped (any thread). */
    boolean hasCompletions();

    /**
     * Readies the completion eventfd for a sleep: after this, any completion not yet visible to
     * {@link #hasCompletions()} makes the fd readable.
     *
     * @return the eventfd to sleep on.
     */
    int prepareToSleep();

    /** @return "io_uring" or "threads", for logs and stat. */
    String kind();

    /** Releases the ring or stops the threads; operations still in flight are abandoned (drain first). */
    @Override
    void close();
}
