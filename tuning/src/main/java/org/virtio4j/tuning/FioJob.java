package org.virtio4j.tuning;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Runs a {@link DemoGuest} for a while and reports like fio: a progress line a second (IOPS, MB/s, p50, p99), then
 * an HdrHistogram percentile summary, and optionally the whole distribution in .hgrm form. Shared by
 * {@code virtio4j demo} and the vhost-user load generator.
 */
public final class FioJob
{
    private final int blockSize;
    private final int durationSeconds;
    private final Path hgrm;
    private int warmupSeconds;

    /**
     * @param blockSize       bytes per request (for MB/s).
     * @param durationSeconds how long to run.
     * @param hgrm            where to write the distribution (microseconds), or null.
     */
    public FioJob(final int blockSize, final int durationSeconds, final Path hgrm)
    {
        this.blockSize = blockSize;
        this.durationSeconds = durationSeconds;
        this.hgrm = hgrm;
    }

    /**
     * @param seconds how long the guest runs before measuring starts (its results are dropped).
     * @return this.
     */
    public FioJob warmup(final int seconds)
    {
        warmupSeconds = seconds;
        return this;
    }

    /**
     * Starts the guest on its own thread, reports every second, stops it and prints the summary.
     *
     * @param guest    the guest.
     * @param recorder the recorder the guest records latencies into.
     * @return the whole run's latency histogram (ns).
     * @throws InterruptedException if interrupted while waiting.
     * @throws IOException          if the .hgrm file cannot be written.
     */
    public Histogram run(final DemoGuest guest, final Recorder recorder) throws InterruptedException, IOException
    {
        final Histogram total = new Histogram(3);
        final Thread guestThread = new Thread(guest, "virtio4j-guest");
        guestThread.start();
        Histogram interval = null;
        if (warmupSeconds > 0)
        {
            Thread.sleep(warmupSeconds * 1000L);
            interval = recorder.getIntervalHistogram(interval);
            System.out.printf(Locale.ROOT, "[warm] %,d requests in %d s (not counted)%n", interval.getTotalCount(), warmupSeconds);
        }
        final long start = System.nanoTime();
        for (int second = 1; second <= durationSeconds; second++)
        {
            final long wakeAt = start + second * 1_000_000_000L;
            long wait;
            while ((wait = wakeAt - System.nanoTime()) > 0)
            {
                Thread.sleep(wait / 1_000_000, (int)(wait % 1_000_000));
            }
            interval = recorder.getIntervalHistogram(interval);
            total.add(interval);
            final long count = interval.getTotalCount();
            System.out.printf(Locale.ROOT, "[%3ds] %,12d IOPS %10.1f MB/s   p50 %8.2f us   p99 %8.2f us%n",
                second, count, count * (double)blockSize / 1e6,
                interval.getValueAtPercentile(50) / 1000.0, interval.getValueAtPercentile(99) / 1000.0);
        }
        guest.stop();
        guestThread.join();
        final double seconds = (System.nanoTime() - start) / 1e9;
        final long count = total.getTotalCount();
        System.out.printf(Locale.ROOT, "%ntotal: %,d requests in %.1f s: %,.0f IOPS, %.1f MB/s; %d failed; %,d kicks%n",
            count, seconds, count / seconds, count * (double)blockSize / seconds / 1e6, guest.failed(), guest.kicksSent());
        System.out.println("latency (us), HdrHistogram:");
        for (final double percentile : new double[] {50, 90, 99, 99.9, 99.99})
        {
            System.out.printf(Locale.ROOT, "  p%-6s %10.2f%n",
                percentile == Math.rint(percentile) ? String.valueOf((long)percentile) : String.valueOf(percentile),
                total.getValueAtPercentile(percentile) / 1000.0);
        }
        System.out.printf(Locale.ROOT, "  max     %10.2f%n", total.getMaxValue() / 1000.0);
        System.out.printf(Locale.ROOT, "  mean    %10.2f%n", total.getMean() / 1000.0);
        if (guest.verified() + guest.verifyErrors() > 0)
        {
            System.out.printf(Locale.ROOT, "verify: %,d blocks read back and checked, %d differed%n", guest.verified(), guest.verifyErrors());
        }
        // One line for scripts.
        System.out.printf(Locale.ROOT, "result: iops=%.0f p50_us=%.2f p99_us=%.2f p999_us=%.2f failed=%d verify_errors=%d%n",
            count / seconds, total.getValueAtPercentile(50) / 1000.0, total.getValueAtPercentile(99) / 1000.0,
            total.getValueAtPercentile(99.9) / 1000.0, guest.failed(), guest.verifyErrors());
        if (hgrm != null)
        {
            try (PrintStream out = new PrintStream(new FileOutputStream(hgrm.toFile())))
            {
                total.outputPercentileDistribution(out, 1000.0);
            }
            System.out.println("latency distribution (us) written to " + hgrm);
        }
        return total;
    }
}
