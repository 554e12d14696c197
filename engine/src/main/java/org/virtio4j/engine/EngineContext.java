package org.virtio4j.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;

import org.agrona.ErrorHandler;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;

/**
 * The engine's configuration: each setting is a system property with a documented default, overridable with the
 * fluent setters, and checked once by {@link #conclude()}, which names the setting and its value on failure.
 * Nothing reads properties after that.
 */
public final class EngineContext
{
    /** Threading mode property. Default SHARED: one thread, safe on any machine; pick DEDICATED for the lowest jitter. */
    public static final String THREADING_MODE_PROP = "virtio4j.engine.threadingMode";
    /**
     * Idle strategy property. Default adaptive: a queue is polled (spinning, never parked: the guest was told not to
     * kick) for an adaptive window after its last work, then notifications are re-enabled and the thread sleeps on
     * the kick and completion eventfds. Interrupt-driven guests are served without waiting for a park to end, and
     * an idle engine costs nothing. busy-spin needs a core per thread.
     */
    public static final String IDLE_STRATEGY_PROP = "virtio4j.engine.idleStrategy";
    /** Number of pollers. Default 1: one poller watches many queues cheaply. */
    public static final String POLLERS_PROP = "virtio4j.engine.pollers";
    /** Number of device actors. Default 1; devices are spread over actors round-robin. */
    public static final String ACTORS_PROP = "virtio4j.engine.actors";
    /** CPUs for poller threads, comma-separated, in poller order. Default none: not pinned. */
    public static final String POLLER_CPUS_PROP = "virtio4j.engine.pollerCpus";
    /** CPUs for actor (and run-to-completion) threads. Default none: not pinned. */
    public static final String ACTOR_CPUS_PROP = "virtio4j.engine.actorCpus";
    /** Slots in each actor's ring, a power of two. Default 1024: far more than the queues it serves can publish. */
    public static final String RING_SIZE_PROP = "virtio4j.engine.ringSize";
    /** Ring events an actor takes per duty cycle. Default 64: bounds the time between command checks. */
    public static final String BATCH_LIMIT_PROP = "virtio4j.engine.batchLimit";
    /** Idle time after which a queue goes back to kick notifications, in µs. Default 1000; 0 polls forever. */
    public static final String HYBRID_IDLE_MICROS_PROP = "virtio4j.engine.hybridIdleMicros";
    /**
     * The longest adaptive poll window, in ns. Default 64000: longer than the time a Linux guest takes to take an
     * interrupt and queue its next request, short enough that a quiet guest costs little spinning.
     */
    public static final String POLL_MAX_NANOS_PROP = "virtio4j.engine.pollMaxNanos";
    /** Longest single wait of a sleeping thread, in ms. Default 100: bounds how late a stop is noticed. */
    public static final String SLEEP_TIMEOUT_MILLIS_PROP = "virtio4j.engine.sleepTimeoutMillis";
    /** Directory of the counters file. Default /dev/shm/virtio4j (tmpdir/virtio4j without /dev/shm). */
    public static final String COUNTERS_DIR_PROP = "virtio4j.engine.countersDir";

    private ThreadingMode threadingMode = ThreadingMode.valueOf(System.getProperty(THREADING_MODE_PROP, "SHARED"));
    private String idleStrategy = System.getProperty(IDLE_STRATEGY_PROP, "adaptive");
    private int pollers = Integer.getInteger(POLLERS_PROP, 1);
    private int actors = Integer.getInteger(ACTORS_PROP, 1);
    private int[] pollerCpus = parseCpus(System.getProperty(POLLER_CPUS_PROP, ""));
    private int[] actorCpus = parseCpus(System.getProperty(ACTOR_CPUS_PROP, ""));
    private int ringSize = Integer.getInteger(RING_SIZE_PROP, 1024);
    private int batchLimit = Integer.getInteger(BATCH_LIMIT_PROP, 64);
    private long hybridIdleNanos = Long.getLong(HYBRID_IDLE_MICROS_PROP, 1000L) * 1000L;
    private long pollMaxNanos = Long.getLong(POLL_MAX_NANOS_PROP, 64_000L);
    private int sleepTimeoutMillis = Integer.getInteger(SLEEP_TIMEOUT_MILLIS_PROP, 100);
    private Path countersDir = System.getProperty(COUNTERS_DIR_PROP) != null ? Path.of(System.getProperty(COUNTERS_DIR_PROP)) : null;
    private boolean countersEnabled = true;
    private NanoClock nanoClock = SystemNanoClock.INSTANCE;
    private static final LogLimiter ERRORS = new LogLimiter(System.err, 10);
    /** One line per error, ten a second at most: an error every duty cycle must not flood the log. */
    private ErrorHandler errorHandler = t -> ERRORS.log("virtio4j engine: " + t);
    private Consumer<String> threadDeath = why -> System.err.println("virtio4j engine: " + why);
    private boolean concluded;

