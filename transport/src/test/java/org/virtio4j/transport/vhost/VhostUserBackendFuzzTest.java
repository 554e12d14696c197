package org.virtio4j.transport.vhost;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.AfterAll;
import org.virtio4j.devices.blk.BlkDevice;
import org.virtio4j.devices.blk.BlkOptions;
import org.virtio4j.devices.blk.RamBackend;
import org.virtio4j.engine.Engine;
import org.virtio4j.engine.EngineContext;
import org.virtio4j.engine.ThreadingMode;

/**
 * Coverage-guided fuzzing of the vhost-user message decoder and back-end state machine: a session of arbitrary
 * messages (any request number, size and payload, no fds) from a hostile front-end. Every message is answered or
 * refused with a {@link VhostUserException}; nothing else escapes, whatever the order. Each input is one
 * connection: the back-end is released after it, as the server does.
 */
class VhostUserBackendFuzzTest
{
    private static final Engine ENGINE = Engine.launch(new EngineContext().threadingMode(ThreadingMode.SHARED).idleStrategy("backoff").countersEnabled(false));
    private static final RamBackend DISK = new RamBackend(1 << 20);
    private static final VhostUserBackend BACKEND = new VhostUserBackend("fuzz", new BlkDevice(DISK, BlkOptions.defaults().withQueueSize(64)), ENGINE,
        VhostUserServer.MAX_MEM_SLOTS, new VhostUserCounters(ENGINE, "fuzz"), () -> { });
    private static final Arena ARENA = Arena.ofShared();
    private static final MemorySegment PAYLOAD = ARENA.allocate(VhostUserMessage.MAX_PAYLOAD, 8);
    private static final MemorySegment REPLY = ARENA.allocate(VhostUserMessage.MAX_PAYLOAD, 8);
    private static final int[] NO_FDS = new int[org.virtio4j.memory.linux.UnixSocket.MAX_FDS];

    @FuzzTest(maxDuration = "")
    void session(final FuzzedDataProvider data)
    {
        try
        {
            while (data.remainingBytes() > 0)
            {
                final int request = data.consumeInt(0, 48);
                final int size = data.consumeInt(0, VhostUserMessage.MAX_PAYLOAD);
                final byte[] payload = data.consumeBytes(size);
                PAYLOAD.fill((byte)0);
                MemorySegment.copy(MemorySegment.ofArray(payload), 0, PAYLOAD, 0, payload.length);
                try
                {
                    BACKEND.handle(request, PAYLOAD, size, NO_FDS, 0, REPLY);
                }
                catch (final VhostUserException e)
                {
                    // Refused: the server answers with a failure or closes the connection.
                }
                final int fd = BACKEND.takeReplyFd();
                if (fd >= 0)
                {
                    Fds.close(fd);
                }
            }
        }
        finally
        {
            BACKEND.disconnect();
        }
    }

    @AfterAll
    static void close() throws Exception
    {
        ENGINE.close();
        DISK.close();
    }
}
