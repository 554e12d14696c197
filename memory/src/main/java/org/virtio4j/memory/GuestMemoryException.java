package org.virtio4j.memory;

import java.io.Serial;

/**
 * An access to guest memory that cannot be done. The {@link Kind} says why, in the terms of the virtio
 * back-ends we are measured against (vm-memory's error kinds), so that callers can count and report it.
 *
 * <p>Created without a stack trace: guests can cause these at will, and they are counted, not debugged.
 */
public final class GuestMemoryException extends RuntimeException
{
    @Serial
    private static final long serialVersionUID = 1L;

    /** Why an access failed. */
    public enum Kind
    {
        /** The first byte of the access is in no region; {@link #address()} is that byte. */
        INVALID_GUEST_ADDRESS,
        /** The access ran into a hole after {@link #completed()} of {@link #expected()} bytes. */
        PARTIAL_BUFFER,
        /** The access starts inside a region but does not fit in it, and it may not span regions. */
        INVALID_BACKEND_ADDRESS,
        /** The address plus the length passes 2^64. */
        ADDRESS_OVERFLOW,
    }

    private final Kind kind;
    private final long address;
    private final long expected;
    private final long completed;

    /**
     * @param kind      why the access failed.
     * @param address   the address the failure is about.
     * @param expected  the bytes the access wanted.
     * @param completed the bytes done before it failed.
     */
    public GuestMemoryException(final Kind kind, final long address, final long expected, final long completed)
    {
        super(null, null, false, false);
        this.kind = kind;
        this.address = address;
        this.expected = expected;
        this.completed = completed;
    }

    /**
     * @param address the first byte that is in no region.
     * @return an {@link Kind#INVALID_GUEST_ADDRESS} error.
     */
    public static GuestMemoryException invalidAddress(final long address)
    {
        return new GuestMemoryException(Kind.INVALID_GUEST_ADDRESS, address, 0, 0);
    }

    /** @return why the access failed. */
    public Kind kind()
    {
        return kind;
    }

    /** @return the address the failure is about. */
    public long address()
    {
        return address;
    }

    /** @return the bytes the access wanted. */
    public long expected()
    {
        return expected;
    }

    /** @return the bytes done before the failure (for a write: already written). */
    public long completed()
    {
        return completed;
    }

    @Override
    public String getMessage()
    {
        return switch (kind)
        {
            case INVALID_GUEST_ADDRESS -> "guest address " + GuestAddress.hex(address) + " is in no memory region";
            case PARTIAL_BUFFER -> "access at " + GuestAddress.hex(address) + " ran into a hole: " +
                completed + " of " + expected + " bytes done";
            case INVALID_BACKEND_ADDRESS -> "access of " + expected + " bytes at " + GuestAddress.hex(address) +
                " runs past the end of its region";
            case ADDRESS_OVERFLOW -> "address " + GuestAddress.hex(address) + " + " + expected + " passes 2^64";
        };
    }
}
