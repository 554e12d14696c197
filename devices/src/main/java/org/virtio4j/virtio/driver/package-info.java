/**
 * The driver's half of a virtqueue, simulated in real guest memory: what tests, benchmarks and the demo use to
 * play the guest.
 */
package org.virtio4j.virtio.driver;
