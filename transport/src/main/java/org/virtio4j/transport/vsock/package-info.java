/**
 * The host side of virtio-vsock: the connection state machine with credit flow control, and host Unix sockets
 * in the Firecracker / vhost-device-vsock convention.
 */
package org.virtio4j.transport.vsock;
