/**
 * virtio4j bench module; see DESIGN.md for what will live here.
 */
package org.virtio4j.bench;
