/**
 * virtio4j transport module; see DESIGN.md for what will live here.
 */
package org.virtio4j.transport;
