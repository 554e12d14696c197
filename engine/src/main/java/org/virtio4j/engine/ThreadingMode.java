package org.virtio4j.engine;

/**
 * Which engine agents share a thread. Chosen once, in {@link EngineContext}; {@link Engine} builds the threads.
 */
public enum ThreadingMode
{
    /** Each poller and each device actor on its own thread: the lowest jitter, one core per thread. */
    DEDICATED,
    /** Every poller and actor on one thread: the fewest cores. */
    SHARED,
    /** Poller and actor fused per device on one thread, no ring hop: the lowest latency on few cores. */
    RUN_TO_COMPLETION,
    /** No threads: the caller steps every agent with {@link Engine#invoke()} (tests, embedding). */
    INVOKER
}
