package org.virtio4j.transport.vsock;

import java.util.ArrayList;
import java.util.List;

import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.devices.vsock.VsockDevice;
import org.virtio4j.devices.vsock.VsockHeaderLayout;
import org.virtio4j.devices.vsock.VsockPacketHandler;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.VirtioVsock;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

/**
 * The driver side, simulated (for tests, benchmarks and demos): a guest's vsock driver over a {@link VsockDevice}: it sends packets on the TX queue, keeps RX buffers
 * posted, and reads back the packets the device delivers.
 */
public final class GuestVsockDriver
{
    /** A packet as the guest sees it. */
    public record Packet(long srcCid, long dstCid, int srcPort, int dstPort, int op, int flags, int bufAlloc, int fwdCnt, byte[] data)
    {
    }

    /** A receive buffer: header and 4 KiB of data, as Linux posts them. */
    public static final int RX_BUFFER = VsockHeaderLayout.SIZE + 4096;
    /** Where transmit buffers go: 32 of 64 KiB. */
    public static final long TX_BASE = 0x10_0000;
    /** Where receive buffers go: 32 of 8 KiB. */
    public static final long RX_BASE = 0x40_0000;
    private static final long EVENT_BASE = 0x50_0000;

    final GuestMemory memory;
    final VsockDevice device;
    final DriverQueue rx;
    final DriverQueue tx;
    final DriverQueue event;
    final long cid;
    final SplitQueue[] queues;
    private int txSlot;
    private final long[] rxAddrOfHead;

    /** True when an engine drives the device: the driver only touches the rings. */
    final boolean engineDriven;

    public GuestVsockDriver(final GuestMemory memory, final long cid, final VsockPacketHandler handler) throws DeviceException
    {
        this(memory, cid, handler, false);
    }

    /** Kick eventfds of a device in another process (rings-only mode), or null. */
    private final EventFd[] kicks;

    /**
     * A driver for a device in another process (behind vhost-user): only the rings, kicked through eventfds.
     *
     * @param memory the guest memory shared with the back-end.
     * @param cid    the guest's CID.
     * @param rx     the receive queue.
     * @param tx     the transmit queue.
     * @param kicks  the rx and tx kick eventfds.
     */
    public GuestVsockDriver(final GuestMemory memory, final long cid, final DriverQueue rx, final DriverQueue tx, final EventFd[] kicks)
    {
        this.memory = memory;
        this.cid = cid;
        this.rx = rx;
        this.tx = tx;
        this.event = null;
        this.device = null;
        this.queues = null;
        this.engineDriven = true;
        this.kicks = kicks;
        rxAddrOfHead = new long[rx.size()];
        for (int i = 0; i < 32; i++)
        {
            postRx(i);
        }
        kicks[VirtioVsock.RXQ].signal();
    }

    public GuestVsockDriver(final GuestMemory memory, final long cid, final VsockPacketHandler handler, final boolean engineDriven)
        throws DeviceException
    {
        this.engineDriven = engineDriven;
        this.kicks = null;
        this.memory = memory;
        this.cid = cid;
        device = new VsockDevice(cid, 64, handler);
        rx = new DriverQueue(memory, 0, 64);
        tx = new DriverQueue(memory, 0x1_0000, 64);
        event = new DriverQueue(memory, 0x2_0000, 64);
        queues = new SplitQueue[] {rx.configure(new SplitQueue(64)), tx.configure(new SplitQueue(64)), event.configure(new SplitQueue(64))};
        device.activate(memory, queues, device.deviceFeatures(), new Interrupt()
        {
            @Override
            public void signalUsedBuffers(final int queue)
            {
            }

            @Override
            public void signalConfigChange()
            {
            }
        });
        rxAddrOfHead = new long[64];
        for (int i = 0; i < 32; i++)
        {
            postRx(i);
        }
    }

    private void postRx(final int slot)
    {
        final long addr = RX_BASE + (long)slot * 0x2000;
        final int head = rx.addChain(DriverBuffer.writable(addr, RX_BUFFER));
        rxAddrOfHead[head] = addr;
    }

