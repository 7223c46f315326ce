using System.CommandLine;
using System.Globalization;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>
/// The exit-code contract: 0 ok, 1 worse than a baseline under --fail-if-worse, 2 bad input, 70 a bug in
/// gyre (never blamed on the user), 130 interrupted; warnings for lossy but legal choices.
/// </summary>
public sealed class ExitCodeTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly string[] Small = ["--lookback", "14", "--horizon", "7", "--hidden", "4", "--epochs", "1", "--seed", "2"];

    /// <summary>Runs a one-command tree whose action is <paramref name="action"/>, through the CLI's error mapping.</summary>
    private static CliFolder.Result RunAction(Func<int> action, string[] args, CancellationToken cancel = default)
    {
        var stdout = new StringWriter(CultureInfo.InvariantCulture);
        var stderr = new StringWriter(CultureInfo.InvariantCulture);
        int code = Gyre.Cli.Cli.Run(_ =>
        {
            var root = new RootCommand("test");
            root.Options.Add(Gyre.Cli.Cli.Verbose);
            var run = new Command("run");
            run.SetAction(_ => action());
            root.Subcommands.Add(run);
            return root;
        }, args, stdout, stderr, cancel);
        return new CliFolder.Result(code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void An_internal_ArgumentException_is_exit_70_and_says_it_is_a_bug()
    {
        var r = RunAction(() => throw new ArgumentException("span too short"), ["run"]);
        Assert.Equal(70, r.Code);
        var lines = r.Err.TrimEnd().Split('\n');
        Assert.Equal("gyre: internal error (a bug in gyre, not in your input; please report it): ArgumentException: span too short", lines[0]);
        Assert.Equal("gyre: run with --verbose for the stack trace", lines[1]);
        Assert.Equal(2, lines.Length);
    }

    [Fact]
    public void Verbose_shows_the_stack_trace_of_an_internal_error()
    {
        var r = RunAction(() => throw new IndexOutOfRangeException("boom"), ["run", "--verbose"]);
        Assert.Equal(70, r.Code);
        Assert.Contains("System.IndexOutOfRangeException: boom", r.Err);
        Assert.Contains(" at ", r.Err);
    }

    [Fact]
    public void A_cancelled_run_is_exit_130()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var r = RunAction(() => { cts.Token.ThrowIfCancellationRequested(); return 0; }, ["run"], cts.Token);
        Assert.Equal(130, r.Code);
        Assert.Equal("gyre: interrupted", r.Err.TrimEnd());
    }

    [Fact]
    public void A_cancelled_training_run_stops_with_130_and_writes_no_model()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var stdout = new StringWriter(CultureInfo.InvariantCulture);
        var stderr = new StringWriter(CultureInfo.InvariantCulture);
        int code = Gyre.Cli.Cli.Run(["forecast", "train", "--data", _dir.Daily("d.csv"), .. Small, "--out", _dir["m.gyre"]], stdout, stderr, cts.Token);
        Assert.Equal(130, code);
        Assert.False(File.Exists(_dir["m.gyre"]));
        Assert.Equal(["d.csv"], _dir.Files());
    }

    [Fact]
    public void Help_lists_the_exit_codes()
    {
        var r = _dir.Run("--help");
        Assert.Equal(0, r.Code);
        Assert.Contains("Exit codes: 0 ok · 1 model worse than a baseline (with --fail-if-worse) · 2 bad input", r.Out);
        Assert.Contains("70 internal error (a bug in gyre) · 130 interrupted", r.Out);
    }

    [Fact]
    public void Fail_if_worse_exits_1_when_a_baseline_wins_and_0_otherwise()
    {
        string data = _dir.Daily("d.csv");
        // One epoch of a 4-unit network loses to the seasonal naive forecast on a clean weekly sine.
        _dir.Ok(["forecast", "train", "--data", data, .. Small, "--out", _dir["m.gyre"]]);
        var r = _dir.Run("forecast", "eval", "--model", _dir["m.gyre"], "--data", data, "--fail-if-worse");
        Assert.Equal(1, r.Code);
        Assert.Matches(@"^gyre: model MASE \S+ is not better than the (seasonal naive|naive) baseline's \S+ \(--fail-if-worse\)$", r.Err.TrimEnd());
        Assert.Equal(0, _dir.Run("forecast", "eval", "--model", _dir["m.gyre"], "--data", data).Code);
        // A model that does beat both baselines passes the gate (the bundled CO₂ job: MASE well below 1).
        _dir.Ok("forecast", "--epochs", "30", "--out-dir", _dir["co2"]);
        var ok = _dir.Run("forecast", "eval", "--model", Path.Combine(_dir["co2"], "co2.gyre"), "--data",
            Path.Combine(AppContext.BaseDirectory, "Fixtures", "Data", "co2-concentration.csv"), "--fail-if-worse");
        Assert.True(ok.Code == 0, ok.Err);
    }

    [Fact]
    public void A_patch_that_does_not_divide_the_lookback_warns_and_trains()
    {
        var r = _dir.Ok(["forecast", "train", "--data", _dir.Daily("d.csv"), "--lookback", "24", "--horizon", "6", "--hidden", "4", "--epochs", "1",
            "--patch", "7", "--out", _dir["m.gyre"]]);
        Assert.Equal("gyre: warning: --patch 7 does not divide --lookback 24: each window uses only its last 21 steps (3 dropped)", r.Err.TrimEnd());
    }

    [Fact]
    public void Dropout_with_one_layer_warns()
    {
        var r = _dir.Ok(["forecast", "train", "--data", _dir.Daily("d.csv"), .. Small, "--dropout", "0.2", "--out", _dir["m.gyre"]]);
        Assert.Equal("gyre: warning: --dropout 0.2 acts between recurrent layers (and on the pmf decoder's output) and has no effect with --layers 1 and --decoder direct", r.Err.TrimEnd());
    }

    [Fact]
    public void Upper_case_cell_names_train_an_lstm()
    {
        _dir.Ok(["forecast", "train", "--data", _dir.Daily("d.csv"), .. Small, "--cell", "LSTM", "--out", _dir["m.gyre"]]);
        var f = Gyre.Forecasting.Forecaster.Load(_dir["m.gyre"]);
        Assert.Equal(Gyre.Cells.CellKind.Lstm, f.Network.Encoder.Kind);
    }

    [Fact]
    public void Resume_without_a_checkpoint_trains_from_scratch_and_removes_stale_temporaries()
    {
        string data = _dir.Daily("d.csv");
        // What a run killed inside a checkpoint write leaves: the writer's temporary beside the checkpoint.
        string stale = _dir[".m.gyre.ckpt." + new string('a', 32) + ".tmp"];
        File.WriteAllText(stale, "half");
        _dir.Ok(["forecast", "train", "--data", data, .. Small, "--out", _dir["m.gyre"], "--resume"]);
        Assert.Equal(["d.csv", "m.gyre"], _dir.Files());
    }
}
