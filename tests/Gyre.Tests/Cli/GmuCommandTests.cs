using System.Globalization;
using System.Text;
using System.Text.Json;
using Gyre.Forecasting;
using Gyre.Trajectories;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>Every job with gated memory units: classify trains on the bundled GunPoint data; forecast, detect and
/// trajectory train two epochs with --gmu, save, load and give the same outputs; each shows the options in --help
/// and rejects bad values with one line.</summary>
public sealed class GmuCommandTests : IDisposable
{
    private readonly CliFolder _dir = new();
    public void Dispose() => _dir.Dispose();

    private static string GunPoint => Path.Combine(AppContext.BaseDirectory, "Fixtures", "Data", "classification", "GunPoint_TRAIN.ts");

    [Fact]
    public void Classify_train_with_gmu_runs_on_the_bundled_data()
    {
        _dir.Ok(["classify", "train", "--data", GunPoint, "--out", _dir["g.gyre"], "--layers", "2", "--gmu", "1", "--gmu-memory", "0",
            "--hidden", "8", "--epochs", "1", "--augment", "0", "--no-baselines", "--normalize", "global"]);
        var inspect = _dir.Ok("classify", "inspect", "--model", _dir["g.gyre"]).Out;
        Assert.Contains("1 GMU (memory: layer 0)", inspect);
        // Served, the stream steps: the GMUs read only each new step's outputs, so the recurrent states are all it keeps.
        var served = new Gyre.Serve.ClassifyModel("g", _dir["g.gyre"], 1000);
        Assert.Equal("state", served.StreamKind);
        Assert.Contains("gated memory units", served.StreamDescription);
        foreach (var help in new[] { _dir.Run("classify", "train", "--help").Out, _dir.Run("classify", "--help").Out })
        {
            Assert.Contains("--gmu ", help); Assert.Contains("--gmu-memory", help);
        }
    }

    [Fact]
    public void Bad_gmu_values_get_one_line()
    {
        string[] Train(params string[] extra) => ["classify", "train", "--data", GunPoint, "--out", _dir["m.gyre"], "--epochs", "1", .. extra];
        _dir.Fails(Train("--gmu", "-1"), "--gmu must be in 0..64, got -1");
        _dir.Fails(Train("--gmu-memory", "0"), "--gmu-memory 0 needs --gmu 1 or more");
        _dir.Fails(Train("--gmu", "1", "--layers", "2", "--gmu-memory", "2"), "--gmu-memory must name a recurrent layer in 0..1");
    }

    private static string Bundled(string name) => Path.Combine(AppContext.BaseDirectory, "Data", name);

    [Fact]
    public void Forecast_train_with_gmu_saves_loads_and_evaluates_the_same()
    {
        string data = _dir.Daily("daily.csv");
        var train = _dir.Ok("forecast", "train", "--data", data, "--lookback", "14", "--horizon", "7", "--hidden", "8", "--epochs", "2", "--seed", "3",
            "--layers", "2", "--gmu", "2", "--gmu-memory", "0", "--out", _dir["f.gyre"], "--json");
        var f = Forecaster.Load(_dir["f.gyre"]);
        Assert.Equal((2, 0), (f.Options.Gmu, f.Options.GmuMemory));
        Assert.Equal(2, f.Network.EncoderStack.MemoryUnits.Count);
        Assert.Equal(0, f.Network.EncoderStack.MemoryLayer);
        var eval = _dir.Ok("forecast", "eval", "--model", _dir["f.gyre"], "--data", data, "--json");
        using var a = JsonDocument.Parse(train.Out);
        using var b = JsonDocument.Parse(eval.Out);
        foreach (var metric in new[] { "mae", "mse", "mase" })
            Assert.Equal(a.RootElement.GetProperty("metrics").GetProperty(metric).GetDouble(), b.RootElement.GetProperty("metrics").GetProperty(metric).GetDouble());
        Assert.Contains("2 GMU (memory: layer 0)", _dir.Ok("forecast", "inspect", "--model", _dir["f.gyre"]).Out);
        // The ONNX graph carries the GMUs: export succeeds (ONNX Runtime parity is held by the forecaster's ORT tests).
        _dir.Ok("export", "--model", _dir["f.gyre"], "--onnx", _dir["f.onnx"]);
    }

