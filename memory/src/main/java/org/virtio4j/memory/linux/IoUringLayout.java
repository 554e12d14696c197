package org.virtio4j.memory.linux;

/**
 * The io_uring ABI (Linux {@code include/uapi/linux/io_uring.h}, x86-64): system call numbers, the setup
 * parameters, the ring offsets the kernel fills in, and the submission and completion entries.
 *
 * <pre>
 * io_uring_sqe (64 bytes)                          io_uring_cqe (16 bytes)
 *  0      1      2        4        8         16      0             8      12
 * +------+------+--------+--------+---------+       +-------------+------+-------+
 * |opcode|flags |ioprio  |fd      |off      |       |user_data    |res   |flags  |
 * +------+------+--------+--------+---------+       +-------------+------+-------+
 * 16            24       28       32
 * +-------------+--------+--------+------------------+
 * |addr         |len     |rw_flags|user_data         |
 * +-------------+--------+--------+------------------+
 * 40       42         44          48        56       64
 * +--------+----------+-----------+---------+--------+
 * |buf_idx |personal. |file_index |addr3    |pad     |
 * +--------+----------+-----------+---------+--------+
 * </pre>
 *
 * FALLOCATE swaps two fields: {@code addr} holds the length and {@code len} the mode.
 */
public final class IoUringLayout
{
    /** {@code io_uring_setup} (x86-64). */
    public static final int SYS_SETUP = 425;
    /** {@code io_uring_enter} (x86-64). */
    public static final int SYS_ENTER = 426;
    /** {@code io_uring_register} (x86-64). */
    public static final int SYS_REGISTER = 427;

    /** Size of {@code struct io_uring_params}. */
    public static final int PARAMS_SIZE = 120;
    /** Offsets in {@code io_uring_params}. */
    public static final int PARAMS_SQ_ENTRIES = 0;
    /** CQ entries, filled by the kernel. */
    public static final int PARAMS_CQ_ENTRIES = 4;
    /** Setup flags. */
    public static final int PARAMS_FLAGS = 8;
    /** Features, filled by the kernel. */
    public static final int PARAMS_FEATURES = 20;
    /** {@code io_sqring_offsets}: head, tail, ring_mask, ring_entries, flags, dropped, array. */
    public static final int PARAMS_SQ_OFF = 40;
    /** {@code io_cqring_offsets}: head, tail, ring_mask, ring_entries, overflow, cqes, flags. */
    public static final int PARAMS_CQ_OFF = 80;

    /** Within each ring-offsets struct. */
    public static final int OFF_HEAD = 0;
    /** Tail. */
    public static final int OFF_TAIL = 4;
    /** Mask. */
    public static final int OFF_RING_MASK = 8;
    /** Entries. */
    public static final int OFF_RING_ENTRIES = 12;
    /** SQ: flags (NEED_WAKEUP, CQ_OVERFLOW, TASKRUN). */
    public static final int OFF_SQ_FLAGS = 16;
    /** SQ: the index array. */
    public static final int OFF_SQ_ARRAY = 24;
    /** CQ: overflow count. */
    public static final int OFF_CQ_OVERFLOW = 16;
    /** CQ: the entries. */
    public static final int OFF_CQ_CQES = 20;

    /** mmap offset of the SQ ring (and, with SINGLE_MMAP, the CQ ring). */
    public static final long OFF_SQ_RING = 0L;
    /** mmap offset of the CQ ring. */
    public static final long OFF_CQ_RING = 0x8000000L;
    /** mmap offset of the SQE array. */
    public static final long OFF_SQES = 0x10000000L;

    /** SQE size. */
    public static final int SQE_SIZE = 64;
    /** SQE fields. */
    public static final int SQE_OPCODE = 0;
    /** SQE flags (IOSQE_*). */
    public static final int SQE_FLAGS = 1;
    /** Priority. */
    public static final int SQE_IOPRIO = 2;
    /** File descriptor. */
    public static final int SQE_FD = 4;
    /** File offset. */
    public static final int SQE_OFF = 8;
    /** Buffer or iovec address (FALLOCATE: length). */
    public static final int SQE_ADDR = 16;
    /** Bytes or iovec count (FALLOCATE: mode). */
    public static final int SQE_LEN = 24;
    /** rw_flags / fsync_flags. */
    public static final int SQE_OP_FLAGS = 28;
    /** Echoed in the CQE. */
    public static final int SQE_USER_DATA = 32;

    /** CQE size. */
    public static final int CQE_SIZE = 16;
    /** CQE fields. */
    public static final int CQE_USER_DATA = 0;
    /** Result: bytes or -errno. */
    public static final int CQE_RES = 8;

    /** Opcodes. */
    public static final int OP_NOP = 0;
    /** Vectored read. */
    public static final int OP_READV = 1;
    /** Vectored write. */
    public static final int OP_WRITEV = 2;
    /** fsync (with FSYNC_DATASYNC: fdatasync). */
    public static final int OP_FSYNC = 3;
    /** fallocate. */
    public static final int OP_FALLOCATE = 17;
    /** Plain read. */
    public static final int OP_READ = 22;
    /** Plain write. */
    public static final int OP_WRITE = 23;

    /** {@code IORING_FSYNC_DATASYNC}. */
    public static final int FSYNC_DATASYNC = 1;
    /** {@code IOSQE_IO_LINK}: the next SQE starts only after this one succeeds. */
    public static final int IOSQE_IO_LINK = 4;

    /** {@code IORING_SETUP_CLAMP}: clamp entries to the maximum instead of failing. */
    public static final int SETUP_CLAMP = 0x10;
    /** {@code IORING_FEAT_SINGLE_MMAP}. */
    public static final int FEAT_SINGLE_MMAP = 1;
    /** {@code IORING_FEAT_NODROP}: completions are never dropped on CQ overflow. */
    public static final int FEAT_NODROP = 2;
    /** {@code IORING_ENTER_GETEVENTS}. */
    public static final int ENTER_GETEVENTS = 1;
    /** {@code IORING_REGISTER_EVENTFD}. */
    public static final int REGISTER_EVENTFD = 4;
    /** {@code IORING_REGISTER_PROBE}. */
    public static final int REGISTER_PROBE = 8;
    /** {@code IORING_SQ_CQ_OVERFLOW}: completions wait in the kernel; enter with GETEVENTS to flush them. */
    public static final int SQ_CQ_OVERFLOW = 2;
    /** {@code IORING_SQ_TASKRUN}. */
    public static final int SQ_TASKRUN = 4;

    /** {@code RWF_NOWAIT}: fail with EAGAIN instead of blocking (page-cache hits only). */
    public static final int RWF_NOWAIT = 0x8;
    /** {@code RWF_DSYNC}: the write is durable (data) when it completes. */
    public static final int RWF_DSYNC = 0x2;

    /** {@code struct iovec} size: base (8), length (8). */
    public static final int IOVEC_SIZE = 16;

    private IoUringLayout()
    {
    }
}
