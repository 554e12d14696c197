package org.virtio4j.bench.loadgen;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

import org.virtio4j.memory.DirtyLog;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.transport.vhost.VhostUserFrontEnd;
import org.virtio4j.transport.vhost.VhostUserMessage;
import org.virtio4j.transport.vhost.VhostUserRequest;

import static org.virtio4j.memory.GuestMemory.LE_U64;

/**
 * The load generator playing a VMM that migrates: hands the back-end a dirty log (SET_LOG_BASE, answered) and, like
 * QEMU's log sync, exchanges every word of it with zero every 100 ms, counting the pages it finds dirty.
 */
final class DirtyLogSync implements AutoCloseable
{
    private static final VarHandle WORD = ValueLayout.JAVA_LONG.varHandle();
    private static final long PERIOD_MILLIS = 100;

    private final MemoryBacking log;
    private final Thread thread;
    private volatile boolean running = true;
    private long dirtyPages;
    private long syncs;

    private DirtyLogSync(final MemoryBacking log)
    {
        this.log = log;
        thread = Thread.ofPlatform().name("loadgen-log-sync").daemon().start(this::run);
    }

    /**
     * @param vmm         the connection (protocol features with LOG_SHMFD and VHOST_F_LOG_ALL already negotiated).
     * @param memoryBytes the guest memory the log covers, from address 0 (used rings included).
     * @return the running sync.
     */
    static DirtyLogSync start(final VhostUserFrontEnd vmm, final long memoryBytes)
        throws ErrnoException
    {
        final long pages = (memoryBytes + (1L << DirtyLog.PAGE_SHIFT) - 1) >>> DirtyLog.PAGE_SHIFT;
        final long bytes = (pages + 63) / 64 * 8;
        final MemoryBacking log = MemoryBacking.memfd("loadgen-dirty-log", bytes);
        final byte[] base = new byte[VhostUserMessage.LOG_SIZE];
        MemorySegment.ofArray(base).set(LE_U64, 0, bytes);
        vmm.send(VhostUserRequest.SET_LOG_BASE, 0, base, log.fd());
        if (vmm.reply(VhostUserRequest.SET_LOG_BASE) == null)
        {
            log.close();
            throw new IllegalStateException("the back-end closed the connection at SET_LOG_BASE");
        }
        return new DirtyLogSync(log);
    }

    private void run()
    {
        final MemorySegment words = log.segment();
        while (running)
        {
            try
            {
                Thread.sleep(PERIOD_MILLIS);
            }
            catch (final InterruptedException e)
            {
                return;
            }
            long found = 0;
            for (long at = 0; at + 8 <= words.byteSize(); at += 8)
            {
                found += Long.bitCount((long)WORD.getAndSet(words, at, 0L));
            }
            dirtyPages += found;
            syncs++;
        }
    }

    /** @return the pages found dirty over all syncs; the sync has stopped. */
    long stop() throws InterruptedException
    {
        running = false;
        thread.interrupt();
        thread.join();
        return dirtyPages;
    }

    /** @return the syncs done (read after {@link #stop}). */
    long syncs()
    {
        return syncs;
    }

    @Override
    public void close() throws ErrnoException
    {
        log.close();
    }
}
