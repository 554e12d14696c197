package org.virtio4j.tuning;

import java.util.Map;

import org.junit.jupiter.api.Test;
import org.virtio4j.devices.blk.FileDisk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The file options of {@code serve --blk}: defaults, values, and a message a person can act on. */
class ServeBlkOptionsTest
{
    @Test
    void shouldSubmitInGroupsOfFourUnlessTold()
    {
        assertEquals(FileDisk.Options.DEFAULT_SUBMIT_BATCH, ServeCommand.fileOptions(Map.of(), false).submitBatch());
        assertEquals(4, FileDisk.Options.DEFAULT_SUBMIT_BATCH);
        assertEquals(0, ServeCommand.fileOptions(Map.of("submit-batch", "0"), false).submitBatch());
        assertEquals(16, ServeCommand.fileOptions(Map.of("submit-batch", "16"), false).submitBatch());
    }

    @Test
    void shouldRefuseASubmitBatchOutOfRangeOrNotANumber()
    {
        assertEquals("blk submit-batch=-1 must be in [0, 32768] (0: once per batch)",
            assertThrows(IllegalArgumentException.class, () -> ServeCommand.fileOptions(Map.of("submit-batch", "-1"), false)).getMessage());
        assertEquals("--blk submit-batch=x is not a number",
            assertThrows(IllegalArgumentException.class, () -> ServeCommand.fileOptions(Map.of("submit-batch", "x"), false)).getMessage());
    }
}
