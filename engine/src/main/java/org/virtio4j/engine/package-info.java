/**
 * The engine: pollers that watch available-ring indices, Disruptor rings that carry "queue Q has entries up to
 * index N" to single-writer device actors, notification decisions once per batch, hybrid polling (back to the
 * kick eventfd when idle), a command path for the control plane, and live counters in a mapped file.
 */
package org.virtio4j.engine;
