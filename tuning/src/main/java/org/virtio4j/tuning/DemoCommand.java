package org.virtio4j.tuning;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.HdrHistogram.Recorder;
import org.virtio4j.devices.blk.BlkBackend;
import org.virtio4j.devices.blk.BlkDevice;
import org.virtio4j.devices.blk.BlkOptions;
import org.virtio4j.devices.blk.FileDisk;
import org.virtio4j.devices.blk.NullBackend;
import org.virtio4j.devices.blk.RamBackend;
import org.virtio4j.devices.core.Interrupt;
import org.virtio4j.engine.DeviceHandle;
import org.virtio4j.engine.Engine;
import org.virtio4j.engine.EngineContext;
import org.virtio4j.engine.IdleStrategies;
import org.virtio4j.engine.ThreadingMode;
import org.virtio4j.memory.GuestMemory;
import org.virtio4j.memory.MemoryBacking;
import org.virtio4j.memory.linux.EventFd;
import org.virtio4j.virtio.SplitQueue;
import org.virtio4j.virtio.driver.DriverQueue;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code virtio4j demo}: the engine with one virtio-blk device, and an in-process guest (the driver-side simulator
 * on its own thread, split rings in memfd guest memory, eventfd kicks and calls) running a fio-like job. Prints
 * a progress line a second and an HdrHistogram percentile summary at the end.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Run a virtio-blk device on the engine against an in-process guest doing fio-like I/O.")
final class DemoCommand implements Callable<Integer>
{
    @Option(names = "--rw", defaultValue = "randread", description = "randread, randwrite or randrw (default: ${DEFAULT-VALUE}).")
    String rw;

    @Option(names = "--rwmixread", defaultValue = "70", description = "Percent reads for randrw (default: ${DEFAULT-VALUE}).")
    int rwMixRead;

    @Option(names = "--bs", defaultValue = "4096", description = "Block size in bytes, a multiple of 512 (default: ${DEFAULT-VALUE}).")
    int blockSize;

    @Option(names = "--iodepth", defaultValue = "32", description = "Requests in flight per queue (default: ${DEFAULT-VALUE}).")
    int iodepth;

    @Option(names = "--queues", defaultValue = "1", description = "Request queues (default: ${DEFAULT-VALUE}).")
    int queues;

    @Option(names = "--duration", defaultValue = "10", description = "Seconds to run (default: ${DEFAULT-VALUE}).")
    int durationSeconds;

    @Option(names = "--threading", defaultValue = "RUN_TO_COMPLETION",
        description = "Engine threading: SHARED, DEDICATED or RUN_TO_COMPLETION (default: ${DEFAULT-VALUE}).")
    ThreadingMode threading;

    @Option(names = "--idle", defaultValue = "adaptive",
        description = "Engine idle strategy: adaptive, busy-spin, yielding, backoff, park (default: ${DEFAULT-VALUE}).")
    String idle;

    @Option(names = "--poll-max-ns", defaultValue = "64000",
        description = "Longest adaptive poll window after the last request, in ns (default: ${DEFAULT-VALUE}).")
    long pollMaxNanos;

    @Option(names = "--verify", description = "Each request slot writes a pattern, reads it back and checks it byte for byte.")
    boolean verify;

    @Option(names = "--wait", description = "The guest sleeps on its call eventfd for every completion (interrupt-driven, like Linux) instead of polling the used ring.")
    boolean waitForCalls;

    @Option(names = "--backend", defaultValue = "ram", description = "ram, null or file (default: ${DEFAULT-VALUE}).")
    String backend;

    @Option(names = "--file", description = "The image file for --backend file (created at --size if missing).")
    Path file;

    @Option(names = "--direct", description = "Open the image file O_DIRECT (no page cache).")
    boolean direct;

    @Option(names = "--aio", defaultValue = "io_uring", description = "File I/O: io_uring or threads (default: ${DEFAULT-VALUE}).")
    String aio;

    @Option(names = "--size", defaultValue = "268435456", description = "Disk size in bytes (default: ${DEFAULT-VALUE}).")
    long size;

    @Option(names = "--cpus", description = "CPUs for the engine threads, comma-separated.")
    String cpus;

    @Option(names = "--hgrm", description = "Write the full latency distribution (HdrHistogram .hgrm, microseconds) to this file.")
    Path hgrm;

