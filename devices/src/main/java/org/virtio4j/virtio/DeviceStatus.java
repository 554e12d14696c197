package org.virtio4j.virtio;

/**
 * The device status bits the driver writes (virtio 1.2 section 2.1), set one step at a time during bring-up.
 */
public final class DeviceStatus
{
    /** Writing 0 resets the device. */
    public static final int RESET = 0;
    /** The guest has found the device. */
    public static final int ACKNOWLEDGE = 1;
    /** The guest knows how to drive the device. */
    public static final int DRIVER = 2;
    /** The driver is set up and ready to drive the device. */
    public static final int DRIVER_OK = 4;
    /** The driver has acknowledged the features it understands; negotiation is complete. */
    public static final int FEATURES_OK = 8;
    /** The device hit an error it cannot recover from; the driver must reset it. */
    public static final int DEVICE_NEEDS_RESET = 64;
    /** The guest has given up on the device. */
    public static final int FAILED = 128;

    private DeviceStatus()
    {
    }
}
