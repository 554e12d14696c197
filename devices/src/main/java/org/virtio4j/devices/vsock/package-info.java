/**
 * virtio-vsock: the packet layer (header layout, packets from TX and RX chains) and, above it, the device.
 */
package org.virtio4j.devices.vsock;
