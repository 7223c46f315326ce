using System.CommandLine;
using Gyre.Cli.Commands;
using Gyre.Data;
using Spectre.Console;

namespace Gyre.Cli;

/// <summary>
/// The `gyre` command line: registers commands and maps failures to exit codes (<see cref="ExitCodes"/>).
/// Bad input is a <see cref="GyreDataException"/> raised where input is checked, or a reader's
/// <see cref="InvalidDataException"/> for a malformed file, or an I/O error on a path the user gave: one
/// line, exit 2. Anything else is a bug in gyre: exit 70, saying so, the stack trace under --verbose.
/// </summary>
public static class Cli
{
    public const int Ok = 0, WorseThanBaseline = 1, BadInput = 2, InternalError = 70, Interrupted = 130;

    /// <summary>The exit codes as `--help` and the README list them.</summary>
    public const string ExitCodes =
        "Exit codes: 0 ok · 1 model worse than a baseline (with --fail-if-worse) · 2 bad input (one line naming the file, row, column or option; nothing written) · 70 internal error (a bug in gyre) · 130 interrupted.";

    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Show stack traces on errors", Recursive = true };

    /// <summary>How recurrent layers run their time axis, for every job (training, inference, bench).</summary>
    public static readonly Option<string?> Scan = new("--scan")
    {
        Description = "Time axis of cells with a parallel form (mingru, minlstm, gla, lssl: scan; paragru, paralstm, indrnn: Newton): sequential | parallel | auto (default auto = sequential, "
            + "the faster on the CPUs measured; README \"Parallel in time\"); other cells always run the time loop",
        Recursive = true,
    };

    public static Command Build(CliContext context)
    {
        // A root named "gyre" rather than a RootCommand, whose name is the entry assembly's file (Gyre.Cli) in usage lines.
        var root = new Command("gyre");
        root.Options.Add(new System.CommandLine.Help.HelpOption());
        root.Options.Add(new VersionOption());
        root.Options.Add(Verbose);
        root.Options.Add(Scan);
        root.Subcommands.Add(ForecastCommand.Create(context));
        root.Subcommands.Add(ClassifyCommand.Create(context));
        root.Subcommands.Add(ExportCommand.Create(context));
        root.Subcommands.Add(InspectCommand.Create(context));
        root.Subcommands.Add(ImportCommand.Create(context));
        root.Subcommands.Add(BenchCommand.Create(context));
        root.Subcommands.Add(DistributedCommand.Create(context));
        root.Subcommands.Add(DetectCommand.Create(context));
        root.Subcommands.Add(TrajectoryCommand.Create(context));
        root.Subcommands.Add(ServeCommand.Create(context));
        root.Description = Help.RootDescription(root) + " " + ExitCodes;   // after every command is registered
        return root;
    }

    /// <summary>Runs the command line with the given writers (tests pass their own).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancel = default) =>
        Run(Build, args, stdout, stderr, cancel);

