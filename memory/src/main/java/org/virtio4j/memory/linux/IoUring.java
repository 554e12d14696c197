package org.virtio4j.memory.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.virtio4j.memory.linux.IoUringLayout.*;

/**
 * An io_uring instance driven from Java through FFM, without liburing: {@code io_uring_setup}, the three ring
 * mappings, submission entries written straight into the shared SQE array, one {@code io_uring_enter} per
 * {@link #submit()}, and completions reaped from the shared CQ ring.
 *
 * <p>Memory ordering (pairs with the kernel): SQEs are written with plain stores, then the SQ tail is
 * release-stored, so the kernel sees whole entries; the CQ tail is acquire-loaded before the CQEs it covers are
 * read, and the CQ head is release-stored after, so the kernel never overwrites an entry still being read.
 *
 * <p>Owned by one thread (the device actor): {@link #prepare}, {@link #submit} and {@link #reap} allocate nothing
 * and must not be called concurrently. {@link #hasCompletions()} may be called from any thread.
 */
public final class IoUring implements AutoCloseable
{
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SYSCALL = syscallHandle();
    private static final VarHandle ERRNO = Linux.CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    /** Receives completions from {@link #reap}. */
    @FunctionalInterface
    public interface Completions
    {
        /**
         * @param userData what the submission carried.
         * @param result   bytes transferred or 0 on success, or {@code -errno}.
         */
        void complete(long userData, int result);
    }

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment sqRing;
    private final MemorySegment cqRing;
    private final MemorySegment sqes;
    private final long sqRingBytes;
    private final long cqRingBytes;
    private final boolean singleMmap;
    private final int sqEntries;
    private final int sqMask;
    private final int cqMask;
    private final int cqEntries;
    private final int features;
    private final long sqHeadOff;
    private final long sqTailOff;
    private final long sqFlagsOff;
    private final long cqHeadOff;
    private final long cqTailOff;
    private final long cqesOff;
    private final MemorySegment callState;
    private int sqTail;
    private int unsubmitted;
    private long enterFailures;
    private boolean closed;

    @SuppressWarnings("restricted") // the mappings are exactly the sizes the kernel gave them
    private IoUring(final int fd, final MemorySegment params) throws ErrnoException
    {
        this.fd = fd;
        sqEntries = params.get(JAVA_INT, PARAMS_SQ_ENTRIES);
        cqEntries = params.get(JAVA_INT, PARAMS_CQ_ENTRIES);
        features = params.get(JAVA_INT, PARAMS_FEATURES);
        sqHeadOff = params.get(JAVA_INT, PARAMS_SQ_OFF + OFF_HEAD);
        sqTailOff = params.get(JAVA_INT, PARAMS_SQ_OFF + OFF_TAIL);
        sqFlagsOff = params.get(JAVA_INT, PARAMS_SQ_OFF + OFF_SQ_FLAGS);
        final long arrayOff = params.get(JAVA_INT, PARAMS_SQ_OFF + OFF_SQ_ARRAY);
        cqHeadOff = params.get(JAVA_INT, PARAMS_CQ_OFF + OFF_HEAD);
        cqTailOff = params.get(JAVA_INT, PARAMS_CQ_OFF + OFF_TAIL);
        cqesOff = params.get(JAVA_INT, PARAMS_CQ_OFF + OFF_CQ_CQES);
        final long sqBytes = arrayOff + (long)sqEntries * Integer.BYTES;
        final long cqBytes = cqesOff + (long)cqEntries * CQE_SIZE;
        singleMmap = (features & FEAT_SINGLE_MMAP) != 0;
        final int prot = Linux.PROT_READ | Linux.PROT_WRITE;
        final int flags = Linux.MAP_SHARED | MAP_POPULATE;
        long sqAddress = 0;
        long cqAddress = 0;
        try
        {
            if (singleMmap)
            {
                sqRingBytes = Math.max(sqBytes, cqBytes);
                cqRingBytes = sqRingBytes;
                sqAddress = Linux.mmap(sqRingBytes, prot, flags, fd, OFF_SQ_RING);
                cqAddress = sqAddress;
            }
            else
            {
                sqRingBytes = sqBytes;
                cqRingBytes = cqBytes;
                sqAddress = Linux.mmap(sqRingBytes, prot, flags, fd, OFF_SQ_RING);
                cqAddress = Linux.mmap(cqRingBytes, prot, flags, fd, OFF_CQ_RING);
            }
            final long sqesAddress = Linux.mmap((long)sqEntries * SQE_SIZE, prot, flags, fd, OFF_SQES);
            sqRing = MemorySegment.ofAddress(sqAddress).reinterpret(sqRingBytes);
            cqRing = MemorySegment.ofAddress(cqAddress).reinterpret(cqRingBytes);
            sqes = MemorySegment.ofAddress(sqesAddress).reinterpret((long)sqEntries * SQE_SIZE);
        }
        catch (final ErrnoException e)
        {
            unmapQuietly(sqAddress, singleMmap ? Math.max(sqBytes, cqBytes) : sqBytes);
            if (!singleMmap)
            {
                unmapQuietly(cqAddress, cqBytes);
            }
            throw e;
        }
        sqMask = sqRing.get(JAVA_INT, params.get(JAVA_INT, PARAMS_SQ_OFF + OFF_RING_MASK));
        cqMask = cqRing.get(JAVA_INT, params.get(JAVA_INT, PARAMS_CQ_OFF + OFF_RING_MASK));
        // The index array maps ring slots to SQEs one to one, once: slot i always names SQE i.
        for (int i = 0; i < sqEntries; i++)
        {
            sqRing.set(JAVA_INT, arrayOff + (long)i * Integer.BYTES, i);
        }
        sqTail = (int)INT.getAcquire(sqRing, sqTailOff);
        callState = arena.allocate(Linux.CALL_STATE);
    }

