// SPDX-License-Identifier: Apache-2.0
package dev.xpfo.cli;

import dev.xpfo.memory.XpfoException;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How every {@code xpfo} command ends when it cannot do its job: one line (or a few) on standard
 * error starting {@code xpfo CMD: }, never a stack trace or a Java class name, and a documented exit code:
 * <ul>
 *   <li>{@link #USAGE} (2): the command line is wrong (an option's value, a missing option, options
 *       that contradict each other); nothing was started;</li>
 *   <li>{@link #FAILED} (2): xpfo could not do it (the service refused, the memlock limit, no secret
 *       memory): the message says why and what to do;</li>
 *   <li>{@link #BUG} (70, {@code EX_SOFTWARE}): an error xpfo did not expect; the message says so and
 *       {@code XPFO_DEBUG=1} prints the stack trace for a report.</li>
 * </ul>
 */
final class Failures implements IParameterExceptionHandler, IExecutionExceptionHandler {
    static final int USAGE = 2;
    static final int FAILED = 2;
    static final int BUG = 70;
    /** Set (to anything but 0 or empty) to print the stack trace of an unexpected error. */
    static final String DEBUG = "XPFO_DEBUG";

    /** A usage error found after parsing, e.g. two options that contradict each other: {@code xpfo CMD: message}, exit 2. */
    static ParameterException usage(CommandSpec spec, String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    @Override
    public int handleParseException(ParameterException e, String[] args) {
        CommandLine command = e.getCommandLine();
        PrintWriter err = command.getErr();
        err.println(prefix(command) + message(e));
        CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
        err.println("  (see: " + qualifiedName(command) + " --help)");
        err.flush();
        return USAGE;
    }

    @Override
    public int handleExecutionException(Exception e, CommandLine command, ParseResult parsed) {
        PrintWriter err = command.getErr();
        if (e instanceof XpfoException) {
            err.println(prefix(command) + readable(e.getMessage()));
            err.flush();
            return FAILED;
        }
        String what = e.getMessage() == null || e.getMessage().isBlank() ? "no message" : readable(e.getMessage());
        err.println(prefix(command) + "unexpected error: " + what);
        err.println("  this is a bug in xpfo; please report it with the command line"
                + (debug() ? "" : " and the stack trace that " + DEBUG + "=1 prints"));
        if (debug()) {
            e.printStackTrace(err);
        }
        err.flush();
        return BUG;
    }

    /** A Java exception's class name, qualified or not, as some library messages quote it. */
    private static final Pattern EXCEPTION_NAME =
            Pattern.compile("\\b(?:[a-z][a-z0-9_]*\\.)*((?:[A-Z][a-z0-9]*)+?)(?:Exception|Error)\\b");

    /**
     * The message with any Java exception class name a library put into it said in words:
     * {@code java.nio.file.AccessDeniedException: /run/x} becomes {@code access denied: /run/x}.
     */
    static String readable(String message) {
        Matcher m = EXCEPTION_NAME.matcher(message);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String words = m.group(1).replaceAll("([a-z0-9])([A-Z])", "$1 $2").toLowerCase(Locale.ROOT);
            m.appendReplacement(out, Matcher.quoteReplacement(words));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static boolean debug() {
        String value = System.getenv(DEBUG);
        return value != null && !value.isBlank() && !value.equals("0");
    }

    /** {@code xpfo serve: } for a subcommand, {@code xpfo: } for xpfo itself. */
    static String prefix(CommandLine command) {
        return qualifiedName(command) + ": ";
    }

    private static String qualifiedName(CommandLine command) {
        return command.getParent() == null ? "xpfo" : "xpfo " + command.getCommandName();
    }

    /**
     * The parse error in the user's words. A converter's own message is put after the option it is about;
     * any other cause is reduced to its message, since picocli would otherwise print the exception class.
     */
    private static String message(ParameterException e) {
        Throwable cause = e.getCause();
        ArgSpec arg = e.getArgSpec();
        if (cause == null || arg == null) {
            return lowerFirst(e.getMessage());
        }
        String name = arg instanceof OptionSpec option ? option.longestName() : arg.paramLabel();
        String detail = cause.getMessage() == null ? "not valid" : cause.getMessage();
        return name + ": " + detail;
    }

    private static String lowerFirst(String message) {
        if (message == null || message.isEmpty() || message.length() > 1 && Character.isUpperCase(message.charAt(1))) {
            return String.valueOf(message);
        }
        return message.substring(0, 1).toLowerCase(Locale.ROOT) + message.substring(1);
    }
}
