package org.virtio4j.engine;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Stream;

import org.agrona.IoUtil;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.ConcurrentCountersManager;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;

/**
 * The live counters of a running virtio4j, in a memory-mapped file another process can read (like Aeron's CnC
 * file). Layout:
 * <pre>
 *  +-----------------------------+
 *  | magic "V4JC" (i32)          |  0
 *  | version (i32)               |  4
 *  | metadata length (i32)       |  8
 *  | values length (i32)         | 12
 *  | pid (i64)                   | 16
 *  | start time, epoch ms (i64)  | 24
 *  | (padding to 128)            |
 *  +-----------------------------+
 *  | Agrona counters metadata    | 128
 *  +-----------------------------+
 *  | Agrona counters values      | 128 + metadata length
 *  +-----------------------------+
 * </pre>
 * The writer publishes the header last (magic with a release store), so a reader never sees a half-built file.
 */
public final class CountersFile implements AutoCloseable
{
    /** "V4JC" as a little-endian int. */
    public static final int MAGIC = 'V' | '4' << 8 | 'J' << 16 | 'C' << 24;
    /** The layout version. */
    public static final int VERSION = 1;
    /** Bytes before the metadata buffer. */
    public static final int HEADER_LENGTH = 128;
    private static final int VERSION_OFFSET = 4;
    private static final int METADATA_LENGTH_OFFSET = 8;
    private static final int VALUES_LENGTH_OFFSET = 12;
    private static final int PID_OFFSET = 16;
    private static final int START_TIME_OFFSET = 24;
    /** Default values length: room for 8192 counters. */
    public static final int DEFAULT_VALUES_LENGTH = 8192 * CountersReader.COUNTER_LENGTH;

    private final Path path;
    private final MappedByteBuffer mapped;
    private final CountersReader reader;
    private final CountersManager manager;

    private CountersFile(final Path path, final MappedByteBuffer mapped, final boolean writer)
    {
        this.path = path;
        this.mapped = mapped;
        final UnsafeBuffer header = new UnsafeBuffer(mapped);
        final int metadataLength = header.getInt(METADATA_LENGTH_OFFSET);
        final int valuesLength = header.getInt(VALUES_LENGTH_OFFSET);
        final AtomicBuffer metadata = new UnsafeBuffer(mapped, HEADER_LENGTH, metadataLength);
        final AtomicBuffer values = new UnsafeBuffer(mapped, HEADER_LENGTH + metadataLength, valuesLength);
        manager = writer ? new ConcurrentCountersManager(metadata, values, StandardCharsets.US_ASCII) : null;
        reader = writer ? manager : new CountersReader(metadata, values, StandardCharsets.US_ASCII);
    }

    /**
     * Creates (or replaces) the counters file of this process in {@code dir}.
     *
     * @param dir          the directory, created if missing.
     * @param valuesLength the values buffer length, a multiple of {@link CountersReader#COUNTER_LENGTH}.
     * @return the file, open for writing counters.
     * @throws IOException if it cannot be created.
     */
    public static CountersFile create(final Path dir, final int valuesLength) throws IOException
    {
        Files.createDirectories(dir);
        reclaimStale(dir);
        final long pid = ProcessHandle.current().pid();
        final Path path = dir.resolve("virtio4j-" + pid + ".counters");
        final int metadataLength = valuesLength / CountersReader.COUNTER_LENGTH * CountersReader.METADATA_LENGTH;
        final long length = (long)HEADER_LENGTH + metadataLength + valuesLength;
        Files.deleteIfExists(path);
        final MappedByteBuffer mapped;
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, length);
        }
        final UnsafeBuffer header = new UnsafeBuffer(mapped);
        header.putInt(VERSION_OFFSET, VERSION);
        header.putInt(METADATA_LENGTH_OFFSET, metadataLength);
        header.putInt(VALUES_LENGTH_OFFSET, valuesLength);
        header.putLong(PID_OFFSET, pid);
        header.putLong(START_TIME_OFFSET, System.currentTimeMillis());
        header.putIntRelease(0, MAGIC);
        return new CountersFile(path, mapped, true);
    }

    /**
     * Deletes the counters files in a directory whose process is gone: killed (SIGKILL leaves its file behind), or
     * its pid now another process's (one started after the file was made). A file that is not a counters file is
     * left alone.
     *
     * @param dir the directory.
     * @return the files deleted.
     * @throws IOException if the directory cannot be listed.
     */
    public static int reclaimStale(final Path dir) throws IOException
    {
        final List<Path> candidates;
        try (Stream<Path> files = Files.list(dir))
        {
            candidates = files.filter(p -> p.getFileName().toString().matches("virtio4j-\\d+\\.counters")).toList();
        }
        int reclaimed = 0;
        for (final Path candidate : candidates)
        {
            final boolean stale;
            try (CountersFile file = open(candidate))
            {
                final long startedMillis = file.startTimeMillis();
                stale = ProcessHandle.of(file.pid())
                    .filter(ProcessHandle::isAlive)
                    .map(h -> h.info().startInstant().map(t -> t.toEpochMilli() > startedMillis + 1000).orElse(false))
                    .orElse(true);
            }
            catch (final IOException e)
            {
                continue;
            }
            if (stale && Files.deleteIfExists(candidate))
            {
                reclaimed++;
                System.err.println("virtio4j: reclaimed the counters file of an exited process: " + candidate);
            }
        }
        return reclaimed;
    }

    /**
     * Opens another process's counters file for reading.
     *
     * @param path the file.
     * @return the file, readable with {@link #reader()}.
     * @throws IOException if it cannot be mapped or is not a counters file of this version.
     */
    public static CountersFile open(final Path path) throws IOException
    {
        final MappedByteBuffer mapped;
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, channel.size());
        }
        final UnsafeBuffer header = new UnsafeBuffer(mapped);
        if (mapped.capacity() < HEADER_LENGTH || header.getIntAcquire(0) != MAGIC || header.getInt(VERSION_OFFSET) != VERSION)
        {
            IoUtil.unmap(mapped);
            throw new IOException("not a virtio4j counters file (version " + VERSION + "): " + path);
        }
        return new CountersFile(path, mapped, false);
    }

    /** @return the file's path. */
    public Path path()
    {
        return path;
    }

    /** @return the writing process's pid. */
    public long pid()
    {
        return new UnsafeBuffer(mapped).getLong(PID_OFFSET);
    }

    /** @return when the writing process started, epoch ms. */
    public long startTimeMillis()
    {
        return new UnsafeBuffer(mapped).getLong(START_TIME_OFFSET);
    }

    /** @return the counters, for reading. */
    public CountersReader reader()
    {
        return reader;
    }

    /** @return the counters, for allocating and writing (null when opened for reading). */
    public CountersManager manager()
    {
        return manager;
    }

    /** Unmaps the file; the writer also deletes it. */
    @Override
    public void close() throws IOException
    {
        IoUtil.unmap(mapped);
        if (manager != null)
        {
            Files.deleteIfExists(path);
        }
    }
}
