package org.virtio4j.transport.vsock;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.concurrent.TimeUnit;

import io.aeron.Aeron;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import org.agrona.CloseHelper;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.virtio4j.memory.linux.ErrnoException;
import org.virtio4j.memory.linux.Linux;

/**
 * This host's membership of the vsock fabric: an Aeron client (on an embedded media driver unless the
 * configuration names an external one) from which each local vsock device gets its {@link BridgePort}. Packets for
 * a remote CID travel as Aeron messages (the 44-byte vsock header, then the data) on stream id = the destination
 * CID, to the endpoint of the host that serves it: UDP unicast between hosts, IPC within one machine.
 *
 * <p>Thread-safe to create ports; each port is used by one device's thread.
 */
public final class VsockBridge implements AutoCloseable
{
    private final BridgeConfig config;
    private final MediaDriver driver;
    private final Aeron aeron;

    /**
     * @param config the fabric's configuration.
     */
    public VsockBridge(final BridgeConfig config)
    {
        this(config, new BackoffIdleStrategy(10, 10, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MILLISECONDS.toNanos(1)));
    }

    /**
     * @param config     the fabric's configuration.
     * @param driverIdle the embedded driver's idle strategy (busy-spin for latency benchmarks with a core to spare).
     */
    public VsockBridge(final BridgeConfig config, final IdleStrategy driverIdle)
    {
        this(config, driverIdle, -1);
    }

    /**
     * @param config     the fabric's configuration.
     * @param driverIdle the embedded driver's idle strategy.
     * @param driverCpu  the CPU to pin the embedded driver's thread to, or -1.
     */
    public VsockBridge(final BridgeConfig config, final IdleStrategy driverIdle, final int driverCpu)
    {
        this.config = config;
        final String directory;
        if (config.driverDir() == null)
        {
            final MediaDriver.Context context = new MediaDriver.Context()
                .aeronDirectoryName(tempDirectory())
                .dirDeleteOnStart(true)
                .dirDeleteOnShutdown(true)
                .threadingMode(ThreadingMode.SHARED)
                .sharedIdleStrategy(driverIdle)
                .sharedThreadFactory(task -> new Thread(() ->
                {
                    pin(driverCpu);
                    task.run();
                }, "virtio4j-aeron-driver"))
                .termBufferSparseFile(true)
                .publicationTermBufferLength(4 << 20)
                .ipcTermBufferLength(4 << 20)
                .publicationConnectionTimeoutNs(TimeUnit.MILLISECONDS.toNanos(Math.max(500, config.peerTimeoutMs() / 2)))
                .imageLivenessTimeoutNs(TimeUnit.MILLISECONDS.toNanos(Math.max(500, config.peerTimeoutMs() / 2)));
            driver = MediaDriver.launchEmbedded(context);
            directory = driver.aeronDirectoryName();
        }
        else
        {
            driver = null;
            directory = config.driverDir().toString();
        }
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(directory));
    }

    private static void pin(final int cpu)
    {
        if (cpu < 0)
        {
            return;
        }
        final BitSet cpus = new BitSet();
        cpus.set(cpu);
        try
        {
            Linux.setAffinity(cpus);
        }
        catch (final ErrnoException e)
        {
            System.err.println("virtio4j bridge: cannot pin the media driver to cpu " + cpu + ": " + e.getMessage());
        }
    }

    private static String tempDirectory()
    {
        final Path shm = Path.of("/dev/shm");
        final Path base = Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
        return base.resolve("virtio4j-aeron-" + ProcessHandle.current().pid() + "-" + System.nanoTime()).toString();
    }

    /** @return the media driver's directory (another bridge in this process may share it). */
    public String driverDirectory()
    {
        return aeron.context().aeronDirectoryName();
    }

    /**
     * @param localCid the CID of a guest on this host.
     * @return its port into the fabric.
     */
    public BridgePort port(final long localCid)
    {
        return new BridgePort(aeron, config, localCid);
    }

    /** @return the configuration. */
    public BridgeConfig config()
    {
        return config;
    }

    @Override
    public void close()
    {
        CloseHelper.closeAll(aeron, driver);
    }
}
