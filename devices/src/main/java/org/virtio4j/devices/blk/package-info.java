/**
 * virtio-blk: request parsing (kept apart from execution), request execution over backends, config space.
 */
package org.virtio4j.devices.blk;
