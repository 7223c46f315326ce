using Gyre.Forecasting;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>`gyre forecast tune`: successive halving on the validation split, reproducible by seed.</summary>
public class ForecastTuneTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Tune_prints_its_trials_saves_the_best_and_repeats_by_seed()
    {
        string data = _dir.Daily("daily.csv", rows: 160);
        string[] args = ["forecast", "tune", "--data", data, "--target", "y", "--lookback", "14", "--horizon", "7", "--trials", "3", "--max-epochs", "6", "--seed", "4"];
        var r = _dir.Ok([.. args, "--out", _dir["a.gyre"]]);
        Assert.Contains("successive halving", r.Out);
        Assert.Contains("trial 3 rung 0", r.Out);
        Assert.Contains("rung 1", r.Out);                    // the best third went on with three times the epochs
        Assert.Contains("retrain with: gyre forecast train", r.Out);
        var best = Forecaster.Load(_dir["a.gyre"]);
        Assert.Equal(6, best.Options.Epochs);
        _dir.Ok([.. args, "--out", _dir["b.gyre"]]);
        Assert.Equal(File.ReadAllBytes(_dir["a.gyre"]), File.ReadAllBytes(_dir["b.gyre"]));
    }

    [Fact]
    public void A_bad_budget_is_one_line_exit_two()
    {
        string data = _dir.Daily("daily.csv");
        var r = _dir.Run("forecast", "tune", "--data", data, "--budget", "soon", "--out", _dir["t.gyre"]);
        Assert.Equal(2, r.Code);
        Assert.Contains("--budget", r.Err);
        Assert.False(File.Exists(_dir["t.gyre"]));
    }
}
