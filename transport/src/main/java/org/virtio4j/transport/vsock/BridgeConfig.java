package org.virtio4j.transport.vsock;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * How a host joins the vsock fabric: where its Aeron subscription listens, which host serves each remote CID, the
 * media driver to use, and how long a silent peer keeps its connections.
 *
 * <pre>
 *   --bridge endpoint=10.0.0.1:40123[,driver=/dev/shm/aeron][,peer-timeout-ms=3000]
 *   --peer cid=4,endpoint=10.0.0.2:40123          (repeatable; endpoint=ipc for a CID on this machine)
 * </pre>
 * or the same keys in a properties file: {@code endpoint}, {@code driver}, {@code peer-timeout-ms}, and one
 * {@code peer.<cid>=<endpoint>} line per remote CID.
 *
 * @param endpoint      the local UDP endpoint (host:port) remote hosts send to, or "ipc" for one machine.
 * @param peers         remote CID to the endpoint of the host that serves it ("ipc" for this machine).
 * @param driverDir     an external media driver's directory, or null to embed one (the default).
 * @param peerTimeoutMs how long a peer may be unreachable before its connections are reset in the guests.
 */
public record BridgeConfig(String endpoint, Map<Long, String> peers, Path driverDir, long peerTimeoutMs)
{
    /** Default peer timeout: Aeron notices a silent peer within its connection timeout; we reset soon after. */
    public static final long DEFAULT_PEER_TIMEOUT_MS = 3000;

    /** Checks every field, naming the bad one. */
    public BridgeConfig
    {
        if (endpoint == null || !(endpoint.equals("ipc") || endpoint.matches("[^:,]+:\\d+")))
        {
            throw new IllegalArgumentException("bridge endpoint=" + endpoint + " must be host:port or ipc");
        }
        for (final Map.Entry<Long, String> peer : peers.entrySet())
        {
            if (peer.getKey() < 3 || !(peer.getValue().equals("ipc") || peer.getValue().matches("[^:,]+:\\d+")))
            {
                throw new IllegalArgumentException("peer cid=" + peer.getKey() + " endpoint=" + peer.getValue() + " is not valid");
            }
        }
        if (peerTimeoutMs < 100)
        {
            throw new IllegalArgumentException("bridge peer-timeout-ms=" + peerTimeoutMs + " must be at least 100");
        }
        peers = Map.copyOf(peers);
    }

    /**
     * @param bridge the {@code --bridge} option.
     * @param peers  the {@code --peer} options.
     * @return the configuration.
     */
    public static BridgeConfig parse(final String bridge, final List<String> peers)
    {
        final Map<String, String> options = options(bridge);
        final Map<Long, String> table = new LinkedHashMap<>();
        for (final String peer : peers)
        {
            final Map<String, String> p = options(peer);
            table.put(Long.parseLong(p.get("cid")), p.get("endpoint"));
        }
        return new BridgeConfig(options.get("endpoint"), table, options.containsKey("driver") ? Path.of(options.get("driver")) : null,
            Long.parseLong(options.getOrDefault("peer-timeout-ms", String.valueOf(DEFAULT_PEER_TIMEOUT_MS))));
    }

    /**
     * @param file a properties file.
     * @return the configuration it holds.
     * @throws IOException if it cannot be read.
     */
    public static BridgeConfig load(final Path file) throws IOException
    {
        final Properties properties = new Properties();
        try (var in = Files.newBufferedReader(file))
        {
            properties.load(in);
        }
        final Map<Long, String> table = new LinkedHashMap<>();
        for (final String key : properties.stringPropertyNames())
        {
            if (key.startsWith("peer."))
            {
                table.put(Long.parseLong(key.substring("peer.".length())), properties.getProperty(key).trim());
            }
        }
        final String driver = properties.getProperty("driver");
        return new BridgeConfig(properties.getProperty("endpoint"), table, driver != null ? Path.of(driver) : null,
            Long.parseLong(properties.getProperty("peer-timeout-ms", String.valueOf(DEFAULT_PEER_TIMEOUT_MS))));
    }

    private static Map<String, String> options(final String spec)
    {
        final Map<String, String> options = new LinkedHashMap<>();
        for (final String part : spec.split(","))
        {
            final int eq = part.indexOf('=');
            if (eq > 0)
            {
                options.put(part.substring(0, eq).trim(), part.substring(eq + 1).trim());
            }
        }
        return options;
    }

    /**
     * @param endpoint an endpoint of this configuration.
     * @return its Aeron channel.
     */
    static String channel(final String endpoint)
    {
        return endpoint.equals("ipc") ? "aeron:ipc" : "aeron:udp?endpoint=" + endpoint;
    }
}
