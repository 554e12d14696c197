package org.virtio4j.tuning;

/**
 * The guest's /init for the real-guest tests: busybox, /proc, /sys, /dev, the kernel modules the image carries
 * ({@code @MODULES@}, filled in by {@link GuestImage}), a wait for the device the test is about, then the test's
 * own steps.
 */
final class GuestInit
{
    private GuestInit()
    {
    }

    /**
     * @param device the device node to wait for, e.g. {@code -b /dev/vda} or {@code -c /dev/vsock} (a test(1)
     *               expression).
     * @param steps  the test's shell steps (they end with {@code poweroff -f}).
     * @return the script.
     */
    static String script(final String device, final String steps)
    {
        return """
            #!/bin/busybox sh
            /bin/busybox --install -s /bin
            mount -t proc proc /proc
            mount -t sysfs sys /sys
            mount -t devtmpfs dev /dev
            for m in @MODULES@; do insmod /lib/modules/$m.ko || echo "GUEST: insmod $m failed"; done
            i=0; while [ ! @DEVICE@ ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
            """.replace("@DEVICE@", device) + steps;
    }
}
