/**
 * The virtio core: the constants a back-end needs, the device side of split virtqueues (chains, indirect tables,
 * readers and writers, notification suppression), and queue state with its binary form. Pure logic over
 * {@link org.virtio4j.memory.GuestMemory}: no threads.
 */
package org.virtio4j.virtio;