    /** Sends one packet on TX and lets the device process it. */
    public void send(final long dstCid, final int srcPort, final int dstPort, final int op, final int flags, final int bufAlloc, final int fwdCnt,
        final byte[] data) throws DeviceException
    {
        final long addr = TX_BASE + (long)(txSlot++ % 32) * 0x1_0000;
        memory.putU64(addr + VsockHeaderLayout.SRC_CID, cid);
        memory.putU64(addr + VsockHeaderLayout.DST_CID, dstCid);
        memory.putU32(addr + VsockHeaderLayout.SRC_PORT, srcPort);
        memory.putU32(addr + VsockHeaderLayout.DST_PORT, dstPort);
        memory.putU32(addr + VsockHeaderLayout.LEN, data.length);
        memory.putU16(addr + VsockHeaderLayout.TYPE, VirtioVsock.TYPE_STREAM);
        memory.putU16(addr + VsockHeaderLayout.OP, op);
        memory.putU32(addr + VsockHeaderLayout.FLAGS, flags);
        memory.putU32(addr + VsockHeaderLayout.BUF_ALLOC, bufAlloc);
        memory.putU32(addr + VsockHeaderLayout.FWD_CNT, fwdCnt);
        memory.write(addr + VsockHeaderLayout.SIZE, data, 0, data.length);
        tx.addChain(DriverBuffer.readable(addr, VsockHeaderLayout.SIZE + data.length));
        if (!engineDriven)
        {
            device.processQueue(VirtioVsock.TXQ);
        }
        if (kicks != null)
        {
            kicks[VirtioVsock.TXQ].signal();
        }
        reapTx();
    }

    /** Takes back transmitted buffers; returns how many are still in flight. */
    public int reapTx()
    {
        while (tx.pollUsed())
        {
            // TX buffers come back with length 0.
        }
        return tx.size() - tx.freeDescriptors();
    }

    /** Lets the device do host work and deliver what it has; returns the packets the guest received. */
    public List<Packet> receive() throws DeviceException
    {
        if (!engineDriven)
        {
            device.poll(new int[3]);
        }
        final List<Packet> packets = new ArrayList<>();
        while (rx.pollUsed())
        {
            final int head = rx.lastUsedId();
            final long addr = rxAddrOfHead[head];
            final int len = memory.getU32(addr + VsockHeaderLayout.LEN);
            final byte[] data = new byte[len];
            memory.read(addr + VsockHeaderLayout.SIZE, data, 0, len);
            packets.add(new Packet(memory.getU64(addr + VsockHeaderLayout.SRC_CID), memory.getU64(addr + VsockHeaderLayout.DST_CID),
                memory.getU32(addr + VsockHeaderLayout.SRC_PORT), memory.getU32(addr + VsockHeaderLayout.DST_PORT),
                memory.getU16(addr + VsockHeaderLayout.OP), memory.getU32(addr + VsockHeaderLayout.FLAGS),
                memory.getU32(addr + VsockHeaderLayout.BUF_ALLOC), memory.getU32(addr + VsockHeaderLayout.FWD_CNT), data));
            rxAddrOfHead[rx.addChain(DriverBuffer.writable(addr, RX_BUFFER))] = addr;
        }
        if (kicks != null && !packets.isEmpty())
        {
            kicks[VirtioVsock.RXQ].signal();
        }
        return packets;
    }

    /** @return the guest memory. */
    public GuestMemory memory()
    {
        return memory;
    }

    /** @return the device this driver drives (null for a device in another process). */
    public VsockDevice device()
    {
        return device;
    }

    /**
     * Points the device's receive or transmit queue at new driver-side rings (benchmarks that re-offer fixed
     * chains); a null keeps the current one.
     *
     * @param newRx the receive ring, or null.
     * @param newTx the transmit ring, or null.
     */
    public void swapRings(final DriverQueue newRx, final DriverQueue newTx)
    {
        if (newRx != null)
        {
            queues[VirtioVsock.RXQ].reset();
            newRx.configure(queues[VirtioVsock.RXQ]);
        }
        if (newTx != null)
        {
            queues[VirtioVsock.TXQ].reset();
            newTx.configure(queues[VirtioVsock.TXQ]);
        }
    }

    /** Posts one event-queue buffer. */
    long postEventBuffer()
    {
        event.addChain(DriverBuffer.writable(EVENT_BASE, 8));
        return EVENT_BASE;
    }
}
