/**
 * What operators touch: the {@code virtio4j} command line ({@code demo}, {@code stat}), the in-process demo guest,
 * and the counters reader.
 */
package org.virtio4j.tuning;