    @Override
    public Integer call() throws Exception
    {
        validate();
        final int cores = Runtime.getRuntime().availableProcessors();
        final String idleStrategy = idle;
        final int queueSize = queueSize(iodepth);
        final long ringBytes = queues * 0x1_0000L * Math.max(1, queueSize / 1024);
        final long memoryBytes = align(ringBytes + (long)queues * DemoGuest.slotBytes(iodepth, blockSize) + (1 << 20));
        final int readPercent = switch (rw)
        {
            case "randread" -> 100;
            case "randwrite" -> 0;
            default -> rwMixRead;
        };
        System.out.printf(Locale.ROOT, "virtio4j demo: blk on %s backend (%d MiB), %s bs=%d iodepth=%d queues=%d, %ds%n",
            backend, size >> 20, rw, blockSize, iodepth, queues, durationSeconds);
        System.out.printf(Locale.ROOT, "engine: threading=%s idle=%s poll-max-ns=%d; guest: 1 thread, %s; core budget: %d threads on %d cores%n",
            threading, idleStrategy, pollMaxNanos, waitForCalls ? "interrupt-driven" : "polling", engineThreads() + 1, cores);

        try (MemoryBacking guestRam = MemoryBacking.memfd("virtio4j-demo-guest", memoryBytes);
            BlkBackend disk = openBackend())
        {
            final GuestMemory memory = GuestMemory.of(guestRam.region(0));
            final long queueStride = align(DriverQueue.layoutBytes(queueSize));
            final DriverQueue[] drivers = new DriverQueue[queues];
            final SplitQueue[] deviceQueues = new SplitQueue[queues];
            final EventFd[] kicks = new EventFd[queues];
            final EventFd[] calls = new EventFd[queues];
            for (int q = 0; q < queues; q++)
            {
                drivers[q] = new DriverQueue(memory, q * queueStride, queueSize);
                deviceQueues[q] = drivers[q].configure(new SplitQueue(queueSize));
                deviceQueues[q].setEventIdx(true);
                kicks[q] = EventFd.create();
                calls[q] = EventFd.create();
            }
            final BlkDevice device = new BlkDevice(disk, BlkOptions.defaults().withQueues(queues).withQueueSize(queueSize));
            device.activate(memory, deviceQueues, device.deviceFeatures(), new Interrupt()
            {
                @Override
                public void signalUsedBuffers(final int queue)
                {
                    calls[queue].signal();
                }

                @Override
                public void signalConfigChange()
                {
                }
            });
            final EngineContext context = new EngineContext().threadingMode(threading).idleStrategy(idleStrategy).pollMaxNanos(pollMaxNanos);
            if (cpus != null)
            {
                context.actorCpus(EngineContext.parseCpus(cpus)).pollerCpus(EngineContext.parseCpus(cpus));
            }
            final Recorder recorder = new Recorder(3);
            try (Engine engine = Engine.launch(context))
            {
                final DeviceHandle handle = engine.attach("blk0", device, memory, deviceQueues, kicks, calls);
                handle.start().join();
                engine.affinity().forEach(line -> System.out.println("affinity: " + line));
                System.out.println("counters: " + (engine.countersFile() != null ? engine.countersFile().path() : "in memory"));
                final DemoGuest guest = new DemoGuest(memory, drivers, kicks, calls, iodepth, blockSize, readPercent, disk.capacity(),
                    queues * queueStride, recorder).waitForCalls(waitForCalls).verify(verify);
                new FioJob(blockSize, durationSeconds, hgrm).run(guest, recorder);
                handle.stop().join();
                for (int q = 0; q < queues; q++)
                {
                    kicks[q].close();
                    calls[q].close();
                }
            }
        }
        return 0;
    }

    private void validate()
    {
        require(blockSize >= 512 && blockSize % 512 == 0 && blockSize <= (1 << 20), "--bs", blockSize);
        require(iodepth >= 1 && iodepth <= 4096, "--iodepth", iodepth);
        require(queues >= 1 && queues <= 16, "--queues", queues);
        require(durationSeconds >= 1, "--duration", durationSeconds);
        require(rw.equals("randread") || rw.equals("randwrite") || rw.equals("randrw"), "--rw", rw);
        require(rwMixRead >= 0 && rwMixRead <= 100, "--rwmixread", rwMixRead);
        require(size >= blockSize && size % 512 == 0, "--size", size);
        require(backend.equals("ram") || backend.equals("null") || backend.equals("file"), "--backend", backend);
        require(!backend.equals("file") || file != null, "--file", "(missing for --backend file)");
        require(aio.equals("io_uring") || aio.equals("threads"), "--aio", aio);
        IdleStrategies.create(idle);
        require(pollMaxNanos >= 0 && pollMaxNanos <= 1_000_000_000L, "--poll-max-ns", pollMaxNanos);
    }

    private static void require(final boolean ok, final String option, final Object value)
    {
        if (!ok)
        {
            throw new IllegalArgumentException("invalid " + option + " " + value);
        }
    }

    private int engineThreads()
    {
        return switch (threading)
        {
            case SHARED, RUN_TO_COMPLETION, INVOKER -> 1;
            case DEDICATED -> 2;
        };
    }

    static int queueSize(final int iodepth)
    {
        return Math.min(32768, Integer.highestOneBit(Math.max(8, iodepth * 3) * 2 - 1));
    }

    private static long align(final long bytes)
    {
        return (bytes + 0xffff) & ~0xffffL;
    }

    private BlkBackend openBackend() throws IOException
    {
        return switch (backend)
        {
            case "null" -> new NullBackend(size);
            case "file" ->
            {
                try (RandomAccessFile image = new RandomAccessFile(file.toFile(), "rw"))
                {
                    if (image.length() < size)
                    {
                        image.setLength(size);
                    }
                }
                yield new FileDisk(file, FileDisk.Options.defaults().withDirect(direct)
                    .withAio(aio.equals("threads") ? FileDisk.Aio.THREADS : FileDisk.Aio.IO_URING));
            }
            default -> new RamBackend(size);
        };
    }
}
