/**
 * The load generator: a vhost-user front-end that plays the guest against any vhost-user-blk back-end.
 */
package org.virtio4j.bench.loadgen;
