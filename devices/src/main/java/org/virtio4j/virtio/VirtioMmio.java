package org.virtio4j.virtio;

/**
 * virtio-mmio (version 2) register offsets and values (virtio 1.2 section 4.2.2). All registers are 32 bits wide
 * and little-endian; device config space starts at {@link #CONFIG}.
 */
public final class VirtioMmio
{
    /** "virt" as a little-endian u32. */
    public static final int MAGIC = 0x7472_6976;
    /** The non-legacy interface version. */
    public static final int VERSION = 2;

    /** R: magic value. */
    public static final int MAGIC_VALUE = 0x000;
    /** R: version. */
    public static final int VERSION_REG = 0x004;
    /** R: device id. */
    public static final int DEVICE_ID = 0x008;
    /** R: vendor id. */
    public static final int VENDOR_ID = 0x00c;
    /** R: 32 bits of the device features, chosen by DEVICE_FEATURES_SEL. */
    public static final int DEVICE_FEATURES = 0x010;
    /** W: which 32 bits of the device features to show. */
    public static final int DEVICE_FEATURES_SEL = 0x014;
    /** W: 32 bits of the driver features, chosen by DRIVER_FEATURES_SEL. */
    public static final int DRIVER_FEATURES = 0x020;
    /** W: which 32 bits of the driver features are written. */
    public static final int DRIVER_FEATURES_SEL = 0x024;
    /** Legacy only: guest page size (not handled). */
    public static final int GUEST_PAGE_SIZE = 0x028;
    /** W: the queue the QUEUE_* registers refer to. */
    public static final int QUEUE_SEL = 0x030;
    /** R: the selected queue's maximum size. */
    public static final int QUEUE_NUM_MAX = 0x034;
    /** W: the selected queue's size. */
    public static final int QUEUE_NUM = 0x038;
    /** Legacy only: queue alignment (not handled). */
    public static final int QUEUE_ALIGN = 0x03c;
    /** Legacy only: queue page frame number (not handled). */
    public static final int QUEUE_PFN = 0x040;
    /** RW: the selected queue is ready. */
    public static final int QUEUE_READY = 0x044;
    /** W: the driver notifies a queue (the value is its index). */
    public static final int QUEUE_NOTIFY = 0x050;
    /** R: interrupt causes. */
    public static final int INTERRUPT_STATUS = 0x060;
    /** W: acknowledges interrupt causes. */
    public static final int INTERRUPT_ACK = 0x064;
    /** RW: device status. */
    public static final int STATUS = 0x070;
    /** W: descriptor table address, low 32 bits. */
    public static final int QUEUE_DESC_LOW = 0x080;
    /** W: descriptor table address, high 32 bits. */
    public static final int QUEUE_DESC_HIGH = 0x084;
    /** W: available ring (driver area) address, low 32 bits. */
    public static final int QUEUE_AVAIL_LOW = 0x090;
    /** W: available ring address, high 32 bits. */
    public static final int QUEUE_AVAIL_HIGH = 0x094;
    /** W: used ring (device area) address, low 32 bits. */
    public static final int QUEUE_USED_LOW = 0x0a0;
    /** W: used ring address, high 32 bits. */
    public static final int QUEUE_USED_HIGH = 0x0a4;
    /** W: shared memory region select. */
    public static final int SHM_SEL = 0x0ac;
    /** R: shared memory region length, low. */
    public static final int SHM_LEN_LOW = 0x0b0;
    /** R: shared memory region length, high. */
    public static final int SHM_LEN_HIGH = 0x0b4;
    /** R: shared memory region base, low. */
    public static final int SHM_BASE_LOW = 0x0b8;
    /** R: shared memory region base, high. */
    public static final int SHM_BASE_HIGH = 0x0bc;
    /** W: reset the selected queue. */
    public static final int QUEUE_RESET = 0x0c0;
    /** R: configuration generation. */
    public static final int CONFIG_GENERATION = 0x0fc;
    /** Device-specific configuration space starts here. */
    public static final int CONFIG = 0x100;

    /** Interrupt cause: a used ring was updated. */
    public static final int INT_VRING = 1;
    /** Interrupt cause: the configuration changed. */
    public static final int INT_CONFIG = 2;

    private VirtioMmio()
    {
    }
}
