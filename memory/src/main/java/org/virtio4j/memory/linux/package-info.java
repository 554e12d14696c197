/**
 * The Linux system calls virtio4j needs, through {@code java.lang.foreign}: one small package so that every
 * native call is in one place, and every failure carries errno.
 */
package org.virtio4j.memory.linux;
