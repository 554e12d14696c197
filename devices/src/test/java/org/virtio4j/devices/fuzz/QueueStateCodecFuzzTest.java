package org.virtio4j.devices.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.virtio4j.virtio.QueueException;
import org.virtio4j.virtio.QueueState;
import org.virtio4j.virtio.QueueStateCodec;
import org.virtio4j.virtio.QueueStateFormatException;
import org.virtio4j.virtio.SplitQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Coverage-guided fuzzing of the queue-state codec, which reads what a snapshot file or another back-end version
 * hands over: any bytes decode to a state or fail with {@link QueueStateFormatException}; a decoded state restores
 * or fails with {@link QueueException}; what decodes encodes back to a state equal to it.
 */
class QueueStateCodecFuzzTest
{
    @FuzzTest(maxDuration = "")
    void decodeRestoreAndRoundTrip(final byte[] input)
    {
        final QueueState state;
        try
        {
            state = QueueStateCodec.decode(input);
        }
        catch (final QueueStateFormatException e)
        {
            return;
        }
        assertEquals(state, QueueStateCodec.decode(QueueStateCodec.encode(state)), "round trip");
        try
        {
            SplitQueue.restore(state);
        }
        catch (final QueueException e)
        {
            // A state no queue can hold (a size that is not a power of two, misaligned rings): refused.
        }
    }
}
