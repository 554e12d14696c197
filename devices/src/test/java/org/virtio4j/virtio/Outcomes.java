package org.virtio4j.virtio;

/**
 * How the properties call the code under test: an operation may fail only with {@link QueueException} (anything
 * else is a bug), and some operations (parsers, chain walks, bulk copies) may not throw at all.
 */
final class Outcomes
{
    private Outcomes()
    {
    }

    /** Runs an action that may raise only {@link QueueException}. @return its error, or null. */
    static QueueError attempt(final String what, final Runnable action)
    {
        try
        {
            action.run();
            return null;
        }
        catch (final QueueException e)
        {
            return e.error();
        }
        catch (final RuntimeException e)
        {
            throw new AssertionError(what + " raised " + e + ", which is not a QueueException", e);
        }
    }

    /** Runs an action that must raise nothing. */
    static void mustNotThrow(final String what, final Runnable action)
    {
        try
        {
            action.run();
        }
        catch (final RuntimeException e)
        {
            throw new AssertionError(what + " raised " + e + "; it must report errors without throwing", e);
        }
    }
}
