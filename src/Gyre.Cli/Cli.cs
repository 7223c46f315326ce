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
    public const int Ok = 0, Failure = 1, BadInput = 2;

    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Show stack traces on errors", Recursive = true };

    public static RootCommand Build(CliContext context)
    {
        var root = new RootCommand("Gyre: gated recurrent networks for .NET — train, evaluate, export and serve GRU/LSTM models.");
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
        return root;
    }

    /// <summary>Runs the command line with the given writers (tests pass their own).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var context = new CliContext(stdout, stderr);
        var root = Build(context);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) stderr.WriteLine($"gyre: {e.Message}");
            return BadInput;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
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
