using Gyre.Data;
using Gyre.Forecasting;
using Xunit;

namespace Gyre.Tests.Forecasting;

/// <summary>Behaviour of the user-facing forecaster: fit, predict, evaluate, save/load, resume, determinism.</summary>
public class ForecasterTests : IDisposable
{
    internal static string Bundled(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "Data", name);

    internal static ForecastOptions Small(int epochs = 3) => new()
    {
        Lookback = 24, Horizon = 6, Hidden = 16, Epochs = epochs, Batch = 16, Seed = 3, LearningRate = 5e-3f,
    };

    // One folder per test (xUnit makes an instance per test), removed whatever the test's outcome.
    private readonly string _dir = Directory.CreateTempSubdirectory("gyre-fc").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Temp(string name) => Path.Combine(_dir, name);

    [Fact]
    public void FitsPredictsAndEvaluates()
    {
        var f = Forecaster.Fit(Bundled("AirPassengers.csv"), Small());
        Assert.Equal(3, f.History.Count);
        var data = f.LoadData(Bundled("AirPassengers.csv"));
        var table = f.Predict(data);
        Assert.Equal(6, table.Rows.Count);
        Assert.Equal(new DateTime(1961, 1, 1), table.Rows[0].Time);
        Assert.Equal(new DateTime(1961, 6, 1), table.Rows[5].Time);
        Assert.All(table.Rows, r => Assert.True(float.IsFinite(r.Values[0]) && r.Values[0] > 0));
        var report = f.Evaluate(data);
        Assert.Equal(12, report.Season);
        // 144 rows, split 0.7/0.1/0.2: test rows [114, 144) → 30 − 6 + 1 windows.
        Assert.Equal(25, report.TestWindows);
        Assert.True(report.Metrics.Mase > 0 && double.IsFinite(report.Metrics.Rmse));
        Assert.Equal(Math.Sqrt(report.Metrics.Mse), report.Metrics.Rmse, 9);
        var bt = f.Backtest(data, 3);
        Assert.Equal(3, bt.TestWindows);
    }

    [Fact]
    public void SaveLoadGivesIdenticalForecasts()
    {
        var f = Forecaster.Fit(Bundled("AirPassengers.csv"), Small() with { Cell = "lstm", Decoder = "recurrent", Loss = "quantile", Quantiles = [0.1f, 0.5f, 0.9f] });
        string path = Temp("m.gyre");
        f.Save(path);
        var g = Forecaster.Load(path);
        var data = f.LoadData(Bundled("AirPassengers.csv"));
        var a = f.Predict(data); var b = g.Predict(g.LoadData(Bundled("AirPassengers.csv")));
        Assert.Equal(a.Rows.Select(r => r.Values[0]), b.Rows.Select(r => r.Values[0]));
        Assert.Equal(a.Rows.SelectMany(r => r.Quantiles[0]), b.Rows.SelectMany(r => r.Quantiles[0]));
        Assert.All(a.Rows, r => Assert.True(r.Quantiles[0][0] <= r.Quantiles[0][2] + 1e-3f));
        Assert.Equal(f.History.Select(e => e with { Seconds = 0 }), g.History);   // timings stay out of the file (same seed, same bytes)
        var report = g.Evaluate(data);
        Assert.NotNull(report.Metrics.Coverage);
        Assert.NotNull(report.Metrics.Crps);
    }