    private static final int MAP_POPULATE = 0x8000;

    /**
     * Creates a ring.
     *
     * @param entries the submission queue size (rounded up to a power of two by the kernel, clamped to its maximum).
     * @return the ring.
     * @throws ErrnoException if the kernel refuses: EPERM (a seccomp profile, {@code kernel.io_uring_disabled}),
     *                        ENOSYS (no io_uring), ENOMEM (locked-memory limit), EINVAL (bad size).
     */
    public static IoUring create(final int entries) throws ErrnoException
    {
        try (Arena setup = Arena.ofConfined())
        {
            final MemorySegment params = setup.allocate(PARAMS_SIZE, 8);
            params.set(JAVA_INT, PARAMS_FLAGS, SETUP_CLAMP);
            final MemorySegment state = setup.allocate(Linux.CALL_STATE);
            final long fd = syscall(state, SYS_SETUP, entries, params.address(), 0, 0, 0);
            if (fd < 0)
            {
                throw new ErrnoException("io_uring_setup", (int)ERRNO.get(state, 0L), "entries=" + entries);
            }
            if ((params.get(JAVA_INT, PARAMS_FEATURES) & FEAT_NODROP) == 0)
            {
                Linux.close((int)fd);
                throw new ErrnoException("io_uring_setup", Errno.EOPNOTSUPP, "the kernel may drop completions (no IORING_FEAT_NODROP, Linux < 5.5)");
            }
            try
            {
                return new IoUring((int)fd, params);
            }
            catch (final ErrnoException | RuntimeException e)
            {
                Linux.close((int)fd);
                throw e;
            }
        }
    }

