/**
 * The device model: the device interface, the negotiation state and status handshake every transport shares.
 */
package org.virtio4j.devices.core;
