package org.virtio4j.virtio;

import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32C;

import static org.virtio4j.memory.GuestMemory.LE_U16;
import static org.virtio4j.memory.GuestMemory.LE_U32;
import static org.virtio4j.memory.GuestMemory.LE_U64;

/**
 * The versioned binary form of a {@link QueueState}, for saving queues across restarts and migrations.
 * Version 1, 44 bytes, little-endian:
 * <pre>
 *  +-------------------------------+---------------+---------------+
 *  | magic "V4JQ" (u32)            | version (u16) | flags (u16)   |  0   flags: bit 0 event_idx, bit 1 ready
 *  +---------------+---------------+---------------+---------------+
 *  | max_size (u16)| next_avail    | next_used     | size (u16)    |  8
 *  +---------------+---------------+---------------+---------------+
 *  | desc_table (u64)                                              | 16
 *  | avail_ring (u64)                                              | 24
 *  | used_ring (u64)                                               | 32
 *  +---------------------------------------------------------------+
 *  | crc32c of bytes 0..39 (u32)   |                                 40
 *  +-------------------------------+
 * </pre>
 * The decoder rejects input that is truncated, too long, of another magic or version, with reserved flags, or
 * whose checksum does not match. A decoded state is still untrusted: {@link SplitQueue#restore} checks it.
 */
public final class QueueStateCodec
{
    /** "V4JQ" read as a little-endian u32. */
    public static final int MAGIC = 'V' | '4' << 8 | 'J' << 16 | 'Q' << 24;
    /** The version this codec writes and reads. */
    public static final int VERSION = 1;
    /** The encoded size of version 1. */
    public static final int ENCODED_LENGTH = 44;

    private static final int VERSION_OFFSET = 4;
    private static final int FLAGS_OFFSET = 6;
    private static final int MAX_SIZE_OFFSET = 8;
    private static final int NEXT_AVAIL_OFFSET = 10;
    private static final int NEXT_USED_OFFSET = 12;
    private static final int SIZE_OFFSET = 14;
    private static final int DESC_TABLE_OFFSET = 16;
    private static final int AVAIL_RING_OFFSET = 24;
    private static final int USED_RING_OFFSET = 32;
    private static final int CHECKSUM_OFFSET = 40;
    private static final int FLAG_EVENT_IDX = 1;
    private static final int FLAG_READY = 2;
    private static final int HEADER_LENGTH = FLAGS_OFFSET;

    private QueueStateCodec()
    {
    }

    /**
     * @param state the state; its u16 fields must fit 16 bits.
     * @return its encoding.
     * @throws IllegalArgumentException if a u16 field does not fit.
     */
    public static byte[] encode(final QueueState state)
    {
        final byte[] bytes = new byte[ENCODED_LENGTH];
        final MemorySegment out = MemorySegment.ofArray(bytes);
        out.set(LE_U32, 0, MAGIC);
        out.set(LE_U16, VERSION_OFFSET, (short)VERSION);
        out.set(LE_U16, FLAGS_OFFSET, (short)((state.eventIdxEnabled() ? FLAG_EVENT_IDX : 0) | (state.ready() ? FLAG_READY : 0)));
        out.set(LE_U16, MAX_SIZE_OFFSET, u16("maxSize", state.maxSize()));
        out.set(LE_U16, NEXT_AVAIL_OFFSET, u16("nextAvail", state.nextAvail()));
        out.set(LE_U16, NEXT_USED_OFFSET, u16("nextUsed", state.nextUsed()));
        out.set(LE_U16, SIZE_OFFSET, u16("size", state.size()));
        out.set(LE_U64, DESC_TABLE_OFFSET, state.descTable());
        out.set(LE_U64, AVAIL_RING_OFFSET, state.availRing());
        out.set(LE_U64, USED_RING_OFFSET, state.usedRing());
        out.set(LE_U32, CHECKSUM_OFFSET, checksum(bytes));
        return bytes;
    }

    private static short u16(final String name, final int value)
    {
        if ((value & ~0xffff) != 0)
        {
            throw new IllegalArgumentException("queue state " + name + "=" + value + " does not fit 16 bits");
        }
        return (short)value;
    }

    /**
     * @param bytes an encoding.
     * @return the state it holds (still to be checked by {@link SplitQueue#restore}).
     * @throws QueueStateFormatException saying what is wrong with the input.
     */
    public static QueueState decode(final byte[] bytes)
    {
        if (bytes.length < HEADER_LENGTH)
        {
            throw new QueueStateFormatException("queue state truncated: length=" + bytes.length + ", a header needs " + HEADER_LENGTH);
        }
        final MemorySegment in = MemorySegment.ofArray(bytes);
        final int magic = in.get(LE_U32, 0);
        if (magic != MAGIC)
        {
            throw new QueueStateFormatException("not a queue state: magic=0x" + Integer.toHexString(magic) +
                ", expected 0x" + Integer.toHexString(MAGIC));
        }
        final int version = Short.toUnsignedInt(in.get(LE_U16, VERSION_OFFSET));
        if (version != VERSION)
        {
            throw new QueueStateFormatException("unknown queue state version=" + version + ", this build reads version " + VERSION);
        }
        if (bytes.length != ENCODED_LENGTH)
        {
            throw new QueueStateFormatException("queue state " + (bytes.length < ENCODED_LENGTH ? "truncated" : "too long") +
                ": length=" + bytes.length + ", version " + VERSION + " is " + ENCODED_LENGTH + " bytes");
        }
        final int stored = in.get(LE_U32, CHECKSUM_OFFSET);
        final int computed = checksum(bytes);
        if (stored != computed)
        {
            throw new QueueStateFormatException("queue state corrupted: checksum=0x" + Integer.toHexString(stored) +
                ", computed 0x" + Integer.toHexString(computed));
        }
        final int flags = Short.toUnsignedInt(in.get(LE_U16, FLAGS_OFFSET));
        if ((flags & ~(FLAG_EVENT_IDX | FLAG_READY)) != 0)
        {
            throw new QueueStateFormatException("queue state has reserved flags set: flags=0x" + Integer.toHexString(flags));
        }
        return new QueueState(
            Short.toUnsignedInt(in.get(LE_U16, MAX_SIZE_OFFSET)),
            Short.toUnsignedInt(in.get(LE_U16, NEXT_AVAIL_OFFSET)),
            Short.toUnsignedInt(in.get(LE_U16, NEXT_USED_OFFSET)),
            (flags & FLAG_EVENT_IDX) != 0,
            Short.toUnsignedInt(in.get(LE_U16, SIZE_OFFSET)),
            (flags & FLAG_READY) != 0,
            in.get(LE_U64, DESC_TABLE_OFFSET),
            in.get(LE_U64, AVAIL_RING_OFFSET),
            in.get(LE_U64, USED_RING_OFFSET));
    }

    private static int checksum(final byte[] bytes)
    {
        final CRC32C crc = new CRC32C();
        crc.update(bytes, 0, CHECKSUM_OFFSET);
        return (int)crc.getValue();
    }
}
