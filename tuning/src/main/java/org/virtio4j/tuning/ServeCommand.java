package org.virtio4j.tuning;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.virtio4j.devices.blk.BlkBackend;
import org.virtio4j.devices.blk.BlkDevice;
import org.virtio4j.devices.blk.BlkOptions;
import org.virtio4j.devices.blk.FileDisk;
import org.virtio4j.devices.blk.NullBackend;
import org.virtio4j.devices.blk.RamBackend;
import org.virtio4j.devices.core.VirtioDevice;
import org.virtio4j.devices.vsock.VsockDevice;
import org.virtio4j.engine.Engine;
import org.virtio4j.engine.EngineContext;
import org.virtio4j.engine.ThreadingMode;
import org.virtio4j.transport.vhost.VhostUserServer;
import org.virtio4j.transport.vsock.BridgeConfig;
import org.virtio4j.transport.vsock.VsockBridge;
import org.virtio4j.transport.vsock.VsockHost;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code virtio4j serve}: serves devices to VMMs over vhost-user, each on its own socket, in the style of
 * qemu-storage-daemon and vhost-device. Shuts down cleanly on SIGINT/SIGTERM: front-ends are disconnected, every
 * request in flight completes, and file backends are flushed.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Serve virtio devices (blk, vsock) to VMMs (QEMU, Cloud Hypervisor, ...) over vhost-user.")
final class ServeCommand implements Callable<Integer>
{
    /** How long SIGTERM or an engine thread's end may take to stop everything before the process halts. */
    static final long SHUTDOWN_LIMIT_SECONDS = 60;
    /** The exit status when an engine thread ended (EX_SOFTWARE). */
    static final int ENGINE_DIED_STATUS = 70;

    @Option(names = "--blk", description = "A virtio-blk device: socket=PATH,path=IMAGE[,readonly][,queues=N][,queue-size=N]" +
        "[,backend=file|ram|null][,size=BYTES][,serial=ID][,direct=on|off][,aio=io_uring|threads][,threads=N][,sync=auto|nowait|off][,submit-batch=N]" +
        "[,logical-block-size=N]. Repeatable.")
    List<String> blk = new ArrayList<>();

    @Option(names = "--vsock", description = "A virtio-vsock device: socket=PATH,cid=N,uds=PATH. Repeatable.")
    List<String> vsock = new ArrayList<>();

    @Option(names = "--bridge", description = "Join the vsock fabric: endpoint=HOST:PORT|ipc[,driver=AERON_DIR][,peer-timeout-ms=N].")
    String bridge;

    @Option(names = "--peer", description = "A remote CID and the endpoint of the host that serves it: cid=N,endpoint=HOST:PORT|ipc. Repeatable.")
    List<String> peers = new ArrayList<>();

    @Option(names = "--bridge-config", description = "The bridge configuration as a properties file (endpoint, driver, peer-timeout-ms, peer.<cid>=<endpoint>).")
    Path bridgeConfig;

    @Option(names = "--threading", defaultValue = "SHARED", description = "Engine threading: SHARED, DEDICATED, RUN_TO_COMPLETION (default: ${DEFAULT-VALUE}).")
    ThreadingMode threading;

    @Option(names = "--idle", defaultValue = "adaptive",
        description = "Engine idle strategy: adaptive, busy-spin, yielding, backoff, park (default: ${DEFAULT-VALUE}).")
    String idle;

    @Option(names = "--poll-max-ns", defaultValue = "64000",
        description = "Longest adaptive poll window after a queue's last request, in ns (default: ${DEFAULT-VALUE}).")
    long pollMaxNanos;

    @Option(names = "--cpus", description = "CPUs for the engine threads, comma-separated; with more than one (and the default threading), one thread per CPU and each queue of a multi-queue disk on its own.")
    String cpus;

    /** A device to serve: its socket, device, what it stands on (closed at shutdown), and a description. */
    private record Served(Path socket, String name, VirtioDevice device, AutoCloseable backing, String description)
    {
    }

