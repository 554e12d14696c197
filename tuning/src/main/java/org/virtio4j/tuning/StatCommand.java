package org.virtio4j.tuning;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import org.agrona.concurrent.status.CountersReader;
import org.virtio4j.engine.CountersFile;
import org.virtio4j.engine.EngineContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code virtio4j stat}: prints the live counters of a running virtio4j, refreshing every second (like AeronStat).
 */
@Command(name = "stat", mixinStandardHelpOptions = true, description = "Print the live counters of a running virtio4j.")
final class StatCommand implements Callable<Integer>
{
    @Option(names = "--dir", description = "The counters directory (default: the engine's default).")
    Path dir;

    @Option(names = "--pid", description = "The process to watch (default: the newest counters file).")
    Long pid;

    @Option(names = "--count", defaultValue = "0", description = "Refreshes before exiting; 0 runs until interrupted (default: ${DEFAULT-VALUE}).")
    int count;

    @Option(names = "--interval", defaultValue = "1000", description = "Milliseconds between refreshes (default: ${DEFAULT-VALUE}).")
    long intervalMillis;

    @Override
    public Integer call() throws Exception
    {
        final Path directory = dir != null ? dir : new EngineContext().conclude().countersDir();
        final Path path = find(directory);
        if (path == null)
        {
            System.err.println("virtio4j stat: no counters file" + (pid != null ? " of pid " + pid : "") + " in " + directory);
            return 1;
        }
        try (CountersFile file = CountersFile.open(path))
        {
            final CountersReader reader = file.reader();
            for (int i = 0; count == 0 || i < count; i++)
            {
                if (i > 0)
                {
                    Thread.sleep(intervalMillis);
                }
                if (!ProcessHandle.of(file.pid()).map(ProcessHandle::isAlive).orElse(false))
                {
                    System.out.println("virtio4j pid " + file.pid() + " has exited");
                    return 0;
                }
                print(file, reader);
            }
        }
        return 0;
    }

    private Path find(final Path directory) throws IOException
    {
        if (!Files.isDirectory(directory))
        {
            return null;
        }
        if (pid != null)
        {
            final Path path = directory.resolve("virtio4j-" + pid + ".counters");
            return Files.exists(path) ? path : null;
        }
        try (Stream<Path> files = Files.list(directory))
        {
            return files.filter(p -> p.getFileName().toString().endsWith(".counters"))
                .max(Comparator.comparingLong(p -> p.toFile().lastModified())).orElse(null);
        }
    }

    private static void print(final CountersFile file, final CountersReader reader)
    {
        final StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "virtio4j pid %d, %s%n", file.pid(), java.time.Instant.now()));
        out.append("=========================\n");
        reader.forEach((counterId, typeId, keyBuffer, label) ->
            out.append(String.format(Locale.ROOT, "%3d: %,20d - %s%n", counterId, reader.getCounterValue(counterId), label)));
        System.out.print(out);
        System.out.flush();
    }
}
