package org.virtio4j.devices.blk;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

import org.virtio4j.memory.linux.Errno;
import org.virtio4j.memory.linux.FileIo;
import org.virtio4j.memory.linux.IoUring;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A {@link BlkIo} for tests that runs each operation for real (on the file, synchronously at {@link #submit()})
 * but completes them the way a hostile kernel might: out of order (newest first), short (at most
 * {@link #maxBytes} per transfer), with EAGAIN the first time, failing every fdatasync, or held until released,
 * with a tiny submission queue. Counts what it saw.
 */
final class ScriptedBlkIo implements BlkIo
{
    int space = 1024;
    long maxBytes = Long.MAX_VALUE;
    boolean eagainFirst;
    boolean failFsync;
    boolean hold;
    int submitted;
    /** Sizes of the submissions that carried operations, in order. */
    final List<Integer> groups = new ArrayList<>();
    int fsyncs;
    int fallocates;
    final List<Integer> fallocateModes = new ArrayList<>();

    private final FileIo io = new FileIo();
    private final Arena arena = Arena.ofShared();
    private final MemorySegment iov = arena.allocate(16L * 1024, 8);
    private final List<long[]> prepared = new ArrayList<>();
    private final ArrayDeque<long[]> done = new ArrayDeque<>();
    private final java.util.Set<Long> seenTags = new java.util.HashSet<>();

    private boolean add(final long... op)
    {
        if (prepared.size() >= space)
        {
            return false;
        }
        prepared.add(op);
        return true;
    }

    @Override
    public int space()
    {
        return space - prepared.size();
    }

    @Override
    public boolean prepareRead(final long tag, final int fd, final long iovecs, final int count, final long offset)
    {
        return add(0, tag, fd, iovecs, count, offset, 0);
    }

    @Override
    public boolean prepareWrite(final long tag, final int fd, final long iovecs, final int count, final long offset, final int rwFlags)
    {
        return add(1, tag, fd, iovecs, count, offset, rwFlags);
    }

    @Override
    public boolean prepareFsync(final long tag, final int fd)
    {
        return add(2, tag, fd, 0, 0, 0, 0);
    }

    @Override
    public boolean prepareFallocate(final long tag, final int fd, final int mode, final long offset, final long length)
    {
        return add(3, tag, fd, length, mode, offset, 0);
    }

    /** Runs one transfer, clipped to maxBytes: copies the iovecs, shortening them. */
    private long transfer(final long[] op)
    {
        final int count = (int)op[4];
        long left = maxBytes;
        int used = 0;
        for (int i = 0; i < count && left > 0; i++)
        {
            final long base = IoVecs.base(op[3], i);
            final long length = Math.min(IoVecs.length(op[3], i), left);
            iov.set(JAVA_LONG, used * 16L, base);
            iov.set(JAVA_LONG, used * 16L + 8, length);
            left -= length;
            used++;
        }
        return op[0] == 0 ? io.preadv2((int)op[2], iov.address(), used, op[5], 0)
            : io.pwritev2((int)op[2], iov.address(), used, op[5], (int)op[6]);
    }

    @Override
    public int submit()
    {
        final int count = prepared.size();
        if (count > 0)
        {
            groups.add(count);
        }
        for (final long[] op : prepared)
        {
            submitted++;
            final long result;
            // The first attempt of each transfer (this kind, slot and file offset) fails with EAGAIN.
            if (eagainFirst && op[0] <= 1 && seenTags.add(op[0] << 60 ^ (op[1] & 0xffff_ffffL) << 40 ^ op[5]))
            {
                result = -Errno.EAGAIN;
            }
            else
            {
                result = switch ((int)op[0])
                {
                    case 0, 1 -> transfer(op);
                    case 2 ->
                    {
                        fsyncs++;
                        yield failFsync ? -Errno.EIO : io.fdatasync((int)op[2]);
                    }
                    default ->
                    {
                        fallocates++;
                        fallocateModes.add((int)op[4]);
                        yield io.fallocate((int)op[2], (int)op[4], op[5], op[3]);
                    }
                };
            }
            // Newest first: completions come back out of order.
            done.addFirst(new long[] {op[1], result});
        }
        prepared.clear();
        return count;
    }

    @Override
    public int reap(final IoUring.Completions completions, final int limit)
    {
        int reaped = 0;
        while (!hold && reaped < limit && !done.isEmpty())
        {
            final long[] c = done.pollFirst();
            reaped++;
            completions.complete(c[0], (int)c[1]);
        }
        return reaped;
    }

    @Override
    public boolean hasCompletions()
    {
        return !hold && !done.isEmpty();
    }

    @Override
    public int prepareToSleep()
    {
        return -1;
    }

    @Override
    public String kind()
    {
        return "scripted";
    }

    @Override
    public void close()
    {
        io.close();
        arena.close();
    }
}
