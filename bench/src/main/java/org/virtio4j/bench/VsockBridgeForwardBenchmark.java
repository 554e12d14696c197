package org.virtio4j.bench;

import java.nio.file.Files;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.devices.vsock.VsockDevice;
import org.virtio4j.devices.vsock.VsockHeaderLayout;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.transport.vsock.GuestVsockDriver;
import org.virtio4j.transport.vsock.GuestVsockStack;
import org.virtio4j.virtio.VirtioVsock;
import org.virtio4j.virtio.driver.DriverBuffer;
import org.virtio4j.virtio.driver.DriverQueue;

/**
 * The vsock bridge's data path on the devices' side, with nothing of the simulated guests in the loop: guest A's
 * 64-byte RW packet is taken from its TX ring, relayed over Aeron IPC, checked and queued by host B, and written into
 * guest B's RX buffer with its header. The TX and RX chains are built once and re-offered, so what allocates, if
 * anything, is ours ({@code -prof gc}).
 *
 * <p>One thread (the media driver is not on the IPC data path and backs off); core budget 1.
 * Run: {@code java -jar bench/target/benchmarks.jar VsockBridgeForward -prof gc}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {JvmFlags.ADD_EXPORTS, JvmFlags.NATIVE_ACCESS})
public class VsockBridgeForwardBenchmark
{
    private static final int MESSAGE = 64;

    private BridgedGuests guests;
    private GuestVsockDriver driverA;
    private GuestVsockDriver driverB;
    private DriverQueue txA;
    private DriverQueue rxB;
    private int txHead;
    private int rxHead;
    private long rxAddr;
    private final int[] counts = new int[3];

    /** Two hosts over one IPC bridge; a connection is made by the simulated guests, then they step aside. */
    @Setup(Level.Trial)
    public void setUp() throws Exception
    {
        guests = new BridgedGuests(Files.createTempDirectory("vsock-forward"), "ipc", "ipc", null);
        guests.connect();
        driverA = guests.driverA;
        driverB = guests.driverB;
        // From here on only the rings: one TX chain on A and one RX buffer on B, re-offered each operation.
        txA = new DriverQueue(driverA.memory(), 0x80_0000, 64);
        rxB = new DriverQueue(driverB.memory(), 0x80_0000, 64);
        final GuestMemory memoryA = driverA.memory();
        final long packet = 0x90_0000;
        memoryA.putU64(packet + VsockHeaderLayout.SRC_CID, 3);
        memoryA.putU64(packet + VsockHeaderLayout.DST_CID, 4);
        memoryA.putU32(packet + VsockHeaderLayout.SRC_PORT, 50000);
        memoryA.putU32(packet + VsockHeaderLayout.DST_PORT, 9000);
        memoryA.putU32(packet + VsockHeaderLayout.LEN, MESSAGE);
        memoryA.putU16(packet + VsockHeaderLayout.TYPE, VirtioVsock.TYPE_STREAM);
        memoryA.putU16(packet + VsockHeaderLayout.OP, VirtioVsock.OP_RW);
        memoryA.putU32(packet + VsockHeaderLayout.BUF_ALLOC, GuestVsockStack.BUF_ALLOC);
        txHead = txA.buildChain(DriverBuffer.readable(packet, VsockHeaderLayout.SIZE + MESSAGE));
        rxAddr = 0x90_0000;
        rxHead = rxB.buildChain(DriverBuffer.writable(rxAddr, VsockHeaderLayout.SIZE + 4096));
        driverA.swapRings(null, txA);
        driverB.swapRings(rxB, null);
    }

    /** Closes both hosts and bridges. */
    @TearDown(Level.Trial)
    public void tearDown() throws Exception
    {
        guests.close();
    }

    /**
     * One 64-byte packet from guest A's TX ring to guest B's RX ring over the bridge.
     *
     * @return the data length guest B received.
     * @throws DeviceException if a queue fails.
     */
    @Benchmark
    public int forward64() throws DeviceException
    {
        txA.makeAvailable(txHead);
        final VsockDevice deviceA = driverA.device();
        final VsockDevice deviceB = driverB.device();
        deviceA.processQueue(VirtioVsock.TXQ);
        rxB.makeAvailable(rxHead);
        // A term rotation in the publication can push back; device A retries its blocked chain when polled.
        boolean sent = txA.pollUsed(false);
        boolean arrived = false;
        int spins = 0;
        while (!(sent && arrived))
        {
            if (!sent)
            {
                deviceA.poll(counts);
                sent = txA.pollUsed(false);
            }
            if (!arrived)
            {
                deviceB.poll(counts);
                arrived = rxB.pollUsed(false);
            }
            if (++spins > 10_000_000)
            {
                throw new IllegalStateException("the packet did not arrive: bridged out " + guests.hostA.packetsBridgedOut() +
                    ", bridged in " + guests.hostB.packetsBridgedIn());
            }
        }
        final int received = driverB.memory().getU32(rxAddr + VsockHeaderLayout.LEN);
        if (received != MESSAGE)
        {
            throw new IllegalStateException("received " + received + " bytes");
        }
        return received;
    }
}
