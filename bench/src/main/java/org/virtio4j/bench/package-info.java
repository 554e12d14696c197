/**
 * JMH benchmarks of virtio4j's hot paths. Build with {@code mvn -pl bench -am package -DskipTests}, then run
 * {@code java -jar bench/target/benchmarks.jar <pattern> -prof gc}.
 */
package org.virtio4j.bench;
