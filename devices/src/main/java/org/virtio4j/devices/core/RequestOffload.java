package org.virtio4j.devices.core;

/**
 * Where a device sends work that may block (file I/O), so that its actor's thread never does. Implemented by the
 * engine with a worker thread; tests can run tasks inline.
 */
@FunctionalInterface
public interface RequestOffload
{
    /**
     * Hands a task to a thread that may block.
     *
     * @param task the task; it runs once, on another thread.
     * @return false if the offload is full right now (the caller retries later).
     */
    boolean submit(Runnable task);
}