    [Fact]
    public void SameSeedSameBits()
    {
        var o = Small() with { Dropout = 0.2f, Layers = 2 };
        var a = Forecaster.Fit(Bundled("AirPassengers.csv"), o);
        var b = Forecaster.Fit(Bundled("AirPassengers.csv"), o);
        Assert.Equal(a.Network.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()),
            b.Network.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()));
        var c = Forecaster.Fit(Bundled("AirPassengers.csv"), o with { Seed = 4 });
        Assert.NotEqual(a.Network.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()),
            c.Network.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()));
    }

    [Fact]
    public void ResumeAfterAKillEndsBitIdentical()
    {
        var o = Small(epochs: 6) with { Dropout = 0.1f, Layers = 2, Schedule = "plateau" };
        var full = Forecaster.Fit(Bundled("AirPassengers.csv"), o);

        string ckpt = Temp("ckpt.safetensors");
        using var cts = new CancellationTokenSource();
        // "Kill" the run after its third epoch's checkpoint is written.
        Assert.Throws<OperationCanceledException>(() => Forecaster.Fit(Bundled("AirPassengers.csv"), o,
            e => { if (e.Epoch == 3) cts.Cancel(); }, ckpt, cancel: cts.Token));
        var resumed = Forecaster.Fit(Bundled("AirPassengers.csv"), o, null, ckpt, resume: true);
        Assert.Equal(full.Network.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()),
            resumed.Network.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()));
        Assert.Equal(full.History.Select(h => h.TrainLoss), resumed.History.Select(h => h.TrainLoss));
    }

    [Fact]
    public void PatchingChannelIndependenceAndInstanceNormRun()
    {
        var f = Forecaster.Fit(Bundled("co2-concentration.csv"), Small() with { Patch = 6, ChannelIndependent = true, InstanceNorm = true, Targets = ["all"] });
        var table = f.Predict(f.LoadData(Bundled("co2-concentration.csv")));
        Assert.Equal(2, table.Targets.Length);
        Assert.Equal(6, table.Rows.Count);
        Assert.All(table.Rows, r => Assert.InRange(r.Values[1], 380f, 450f));
    }

    /// <summary>A run stopped after 2 epochs by an epoch limit and resumed to 5 is the uninterrupted 5-epoch run, bit for bit (the tuner's warm start).</summary>
    [Fact]
    public void AnEpochLimitStopsARunThatResumesAsIfUninterrupted()
    {
        var o = Small(epochs: 5) with { Dropout = 0.2f, Layers = 2 };
        string data = Bundled("AirPassengers.csv"), ckpt = Temp("run.ckpt");
        var first = Forecaster.Fit(data, o, checkpointPath: ckpt, resume: true, epochLimit: 2);
        Assert.Equal(2, first.History.Count);
        var resumed = Forecaster.Fit(data, o, checkpointPath: ckpt, resume: true, epochLimit: 5);
        var full = Forecaster.Fit(data, o);
        Assert.Equal(5, resumed.History.Count);
        resumed.Save(Temp("resumed.gyre")); full.Save(Temp("full.gyre"));
        Assert.Equal(File.ReadAllBytes(Temp("full.gyre")), File.ReadAllBytes(Temp("resumed.gyre")));
        Assert.Equal(full.History[1].LearningRate, first.History[1].LearningRate);   // the limit keeps the 5-epoch schedule
    }

    /// <summary>A test prefix takes the first k windows of every channel; all of them is the whole test split.</summary>
    [Fact]
    public void TestPrefixScoresTheFirstWindowsOfEachChannel()
    {
        var f = Forecaster.Fit(Bundled("co2-concentration.csv"), Small(epochs: 1) with { ChannelIndependent = true, Targets = ["all"] });
        var data = f.LoadData(Bundled("co2-concentration.csv"));
        var all = f.Evaluate(data, rawScale: false);
        int perChannel = all.TestWindows / 2;
        Assert.Equal(all.Metrics.Mse, f.EvaluateTestPrefix(data, perChannel, rawScale: false).Metrics.Mse, 12);
        var first = f.EvaluateTestPrefix(data, 5, rawScale: false);
        Assert.Equal(10, first.TestWindows);
        Assert.NotEqual(all.Metrics.Mse, first.Metrics.Mse);
    }

    /// <summary>
    /// Whole-window batches: an example is one time window with all its channels, so there are C times fewer examples,
    /// each group holds channels 0..C−1 of one origin, and a batch of B trains on B·C rows.
    /// </summary>
    [Fact]
    public void WholeWindowsBatchEveryChannelOfAWindowTogether()
    {
        var o = Small(epochs: 1) with { Patch = 6, ChannelIndependent = true, Targets = ["all"], Batch = 8 };
        string path = Bundled("co2-concentration.csv");
        var rows = Forecaster.Create(path, o);
        var perRow = new ForecastTask(rows, rows.LoadData(path));
        var whole = Forecaster.Create(path, o with { WholeWindows = true });
        var data = whole.LoadData(path);
        var perWindow = new ForecastTask(whole, data);
        Assert.Equal(perRow.TrainCount, 2 * perWindow.TrainCount);

        var view = whole.ModelView(data);
        var train = Gyre.Data.WindowSet.Create(view, Gyre.Data.SplitSpec.Parse(o.Split).For(view), Gyre.Data.SplitPart.Train, o.Lookback, o.Horizon);
        var groups = ForecastTask.GroupByWindow(train, 2);
        Assert.Equal(train.Count, groups.Length);
        Assert.Equal(Enumerable.Range(0, train.Count), groups.Order());              // every row in exactly one group
        for (int g = 0; g < groups.Length / 2; g++)
        {
            var (a, b) = (train[groups[2 * g]], train[groups[2 * g + 1]]);
            Assert.Equal(a.Origin, b.Origin);
            Assert.Equal((0, 1), (view.Series[a.Series].SourceTarget, view.Series[b.Series].SourceTarget));
        }

        // One step on a batch of 3 windows fills 6 rows; the loss is finite and the model trains end to end.
        Assert.True(double.IsFinite(perWindow.TrainBatch([0, 5, 9])));
        var f = Forecaster.Fit(path, o with { WholeWindows = true });
        Assert.True(double.IsFinite(f.History[0].TrainLoss) && f.History[0].ValLoss is { } v && double.IsFinite(v));
    }

    /// <summary>The SegRNN preset's design on a small scale: pmf decoder, channel embeddings, last-value norm; save/load round trip.</summary>
    [Fact]
    public void PmfDecoderWithLastValueNormTrainsSavesAndLoads()
    {
        var o = ForecastPresets.Apply("segrnn", Small()) with { Hidden = 16, Patch = 6, Batch = 16, Epochs = 2, Targets = ["all"], LearningRate = 5e-3f };
        Assert.Equal("last", o.Normalization);
        var f = Forecaster.Fit(Bundled("co2-concentration.csv"), o);
        Assert.Equal(2, f.Network.Config.Channels);
        string path = Temp("pmf.gyre");
        f.Save(path);
        var g = Forecaster.Load(path);
        var data = f.LoadData(Bundled("co2-concentration.csv"));
        var a = f.Predict(data); var b = g.Predict(g.LoadData(Bundled("co2-concentration.csv")));
        Assert.Equal(a.Rows.SelectMany(r => r.Values), b.Rows.SelectMany(r => r.Values));
        Assert.All(a.Rows, r => Assert.InRange(r.Values[1], 380f, 450f));
        Assert.True(f.Evaluate(data).Metrics.Mase < 5);
    }

    /// <summary>With last-value normalisation a network that outputs zero forecasts the naive forecast: the level is carried by the norm.</summary>
    [Fact]
    public void LastValueNormOfAZeroNetworkIsTheNaiveForecast()
    {
        var f = Forecaster.Create(Bundled("AirPassengers.csv"), Small() with { Norm = "last" });
        foreach (var p in f.Network.Parameters()) p.Value.Span.Clear();
        var data = f.LoadData(Bundled("AirPassengers.csv"));
        var report = f.Evaluate(data);
        Assert.Equal(report.Baselines["naive"].Mse, report.Metrics.Mse, 3);
    }

    [Fact]
    public void ModelFilesWithoutANormKeepTheirInstanceNormSetting()
    {
        Assert.Equal("revin", new ForecastOptions { InstanceNorm = true }.Normalization);
        Assert.Equal("none", new ForecastOptions().Normalization);
        var o = System.Text.Json.JsonSerializer.Deserialize<ForecastOptions>("{\"InstanceNorm\":true}", Forecaster.Json)!;
        Assert.Equal("revin", o.Normalization);
        Assert.Throws<GyreDataException>(() => (Small() with { Norm = "mean" }).Validate());
    }

    /// <summary>A shared pmf decoder (one GRU for encoding and decoding) trains, and its model file reloads as the same network.</summary>
    [Fact]
    public void SharedPmfDecoderTrainsAndRoundTrips()
    {
        var f = Forecaster.Fit(Bundled("AirPassengers.csv"), Small(epochs: 2) with { Decoder = "pmf", SharedDecoder = true, Patch = 6, Norm = "last" });
        Assert.Null(f.Network.Decoder);
        string path = Temp("s.gyre");
        f.Save(path);
        var g = Forecaster.Load(path);
        Assert.True(g.Network.Config.SharedDecoder);
        var data = f.LoadData(Bundled("AirPassengers.csv"));
        Assert.Equal(f.Predict(data).Rows.Select(r => r.Values[0]), g.Predict(data).Rows.Select(r => r.Values[0]));
    }

    /// <summary>
    /// Distribution heads trained by NLL: the reported train and validation losses are NLLs in the scaler's space,
    /// the forecast table carries the 5/25/50/75/95 % quantiles in order, and evaluation reports coverage and CRPS.
    /// </summary>
    [Theory]
    [InlineData("gaussian", "last")]
    [InlineData("studentt", "revin")]
    public void DistributionHeadsGiveOrderedQuantilesAndCrps(string loss, string norm)
    {
        var f = Forecaster.Fit(Bundled("AirPassengers.csv"), Small(epochs: 4) with { Loss = loss, Norm = norm, Samples = 200 });
        Assert.Equal(loss == "gaussian" ? 2 : 3, f.Network.Config.QuantileCount);
        Assert.All(f.History, e => Assert.True(double.IsFinite(e.TrainLoss) && double.IsFinite(e.ValLoss!.Value)));
        var data = f.LoadData(Bundled("AirPassengers.csv"));
        var table = f.Predict(data);
        Assert.Equal(Forecaster.DistributionLevels, table.QuantileLevels);
        foreach (var row in table.Rows)
        {
            var q = row.Quantiles[0];
            for (int r = 1; r < q.Length; r++) Assert.True(q[r - 1] <= q[r], $"quantiles out of order: {string.Join(", ", q)}");
            Assert.InRange(row.Values[0], q[0], q[^1]);
        }
        var report = f.Evaluate(data);
        Assert.InRange(report.Metrics.Coverage!.Value, 0, 1);
        Assert.True(report.Metrics.Crps > 0 && report.Metrics.Crps < report.Metrics.Mae * 2);
        Assert.Equal(0.9, report.NominalCoverage!.Value, 5);
        // Same seed, same draws.
        Assert.Equal(table.Rows.SelectMany(r => r.Quantiles[0]), f.Predict(data).Rows.SelectMany(r => r.Quantiles[0]));
    }

    /// <summary>
    /// Sample paths of a gaussian model: the copula estimated on the validation windows couples the steps, so the
    /// paths' correlation between neighbouring steps follows it, while each step's quantiles (its marginal) agree with
    /// the independent draw's; the copula survives save and load; --paths keeps the first paths of the draw.
    /// </summary>
    [Fact]
    public void CopulaPathsKeepTheMarginalsAndFollowTheCorrelation()
    {
        var f = Forecaster.Fit(Bundled("AirPassengers.csv"), Small(epochs: 3) with { Loss = "gaussian", Samples = 6000, Split = "0.5,0.3,0.2" });
        var cop = Assert.IsType<HorizonCopula>(f.Copula);
        Assert.Equal(6, cop.Horizon);
        var data = f.LoadData(Bundled("AirPassengers.csv"));
        var coupled = f.Predict(data, null, PathSampling.Copula, paths: 6000);
        var independent = f.Predict(data, null, PathSampling.Independent, paths: 6000);
        for (int h = 0; h < 6; h++)
        {
            var a = coupled.Rows[h].Quantiles[0]; var b = independent.Rows[h].Quantiles[0];
            double spread = b[^1] - b[0];
            for (int r = 0; r < a.Length; r++) Assert.True(Math.Abs(a[r] - b[r]) < 0.05 * spread, $"step {h + 1} q{r}: {a[r]} vs {b[r]}");
        }
        static double Corr(ForecastTable t, int h)
        {
            var x = t.Rows[h].Paths![0]; var y = t.Rows[h + 1].Paths![0];
            double mx = x.Average(v => (double)v), my = y.Average(v => (double)v), sxy = 0, sx = 0, sy = 0;
            for (int i = 0; i < x.Length; i++) { sxy += (x[i] - mx) * (y[i] - my); sx += (x[i] - mx) * (x[i] - mx); sy += (y[i] - my) * (y[i] - my); }
            return sxy / Math.Sqrt(sx * sy);
        }
        for (int h = 0; h + 1 < 6; h++)
        {
            // y = μ + σ·z is linear in z: the paths' correlation is the copula's (sampling error ≈ 1/√6000).
            Assert.True(Math.Abs(Corr(coupled, h) - cop.Correlation(h, h + 1)) < 0.05, $"steps {h + 1},{h + 2}: {Corr(coupled, h)} vs {cop.Correlation(h, h + 1)}");
            Assert.True(Math.Abs(Corr(independent, h)) < 0.05);
        }
        string path = Temp("g.gyre");
        f.Save(path);
        var g = Forecaster.Load(path);
        Assert.Equal(cop.Cholesky, g.Copula!.Cholesky);
        Assert.Equal(cop.Windows, g.Copula.Windows);
        var few = g.Predict(g.LoadData(Bundled("AirPassengers.csv")), null, PathSampling.Copula, paths: 3);
        Assert.Equal(coupled.Rows.Select(r => r.Paths![0].Take(3)), few.Rows.Select(r => r.Paths![0]));
        Assert.Throws<GyreDataException>(() => g.Predict(data, null, PathSampling.Copula, paths: 6001));
    }

    [Fact]
    public void NegativeBinomialNeedsCountsOnTheirOwnScale()
    {
        var e = Assert.Throws<GyreDataException>(() => (Small() with { Loss = "negbinomial" }).Validate());
        Assert.Contains("--scaler none --norm none", e.Message);
        var f = Forecaster.Fit(Bundled("AirPassengers.csv"), Small(epochs: 2) with { Loss = "negbinomial", Scaler = "none", Norm = "none" });
        var table = f.Predict(f.LoadData(Bundled("AirPassengers.csv")));
        // Counts: every quantile of the draws is a non-negative whole number or lies between two of them.
        Assert.All(table.Rows, r => Assert.All(r.Quantiles[0], q => Assert.True(q >= 0f)));
    }

    [Fact]
    public void CorruptOrWrongVersionModelFilesAreRefused()
    {
        var f = Forecaster.Fit(Bundled("AirPassengers.csv"), Small(epochs: 1));
        string path = Temp("m.gyre");
        f.Save(path);
        var meta = f.Metadata();
        meta["version"] = "99";
        Gyre.IO.Safetensors.Write(path, f.Network.StateDict(), meta);
        var e = Assert.Throws<GyreDataException>(() => Forecaster.Load(path));
        Assert.Contains("version 99", e.Message);
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.ThrowsAny<InvalidDataException>(() => Forecaster.Load(path));
    }
}
