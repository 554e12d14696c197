package org.virtio4j.bench;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.IdleStrategy;
import org.virtio4j.devices.core.DeviceException;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.GuestRegion;
import org.virtio4j.transport.vsock.BridgeConfig;
import org.virtio4j.transport.vsock.GuestVsockDriver;
import org.virtio4j.transport.vsock.GuestVsockStack;
import org.virtio4j.transport.vsock.VsockBridge;
import org.virtio4j.transport.vsock.VsockHost;

/**
 * Two simulated guests, CID 3 on host A and CID 4 on host B, whose hosts are bridged over Aeron and share host A's
 * embedded media driver; {@link #connect()} opens guest A's port 50000 to guest B's port 9000. The vsock
 * benchmarks' common fixture.
 */
final class BridgedGuests implements AutoCloseable
{
    private static final long GUEST_MEMORY = 16 << 20;

    private final Arena arena = Arena.ofShared();
    final VsockBridge bridgeA;
    final VsockBridge bridgeB;
    final VsockHost hostA;
    final VsockHost hostB;
    final GuestVsockDriver driverA;
    final GuestVsockDriver driverB;
    final GuestVsockStack a;
    final GuestVsockStack b;

    /**
     * @param dir         where the hosts' Unix sockets go.
     * @param endpointA   host A's bridge endpoint ({@code ipc} or {@code host:port}).
     * @param endpointB   host B's.
     * @param driverIdleA the embedded media driver's idle strategy, or null for the bridge's default (backoff).
     * @throws IOException     if a host cannot listen.
     * @throws DeviceException if a simulated guest cannot set up its device.
     */
    BridgedGuests(final Path dir, final String endpointA, final String endpointB, final IdleStrategy driverIdleA)
        throws IOException, DeviceException
    {
        final BridgeConfig configA = new BridgeConfig(endpointA, Map.of(4L, endpointB), null, 3000);
        bridgeA = driverIdleA == null ? new VsockBridge(configA) : new VsockBridge(configA, driverIdleA);
        bridgeB = new VsockBridge(new BridgeConfig(endpointB, Map.of(3L, endpointA), Path.of(bridgeA.driverDirectory()), 3000));
        hostA = new VsockHost(3, dir.resolve("a-" + System.nanoTime()), bridgeA);
        hostB = new VsockHost(4, dir.resolve("b-" + System.nanoTime()), bridgeB);
        driverA = new GuestVsockDriver(GuestMemory.of(new GuestRegion(0, arena.allocate(GUEST_MEMORY, 4096))), 3, hostA);
        driverB = new GuestVsockDriver(GuestMemory.of(new GuestRegion(0, arena.allocate(GUEST_MEMORY, 4096))), 4, hostB);
        a = new GuestVsockStack(driverA);
        b = new GuestVsockStack(driverB);
    }

    /** Connects guest A to guest B, stepping both until each side sees the connection (10 s at most). */
    void connect() throws DeviceException
    {
        a.connect(4, 9000, 50000);
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!(a.connected && b.connected))
        {
            if (System.nanoTime() > deadline)
            {
                throw new IllegalStateException("no connection over the bridge");
            }
            a.step(false);
            b.step(true);
        }
    }

    @Override
    public void close() throws IOException
    {
        hostB.close();
        hostA.close();
        bridgeB.close();
        bridgeA.close();
        arena.close();
    }
}
