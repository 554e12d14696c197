package org.virtio4j.transport.vhost;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/** What front-ends do to the fds they share: pipes where eventfds belong, O_NONBLOCK cleared, memfds sealed (QEMU). */
@SuppressWarnings("restricted") // the descriptors match the libc prototypes
final class HostileFds
{
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle PIPE = LINKER.downcallHandle(LINKER.defaultLookup().find("pipe").orElseThrow(),
        FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle FCNTL = LINKER.downcallHandle(LINKER.defaultLookup().find("fcntl").orElseThrow(),
        FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;
    private static final int O_NONBLOCK = 0x800;

    private HostileFds()
    {
    }

    /** @return a pipe's read and write ends. */
    static int[] pipe() throws Throwable
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment fds = arena.allocate(JAVA_INT, 2);
            if ((int)PIPE.invokeExact(fds) != 0)
            {
                throw new IllegalStateException("pipe failed");
            }
            return new int[] {fds.getAtIndex(JAVA_INT, 0), fds.getAtIndex(JAVA_INT, 1)};
        }
    }

    /** Clears O_NONBLOCK on the file description behind {@code fd} (shared with whoever else holds it). */
    static void clearNonBlocking(final int fd) throws Throwable
    {
        final int flags = (int)FCNTL.invokeExact(fd, F_GETFL, 0);
        if ((int)FCNTL.invokeExact(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        {
            throw new IllegalStateException("fcntl failed");
        }
    }

    /** Seals a memfd against shrinking and growing, as QEMU's memory-backend-memfd does by default. */
    static void seal(final int fd) throws Throwable
    {
        final int fAddSeals = 1033;
        final int shrinkAndGrow = 0x0002 | 0x0004;
        if ((int)FCNTL.invokeExact(fd, fAddSeals, shrinkAndGrow) != 0)
        {
            throw new IllegalStateException("F_ADD_SEALS failed");
        }
    }

    /** @return true if O_NONBLOCK is set on the file description behind {@code fd}. */
    static boolean nonBlocking(final int fd) throws Throwable
    {
        return ((int)FCNTL.invokeExact(fd, F_GETFL, 0) & O_NONBLOCK) != 0;
    }
}
