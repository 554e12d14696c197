/**
 * virtio4j engine module; see DESIGN.md for what will live here.
 */
package org.virtio4j.engine;
