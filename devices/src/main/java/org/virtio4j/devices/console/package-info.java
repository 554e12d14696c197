/**
 * virtio-console: port 0 with its receive and transmit queues, over stdio, stream-pair and Unix-socket backends.
 */
package org.virtio4j.devices.console;
