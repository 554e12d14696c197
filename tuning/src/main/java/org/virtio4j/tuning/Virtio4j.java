package org.virtio4j.tuning;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code virtio4j} command line.
 */
@Command(name = "virtio4j", mixinStandardHelpOptions = true, version = "virtio4j 0.1.0",
    description = "virtio device back-ends on a low-latency actor engine.",
    subcommands = {DemoCommand.class, ServeCommand.class, StatCommand.class})
public final class Virtio4j implements Runnable
{
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    /**
     * @param args the command line.
     */
    public static void main(final String[] args)
    {
        System.exit(new CommandLine(new Virtio4j()).setExecutionExceptionHandler(Virtio4j::oneLine).execute(args));
    }

    /** A bad option or a file that cannot be opened: one line a person can act on, not a stack trace. */
    private static int oneLine(final Exception e, final CommandLine command, final CommandLine.ParseResult parsed)
    {
        final String message = e instanceof NumberFormatException ? "not a number: " + e.getMessage() : e.getMessage();
        command.getErr().println("virtio4j " + command.getCommandName() + ": " + (message != null ? message : e.toString()));
        return 2;
    }

    @Override
    public void run()
    {
        spec.commandLine().usage(System.out);
    }
}
