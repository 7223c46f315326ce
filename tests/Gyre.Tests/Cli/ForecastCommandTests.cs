using Xunit;
using System.Globalization;
using System.Text.Json;
using Gyre.Forecasting;

namespace Gyre.Tests.Cli;

/// <summary>Behavioural tests of `gyre forecast` and its subcommands, run in-process through Cli.Run.</summary>
public sealed class ForecastCommandTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    // Small and fast: weekly season, two epochs, a tiny network.
    private static readonly string[] Small = ["--lookback", "14", "--horizon", "7", "--hidden", "8", "--epochs", "2", "--seed", "3"];

    private string TrainSmall(string model, params string[] extra)
    {
        string data = _dir.Daily("daily.csv");
        _dir.Ok(["forecast", "train", "--data", data, .. Small, "--out", _dir[model], .. extra]);
        Assert.True(File.Exists(_dir[model]));
        return data;
    }

    private static float[] Column(string path, string name)
    {
        var (header, rows) = CliFolder.ReadCsv(path);
        int j = Array.IndexOf(header, name);
        Assert.True(j >= 0, $"no column '{name}' in [{string.Join(", ", header)}]");
        return rows.Select(r => float.Parse(r[j], CultureInfo.InvariantCulture)).ToArray();
    }

    [Fact]
    public void Bundled_job_writes_model_csv_and_png()
    {
        string outDir = _dir["out"];
        var r = _dir.Ok("forecast", "--epochs", "2", "--out-dir", outDir);
        Assert.Contains("co2-concentration.csv", r.Out);
        Assert.Contains("MASE", r.Out);
        string model = Path.Combine(outDir, "co2.gyre"), csv = Path.Combine(outDir, "co2-forecast.csv"), png = Path.Combine(outDir, "co2-forecast.png");
        Assert.Equal(["co2-forecast.csv", "co2-forecast.png", "co2.gyre"], Directory.GetFiles(outDir).Select(f => Path.GetFileName(f)).Order().ToArray());
        var f = Forecaster.Load(model);
        Assert.Equal(2, f.History.Count);
        var (header, rows) = CliFolder.ReadCsv(csv);
        Assert.Equal(["time", "step", "series", "CO2"], header);
        Assert.Equal(12, rows.Length);                                  // the bundled horizon
        Assert.Equal(Enumerable.Range(1, 12).Select(i => i.ToString(CultureInfo.InvariantCulture)), rows.Select(x => x[1]));
        // The forecast starts the month after the last observation (2020-04 in the bundled file).
        Assert.Equal("2020-05-01", rows[0][0]);
        Assert.All(Column(csv, "CO2"), v => Assert.InRange(v, 300f, 500f));
        CliFolder.AssertPng(png);
    }

    [Fact]
    public void Bundled_job_json_prints_one_object_with_output_paths()
    {
        string outDir = _dir["out"];
        var r = _dir.Ok("forecast", "--epochs", "1", "--out-dir", outDir, "--json");
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(Path.Combine(outDir, "co2.gyre"), doc.RootElement.GetProperty("model").GetString());
        Assert.Equal(12, doc.RootElement.GetProperty("horizon").GetInt32());
        Assert.Contains("epoch 1/1", r.Err);                           // logs go to stderr under --json
    }

    [Fact]
    public void Train_then_predict_writes_horizon_rows_and_a_plot()
    {
        string data = TrainSmall("m.gyre");
        string csv = _dir["f.csv"], png = _dir["f.png"];
        var r = _dir.Ok("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--out", csv, "--plot", png);
        Assert.Contains("(7 rows)", r.Out);
        var (header, rows) = CliFolder.ReadCsv(csv);
        Assert.Equal(["time", "step", "series", "y", "x"], header);     // targets default to every numeric column
        Assert.Equal(7, rows.Length);
        Assert.Equal("2020-04-30", rows[0][0]);                         // 120 days from 2020-01-01, next day
        Assert.Equal("2020-05-06", rows[^1][0]);
        Assert.All(rows, row => Assert.Equal("daily", row[2]));
        Assert.All(Column(csv, "y"), v => Assert.True(float.IsFinite(v)));
        CliFolder.AssertPng(png);
        Assert.DoesNotContain(_dir.Files(), f => f.EndsWith(".tmp") || f.EndsWith(".ckpt"));
    }

    [Fact]
    public void Train_with_target_and_features_predicts_only_the_target()
    {
        string data = TrainSmall("m.gyre", "--target", "y", "--features", "x");
        _dir.Ok("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--out", _dir["f.csv"]);
        Assert.Equal(["time", "step", "series", "y"], CliFolder.ReadCsv(_dir["f.csv"]).Header);
    }

    [Fact]
    public void Eval_json_has_the_documented_keys()
    {
        string data = TrainSmall("m.gyre", "--target", "y");
        var r = _dir.Ok("forecast", "eval", "--model", _dir["m.gyre"], "--data", data, "--json");
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        var metrics = root.GetProperty("metrics");
        foreach (var key in new[] { "mse", "mae", "rmse", "mape", "smape", "mase" })
            Assert.True(metrics.GetProperty(key).GetDouble() >= 0, key);
        Assert.Equal(Math.Sqrt(metrics.GetProperty("mse").GetDouble()), metrics.GetProperty("rmse").GetDouble(), 6);
        var baselines = root.GetProperty("baselines");
        Assert.Equal(["naive", "seasonal_naive"], baselines.EnumerateObject().Select(p => p.Name).Order().ToArray());
        foreach (var b in baselines.EnumerateObject()) Assert.True(b.Value.GetProperty("mae").GetDouble() > 0, b.Name);
        Assert.Equal(7, root.GetProperty("horizon").GetInt32());
        Assert.Equal(14, root.GetProperty("lookback").GetInt32());
        // 120 rows, test = last 20% = 24 rows: 24 - 7 + 1 windows.
        Assert.Equal(18, root.GetProperty("test_windows").GetInt32());
    }

    [Fact]
    public void Eval_backtest_uses_k_origins_and_prints_a_table()
    {
        string data = TrainSmall("m.gyre", "--target", "y");
        var r = _dir.Ok("forecast", "eval", "--model", _dir["m.gyre"], "--data", data, "--backtest", "3", "--json");
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(3, doc.RootElement.GetProperty("test_windows").GetInt32());
        Assert.Equal("backtest", doc.RootElement.GetProperty("protocol").GetString());
        var table = _dir.Ok("forecast", "eval", "--model", _dir["m.gyre"], "--data", data, "--backtest", "3");
        Assert.Contains("backtest", table.Out);
        Assert.Contains("seasonal naive", table.Out);
    }

    [Fact]
    public void Inspect_shows_configuration_and_history()
    {
        TrainSmall("m.gyre", "--target", "y", "--loss", "quantile", "--quantiles", "0.1,0.5,0.9");
        var table = _dir.Ok("forecast", "inspect", "--model", _dir["m.gyre"]);
        Assert.Contains("lookback 14, horizon 7", table.Out);
        Assert.Contains("[0.1, 0.5, 0.9]", table.Out);                 // brackets are not Spectre markup
        Assert.Contains("training history", table.Out);
        var json = _dir.Ok("forecast", "inspect", "--model", _dir["m.gyre"], "--json");
        using var doc = JsonDocument.Parse(json.Out);
        var root = doc.RootElement;
        Assert.Equal(14, root.GetProperty("options").GetProperty("lookback").GetInt32());
        Assert.Equal("gru", root.GetProperty("options").GetProperty("cell").GetString());
        Assert.Equal(Forecaster.Load(_dir["m.gyre"]).Network.ParameterCount(), root.GetProperty("parameters").GetInt64());
        Assert.Equal(2, root.GetProperty("history").GetArrayLength());
        Assert.Equal(["y"], root.GetProperty("scaler").GetProperty("columns").EnumerateArray().Select(e => e.GetString()!).ToArray());
    }

    [Fact]
    public void Select_soup_prints_the_soup_and_a_bad_choice_is_one_line()
    {
        string data = _dir.Daily("daily.csv");
        var r = _dir.Ok(["forecast", "train", "--data", data, "--lookback", "14", "--horizon", "7", "--hidden", "8", "--epochs", "4", "--seed", "3",
            "--patience", "0", "--select", "soup", "--out", _dir["s.gyre"]]);
        Assert.Contains("--select soup", r.Out);
        Assert.Matches(@"greedy soup of epochs [0-9, ]+ restored \(val [0-9.]+; best single epoch [0-9]+: [0-9.]+\); tried in order of val: \+[0-9]+ → [0-9.]+ (kept|dropped)", r.Out);
        // The averaged weights are one ordinary model.
        _dir.Ok("forecast", "eval", "--model", _dir["s.gyre"], "--data", data);
        _dir.Fails(["forecast", "train", "--data", data, "--out", _dir["x.gyre"], "--select", "average"], "--select", "best, soup");
    }

    [Fact]
    public void Same_seed_gives_byte_identical_model_files()
    {
        TrainSmall("a.gyre");
        TrainSmall("b.gyre");
        string[] otherSeed = [.. Small[..^1], "4"];
        _dir.Ok(["forecast", "train", "--data", _dir["daily.csv"], .. otherSeed, "--out", _dir["c.gyre"]]);
        Assert.Equal(File.ReadAllBytes(_dir["a.gyre"]), File.ReadAllBytes(_dir["b.gyre"]));
        Assert.NotEqual(File.ReadAllBytes(_dir["a.gyre"]), File.ReadAllBytes(_dir["c.gyre"]));
    }

    [Fact]
    public void Resume_after_a_kill_ends_with_the_same_bytes_as_an_uninterrupted_run()
    {
        string data = _dir.Daily("daily.csv");
        string[] args = ["--lookback", "14", "--horizon", "7", "--hidden", "8", "--epochs", "4", "--seed", "5", "--patience", "0", "--dropout", "0.1", "--layers", "2"];
        _dir.Ok(["forecast", "train", "--data", data, .. args, "--out", _dir["full.gyre"]]);

        // The killed run: the same options through the library, dying after epoch 2's checkpoint.
        var options = new ForecastOptions { Lookback = 14, Horizon = 7, Hidden = 8, Epochs = 4, Seed = 5, Patience = 0, Dropout = 0.1f, Layers = 2, Norm = "last", ChannelIndependent = true };   // the CLI's defaults for two target columns
        string ckpt = _dir["resumed.gyre"] + ".ckpt";
        var kill = new InvalidOperationException("killed");
        var e = Assert.Throws<InvalidOperationException>(() =>
            Forecaster.Fit(data, options, r => { if (r.Epoch == 2) throw kill; }, ckpt));
        Assert.Same(kill, e);
        Assert.True(File.Exists(ckpt));
        Assert.False(File.Exists(_dir["resumed.gyre"]));

        var resumed = _dir.Ok(["forecast", "train", "--data", data, .. args, "--out", _dir["resumed.gyre"], "--resume"]);
        Assert.Contains("epoch 3/4", resumed.Out);
        Assert.DoesNotContain("epoch 1/4", resumed.Out);                // it continued, not restarted
        Assert.False(File.Exists(ckpt));                                // removed once the model is written
        Assert.Equal(File.ReadAllBytes(_dir["full.gyre"]), File.ReadAllBytes(_dir["resumed.gyre"]));
    }

    /// <summary>
    /// A preset is a starting point that explicit options override; the run states the preset's values, the season
    /// and why, and `--instance-norm` is `--norm revin`.
    /// </summary>
    [Fact]
    public void Preset_norm_and_data_chosen_defaults_are_stated()
    {
        string data = _dir.Daily("daily.csv", rows: 200);
        var r = _dir.Ok("forecast", "train", "--data", data, "--target", "y", "--horizon", "7", "--preset", "segrnn", "--hidden", "8",
            "--patch", "7", "--epochs", "1", "--batch", "16", "--out", _dir["p.gyre"]);
        Assert.Contains("--preset segrnn", r.Out);
        Assert.Contains("--decoder pmf", r.Out);
        Assert.Contains("--norm last", r.Out);
        Assert.Contains("--lookback 14 (twice the horizon 7)", r.Out);         // lookback left out: chosen from the data
        Assert.Contains("season 7: daily data with a weekly cycle", r.Out);
        var f = Forecaster.Load(_dir["p.gyre"]);
        Assert.Equal((8, 7, "pmf", "last", 14), (f.Options.Hidden, f.Options.Patch, f.Options.Decoder, f.Options.Normalization, f.Options.Lookback));
        Assert.True(f.Options.SharedDecoder);                               // one GRU encodes and decodes, as SegRNN
        Assert.Contains("--shared-decoder on", r.Out);
        // Trained as SegRNN's runs: whole-window batches, Adam without decay or clipping, their schedule.
        Assert.Contains("--whole-windows on", r.Out);
        Assert.Contains("--weight-decay 0, --betas 0.95,0.999, --clip off, --schedule exponential(gamma=0.8,hold=4,warmup=1,start=0.04)", r.Out);
        Assert.Equal((0f, 0f, true), (f.Options.WeightDecay, f.Options.ClipNorm, f.Options.WholeWindows));
        // Their never-stepped one-cycle scheduler leaves Adam's β1 at its maximum momentum, 0.95.
        Assert.Equal((0.95f, 0.999f), (f.Options.Beta1, f.Options.Beta2));
        // --betas beside the preset overrides it; a malformed pair is one line naming the option, exit 2, no model.
        _dir.Ok("forecast", "train", "--data", data, "--target", "y", "--horizon", "7", "--preset", "segrnn", "--hidden", "8",
            "--patch", "7", "--epochs", "1", "--batch", "16", "--betas", "0.8, 0.99", "--out", _dir["b.gyre"]);
        Assert.Equal((0.8f, 0.99f), (Forecaster.Load(_dir["b.gyre"]).Options.Beta1, Forecaster.Load(_dir["b.gyre"]).Options.Beta2));
        foreach (var bad in new[] { "0.9", "0.9,1", "a,0.999", "0.9,0.99,0.9" })
            _dir.Fails(["forecast", "train", "--data", data, "--target", "y", "--horizon", "7", "--betas", bad, "--out", _dir["bad.gyre"]], "--betas", bad);
        // An option beside the preset that rules sharing out gives the decoder weights of its own instead of an error.
        _dir.Ok("forecast", "train", "--data", data, "--target", "y", "--horizon", "7", "--preset", "segrnn", "--hidden", "8",
            "--patch", "7", "--layers", "2", "--epochs", "1", "--batch", "16", "--out", _dir["p2.gyre"]);
        Assert.False(Forecaster.Load(_dir["p2.gyre"]).Options.SharedDecoder);

        var revin = _dir.Ok("forecast", "train", "--data", data, "--target", "y", "--lookback", "14", "--horizon", "7", "--instance-norm",
            "--hidden", "8", "--epochs", "1", "--out", _dir["r.gyre"]);
        Assert.Contains("--norm revin", revin.Out);
        Assert.Equal("revin", Forecaster.Load(_dir["r.gyre"]).Options.Normalization);
        Assert.Equal(2, _dir.Run("forecast", "train", "--data", data, "--preset", "informer", "--out", _dir["x.gyre"]).Code);
        Assert.Equal(2, _dir.Run("forecast", "train", "--data", data, "--norm", "mean", "--out", _dir["x.gyre"]).Code);
    }

    [Fact]
    public void Gaussian_loss_writes_interval_columns_and_plots_its_bands()
    {
        string data = TrainSmall("g.gyre", "--target", "y", "--loss", "gaussian", "--samples", "50");
        _dir.Ok("forecast", "predict", "--model", _dir["g.gyre"], "--data", data, "--out", _dir["g.csv"], "--plot", _dir["g.png"]);
        var (header, rows) = CliFolder.ReadCsv(_dir["g.csv"]);
        Assert.Equal(["time", "step", "series", "y", "y_q0.05", "y_q0.25", "y_q0.5", "y_q0.75", "y_q0.95"], header);
        Assert.Equal(7, rows.Length);
        Assert.True(new FileInfo(_dir["g.png"]).Length > 1000);
        var eval = _dir.Ok("forecast", "eval", "--model", _dir["g.gyre"], "--data", data);
        Assert.Contains("CRPS", eval.Out);
        // Sample paths: the first --paths of the --samples draws, after the quantiles; the same paths in the JSON rows.
        var withPaths = _dir.Ok("forecast", "predict", "--model", _dir["g.gyre"], "--data", data, "--out", _dir["p.csv"], "--paths", "2", "--json");
        Assert.Contains("sample paths: gaussian copula over the 7 steps", withPaths.Err);
        (header, rows) = CliFolder.ReadCsv(_dir["p.csv"]);
        Assert.Equal(["time", "step", "series", "y", "y_q0.05", "y_q0.25", "y_q0.5", "y_q0.75", "y_q0.95", "y_path1", "y_path2"], header);
        using var doc = JsonDocument.Parse(withPaths.Out);
        var first = doc.RootElement.GetProperty("rows")[0].GetProperty("paths").GetProperty("y");
        Assert.Equal(2, first.GetArrayLength());
        Assert.Equal(float.Parse(rows[0][9], CultureInfo.InvariantCulture), first[0].GetSingle());
        var independent = _dir.Ok("forecast", "predict", "--model", _dir["g.gyre"], "--data", data, "--out", _dir["i.csv"], "--paths", "1", "--sampling", "independent");
        Assert.DoesNotContain("copula", independent.Out);
        var tooMany = _dir.Run("forecast", "predict", "--model", _dir["g.gyre"], "--data", data, "--out", _dir["x.csv"], "--paths", "51");
        Assert.Equal(2, tooMany.Code);
        Assert.Contains("--paths must be between 0 and --samples (50)", tooMany.Err);
        Assert.False(File.Exists(_dir["x.csv"]));
    }

    [Fact]
    public void Quantile_loss_writes_quantile_columns()
    {
        string data = TrainSmall("q.gyre", "--target", "y", "--loss", "quantile", "--quantiles", "0.1,0.5,0.9");
        _dir.Ok("forecast", "predict", "--model", _dir["q.gyre"], "--data", data, "--out", _dir["q.csv"], "--plot", _dir["q.png"]);
        var (header, rows) = CliFolder.ReadCsv(_dir["q.csv"]);
        Assert.Equal(["time", "step", "series", "y", "y_q0.1", "y_q0.5", "y_q0.9"], header);
        Assert.Equal(7, rows.Length);
        var paths = _dir.Run("forecast", "predict", "--model", _dir["q.gyre"], "--data", data, "--out", _dir["x.csv"], "--paths", "3");
        Assert.Equal(2, paths.Code);
        Assert.Contains("--paths needs a distribution model", paths.Err);
        Assert.Equal(Column(_dir["q.csv"], "y_q0.5"), Column(_dir["q.csv"], "y"));   // the point forecast is the median
        CliFolder.AssertPng(_dir["q.png"]);
        var eval = _dir.Ok("forecast", "eval", "--model", _dir["q.gyre"], "--data", data, "--json");
        using var doc = JsonDocument.Parse(eval.Out);
        Assert.InRange(doc.RootElement.GetProperty("metrics").GetProperty("coverage").GetDouble(), 0, 1);
    }

    [Fact]
    public void Long_format_with_two_series_forecasts_each()
    {
        string a = File.ReadAllText(_dir.Daily("a.csv", 100, id: "A"));
        string b = File.ReadAllText(_dir.Daily("b.csv", 90, id: "B", offset: 20));
        string data = _dir.Write("long.csv", a + string.Join('\n', b.Split('\n').Skip(1)));
        _dir.Ok(["forecast", "train", "--data", data, "--id-col", "id", "--target", "y", .. Small, "--out", _dir["m.gyre"]]);
        _dir.Ok("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--out", _dir["f.csv"]);
        var (header, rows) = CliFolder.ReadCsv(_dir["f.csv"]);
        Assert.Equal(["time", "step", "series", "y"], header);
        Assert.Equal(14, rows.Length);
        Assert.Equal(7, rows.Count(r => r[2] == "A"));
        Assert.Equal(7, rows.Count(r => r[2] == "B"));
        Assert.Equal("2020-04-10", rows.First(r => r[2] == "A")[0]);   // each series continues from its own end
        Assert.Equal("2020-03-31", rows.First(r => r[2] == "B")[0]);
        Assert.Equal("id", Forecaster.Load(_dir["m.gyre"]).DataInfo.IdColumn);
    }

    [Theory]
    [InlineData("--channel-independent")]
    [InlineData("--patch", "7")]
    [InlineData("--decoder", "recurrent")]
    [InlineData("--cell", "lstm")]
    [InlineData("--cell", "paragru")]
    [InlineData("--cell", "paralstm")]
    [InlineData("--cell", "mingru")]
    [InlineData("--cell", "minlstm")]
    [InlineData("--cell", "gla")]
    [InlineData("--cell", "gla(heads=2)")]
    [InlineData("--cell", "lssl")]
    [InlineData("--instance-norm", "--layers", "2", "--loss", "huber", "--schedule", "plateau")]
    public void Model_variants_train_and_predict(params string[] variant)
    {
        string data = TrainSmall("m.gyre", ["--target", "y,x", .. variant]);
        _dir.Ok("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--out", _dir["f.csv"]);
        var (header, rows) = CliFolder.ReadCsv(_dir["f.csv"]);
        Assert.Equal(["time", "step", "series", "y", "x"], header);
        Assert.Equal(7, rows.Length);
        Assert.All(Column(_dir["f.csv"], "y").Concat(Column(_dir["f.csv"], "x")), v => Assert.True(float.IsFinite(v)));
        var o = Forecaster.Load(_dir["m.gyre"]).Options;
        if (variant[0] == "--channel-independent") Assert.True(o.ChannelIndependent);
        if (variant[0] == "--patch") Assert.Equal(7, o.Patch);
        if (variant[0] == "--decoder") Assert.Equal("recurrent", o.Decoder);
        if (variant[0] == "--cell") Assert.Equal(variant[1], o.Cell);
        var json = _dir.Ok("forecast", "eval", "--model", _dir["m.gyre"], "--data", data, "--json");
        using var doc = JsonDocument.Parse(json.Out);
        Assert.True(double.IsFinite(doc.RootElement.GetProperty("metrics").GetProperty("mae").GetDouble()));
    }

    [Theory]
    [InlineData("paragru")]
    [InlineData("mingru")]
    public void Models_of_cells_without_a_dense_recurrent_weight_load_at_a_large_hidden_size(string cell)
    {
        // The file-size guard counts weight_hh as the cell shapes it (per-unit: G·H, none: 0), not as G·H·H.
        string data = _dir.Daily("daily.csv");
        _dir.Ok("forecast", "train", "--data", data, "--lookback", "14", "--horizon", "7", "--hidden", "256", "--epochs", "1",
            "--cell", cell, "--out", _dir["big.gyre"]);
        _dir.Ok("forecast", "predict", "--model", _dir["big.gyre"], "--data", data, "--out", _dir["big.csv"]);
        Assert.Equal(cell, Forecaster.Load(_dir["big.gyre"]).Options.Cell);
    }

    /// <summary>Trains <paramref name="cell"/> with --scan parallel, predicts with both modes: the forecasts agree to
    /// rounding. Returns the data file.</summary>
    string ParallelPredictionIsTheLoops(string cell)
    {
        string data = TrainSmall(cell + ".gyre", "--cell", cell, "--scan", "parallel");
        _dir.Ok("forecast", "predict", "--model", _dir[cell + ".gyre"], "--data", data, "--out", _dir[cell + "p.csv"], "--scan", "parallel");
        _dir.Ok("forecast", "predict", "--model", _dir[cell + ".gyre"], "--data", data, "--out", _dir[cell + "s.csv"], "--scan", "sequential");
        var p = Column(_dir[cell + "p.csv"], "y"); var s = Column(_dir[cell + "s.csv"], "y");
        Assert.Equal(s.Length, p.Length);
        for (int k = 0; k < s.Length; k++) Assert.Equal(s[k], p[k], 1e-4f);
        return data;
    }

    // ParaLSTM's Newton path (2×2 Jacobian blocks) in training and prediction.
    [Fact]
    public void Paralstm_trains_and_predicts_by_newton_with_2x2_blocks() => ParallelPredictionIsTheLoops("paralstm");

    // GLA and LSSL through the runner's state scan in training and prediction.
    [Theory]
    [InlineData("gla(heads=2)")]
    [InlineData("lssl")]
    public void Linear_state_cells_train_and_predict_by_the_state_scan(string cell) => ParallelPredictionIsTheLoops(cell);

    [Fact]
    public void Scan_option_runs_every_step_of_a_job_and_bad_values_are_one_line()
    {
        // minGRU trained and used through its parallel scan; the forecast is the loop's to rounding.
        string data = ParallelPredictionIsTheLoops("mingru");
        // A cell without a parallel form runs its loop under --scan parallel (documented in the option's help).
        TrainSmall("g.gyre", "--cell", "gru", "--scan", "parallel");
        _dir.Fails(["forecast", "train", "--data", data, "--out", _dir["x.gyre"], "--scan", "fast"], "--scan", "sequential, parallel or auto");
        Assert.Contains("--scan", _dir.Ok("forecast", "train", "--help").Out);
        Assert.Contains("--scan", _dir.Ok("classify", "train", "--help").Out);
    }

    [Fact]
    public void Version_and_help_exit_zero()
    {
        Assert.Matches(@"^\d+\.\d+", _dir.Ok("--version").Out);
        Assert.Contains("--out-dir", _dir.Ok("forecast", "--help").Out);
    }
}
