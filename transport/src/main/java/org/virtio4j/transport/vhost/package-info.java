/**
 * The back-end side of the vhost-user protocol (QEMU's docs/interop/vhost-user.rst): a Unix socket with fd
 * passing, the message codec, guest memory mapped from the front-end's fds, vring set-up, and the binding of one
 * connection to one device on the engine.
 */
package org.virtio4j.transport.vhost;
