using System.CommandLine;
using Gyre.Cli.Commands;
using Gyre.Data;
using Spectre.Console;

namespace Gyre.Cli;

/// <summary>
/// The `gyre` command line: registers commands and maps failures to exit codes.
/// 0 success · 1 unexpected failure (stack trace with --verbose) · 2 bad input or usage (one line).
/// </summary>
public static class Cli
{
    public const int Ok = 0, Failure = 1, BadInput = 2, Interrupted = 130;

    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Show stack traces on errors", Recursive = true };

    public static Command Build(CliContext context)
    {
        // A root named "gyre" rather than a RootCommand, whose name is the entry assembly's file (Gyre.Cli) in usage lines.
        var root = new Command("gyre");
        root.Options.Add(new System.CommandLine.Help.HelpOption());
        root.Options.Add(new VersionOption());
        root.Options.Add(Verbose);
        root.Subcommands.Add(ForecastCommand.Create(context));
        root.Subcommands.Add(ClassifyCommand.Create(context));
        root.Subcommands.Add(ExportCommand.Create(context));
        root.Subcommands.Add(InspectCommand.Create(context));
        root.Subcommands.Add(ImportCommand.Create(context));
        root.Subcommands.Add(BenchCommand.Create(context));
        root.Subcommands.Add(DistributedCommand.Create(context));
        root.Subcommands.Add(DetectCommand.Create(context));
        root.Subcommands.Add(TrajectoryCommand.Create(context));
        root.Description = Help.RootDescription(root);   // after every command is registered
        return root;
    }

    /// <summary>Runs the command line with the given writers (tests pass their own).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var context = new CliContext(stdout, stderr);
        var root = Build(context);
        if (args.Length == 0) args = ["--help"];               // `gyre` alone: what it can do, not an error
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // With a mistyped word, "Required command was not provided" and the word's stray value only add noise.
            var errors = parse.UnmatchedTokens.Count > 0
                ? parse.Errors.Where(e => !parse.UnmatchedTokens.Skip(1).Any(t => e.Message.Contains($"'{t}'", StringComparison.Ordinal))
                    && !(e.Message.StartsWith("Required command", StringComparison.Ordinal))).ToList()
                : parse.Errors.ToList();
            var lines = errors.Select(e =>
            {
                string? token = parse.UnmatchedTokens.FirstOrDefault(t => e.Message.Contains($"'{t}'", StringComparison.Ordinal));
                string hint = token is null ? "" : Help.DidYouMean(parse, token);
                return (Text: $"gyre: {e.Message}{hint}", Suggested: hint.Length > 0);
            }).ToList();
            // A typo with a suggestion explains the rest ("--model is required" after "--modle"): say only that.
            foreach (var line in lines.Any(l => l.Suggested) ? lines.Where(l => l.Suggested) : lines) stderr.WriteLine(line.Text);
            return BadInput;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C: the command has said how to resume; 128 + SIGINT, as shells report it.
            return Interrupted;
        }
        catch (Exception e) when (IsBadInput(e))
        {
            stderr.WriteLine($"gyre: {OneLine(e.Message)}");
            if (parse.GetValue(Verbose)) stderr.WriteLine(e);
            DistributedRun.AbortIfRunning(BadInput);
            return BadInput;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"gyre: unexpected error: {OneLine(e.Message)}");
            if (parse.GetValue(Verbose)) stderr.WriteLine(e);
            else stderr.WriteLine("gyre: run with --verbose for the stack trace");
            DistributedRun.AbortIfRunning(Failure);
            return Failure;
        }
    }

    private static bool IsBadInput(Exception e) =>
        e is GyreDataException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException
          or ArgumentException or FormatException or UnauthorizedAccessException
          or NotSupportedException;   // a model the requested export cannot express

    internal static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}

/// <summary>Where a command writes: plain writers, plus a Spectre console over stdout for tables and progress.</summary>
public sealed class CliContext(TextWriter stdout, TextWriter stderr)
{
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