    /**
     * @param cpus a comma-separated CPU list, may be empty.
     * @return the CPU numbers.
     */
    public static int[] parseCpus(final String cpus)
    {
        if (cpus == null || cpus.isBlank())
        {
            return new int[0];
        }
        return Arrays.stream(cpus.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
    }

    /**
     * Checks every setting and fills in derived defaults. Call once, before use.
     *
     * @return this.
     * @throws IllegalArgumentException naming the setting ({@code name=value}) that is wrong.
     */
    public EngineContext conclude()
    {
        if (concluded)
        {
            throw new IllegalStateException("EngineContext already concluded");
        }
        IdleStrategies.create(idleStrategy);
        require(pollers >= 1 && pollers <= 64, POLLERS_PROP, pollers);
        require(actors >= 1 && actors <= 64, ACTORS_PROP, actors);
        require(ringSize >= 16 && Integer.bitCount(ringSize) == 1, RING_SIZE_PROP, ringSize);
        require(batchLimit >= 1, BATCH_LIMIT_PROP, batchLimit);
        require(hybridIdleNanos >= 0, HYBRID_IDLE_MICROS_PROP, hybridIdleNanos / 1000);
        require(pollMaxNanos >= 0 && pollMaxNanos <= 1_000_000_000L, POLL_MAX_NANOS_PROP, pollMaxNanos);
        require(sleepTimeoutMillis >= 1, SLEEP_TIMEOUT_MILLIS_PROP, sleepTimeoutMillis);
        for (final int cpu : pollerCpus)
        {
            require(cpu >= 0 && cpu < 1024, POLLER_CPUS_PROP, Arrays.toString(pollerCpus));
        }
        for (final int cpu : actorCpus)
        {
            require(cpu >= 0 && cpu < 1024, ACTOR_CPUS_PROP, Arrays.toString(actorCpus));
        }
        if (countersDir == null)
        {
            final Path shm = Path.of("/dev/shm");
            countersDir = (Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"))).resolve("virtio4j");
        }
        concluded = true;
        return this;
    }

    /** @return true once {@link #conclude()} has run. */
    public boolean isConcluded()
    {
        return concluded;
    }

    private static void require(final boolean ok, final String name, final Object value)
    {
        if (!ok)
        {
            throw new IllegalArgumentException("invalid engine setting: " + name + "=" + value);
        }
    }

    /** @return the threading mode. */
    public ThreadingMode threadingMode()
    {
        return threadingMode;
    }

    /**
     * @param mode the threading mode.
     * @return this.
     */
    public EngineContext threadingMode(final ThreadingMode mode)
    {
        threadingMode = mode;
        return this;
    }

    /** @return the idle strategy name. */
    public String idleStrategy()
    {
        return idleStrategy;
    }

    /**
     * @param name one of {@link IdleStrategies#NAMES}.
     * @return this.
     */
    public EngineContext idleStrategy(final String name)
    {
        idleStrategy = name;
        return this;
    }

    /** @return the number of pollers. */
    public int pollers()
    {
        return pollers;
    }

    /**
     * @param count the number of pollers.
     * @return this.
     */
    public EngineContext pollers(final int count)
    {
        pollers = count;
        return this;
    }

    /** @return the number of device actors. */
    public int actors()
    {
        return actors;
    }

    /**
     * @param count the number of device actors.
     * @return this.
     */
    public EngineContext actors(final int count)
    {
        actors = count;
        return this;
    }

    /** @return the CPUs poller threads are pinned to, in order (may be empty). */
    public int[] pollerCpus()
    {
        return pollerCpus.clone();
    }

    /**
     * @param cpus the CPUs for poller threads.
     * @return this.
     */
    public EngineContext pollerCpus(final int... cpus)
    {
        pollerCpus = cpus.clone();
        return this;
    }

    /** @return the CPUs actor threads are pinned to, in order (may be empty). */
    public int[] actorCpus()
    {
        return actorCpus.clone();
    }

    /**
     * @param cpus the CPUs for actor threads.
     * @return this.
     */
    public EngineContext actorCpus(final int... cpus)
    {
        actorCpus = cpus.clone();
        return this;
    }

    /** @return the slots in each actor's ring. */
    public int ringSize()
    {
        return ringSize;
    }

    /**
     * @param slots a power of two.
     * @return this.
     */
    public EngineContext ringSize(final int slots)
    {
        ringSize = slots;
        return this;
    }

    /** @return the ring events an actor takes per duty cycle. */
    public int batchLimit()
    {
        return batchLimit;
    }

    /**
     * @param events the limit.
     * @return this.
     */
    public EngineContext batchLimit(final int events)
    {
        batchLimit = events;
        return this;
    }

    /** @return the idle time after which a queue returns to kick notifications, in ns (0: never). */
    public long hybridIdleNanos()
    {
        return hybridIdleNanos;
    }

    /**
     * @param nanos the idle period; 0 polls forever.
     * @return this.
     */
    public EngineContext hybridIdleNanos(final long nanos)
    {
        hybridIdleNanos = nanos;
        return this;
    }

    /** @return the longest adaptive poll window, in ns. */
    public long pollMaxNanos()
    {
        return pollMaxNanos;
    }

    /**
     * @param nanos the longest adaptive poll window (used by the adaptive idle strategy).
     * @return this.
     */
    public EngineContext pollMaxNanos(final long nanos)
    {
        pollMaxNanos = nanos;
        return this;
    }

    /** @return how long queues are polled after work: adaptive up to {@link #pollMaxNanos()}, or the hybrid period. */
    PollWindow pollWindow()
    {
        return IdleStrategies.adapts(idleStrategy) ? new PollWindow(true, pollMaxNanos) : new PollWindow(false, hybridIdleNanos);
    }

    /** @return the longest single wait of a sleeping thread, in ms. */
    public int sleepTimeoutMillis()
    {
        return sleepTimeoutMillis;
    }

    /**
     * @param millis the longest wait.
     * @return this.
     */
    public EngineContext sleepTimeoutMillis(final int millis)
    {
        sleepTimeoutMillis = millis;
        return this;
    }

    /** @return the directory of the counters file. */
    public Path countersDir()
    {
        return countersDir;
    }

    /**
     * @param dir the directory of the counters file.
     * @return this.
     */
    public EngineContext countersDir(final Path dir)
    {
        countersDir = dir;
        return this;
    }

    /** @return whether counters go to a file (otherwise to memory only). */
    public boolean countersEnabled()
    {
        return countersEnabled;
    }

    /**
     * @param enabled false to keep counters in memory only (no file).
     * @return this.
     */
    public EngineContext countersEnabled(final boolean enabled)
    {
        countersEnabled = enabled;
        return this;
    }

    /** @return the clock agents read once per duty cycle. */
    public NanoClock nanoClock()
    {
        return nanoClock;
    }

    /**
     * @param clock the clock (tests inject one they move by hand).
     * @return this.
     */
    public EngineContext nanoClock(final NanoClock clock)
    {
        nanoClock = clock;
        return this;
    }

    /** @return what agents call with errors they cannot handle. */
    public ErrorHandler errorHandler()
    {
        return errorHandler;
    }

    /**
     * @param handler the error handler.
     * @return this.
     */
    public EngineContext errorHandler(final ErrorHandler handler)
    {
        errorHandler = handler;
        return this;
    }

    /** @return what is told when an engine thread ends while the engine runs (the thread's name and why). */
    public Consumer<String> threadDeath()
    {
        return threadDeath;
    }

    /**
     * @param handler told, on the dying thread, when an engine thread ends while the engine runs: its devices are
     *                served no more, so a process should exit non-zero and let its supervisor restart it.
     * @return this.
     */
    public EngineContext threadDeath(final Consumer<String> handler)
    {
        threadDeath = handler;
        return this;
    }

    @Override
    public String toString()
    {
        return "EngineContext{threadingMode=" + threadingMode + ", idleStrategy=" + idleStrategy + ", pollers=" + pollers +
            ", actors=" + actors + ", pollerCpus=" + Arrays.toString(pollerCpus) + ", actorCpus=" + Arrays.toString(actorCpus) +
            ", ringSize=" + ringSize + ", batchLimit=" + batchLimit + ", hybridIdleMicros=" + hybridIdleNanos / 1000 + ", pollMaxNanos=" + pollMaxNanos +
            ", countersDir=" + countersDir + "}";
    }
}
