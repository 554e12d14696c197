package org.virtio4j.tuning;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The real-guest disk workload: in each round four processes write one self-describing 256 KiB extent each with
 * O_DIRECT (many requests in flight, completed out of order), read the four back with O_DIRECT and compare. Round
 * r writes region r % 8; an extent's bytes name its round, region and part, so after the guest powers off the host
 * can tell that every region holds exactly its last round's bytes: nothing lost, torn, stale or misplaced.
 */
final class DiskRounds
{
    /** Blocks of 4 KiB per extent. */
    private static final int EXTENT_BLOCKS = 64;
    private static final int EXTENT = EXTENT_BLOCKS * 4096;
    private static final int REGIONS = 8;
    private static final int PARTS = 4;
    private static final int REGION_BLOCKS = 512;

    private DiskRounds()
    {
    }

    /**
     * @param rounds how many rounds.
     * @return the guest's steps, after {@link GuestInit}'s prelude: "GUEST: io starting", one "GUEST: round r ok"
     *         or "GUEST: round r BAD" per round, "GUEST: rounds ok N", "GUEST: done", then power off.
     */
    static String steps(final int rounds)
    {
        return steps(rounds, false);
    }

    /**
     * @param rounds how many rounds.
     * @param reader true to keep one more process reading four 256 KiB regions of distinct bytes written before
     *               the rounds (past the rounds' regions), one after another, and checking their hashes all the
     *               while ("GUEST: hash BAD" if one differs): with O_DIRECT, then through a dropped page cache (the
     *               device stores straight into the page-cache pages, which the guest reuses for the next region),
     *               then a second later from the page cache alone. Pages the device filled and the guest reads again
     *               without storing into them are what a migration loses if the back-end does not log its stores.
     * @return as {@link #steps(int)}.
     */
    static String steps(final int rounds, final boolean reader)
    {
        final String start = !reader ? "" : """
            for n in 0 1 2 3; do
              yes "hashed region $n" | head -c 262144 | dd of=/dev/vda bs=65536 seek=$((512 + n * 4)) oflag=direct 2>/dev/null
              eval h$n='"$(dd if=/dev/vda bs=65536 skip=$((512 + n * 4)) count=4 iflag=direct 2>/dev/null | sha256sum)"'
            done
            (c=0; while [ ! -f /tmp/stop ]; do
               n=$((c % 4)); eval h='"$h'$n'"'; at=$((512 + n * 4))
               [ "$(dd if=/dev/vda bs=65536 skip=$at count=4 iflag=direct 2>/dev/null | sha256sum)" = "$h" ] || echo "GUEST: hash BAD (direct)"
               echo 1 > /proc/sys/vm/drop_caches
               [ "$(dd if=/dev/vda bs=65536 skip=$at count=4 2>/dev/null | sha256sum)" = "$h" ] || echo "GUEST: hash BAD (read)"
               sleep 1
               [ "$(dd if=/dev/vda bs=65536 skip=$at count=4 2>/dev/null | sha256sum)" = "$h" ] || echo "GUEST: hash BAD (page cache)"
               c=$((c + 1))
             done; touch /tmp/stopped) &
            """;
        final String end = !reader ? "" : """
            touch /tmp/stop; i=0; while [ ! -f /tmp/stopped ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
            """;
        return start + """
            echo "GUEST: io starting"
            ok=0; r=0
            while [ $r -lt @ROUNDS@ ]; do
              k=$((r % 8))
              p=""; for j in 0 1 2 3; do
                (yes "round $r region $k part $j" | head -c 262144 > /tmp/p$j
                 dd if=/tmp/p$j of=/dev/vda bs=4096 seek=$((k * 512 + j * 64)) oflag=direct conv=notrunc 2>/dev/null) &
                p="$p $!"
              done; wait $p
              p=""; for j in 0 1 2 3; do
                dd if=/dev/vda of=/tmp/b$j bs=4096 skip=$((k * 512 + j * 64)) count=64 iflag=direct 2>/dev/null & p="$p $!"
              done; wait $p
              good=1; for j in 0 1 2 3; do cmp -s /tmp/p$j /tmp/b$j || good=0; done
              if [ $good = 1 ]; then ok=$((ok+1)); echo "GUEST: round $r ok"; else echo "GUEST: round $r BAD"; fi
              r=$((r+1))
            done
            """.replace("@ROUNDS@", String.valueOf(rounds)) + end + """
            echo "GUEST: rounds ok $ok"
            echo "GUEST: done"
            poweroff -f
            """;
    }

    private static byte[] extent(final int round, final int region, final int part)
    {
        final byte[] line = ("round " + round + " region " + region + " part " + part + "\n").getBytes(StandardCharsets.US_ASCII);
        final byte[] bytes = new byte[EXTENT];
        for (int i = 0; i < EXTENT; i++)
        {
            bytes[i] = line[i % line.length];
        }
        return bytes;
    }

    /**
     * Checks the image after the guest's last round.
     *
     * @param image  the disk image.
     * @param rounds the rounds the guest completed (at least {@value #REGIONS}).
     * @return "" if every extent holds its last round's bytes, else what does not.
     */
    static String checkImage(final Path image, final int rounds) throws IOException
    {
        final StringBuilder wrong = new StringBuilder();
        final byte[] found = new byte[EXTENT];
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "r"))
        {
            for (int region = 0; region < REGIONS; region++)
            {
                final int last = rounds - 1 - Math.floorMod(rounds - 1 - region, REGIONS);
                for (int part = 0; part < PARTS; part++)
                {
                    file.seek((long)(region * REGION_BLOCKS + part * EXTENT_BLOCKS) * 4096);
                    file.readFully(found);
                    final int at = Arrays.mismatch(found, extent(last, region, part));
                    if (at >= 0)
                    {
                        final int end = new String(found, 0, 64, StandardCharsets.US_ASCII).indexOf('\n');
                        wrong.append("region ").append(region).append(" part ").append(part).append(" should hold round ").append(last)
                            .append(", differs from byte ").append(at).append(", starts with '")
                            .append(new String(found, 0, Math.max(0, end), StandardCharsets.US_ASCII)).append("'\n");
                    }
                }
            }
        }
        return wrong.toString();
    }
}
