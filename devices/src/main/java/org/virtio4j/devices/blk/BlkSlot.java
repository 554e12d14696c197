package org.virtio4j.devices.blk;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One request in flight on an asynchronous queue: its parsed copy, where it goes back to, its progress, and the
 * native iovec window its current operation points into. Preallocated, one per ring entry of the queue, and
 * reused: nothing is allocated per request.
 *
 * <p>Owned by the queue's actor; the kernel (or an I/O thread) only reads the iovec window while an operation
 * is in flight, and writes the guest memory it names.
 */
final class BlkSlot
{
    /** The most iovecs one operation of a slot carries; longer transfers go in several operations. */
    static final int IOVECS = 32;

    /** Stages: which operations of the request are in flight. */
    static final int TRANSFER = 0;
    static final int FLUSH = 1;
    static final int SEGMENTS = 2;
    static final int ALLOCATE = 3;
    static final int SYNC = 4;
    static final int BOUNCE_READ = 5;
    static final int BOUNCE_WRITE = 6;

    final int index;
    final BlkRequest request = new BlkRequest();
    final long iovecs;
    final MemorySegment iovecMemory;

    int queue;
    int head;
    int stage;
    /** True once a read or write has passed the wait for a read-modify-write and counts as in flight. */
    boolean begun;
    /** Operations of this slot in flight. */
    int pending;
    /** The first failure, or null. */
    BlkError error;
    int retries;
    /** Bytes the device writes into the chain when the request succeeds (data for IN; the status is added). */
    int dataWritten;

    /** Transfer progress: data descriptor and offset within it where the next operation starts. */
    int descIndex;
    long descOffset;
    /** Bytes of the request's data done. */
    long done;
    /** Bytes the current operation asked for. */
    long asked;
    int iovCount;

    /** DISCARD/WRITE_ZEROES: the segments as validated (copied once from guest memory). */
    long[] segOffset;
    long[] segLength;
    int[] segMode;
    int segCount;
    boolean allocateRound;

    /** O_DIRECT bounce: the buffer in use (or -1), and the aligned file range of the current chunk. */
    int bounce = -1;
    long chunkStart;
    long chunkLength;
    boolean exclusive;

    BlkSlot(final int index, final int maxSegments, final Arena arena)
    {
        this.index = index;
        iovecMemory = arena.allocate((long)IOVECS * IoVecs.SIZE, 8);
        iovecs = iovecMemory.address();
        segOffset = new long[maxSegments];
        segLength = new long[maxSegments];
        segMode = new int[maxSegments];
    }

    void begin(final int queue, final int head)
    {
        this.queue = queue;
        this.head = head;
        stage = TRANSFER;
        begun = false;
        pending = 0;
        error = null;
        retries = 0;
        dataWritten = 0;
        descIndex = 0;
        descOffset = 0;
        done = 0;
        asked = 0;
        iovCount = 0;
        segCount = 0;
        allocateRound = false;
        bounce = -1;
        exclusive = false;
    }

    /** Records the first failure of the request; later ones do not replace it. */
    void fail(final BlkError reason)
    {
        if (error == null)
        {
            error = reason;
        }
    }
}
