package org.virtio4j.virtio;

/**
 * virtio-console constants (virtio 1.2 section 5.3).
 */
public final class VirtioConsole
{
    /** Feature: the cols and rows config fields are valid. */
    public static final int F_SIZE = 0;
    /** Feature: several ports, with a control queue pair. */
    public static final int F_MULTIPORT = 1;
    /** Feature: the driver may write characters to the emerg_wr config field. */
    public static final int F_EMERG_WRITE = 2;

    /** Queue index of port 0's receive queue (device to driver). */
    public static final int RECEIVEQ = 0;
    /** Queue index of port 0's transmit queue (driver to device). */
    public static final int TRANSMITQ = 1;

    /** Config offset of cols (u16). */
    public static final int CONFIG_COLS = 0;
    /** Config offset of rows (u16). */
    public static final int CONFIG_ROWS = 2;
    /** Config offset of max_nr_ports (u32). */
    public static final int CONFIG_MAX_NR_PORTS = 4;
    /** Config offset of emerg_wr (u32). */
    public static final int CONFIG_EMERG_WR = 8;

    private VirtioConsole()
    {
    }
}
