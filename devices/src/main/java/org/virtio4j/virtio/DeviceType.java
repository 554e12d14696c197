package org.virtio4j.virtio;

/**
 * Virtio device ids (virtio 1.2 section 5), the value the MMIO DeviceID register and vhost-user front-ends use.
 */
public final class DeviceType
{
    /** Network card. */
    public static final int NET = 1;
    /** Block device. */
    public static final int BLOCK = 2;
    /** Console. */
    public static final int CONSOLE = 3;
    /** Entropy source. */
    public static final int RNG = 4;
    /** Memory balloon. */
    public static final int BALLOON = 5;
    /** SCSI host. */
    public static final int SCSI = 8;
    /** 9P transport. */
    public static final int NINE_P = 9;
    /** GPU. */
    public static final int GPU = 16;
    /** Input device. */
    public static final int INPUT = 18;
    /** Socket device (vsock). */
    public static final int VSOCK = 19;
    /** Crypto device. */
    public static final int CRYPTO = 20;
    /** File system device (virtiofs). */
    public static final int FS = 26;
    /** Sound device. */
    public static final int SOUND = 25;

    private DeviceType()
    {
    }
}
