using System.Text.Json;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>`gyre forecast train --stateful`: trains without a data-chosen patch, prints the baselines beside the model,
/// and the model file says what it is (inspect, --json); eval and predict run; bad combinations get one line.</summary>
public sealed class StatefulCommandTests : IDisposable
{
    private readonly CliFolder _dir = new();
    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Train_eval_predict_and_inspect_a_stateful_forecaster()
    {
        string data = _dir.Daily("daily.csv", 240);
        // Lookback 60 would get a patch by default; a stateful model steps one row at a time and gets none.
        var train = _dir.Ok("forecast", "train", "--data", data, "--target", "y", "--features", "x", "--stateful", "--chunk", "20",
            "--lookback", "60", "--horizon", "5", "--hidden", "8", "--epochs", "2", "--out", _dir["s.gyre"]);
        Assert.Contains("--stateful on", train.Err + train.Out);
        Assert.Contains("seasonal naive", train.Out);
        var inspect = _dir.Ok("forecast", "inspect", "--model", _dir["s.gyre"]).Out;
        Assert.Contains("stateful: each series read from its start", inspect);
        Assert.Contains("chunks of up to 20 steps", inspect);
        using (var json = JsonDocument.Parse(_dir.Ok("forecast", "inspect", "--model", _dir["s.gyre"], "--json").Out))
        {
            var options = json.RootElement.GetProperty("options");
            Assert.True(options.GetProperty("stateful").GetBoolean());
            Assert.Equal(0, options.GetProperty("patch").GetInt32());
        }
        var eval = _dir.Ok("forecast", "eval", "--model", _dir["s.gyre"], "--data", data).Out;
        Assert.Contains("seasonal naive", eval);
        _dir.Ok("forecast", "predict", "--model", _dir["s.gyre"], "--data", data, "--out", _dir["next.csv"]);
        Assert.Equal(6, File.ReadAllLines(_dir["next.csv"]).Count(l => l.Length > 0));
        _dir.Fails(["export", "--model", _dir["s.gyre"], "--onnx", _dir["s.onnx"]], "a stateful forecaster (--stateful)");
    }

    [Fact]
    public void Bad_stateful_combinations_get_one_line()
    {
        string data = _dir.Daily("daily.csv", 240);
        string[] Train(params string[] extra) => ["forecast", "train", "--data", data, "--target", "y", "--lookback", "14", "--horizon", "5", "--out", _dir["m.gyre"], .. extra];
        _dir.Fails(Train("--chunk", "8"), "--chunk", "give --stateful too");
        _dir.Fails(Train("--stateful", "--norm", "revin"), "--stateful", "revin");
        _dir.Fails(Train("--stateful", "--decoder", "pmf"), "--stateful", "--decoder pmf");
        _dir.Fails(Train("--stateful", "--loss", "gaussian"), "--stateful takes a point or quantile loss");
    }
}
