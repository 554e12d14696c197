package org.virtio4j.transport.vsock;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bridge configuration from command-line options and from a file, and its checks.
 */
class BridgeConfigTest
{
    @TempDir
    Path dir;

    @Test
    void shouldParseTheCommandLineForm()
    {
        final BridgeConfig config = BridgeConfig.parse("endpoint=10.0.0.1:40123,peer-timeout-ms=1500",
            List.of("cid=4,endpoint=10.0.0.2:40123", "cid=5,endpoint=ipc"));
        assertEquals("10.0.0.1:40123", config.endpoint());
        assertEquals(Map.of(4L, "10.0.0.2:40123", 5L, "ipc"), config.peers());
        assertEquals(1500, config.peerTimeoutMs());
        assertNull(config.driverDir(), "an embedded driver by default");
        assertEquals("aeron:udp?endpoint=10.0.0.2:40123", BridgeConfig.channel(config.peers().get(4L)));
        assertEquals("aeron:ipc", BridgeConfig.channel("ipc"));
    }

    @Test
    void shouldLoadTheFileForm() throws Exception
    {
        final Path file = dir.resolve("bridge.properties");
        Files.writeString(file, "endpoint=10.0.0.1:40123\ndriver=/dev/shm/aeron-x\npeer.4=10.0.0.2:40123\npeer.6=10.0.0.3:40123\n");
        final BridgeConfig config = BridgeConfig.load(file);
        assertEquals(Map.of(4L, "10.0.0.2:40123", 6L, "10.0.0.3:40123"), config.peers());
        assertEquals(Path.of("/dev/shm/aeron-x"), config.driverDir());
        assertEquals(BridgeConfig.DEFAULT_PEER_TIMEOUT_MS, config.peerTimeoutMs());
    }

    @Test
    void shouldRefuseABadConfigurationNamingTheSetting()
    {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BridgeConfig.parse("endpoint=nowhere", List.of()))
            .getMessage().contains("endpoint=nowhere"));
        assertTrue(assertThrows(IllegalArgumentException.class,
            () -> BridgeConfig.parse("endpoint=ipc", List.of("cid=2,endpoint=ipc"))).getMessage().contains("cid=2"));
        assertTrue(assertThrows(IllegalArgumentException.class,
            () -> BridgeConfig.parse("endpoint=ipc,peer-timeout-ms=5", List.of())).getMessage().contains("peer-timeout-ms=5"));
    }
}
