/**
 * Guest memory: off-heap regions with their guest-physical bases, checked translation of guest addresses, the
 * little-endian and acquire/release accessors virtio rings need, and the backings (anonymous, memfd, file, a
 * received fd).
 */
package org.virtio4j.memory;
