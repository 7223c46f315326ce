using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>--on-nan on the CLI: a run that never diverges writes the same bytes under either policy.</summary>
public sealed class DivergenceCommandTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void OnNanSkipChangesNothingWhenNothingDiverges()
    {
        string data = _dir.Daily("d.csv");
        string[] train = ["forecast", "train", "--data", data, "--lookback", "14", "--horizon", "7", "--hidden", "4", "--epochs", "2", "--seed", "3"];
        _dir.Ok([.. train, "--out", _dir["stop.gyre"]]);
        var skip = _dir.Ok([.. train, "--out", _dir["skip.gyre"], "--on-nan", "skip"]);
        Assert.Equal(File.ReadAllBytes(_dir["stop.gyre"]), File.ReadAllBytes(_dir["skip.gyre"]));
        Assert.Contains("--on-nan skip", skip.Out);
        Assert.DoesNotContain("skipped", skip.Out);
    }
}
