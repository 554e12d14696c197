package org.virtio4j.devices.console;

import java.io.IOException;

/**
 * Where a console's bytes come from and go to. Reads never block (the device polls); writes deliver every byte in
 * order.
 */
public interface ConsoleBackend extends AutoCloseable
{
    /**
     * Takes the input bytes available now.
     *
     * @param buffer where to put them.
     * @param offset the first index to fill.
     * @param length the most bytes to take (the device's free buffer space: back-pressure).
     * @return the bytes taken, 0 if none are available, -1 once the input has ended.
     * @throws IOException if the source fails.
     */
    int read(byte[] buffer, int offset, int length) throws IOException;

    /**
     * Delivers output bytes, in order.
     *
     * @param buffer the bytes.
     * @param offset the first index.
     * @param length how many.
     * @throws IOException if the sink fails.
     */
    void write(byte[] buffer, int offset, int length) throws IOException;

    /** Releases the backend. */
    @Override
    void close() throws IOException;
}