    @Override
    public Integer call() throws Exception
    {
        if (blk.isEmpty() && vsock.isEmpty())
        {
            System.err.println("virtio4j serve: nothing to serve (give --blk socket=...,path=... or --vsock socket=...,cid=...,uds=...)");
            return 2;
        }
        final VsockBridge fabric = bridgeConfig != null ? new VsockBridge(BridgeConfig.load(bridgeConfig))
            : bridge != null ? new VsockBridge(BridgeConfig.parse(bridge, peers)) : null;
        if (fabric != null)
        {
            System.out.println("virtio4j serve: vsock bridge on " + fabric.config().endpoint() + ", peers " + fabric.config().peers());
        }
        final List<Served> devices = new ArrayList<>();
        for (int i = 0; i < blk.size(); i++)
        {
            devices.add(blkDevice("blk" + i, parse(blk.get(i))));
        }
        for (int i = 0; i < vsock.size(); i++)
        {
            devices.add(vsockDevice("vsock" + i, parse(vsock.get(i)), fabric));
        }
        final EngineContext context = new EngineContext().threadingMode(threading).idleStrategy(idle).pollMaxNanos(pollMaxNanos)
            .threadDeath(ServeCommand::engineThreadDied);
        if (cpus != null)
        {
            final int[] cpuList = EngineContext.parseCpus(cpus);
            context.actorCpus(cpuList).pollerCpus(cpuList);
            if (cpuList.length > 1 && threading == ThreadingMode.SHARED)
            {
                // Several CPUs: one thread per CPU, each polling and serving its own queues (a multi-queue disk
                // has each queue on its own thread).
                context.threadingMode(ThreadingMode.RUN_TO_COMPLETION).actors(cpuList.length);
                System.out.println("virtio4j serve: " + cpuList.length + " engine threads on cpus " + cpus + ", each queue on one of them");
            }
        }
        final CountDownLatch shutdown = new CountDownLatch(1);
        final CountDownLatch finished = new CountDownLatch(1);
        try (Engine engine = Engine.launch(context))
        {
            final List<VhostUserServer> servers = new ArrayList<>();
            for (final Served served : devices)
            {
                servers.add(new VhostUserServer(served.socket, served.name, served.device, engine));
                System.out.println("virtio4j serve: " + served.name + " (" + served.description + ") listening on " + served.socket);
            }
            if (engine.countersFile() != null)
            {
                System.out.println("virtio4j serve: counters in " + engine.countersFile().path());
            }
            System.out.flush();
            Runtime.getRuntime().addShutdownHook(new Thread(() ->
            {
                shutdown.countDown();
                try
                {
                    finished.await();
                }
                catch (final InterruptedException e)
                {
                    Thread.currentThread().interrupt();
                }
            }, "virtio4j-shutdown"));
            shutdown.await();
            System.out.println("virtio4j serve: shutting down");
            exitAfter(SHUTDOWN_LIMIT_SECONDS, "virtio4j serve: shutdown did not finish within " + SHUTDOWN_LIMIT_SECONDS + " s; exiting anyway", 1);
            for (final VhostUserServer server : servers)
            {
                server.close();
            }
        }
        finally
        {
            for (final Served served : devices)
            {
                closeBacking(served.backing);
            }
            if (fabric != null)
            {
                fabric.close();
            }
            System.out.println("virtio4j serve: stopped");
            System.out.flush();
            finished.countDown();
        }
        return 0;
    }

    /**
     * An engine thread ended: the devices it served are served no more, so the process must not stay up looking
     * alive. It exits non-zero for a supervisor to restart it (front-ends reconnect, in-flight requests are
     * resubmitted from their inflight regions).
     */
    private static void engineThreadDied(final String why)
    {
        System.err.println("virtio4j serve: " + why + "; exiting with status " + ENGINE_DIED_STATUS + " for a supervisor to restart the back-end");
        System.err.flush();
        Thread.ofPlatform().name("virtio4j-exit").start(() -> System.exit(ENGINE_DIED_STATUS));
        exitAfter(SHUTDOWN_LIMIT_SECONDS, "virtio4j serve: shutdown after an engine thread ended did not finish within " +
            SHUTDOWN_LIMIT_SECONDS + " s; exiting anyway", ENGINE_DIED_STATUS);
    }

    /** Halts the process if it is still up after {@code seconds}: a shutdown never waits without bound. */
    private static void exitAfter(final long seconds, final String message, final int status)
    {
        Thread.ofPlatform().daemon().name("virtio4j-exit-watchdog").start(() ->
        {
            try
            {
                Thread.sleep(TimeUnit.SECONDS.toMillis(seconds));
            }
            catch (final InterruptedException e)
            {
                return;
            }
            System.err.println(message);
            System.err.flush();
            Runtime.getRuntime().halt(status);
        });
    }

    private static void closeBacking(final AutoCloseable backing)
    {
        try
        {
            if (backing instanceof BlkBackend backend)
            {
                backend.flush();
            }
            backing.close();
        }
        catch (final Exception e)
        {
            System.err.println("virtio4j serve: closing " + backing + ": " + e.getMessage());
        }
    }

