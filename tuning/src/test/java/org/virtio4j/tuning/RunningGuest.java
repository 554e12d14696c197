package org.virtio4j.tuning;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** A QEMU process running a {@link GuestImage}, its console read as it comes. */
final class RunningGuest implements AutoCloseable
{
    private final Process qemu;
    private final StringBuffer output = new StringBuffer();
    private final Thread reader;

    RunningGuest(final Process qemu, final Consumer<String> listener)
    {
        this.qemu = qemu;
        reader = Thread.ofPlatform().start(() ->
        {
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(qemu.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = lines.readLine()) != null)
                {
                    output.append(line).append('\n');
                    listener.accept(line);
                }
            }
            catch (final IOException e)
            {
                output.append("(console read failed: ").append(e).append(')');
            }
        });
    }

    /**
     * @param timeoutSec the most to wait.
     * @return everything QEMU printed.
     * @throws IllegalStateException naming what it printed if it did not exit in time (it is killed).
     */
    String awaitPowerOff(final int timeoutSec) throws InterruptedException
    {
        if (!qemu.waitFor(timeoutSec, TimeUnit.SECONDS))
        {
            qemu.destroyForcibly();
            reader.join(5000);
            throw new IllegalStateException("the guest did not power off within " + timeoutSec + " s:\n" + output);
        }
        reader.join(5000);
        return output.toString();
    }

    /** @return what QEMU printed so far. */
    String output()
    {
        return output.toString();
    }

    /** Kills QEMU if it still runs. */
    @Override
    public void close()
    {
        qemu.destroyForcibly();
        try
        {
            qemu.waitFor(30, TimeUnit.SECONDS);
            reader.join(5000);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }
}
