package org.virtio4j.engine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A burst of log lines from one source: a second's budget gets through, the rest is counted and reported. */
class LogLimiterTest
{
    @Test
    void shouldWriteAtMostTheBudgetASecondAndReportWhatItSuppressed() throws Exception
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final LogLimiter limiter = new LogLimiter(new PrintStream(bytes, true, StandardCharsets.UTF_8), 5);
        int written = 0;
        for (int i = 0; i < 1000; i++)
        {
            written += limiter.log("refused message " + i) ? 1 : 0;
        }
        assertEquals(5, written, "one second's budget");
        assertEquals(995, limiter.suppressed());
        Thread.sleep(1100);
        assertTrue(limiter.log("refused again"));
        final String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals(6, lines.length);
        assertEquals("refused message 4", lines[4]);
        assertEquals("refused again (995 similar lines suppressed)", lines[5]);
    }
}