    @SuppressWarnings("restricted") // syscall(long number, ...) from libc; every argument passed as a long
    private static MethodHandle syscallHandle()
    {
        final MemorySegment symbol = LINKER.defaultLookup().find("syscall")
            .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol syscall"));
        return LINKER.downcallHandle(symbol,
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1), Linker.Option.captureCallState("errno"));
    }

    private static long syscall(final MemorySegment state, final long number, final long a, final long b, final long c,
        final long d, final long e)
    {
        try
        {
            return (long)SYSCALL.invokeExact(state, number, a, b, c, d, e, 0L);
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException("syscall " + number + " failed to run", t);
        }
    }

    private static void unmapQuietly(final long address, final long length)
    {
        if (address != 0)
        {
            try
            {
                Linux.munmap(address, length);
            }
            catch (final ErrnoException ignored)
            {
                // Nothing more to do for a mapping we are abandoning.
            }
        }
    }

    /** @return the ring's file descriptor. */
    public int fd()
    {
        return fd;
    }

    /** @return submission queue entries. */
    public int sqEntries()
    {
        return sqEntries;
    }

    /** @return completion queue entries. */
    public int cqEntries()
    {
        return cqEntries;
    }

    /** @return submission slots free now (prepared but unsubmitted entries count as used). */
    public int sqSpace()
    {
        final int head = (int)INT.getAcquire(sqRing, sqHeadOff);
        return sqEntries - (sqTail - head);
    }

    /** @return entries prepared and not yet handed to the kernel by {@link #submit()}. */
    public int unsubmitted()
    {
        return unsubmitted;
    }

    /**
     * Writes one submission entry (not yet visible to the kernel: {@link #submit()} publishes it).
     *
     * @param opcode   an {@code IORING_OP_*}.
     * @param fd       the file.
     * @param offset   the file offset.
     * @param addr     buffer or iovec address (FALLOCATE: the length).
     * @param len      bytes or iovec count (FALLOCATE: the mode).
     * @param opFlags  rw_flags or fsync_flags.
     * @param userData echoed in the completion.
     * @param sqeFlags {@code IOSQE_*}.
     * @return false if the submission queue is full (nothing written).
     */
    public boolean prepare(final int opcode, final int fd, final long offset, final long addr, final int len, final int opFlags,
        final long userData, final int sqeFlags)
    {
        if (sqSpace() <= 0)
        {
            return false;
        }
        final long at = (long)(sqTail & sqMask) * SQE_SIZE;
        final MemorySegment sqes = this.sqes;
        sqes.set(JAVA_BYTE, at + SQE_OPCODE, (byte)opcode);
        sqes.set(JAVA_BYTE, at + SQE_FLAGS, (byte)sqeFlags);
        sqes.set(JAVA_SHORT, at + SQE_IOPRIO, (short)0);
        sqes.set(JAVA_INT, at + SQE_FD, fd);
        sqes.set(JAVA_LONG, at + SQE_OFF, offset);
        sqes.set(JAVA_LONG, at + SQE_ADDR, addr);
        sqes.set(JAVA_INT, at + SQE_LEN, len);
        sqes.set(JAVA_INT, at + SQE_OP_FLAGS, opFlags);
        sqes.set(JAVA_LONG, at + SQE_USER_DATA, userData);
        // buf_index, personality, file_index, addr3 and the pad: zero.
        sqes.set(JAVA_LONG, at + 40, 0L);
        sqes.set(JAVA_LONG, at + 48, 0L);
        sqes.set(JAVA_LONG, at + 56, 0L);
        sqTail++;
        unsubmitted++;
        return true;
    }

    /**
     * Publishes the prepared entries and makes one {@code io_uring_enter} for them (also flushing completions the
     * kernel holds back, if it says so).
     *
     * @return the entries the kernel took (the rest stay for the next call), or {@code -errno} if the call failed
     * (EAGAIN/EBUSY: retry later; EINTR is retried here).
     */
    public int submit()
    {
        // Release: the SQEs written above are visible before the kernel can see the new tail.
        INT.setRelease(sqRing, sqTailOff, sqTail);
        final int flags = ((int)INT.getAcquire(sqRing, sqFlagsOff) & (SQ_CQ_OVERFLOW | SQ_TASKRUN)) != 0 ? ENTER_GETEVENTS : 0;
        if (unsubmitted == 0 && flags == 0)
        {
            return 0;
        }
        long taken;
        do
        {
            taken = syscall(callState, SYS_ENTER, fd, unsubmitted, 0, flags, 0);
        }
        while (taken < 0 && (int)ERRNO.get(callState, 0L) == Errno.EINTR);
        if (taken < 0)
        {
            enterFailures++;
            return -(int)ERRNO.get(callState, 0L);
        }
        unsubmitted -= (int)taken;
        return (int)taken;
    }

    /**
     * Waits in the kernel for at least one completion (for tests and tools; engine threads never wait here).
     *
     * @return 0, or {@code -errno}.
     */
    public int awaitCompletion()
    {
        INT.setRelease(sqRing, sqTailOff, sqTail);
        final long rc = syscall(callState, SYS_ENTER, fd, unsubmitted, 1, ENTER_GETEVENTS, 0);
        if (rc < 0)
        {
            return -(int)ERRNO.get(callState, 0L);
        }
        unsubmitted -= (int)rc;
        return 0;
    }

    /**
     * Hands completed entries to {@code completions}, oldest first.
     *
     * @param completions the receiver.
     * @param limit       the most to reap.
     * @return the number reaped.
     */
    public int reap(final Completions completions, final int limit)
    {
        final MemorySegment cq = cqRing;
        int head = (int)INT.getOpaque(cq, cqHeadOff);
        // Acquire: the CQEs up to the tail are fully written before we read them.
        final int tail = (int)INT.getAcquire(cq, cqTailOff);
        int reaped = 0;
        while (head != tail && reaped < limit)
        {
            final long at = cqesOff + (long)(head & cqMask) * CQE_SIZE;
            final long userData = cq.get(JAVA_LONG, at + CQE_USER_DATA);
            final int result = cq.get(JAVA_INT, at + CQE_RES);
            head++;
            // Release: our reads of the entry are done before the kernel may reuse its slot.
            INT.setRelease(cq, cqHeadOff, head);
            reaped++;
            completions.complete(userData, result);
        }
        return reaped;
    }

    /** @return true if completions wait to be reaped, or the kernel holds some back (any thread). */
    public boolean hasCompletions()
    {
        return (int)INT.getAcquire(cqRing, cqHeadOff) != (int)INT.getAcquire(cqRing, cqTailOff) ||
            ((int)INT.getAcquire(sqRing, sqFlagsOff) & (SQ_CQ_OVERFLOW | SQ_TASKRUN)) != 0;
    }

    /**
     * Signals an eventfd whenever completions are posted, so a thread asleep in {@code poll(2)} wakes for them.
     * A hint only: one signal may cover several completions.
     *
     * @param eventFd the eventfd.
     * @throws ErrnoException if the kernel refuses.
     */
    public void registerEventFd(final int eventFd) throws ErrnoException
    {
        try (Arena call = Arena.ofConfined())
        {
            final MemorySegment arg = call.allocate(JAVA_INT);
            arg.set(JAVA_INT, 0, eventFd);
            final MemorySegment state = call.allocate(Linux.CALL_STATE);
            if (syscall(state, SYS_REGISTER, fd, REGISTER_EVENTFD, arg.address(), 1, 0) < 0)
            {
                throw new ErrnoException("io_uring_register(EVENTFD)", (int)ERRNO.get(state, 0L), "fd=" + eventFd);
            }
        }
    }

    /**
     * @param opcode an {@code IORING_OP_*}.
     * @return true if this kernel supports it ({@code IORING_REGISTER_PROBE}).
     */
    public boolean supports(final int opcode)
    {
        final int ops = 256;
        try (Arena call = Arena.ofConfined())
        {
            final MemorySegment probe = call.allocate(16 + 8L * ops, 8);
            final MemorySegment state = call.allocate(Linux.CALL_STATE);
            if (syscall(state, SYS_REGISTER, fd, REGISTER_PROBE, probe.address(), ops, 0) < 0)
            {
                return false;
            }
            final int lastOp = Byte.toUnsignedInt(probe.get(JAVA_BYTE, 0));
            return opcode <= lastOp && (probe.get(JAVA_SHORT, 16 + 8L * opcode + 2) & 1) != 0;
        }
    }

    /** @return {@code io_uring_enter} calls that failed. */
    public long enterFailures()
    {
        return enterFailures;
    }

    /** Unmaps the rings and closes the ring (requests still in flight are cancelled by the kernel). */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        unmapQuietly(sqes.address(), sqes.byteSize());
        unmapQuietly(sqRing.address(), sqRingBytes);
        if (!singleMmap)
        {
            unmapQuietly(cqRing.address(), cqRingBytes);
        }
        try
        {
            Linux.close(fd);
        }
        catch (final ErrnoException ignored)
        {
            // Already gone.
        }
        arena.close();
    }

    @Override
    public String toString()
    {
        return "IoUring[fd=" + fd + ", sq=" + sqEntries + ", cq=" + cqEntries + "]";
    }
}
