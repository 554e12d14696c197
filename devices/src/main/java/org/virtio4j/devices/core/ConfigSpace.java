package org.virtio4j.devices.core;

/**
 * Reads of a device's config space as virtio transports make them: a read past the end is cut short, a read
 * starting past it reads nothing, and the caller's bytes beyond what was read are left as they were.
 */
public final class ConfigSpace
{
    private ConfigSpace()
    {
    }

    /**
     * @param config the device's config space.
     * @param offset where the read starts.
     * @param data   filled from the config.
     * @return the bytes read.
     */
    public static int read(final byte[] config, final int offset, final byte[] data)
    {
        if (offset < 0 || offset >= config.length)
        {
            return 0;
        }
        final int length = Math.min(data.length, config.length - offset);
        System.arraycopy(config, offset, data, 0, length);
        return length;
    }
}
