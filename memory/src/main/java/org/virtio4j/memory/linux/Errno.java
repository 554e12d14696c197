package org.virtio4j.memory.linux;

/**
 * The symbolic names of the Linux (x86-64 and aarch64 generic) errno values we are likely to meet, for messages.
 */
public final class Errno
{
    /** Operation not permitted (io_uring refused by seccomp or {@code kernel.io_uring_disabled}). */
    public static final int EPERM = 1;
    /** I/O error. */
    public static final int EIO = 5;
    /** Invalid argument. */
    public static final int EINVAL = 22;
    /** No space left on device. */
    public static final int ENOSPC = 28;
    /** Function not implemented. */
    public static final int ENOSYS = 38;
    /** Operation not supported. */
    public static final int EOPNOTSUPP = 95;
    /** Interrupted system call. */
    public static final int EINTR = 4;
    /** Try again: a non-blocking call would block. */
    public static final int EAGAIN = 11;

    private static final String[] NAMES = new String[134];

    static
    {
        final String[] pairs = {
            "1", "EPERM", "2", "ENOENT", "4", "EINTR", "5", "EIO", "9", "EBADF", "11", "EAGAIN", "12", "ENOMEM",
            "13", "EACCES", "14", "EFAULT", "16", "EBUSY", "17", "EEXIST", "19", "ENODEV", "22", "EINVAL",
            "23", "ENFILE", "24", "EMFILE", "27", "EFBIG", "28", "ENOSPC", "32", "EPIPE", "38", "ENOSYS",
            "75", "EOVERFLOW", "95", "EOPNOTSUPP", "98", "EADDRINUSE", "104", "ECONNRESET", "107", "ENOTCONN",
            "110", "ETIMEDOUT", "111", "ECONNREFUSED",
        };
        for (int i = 0; i < pairs.length; i += 2)
        {
            NAMES[Integer.parseInt(pairs[i])] = pairs[i + 1];
        }
    }

    private Errno()
    {
    }

    /**
     * @param errno an errno value.
     * @return its symbolic name, or {@code "errno N"} for one we do not name.
     */
    public static String name(final int errno)
    {
        final String name = errno >= 0 && errno < NAMES.length ? NAMES[errno] : null;
        return name != null ? name : "errno " + errno;
    }
}
