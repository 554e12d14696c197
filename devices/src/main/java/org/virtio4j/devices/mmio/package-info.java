/**
 * The virtio-mmio version 2 transport as a register model that a VMM calls on guest loads and stores.
 */
package org.virtio4j.devices.mmio;
