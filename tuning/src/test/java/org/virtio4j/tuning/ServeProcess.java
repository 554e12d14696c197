package org.virtio4j.tuning;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.virtio4j.engine.CountersFile;

/** {@code virtio4j serve} in its own process for the real-guest tests, and waiting for its socket. */
public final class ServeProcess
{
    private ServeProcess()
    {
    }

    /**
     * @param countersDir where its counters file goes.
     * @param log         where its output goes.
     * @param args        the arguments after {@code serve}.
     * @return the process.
     * @throws IOException if it cannot be started.
     */
    public static Process start(final Path countersDir, final Path log, final String... args) throws IOException
    {
        final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        final List<String> command = new ArrayList<>(List.of(java, "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "--enable-native-access=ALL-UNNAMED", "-Dvirtio4j.engine.countersDir=" + countersDir,
            "-cp", System.getProperty("java.class.path"), Virtio4j.class.getName(), "serve"));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /**
     * Reads one counter of a running back-end.
     *
     * @param countersDir its counters directory (one process's).
     * @param label       the end of the counter's label.
     * @return its value, or -1 if there is no such counter or file.
     */
    public static long counter(final Path countersDir, final String label) throws IOException
    {
        final Path file;
        try (Stream<Path> files = Files.list(countersDir))
        {
            file = files.filter(p -> p.getFileName().toString().endsWith(".counters")).findFirst().orElse(null);
        }
        if (file == null)
        {
            return -1;
        }
        try (CountersFile counters = CountersFile.open(file))
        {
            final long[] value = {-1};
            counters.reader().forEach((id, type, key, name) ->
            {
                if (name.endsWith(label))
                {
                    value[0] = counters.reader().getCounterValue(id);
                }
            });
            return value[0];
        }
    }

    /**
     * Waits until a back-end listens on its socket.
     *
     * @param socket the socket path.
     * @param server the back-end.
     * @throws InterruptedException if interrupted.
     * @throws IllegalStateException if it died or did not listen within 60 s.
     */
    public static void awaitSocket(final Path socket, final Process server) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(socket))
        {
            if (!server.isAlive() || System.nanoTime() > deadline)
            {
                throw new IllegalStateException("the back-end did not listen on " + socket);
            }
            Thread.sleep(20);
        }
    }
}
