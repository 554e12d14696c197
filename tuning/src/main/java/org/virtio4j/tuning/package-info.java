/**
 * virtio4j tuning module; see DESIGN.md for what will live here.
 */
package org.virtio4j.tuning;
