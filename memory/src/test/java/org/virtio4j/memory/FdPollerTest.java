package org.virtio4j.memory;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.memory.linux.FdPoller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code poll(2)} over eventfds: readiness by index, waiting for room to write, and a set that outgrows its size. */
class FdPollerTest
{
    @Test
    void shouldGrowPastItsCapacityAndReportTheReadyDescriptor() throws Exception
    {
        final List<EventFd> events = new ArrayList<>();
        try (FdPoller poller = new FdPoller(2))
        {
            for (int i = 0; i < 10; i++)
            {
                events.add(EventFd.create());
                assertEquals(i, poller.add(events.get(i).fd()));
            }
            assertEquals(10, poller.size());
            assertEquals(0, poller.poll(0), "nothing signalled");

            events.get(8).signal();
            assertEquals(1, poller.poll(1000));
            for (int i = 0; i < 10; i++)
            {
                assertEquals(i == 8, poller.isReadable(i), "descriptor " + i);
            }
        }
        finally
        {
            for (final EventFd event : events)
            {
                event.close();
            }
        }
    }

    @Test
    void shouldWakeOnRoomToWriteButNotOnInput() throws Exception
    {
        try (EventFd event = EventFd.create(); FdPoller poller = new FdPoller(1))
        {
            poller.addWritable(event.fd());
            assertEquals(1, poller.poll(1000), "an eventfd below its maximum has room");
            assertFalse(poller.isReadable(0), "a write wait does not report input");

            poller.clear();
            poller.add(event.fd());
            assertEquals(0, poller.poll(0));
            event.signal();
            assertEquals(1, poller.poll(1000));
            assertTrue(poller.isReadable(0));
        }
    }
}