    private static Served vsockDevice(final String name, final Map<String, String> options, final VsockBridge fabric) throws IOException
    {
        for (final String key : options.keySet())
        {
            if (!List.of("socket", "cid", "uds").contains(key))
            {
                throw new IllegalArgumentException("--vsock: unknown option " + key);
            }
        }
        final long cid = Long.parseLong(require(options, "cid", "--vsock"));
        if (cid < 3 || cid >= 0xffff_ffffL)
        {
            throw new IllegalArgumentException("--vsock cid=" + cid + " must be in [3, 2^32 - 2]");
        }
        final Path uds = Path.of(require(options, "uds", "--vsock"));
        final VsockHost host = new VsockHost(cid, uds, fabric);
        return new Served(Path.of(require(options, "socket", "--vsock")), name, new VsockDevice(cid, 256, host), host,
            "virtio-vsock, cid " + cid + ", host sockets " + uds + "_<port>");
    }

    static Map<String, String> parse(final String spec)
    {
        final Map<String, String> options = new LinkedHashMap<>();
        for (final String part : spec.split(","))
        {
            if (part.isBlank())
            {
                continue;
            }
            final int eq = part.indexOf('=');
            options.put(eq < 0 ? part.trim() : part.substring(0, eq).trim(), eq < 0 ? "" : part.substring(eq + 1).trim());
        }
        return options;
    }

    private static Served blkDevice(final String name, final Map<String, String> options) throws IOException
    {
        final String socket = require(options, "socket");
        final String backendKind = options.getOrDefault("backend", "file");
        final boolean readOnly = options.containsKey("readonly");
        final long size = Long.parseLong(options.getOrDefault("size", String.valueOf(1L << 30)));
        final BlkBackend backend = switch (backendKind)
        {
            case "file" -> new FileDisk(Path.of(require(options, "path")), fileOptions(options, readOnly));
            case "ram" -> new RamBackend(size);
            case "null" -> new NullBackend(size);
            default -> throw new IllegalArgumentException("--blk backend=" + backendKind + " is not file, ram or null");
        };
        BlkOptions blkOptions = BlkOptions.defaults().withReadOnly(readOnly)
            .withQueues(Integer.parseInt(options.getOrDefault("queues", "1")))
            .withQueueSize(Integer.parseInt(options.getOrDefault("queue-size", "256")));
        if (options.containsKey("serial"))
        {
            blkOptions = blkOptions.withSerial(options.get("serial"));
        }
        for (final String key : options.keySet())
        {
            if (!List.of("socket", "path", "readonly", "queues", "queue-size", "backend", "size", "serial", "direct", "aio", "threads",
                "sync", "logical-block-size", "submit-batch").contains(key))
            {
                throw new IllegalArgumentException("--blk: unknown option " + key);
            }
        }
        return new Served(Path.of(socket), name, new BlkDevice(backend, blkOptions, name), backend, "virtio-blk, " + backend);
    }

    /** The file options of {@code --blk}: direct, aio, threads, sync, logical-block-size, submit-batch. */
    static FileDisk.Options fileOptions(final Map<String, String> options, final boolean readOnly)
    {
        final String aio = options.getOrDefault("aio", "io_uring");
        if (!aio.equals("io_uring") && !aio.equals("threads"))
        {
            throw new IllegalArgumentException("--blk aio=" + aio + " is not io_uring or threads");
        }
        return new FileDisk.Options(readOnly, onOff(options, "direct", false),
            aio.equals("threads") ? FileDisk.Aio.THREADS : FileDisk.Aio.IO_URING,
            number(options, "threads", 0), sync(options.getOrDefault("sync", "auto")), number(options, "logical-block-size", 0),
            number(options, "submit-batch", FileDisk.Options.DEFAULT_SUBMIT_BATCH));
    }

    private static FileDisk.Sync sync(final String value)
    {
        return switch (value)
        {
            case "auto" -> FileDisk.Sync.AUTO;
            case "nowait" -> FileDisk.Sync.NOWAIT;
            case "off" -> FileDisk.Sync.OFF;
            default -> throw new IllegalArgumentException("--blk sync=" + value + " is not auto, nowait or off");
        };
    }

    private static boolean onOff(final Map<String, String> options, final String key, final boolean otherwise)
    {
        final String value = options.get(key);
        if (value == null)
        {
            return otherwise;
        }
        return switch (value)
        {
            case "on", "" -> true;
            case "off" -> false;
            default -> throw new IllegalArgumentException("--blk " + key + "=" + value + " is not on or off");
        };
    }

    private static int number(final Map<String, String> options, final String key, final int otherwise)
    {
        final String value = options.get(key);
        try
        {
            return value == null ? otherwise : Integer.parseInt(value);
        }
        catch (final NumberFormatException e)
        {
            throw new IllegalArgumentException("--blk " + key + "=" + value + " is not a number");
        }
    }

    private static String require(final Map<String, String> options, final String key)
    {
        return require(options, key, "--blk");
    }

    private static String require(final Map<String, String> options, final String key, final String option)
    {
        final String value = options.get(key);
        if (value == null || value.isEmpty())
        {
            throw new IllegalArgumentException(option + " needs " + key + "=...");
        }
        return value;
    }
}