    /// <summary>Runs the command tree <paramref name="build"/> makes, mapping its failures to exit codes.</summary>
    internal static int Run(Func<CliContext, Command> build, string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancel)
    {
        var context = new CliContext(stdout, stderr, cancel);
        var root = build(context);
        if (args.Length == 0) args = ["--help"];               // `gyre` alone: what it can do, not an error
        ParseResult? parse = null;
        try
        {
            parse = root.Parse(args);
            if (parse.Errors.Count > 0)
            {
                stderr.WriteLine(ParseError(parse));
                return BadInput;
            }
            var scan = parse.GetValue(Scan) is { } s ? ParseScanOption(s) : null;
            using var scope = scan is null ? null : Layers.ExecutionOptions.Use(Layers.ExecutionOptions.Current with { Scan = scan });
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C: the command has said how to resume; 128 + SIGINT, as shells report it.
            stderr.WriteLine("gyre: interrupted");
            return Interrupted;
        }
        catch (Exception e) when (IsBadInput(e))
        {
            stderr.WriteLine($"gyre: {OneLine(e.Message)}");
            if (IsVerbose(parse, args)) stderr.WriteLine(e);
            DistributedRun.AbortIfRunning(BadInput);
            return BadInput;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"gyre: internal error (a bug in gyre, not in your input; please report it): {e.GetType().Name}: {OneLine(e.Message)}");
            if (IsVerbose(parse, args)) stderr.WriteLine(e);
            else stderr.WriteLine("gyre: run with --verbose for the stack trace");
            DistributedRun.AbortIfRunning(InternalError);
            return InternalError;
        }
    }

    private static Layers.ScanMode? ParseScanOption(string text)
    {
        try { return Layers.ExecutionOptions.ParseScan(text); }
        catch (ArgumentException e) { throw new GyreDataException($"--scan: {e.Message}"); }
    }

    /// <summary>
    /// One line for a parse failure: the first problem (fixing it may make the rest disappear), or, with a
    /// mistyped word, the problem that carries a "did you mean" suggestion.
    /// </summary>
    private static string ParseError(ParseResult parse)
    {
        // With a mistyped word, "Required command was not provided" and the word's stray value only add noise.
        var errors = parse.UnmatchedTokens.Count > 0
            ? parse.Errors.Where(e => !parse.UnmatchedTokens.Skip(1).Any(t => e.Message.Contains($"'{t}'", StringComparison.Ordinal))
                && !(e.Message.StartsWith("Required command", StringComparison.Ordinal))).ToList()
            : parse.Errors.ToList();
        if (errors.Count == 0) errors = [.. parse.Errors];
        var lines = errors.Select(e =>
        {
            string? token = parse.UnmatchedTokens.FirstOrDefault(t => e.Message.Contains($"'{t}'", StringComparison.Ordinal));
            string hint = token is null ? "" : Help.DidYouMean(parse, token);
            return (Text: $"gyre: {OneLine(e.Message)}{hint}", Suggested: hint.Length > 0);
        }).ToList();
        // A typo with a suggestion explains the rest ("--model is required" after "--modle"): say only that.
        return (lines.FirstOrDefault(l => l.Suggested).Text ?? lines[0].Text);
    }

    // Only the dedicated user-input type, a reader's verdict on a file, and the operating system's refusal of
    // a path the user named. ArgumentException and friends are programming errors: exit 70, not 2.
    private static bool IsVerbose(ParseResult? parse, string[] args)
    {
        try { return parse?.GetValue(Verbose) ?? args.Contains("--verbose"); }
        catch (InvalidOperationException) { return args.Contains("--verbose"); }
    }

    private static bool IsBadInput(Exception e) =>
        e is GyreDataException or InvalidDataException or IOException or UnauthorizedAccessException;

    internal static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}

/// <summary>Where a command writes: plain writers, plus a Spectre console over stdout for tables and progress.</summary>
public sealed class CliContext(TextWriter stdout, TextWriter stderr, CancellationToken cancel = default)
{
    /// <summary>The caller's cancellation (tests, a host); training honours it like Ctrl-C, after the current epoch.</summary>
    public CancellationToken Cancel { get; } = cancel;

    public TextWriter Out { get; } = stdout;
    public TextWriter Err { get; } = stderr;

    /// <summary>True when stdout is a real terminal (progress bars); false under tests, pipes and CI.</summary>
    public bool Interactive { get; } = ReferenceEquals(stdout, System.Console.Out) && !System.Console.IsOutputRedirected
        && Environment.GetEnvironmentVariable("CI") is null;

    public IAnsiConsole Console { get; } = AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(stdout),
        Ansi = ReferenceEquals(stdout, System.Console.Out) && !System.Console.IsOutputRedirected ? AnsiSupport.Detect : AnsiSupport.No,
        ColorSystem = ColorSystemSupport.Detect,
    });
}
