package org.virtio4j.bench;

/**
 * The JVM flags every forked benchmark JVM needs, as constants for {@code @Fork(jvmArgsAppend = ...)}.
 */
public final class JvmFlags
{
    /** Agrona reads {@code jdk.internal.misc}. */
    public static final String ADD_EXPORTS = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED";
    /** Our Linux calls go through FFM. */
    public static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";

    private JvmFlags()
    {
    }
}