    [Theory]
    [InlineData("forecast", false)]
    [InlineData("reconstruction", false)]
    [InlineData("forecast", true)]
    public void Detect_train_with_gmu_then_score_reproduces_the_run(string method, bool bidirectional)
    {
        string data = _dir.Write("s.csv", HourlySeries(300));
        string[] common = ["--method", method, "--window", "12", "--hidden", "8", "--epochs", "2", "--train-fraction", "0.5",
            "--layers", "2", "--gmu", "1", "--gmu-memory", "0", .. bidirectional ? new[] { "--bidirectional" } : []];
        _dir.Ok(["detect", "run", "--data", data, .. common, "--out", _dir["run.csv"]]);
        _dir.Ok(["detect", "train", "--data", data, .. common, "--out", _dir["m.gyre"]]);
        _dir.Ok("detect", "score", "--model", _dir["m.gyre"], "--data", data, "--out", _dir["score.csv"]);
        var run = CliFolder.ReadCsv(_dir["run.csv"]).Rows;
        var score = CliFolder.ReadCsv(_dir["score.csv"]).Rows;
        Assert.Equal(run.Select(x => x[2]), score.Select(x => x[2]));   // same scores, bit for bit
        var settings = Gyre.Anomaly.DetectorFile.Load(_dir["m.gyre"]).Settings;
        Assert.Equal((2, 1, 0, bidirectional), (settings.StackLayers, settings.Gmu, settings.GmuMemory, settings.Bidirectional));
        var model = (Gyre.Anomaly.LearnedScorer)Gyre.Anomaly.DetectorFile.Load(_dir["m.gyre"]).Scorer;
        Assert.Contains(model.Model.NamedParameters(), p => p.Name == "encoder.gmu0.weight");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Trajectory_bundled_run_with_gmu_predicts_the_same_from_its_saved_model(bool bidirectional)
    {
        string outDir = _dir["out"];
        _dir.Ok(["trajectory", "--epochs", "2", "--hidden", "8", "--samples", "2", "--layers", "2", "--gmu", "1", "--gmu-memory", "0", "--out-dir", outDir, "--json",
            .. bidirectional ? new[] { "--bidirectional" } : []]);
        string model = Path.Combine(outDir, "trajectory.gyre");
        var p = TrajectoryPredictor.Load(model);
        Assert.Equal((2, 1, 0, bidirectional), (p.Options.Layers, p.Options.Gmu, p.Options.GmuMemory, p.Options.Bidirectional));
        Assert.Equal(bidirectional ? 2 : 1, p.Network.Encoder.Directions);
        Assert.Single(p.Network.Encoder.MemoryUnits);
        _dir.Ok("trajectory", "predict", "--model", model, "--data", Bundled("crowds_zara01.txt"), "--samples", "2", "--out", _dir["p.csv"]);
        Assert.Equal(File.ReadAllText(Path.Combine(outDir, "zara01-predictions.csv")), File.ReadAllText(_dir["p.csv"]));
        Assert.Contains("1 GMU (memory: layer 0)", _dir.Ok("inspect", "--model", model).Out);
    }

    [Fact]
    public void Every_job_lists_the_gmu_options_in_its_help()
    {
        foreach (var cmd in new[] { new[] { "forecast" }, ["forecast", "train"], ["detect"], ["detect", "run"], ["detect", "train"], ["trajectory"], ["trajectory", "train"] })
        {
            var help = _dir.Run([.. cmd, "--help"]).Out;
            Assert.Contains("--gmu ", help);
            Assert.Contains("--gmu-memory", help);
            Assert.Contains("--layers", help);
            if (cmd[0] != "forecast") Assert.Contains("--bidirectional", help);
        }
    }

    [Fact]
    public void Bad_gmu_values_get_one_line_in_every_job()
    {
        string daily = _dir.Daily("daily.csv"), hourly = _dir.Write("h.csv", HourlySeries(200));
        string[][] jobs =
        [
            ["forecast", "train", "--data", daily, "--lookback", "14", "--horizon", "7", "--epochs", "1", "--out", _dir["f.gyre"]],
            ["detect", "train", "--data", hourly, "--method", "forecast", "--epochs", "1", "--out", _dir["d.gyre"]],
            ["trajectory", "train", "--data", Bundled("students001.txt"), "--epochs", "1", "--out", _dir["t.gyre"]],
        ];
        foreach (var job in jobs)
        {
            _dir.Fails([.. job, "--gmu", "65"], "--gmu must be");
            _dir.Fails([.. job, "--gmu-memory", "0"], "--gmu-memory 0 needs --gmu 1 or more");
            _dir.Fails([.. job, "--gmu", "1", "--layers", "2", "--gmu-memory", "2"], "--gmu-memory must name a recurrent layer in 0..1");
        }
        _dir.Fails(["detect", "train", "--data", hourly, "--method", "reconstruction", "--epochs", "1", "--out", _dir["d.gyre"], "--bidirectional"],
            "--bidirectional applies to --method forecast, not reconstruction");
    }

    /// <summary>An hourly "timestamp,value" series: a daily sine with small deterministic noise.</summary>
    private static string HourlySeries(int rows)
    {
        var sb = new StringBuilder("timestamp,value\n");
        var start = new DateTime(2021, 3, 1);
        for (int t = 0; t < rows; t++)
        {
            double v = 10 + 3 * Math.Sin(2 * Math.PI * t / 24) + 0.1 * Math.Sin(t * 12.9898) * Math.Cos(t * 4.1414);
            sb.Append(CultureInfo.InvariantCulture, $"{start.AddHours(t):yyyy-MM-dd HH:mm:ss},{v:F4}\n");
        }
        return sb.ToString();
    }
}
