package org.virtio4j.transport.vsock;

import java.util.Arrays;
import java.util.zip.CRC32C;

import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.virtio.VirtioVsock;

/**
 * The driver side, simulated (for tests, benchmarks and demos): one stream connection as a guest's vsock stack runs it, over a {@link GuestVsockDriver}: the handshake, data
 * sent within the peer's credit, received data consumed (optionally slowly) with credit updates, checksums of
 * both directions, half-close and reset.
 */
public final class GuestVsockStack
{
    /** The receive buffer the simulated guest advertises. */
    public static final int BUF_ALLOC = 1 << 20;
    private static final int CHUNK = 32 * 1024;

    final GuestVsockDriver driver;
    public long peerCid;
    int localPort;
    int peerPort;
    public boolean connected;
    public boolean reset;
    boolean peerSendClosed;
    long peerBufAlloc;
    long peerFwdCnt;
    long txCnt;
    public long rxCnt;
    public long fwdCnt;
    long fwdCntAdvertised;
    public long toSend;
    public long sent;
    public final CRC32C sentCrc = new CRC32C();
    public final CRC32C receivedCrc = new CRC32C();
    private final byte[] chunk = new byte[CHUNK];
    /** Bytes this stack may consume per step (a slow reader); unlimited when 0. */
    long consumePerStep;
    private long unconsumed;

    public GuestVsockStack(final GuestVsockDriver driver)
    {
        this.driver = driver;
    }

    public void connect(final long cid, final int port, final int fromPort) throws DeviceException
    {
        peerCid = cid;
        peerPort = port;
        localPort = fromPort;
        driver.send(cid, fromPort, port, VirtioVsock.OP_REQUEST, 0, BUF_ALLOC, 0, new byte[0]);
    }

    /** One step: handle what arrived, consume, send what the credit allows. */
    public void step(final boolean listen) throws DeviceException
    {
        for (final GuestVsockDriver.Packet packet : driver.receive())
        {
            handle(packet, listen);
        }
        consume();
        send();
    }

    private void handle(final GuestVsockDriver.Packet packet, final boolean listen) throws DeviceException
    {
        switch (packet.op())
        {
            case VirtioVsock.OP_REQUEST ->
            {
                if (listen)
                {
                    peerCid = packet.srcCid();
                    peerPort = packet.srcPort();
                    localPort = packet.dstPort();
                    credit(packet);
                    connected = true;
                    driver.send(peerCid, localPort, peerPort, VirtioVsock.OP_RESPONSE, 0, BUF_ALLOC, 0, new byte[0]);
                }
            }
            case VirtioVsock.OP_RESPONSE ->
            {
                credit(packet);
                connected = true;
            }
            case VirtioVsock.OP_RW ->
            {
                credit(packet);
                receivedCrc.update(packet.data());
                rxCnt += packet.data().length;
                unconsumed += packet.data().length;
                if (rxCnt - fwdCnt > BUF_ALLOC)
                {
                    throw new IllegalStateException("the peer sent past our credit: " + (rxCnt - fwdCnt));
                }
            }
            case VirtioVsock.OP_CREDIT_UPDATE -> credit(packet);
            case VirtioVsock.OP_CREDIT_REQUEST -> driver.send(peerCid, localPort, peerPort, VirtioVsock.OP_CREDIT_UPDATE, 0, BUF_ALLOC,
                (int)fwdCnt, new byte[0]);
            case VirtioVsock.OP_SHUTDOWN ->
            {
                credit(packet);
                peerSendClosed = (packet.flags() & VirtioVsock.SHUTDOWN_SEND) != 0;
            }
            case VirtioVsock.OP_RST ->
            {
                reset = true;
                connected = false;
            }
            default -> throw new IllegalStateException("unexpected op " + packet.op());
        }
    }

    private void credit(final GuestVsockDriver.Packet packet)
    {
        peerBufAlloc = Integer.toUnsignedLong(packet.bufAlloc());
        peerFwdCnt = Integer.toUnsignedLong(packet.fwdCnt());
    }

    private void consume() throws DeviceException
    {
        final long take = consumePerStep == 0 ? unconsumed : Math.min(unconsumed, consumePerStep);
        unconsumed -= take;
        fwdCnt += take;
        if (connected && !reset && fwdCnt - fwdCntAdvertised >= BUF_ALLOC / 4)
        {
            fwdCntAdvertised = fwdCnt;
            driver.send(peerCid, localPort, peerPort, VirtioVsock.OP_CREDIT_UPDATE, 0, BUF_ALLOC, (int)fwdCnt, new byte[0]);
        }
    }

    private void send() throws DeviceException
    {
        while (connected && !reset && sent < toSend && driver.reapTx() < 24)
        {
            final long credit = peerBufAlloc - (txCnt - peerFwdCnt);
            final int length = (int)Math.min(Math.min(CHUNK, credit), toSend - sent);
            if (length <= 0)
            {
                return;
            }
            for (int i = 0; i < length; i++)
            {
                chunk[i] = (byte)((sent + i) * 31 + localPort);
            }
            final byte[] data = length == CHUNK ? chunk : Arrays.copyOf(chunk, length);
            sentCrc.update(data, 0, length);
            driver.send(peerCid, localPort, peerPort, VirtioVsock.OP_RW, 0, BUF_ALLOC, (int)fwdCnt, data);
            txCnt += length;
            sent += length;
        }
    }

    public void shutdownSend() throws DeviceException
    {
        driver.send(peerCid, localPort, peerPort, VirtioVsock.OP_SHUTDOWN, VirtioVsock.SHUTDOWN_SEND, BUF_ALLOC, (int)fwdCnt, new byte[0]);
    }

    public void resetConnection() throws DeviceException
    {
        driver.send(peerCid, localPort, peerPort, VirtioVsock.OP_RST, 0, BUF_ALLOC, (int)fwdCnt, new byte[0]);
        reset = true;
        connected = false;
    }
}
