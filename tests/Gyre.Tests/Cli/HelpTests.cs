using System.CommandLine;
using Gyre.Benchmarks;
using Gyre.Cli;
using Gyre.Cli.Commands;
using Spectre.Console;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>Help as a new user meets it: `gyre` alone, usage naming `gyre`, defaults on every option, "did you mean".</summary>
public sealed class HelpTests : IDisposable
{
    private readonly CliFolder _dir = new();
    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Gyre_alone_shows_help_naming_gyre_and_only_commands_that_exist()
    {
        var r = _dir.Run();
        Assert.Equal(0, r.Code);
        Assert.Contains("Usage:\n  gyre [command] [options]", r.Out.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("Gyre.Cli", r.Out);
        Assert.DoesNotContain("Required command", r.Out + r.Err);
        var root = Gyre.Cli.Cli.Build(new CliContext(TextWriter.Null, TextWriter.Null));
        string description = root.Description!;
        foreach (var c in root.Subcommands) Assert.Contains(c.Name + ":", description);
        // The description names commands only through the list built from the registered ones.
        int from = description.IndexOf("Commands — ", StringComparison.Ordinal) + "Commands — ".Length;
        var listed = description[from..description.IndexOf(". Run `gyre", StringComparison.Ordinal)].Split("; ").Select(e => e[..e.IndexOf(':')]);
        Assert.Equal(root.Subcommands.Select(c => c.Name), listed);
    }

    [Theory]
    [InlineData("forcast", "did you mean 'forecast'?")]
    [InlineData("forecast train --lookbak 3", "did you mean '--lookback'?")]
    [InlineData("forecast predict --modle m.gyre", "did you mean '--model'?")]
    public void Typos_get_did_you_mean(string line, string suggestion)
    {
        var r = _dir.Run(line.Split(' '));
        Assert.Equal(2, r.Code);
        Assert.Contains(suggestion, r.Err);
        Assert.DoesNotContain("Required command", r.Err);
        Assert.Single(r.Err.Trim().Split('\n'));
    }

    [Fact]
    public void Unrelated_words_get_no_suggestion()
    {
        var r = _dir.Run("forecast", "train", "--zzzzzzzz", "--data", "x.csv");
        Assert.Equal(2, r.Code);
        Assert.DoesNotContain("did you mean", r.Err);
    }

    [Fact]
    public void Every_training_option_shows_its_default_for_train_and_for_the_bundled_job()
    {
        var root = Gyre.Cli.Cli.Build(new CliContext(TextWriter.Null, TextWriter.Null));
        var forecast = root.Subcommands.Single(c => c.Name == "forecast");
        var train = forecast.Subcommands.Single(c => c.Name == "train");
        var names = new TrainingOptions().All().Select(o => o.Name).ToHashSet();
        Assert.All(train.Options.Where(o => names.Contains(o.Name)), o => Assert.Contains("[default: ", o.Description));
        Assert.All(forecast.Options.Where(o => names.Contains(o.Name)), o => Assert.Contains("[bundled job: ", o.Description));
        Assert.Contains("[default: 24]", train.Options.Single(o => o.Name == "--lookback").Description);
        Assert.Contains("[bundled job: 36]", forecast.Options.Single(o => o.Name == "--lookback").Description);
        // The bundled job's description says where its defaults differ from train's.
        Assert.Contains("--lookback 36", forecast.Description);
        Assert.Contains("--epochs 60", forecast.Description);
        Assert.DoesNotContain("--hidden", forecast.Description);      // 64 in both
        var help = _dir.Ok("forecast", "train", "--help");
        Assert.Contains("gyre forecast train [options]", help.Out);
    }

    [Fact]
    public void Bench_table_fits_80_columns()
    {
        var results = new[] { "infer", "train" }.Select(m =>
            new RecurrentBenchResult("gyre", new RecurrentBenchShape("gru", 256, 1024, 768, 768), m, 2, 2337.05, 149.3, 438.2, 123456789, 1048.2)).ToList();
        var sw = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(sw), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = 80;
        console.Write(BenchCommand.BuildTable(results));
        var lines = sw.ToString().Split('\n');
        Assert.All(lines, l => Assert.True(l.TrimEnd().Length <= 80, $"{l.Length} columns: {l}"));
        Assert.True(lines.Any(l => l.Contains("256x1024x768x768") && l.Contains("2337") && l.Contains("117.7M")), sw.ToString());
    }

    [Fact]
    public void Bench_sgemm_takes_the_size_as_an_argument()
    {
        var ok = _dir.Ok("bench", "sgemm", "32", "--reps", "1");
        Assert.Contains("sgemm 32x32x32", ok.Out);
        Assert.Matches(@"caches: L1d \d+ KiB, L2 \d+ KiB, .*; blocking: tile \d+x\d+, KC \d+, MC \d+", ok.Out);
        Assert.Equal(2, _dir.Run("bench", "sgemm", "32", "--size", "64").Code);
        Assert.Equal(2, _dir.Run("bench", "sgemm", "0").Code);
    }
}
