using Gyre.Data;
using Gyre.Forecasting;
using Gyre.Tensors;
using Gyre.Tests.Cli;
using Xunit;

namespace Gyre.Tests.Forecasting;

/// <summary>
/// Stateful forecasters (<see cref="ForecastOptions.Stateful"/>): the chunked training's gradients against finite
/// differences with a random upstream gradient, a stream stepped one row at a time against offline Predict on the same
/// rows, evaluation windows against Predict on their history, same seed → same bits, and the refused options.
/// </summary>
public sealed class StatefulForecastTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ForecastOptions Daily(string cell, int layers, string norm) => new()
    {
        TimeColumn = "date", Targets = ["y"], Features = ["x"], Cell = cell, Layers = layers, Norm = norm, Lookback = 14,
        Horizon = 5, Hidden = 8, Epochs = 2, Batch = 4, Seed = 7, Stateful = true,
    };

    /// <summary>
    /// Chunk 1 starts from chunk 0's carried states, which the gradient treats as constants (truncation): the analytic
    /// gradient of Σ g ⊙ ŷ (g random) equals central differences of chunk 1 re-run from the same saved states, for every
    /// parameter of a two-layer encoder and the head.
    /// </summary>
    [Theory]
    [InlineData("gru", "last", false)]
    [InlineData("lstm", "none", false)]
    [InlineData("gru", "last", true)]
    public void ChunkGradientsMatchFiniteDifferences(string cell, string norm, bool future)
    {
        var o = Daily(cell, 2, norm) with { Hidden = 5, Chunk = 4, Lookback = 8 };
        // A known-future covariate and a calendar: the head reads them over each step's horizon beside h_t.
        if (future) o = o with { Features = [], FutureFeatures = ["x"], Calendar = "dow" };
        var f = Forecaster.Create(_dir.Daily("daily.csv", 240), o);
        var task = new StatefulForecastTask(f, f.LoadData(_dir["daily.csv"]));
        Assert.True(task.Streams >= 2, $"{task.Streams} streams");
        var rng = new Rng(5);
        foreach (var p in f.Network.Parameters()) rng.Uniform(p.Value.Span, -0.6f, 0.6f);
        f.Network.Training = true;
        task.ForwardChunk(0);
        var carried = task.CarriedStates.Select(s => s.Clone()).ToArray();
        Assert.Contains(carried, s => s.ReadOnlySpan.ToArray().Any(v => v != 0f));
        var up = new float[task.Predictions.Length];
        rng.Uniform(up, -1f, 1f);
        double Loss()
        {
            for (int j = 0; j < carried.Length; j++) task.CarriedStates[j].CopyFrom(carried[j]);
            task.ForwardChunk(1);
            double sum = 0;
            var pred = task.Predictions;
            for (int i = 0; i < pred.Length; i++) sum += (double)pred[i] * up[i];
            return sum;
        }
        Loss();
        f.Network.ZeroGrad();
        up.CopyTo(task.Gradient);
        task.BackwardChunk();
        ForecastNetworkTests.CheckAllParameters(f.Network, Loss);
    }

    /// <summary>
    /// A trained stateful forecaster's stream, fed 100 rows in pieces of 1–3, forecasts after every piece what offline
    /// Predict forecasts on the prefix read from its start (1e-5): two GRU layers with --norm last and quantiles, an
    /// LSTM without norm, and channel-independent targets.
    /// </summary>
    [Theory]
    [InlineData("gru", 2, "last", false)]
    [InlineData("lstm", 1, "none", false)]
    [InlineData("gru", 1, "last", true)]
    [InlineData("gru", 1, "last", false, "dow")]
    public void StreamEqualsOfflinePredictOnTheWholePrefix(string cell, int layers, string norm, bool channels, string calendar = "")
    {
        var o = Daily(cell, layers, norm) with { Calendar = calendar };
        if (channels) o = o with { Targets = ["y", "x"], Features = [], ChannelIndependent = true };
        else if (cell == "gru") o = o with { Loss = "quantile", Quantiles = [0.1f, 0.5f, 0.9f] };
        var f = Forecaster.Fit(_dir.Daily("daily.csv", 240), o);
        var stream = new ForecastStream(f, times: true);
        Assert.True(stream.Stateful);
        Assert.False(stream.Slides);
        var full = f.LoadData(_dir["daily.csv"]);
        var s = full.Series[0];
        int kAll = full.ColumnCount, k = stream.Columns.Count, q = f.Options.Quantiles.Length, fed = 0, piece = 0, compared = 0;
        while (fed < 100)
        {
            int rows = Math.Min(1 + piece++ % 3, 100 - fed);
            var values = new float[rows * k];                    // [rows, K] the raw columns (calendar features come from the times)
            for (int r = 0; r < rows; r++) s.Values.AsSpan((fed + r) * kAll, k).CopyTo(values.AsSpan(r * k, k));
            stream.Append(values, rows, s.Times.AsSpan(fed, rows));
            fed += rows;
            Assert.Equal(calendar.Length > 0 && fed < 2 ? 1 : 0, stream.RowsNeeded);
            if (stream.RowsNeeded > 0) continue;
            var want = f.Predict(ForecastStreamTests.Prefix(full, fed));
            var got = stream.Forecast();
            Assert.Equal(want.Rows.Count, got.Rows.Count);
            for (int i = 0; i < want.Rows.Count; i++)
                for (int j = 0; j < want.Rows[i].Values.Length; j++)
                {
                    ForecastStreamTests.Close(want.Rows[i].Values[j], got.Rows[i].Values[j], $"{fed} rows, step {want.Rows[i].Step}, target {j}");
                    for (int r = 0; r < q; r++) ForecastStreamTests.Close(want.Rows[i].Quantiles[j][r], got.Rows[i].Quantiles[j][r], $"{fed} rows, quantile {r}");
                }
            compared++;
        }
        Assert.True(compared >= 40, $"{compared} forecasts compared");
    }

    /// <summary>Streams stepped together (one batched recurrent step, uneven pieces, different starts) answer what each
    /// answers stepped alone.</summary>
    [Fact]
    public void StreamsSteppedTogetherEqualEachAlone()
    {
        var f = Forecaster.Fit(_dir.Daily("daily.csv", 240), Daily("gru", 2, "last"));
        var s = f.LoadData(_dir["daily.csv"]).Series[0];
        int k = 2;
        var together = Enumerable.Range(0, 4).Select(_ => new ForecastStream(f, true)).ToArray();
        var alone = Enumerable.Range(0, 4).Select(_ => new ForecastStream(f, true)).ToArray();
        var fed = new int[4];
        for (int round = 0; round < 12; round++)
        {
            for (int i = 0; i < 4; i++)
            {
                int rows = 1 + (round + i) % 3, start = 10 * i + fed[i];
                together[i].Append(s.Values.AsSpan(start * k, rows * k), rows, s.Times.AsSpan(start, rows));
                alone[i].Append(s.Values.AsSpan(start * k, rows * k), rows, s.Times.AsSpan(start, rows));
                fed[i] += rows;
            }
            var batch = ForecastStream.ForecastMany(together);
            for (int i = 0; i < 4; i++)
            {
                var one = alone[i].Forecast();
                for (int h = 0; h < one.Rows.Count; h++) ForecastStreamTests.Close(one.Rows[h].Values[0], batch[i].Rows[h].Values[0], $"stream {i}, round {round}, step {h + 1}");
            }
        }
    }

    /// <summary>Evaluation scores a stateful forecaster at the window models' test origins: each window's forecast is
    /// Predict's on the series up to the window's end (read from the start).</summary>
    [Fact]
    public void EvaluationWindowsForecastFromTheWholeHistory()
    {
        // With a calendar: a window reads the horizon's weekdays from the series' rows, Predict makes them from the times.
        var f = Forecaster.Fit(_dir.Daily("daily.csv", 240), Daily("gru", 1, "last") with { Calendar = "dow" });
        var report = f.Evaluate(f.LoadData(_dir["daily.csv"]));
        var window = Forecaster.Create(_dir["daily.csv"], Daily("gru", 1, "last") with { Stateful = false, Calendar = "dow" });
        var windowReport = window.Evaluate(window.LoadData(_dir["daily.csv"]));
        Assert.Equal(windowReport.TestWindows, report.TestWindows);
        Assert.Equal(windowReport.Baselines["naive"].Mse, report.Baselines["naive"].Mse);
        var full = f.LoadData(_dir["daily.csv"]);
        var view = f.ModelView(full);
        var windows = WindowSet.Create(view, SplitSpec.Parse(f.Options.Split).For(view), SplitPart.Test, f.Options.Lookback, f.Options.Horizon);
        int n = f.Options.Horizon;
        var pred = new float[3 * n];
        int[] chosen = [0, windows.Count / 2, windows.Count - 1];
        f.PredictWindows(windows, chosen, pred);
        for (int i = 0; i < chosen.Length; i++)
        {
            var (_, origin) = windows[chosen[i]];
            var table = f.Predict(ForecastStreamTests.Prefix(full, origin));
            for (int h = 0; h < n; h++)
                ForecastStreamTests.Close(table.Rows[h].Values[0], f.Scaler.Inverse(pred[i * n + h], 0), $"window {chosen[i]}, step {h + 1}");
        }
    }

    /// <summary>A training chunk (forward, loss, backward) allocates no activation buffers: the same few bytes at any chunk
    /// length.</summary>
    [Fact]
    public void ATrainingChunkAllocatesNoBuffers()
    {
        long Measure(int chunk)
        {
            var f = Forecaster.Create(_dir.Daily("daily.csv", 240), Daily("gru", 2, "last") with { Chunk = chunk, Hidden = 16 });
            var task = new StatefulForecastTask(f, f.LoadData(_dir["daily.csv"]));
            f.Network.Training = true;
            int next = 0;
            return Allocations.PerCall(() =>
            {
                f.Network.ZeroGrad();
                task.TrainBatch([next]);
                next = (next + 1) % task.TrainCount;
            });
        }
        long shortChunks = Measure(4), longChunks = Measure(32);
        Assert.Equal(shortChunks, longChunks);
        Assert.True(shortChunks < 2048, $"{shortChunks} bytes per chunk");
    }

    [Fact]
    public void OnnxExportIsRefusedWithItsReason()
    {
        var f = Forecaster.Create(_dir.Daily("daily.csv", 240), Daily("gru", 1, "last"));
        Assert.Equal("ONNX export of this forecaster is not supported: a stateful forecaster (--stateful) reads each series from its start with its state carried; the graph reads one window from zero states",
            ForecasterOnnx.Unsupported(f));
    }

    [Fact]
    public void SameSeedGivesTheSameBits()
    {
        float[] Train() => Forecaster.Fit(_dir.Daily("daily.csv", 240), Daily("gru", 2, "last") with { Dropout = 0.1f })
            .Network.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()).ToArray();
        Assert.Equal(Train(), Train());
    }

    [Theory]
    [InlineData("patch", "--stateful steps one row at a time: it takes no --patch")]
    [InlineData("pmf", "--stateful forecasts with the direct head from every step's h_t: it takes no --decoder pmf")]
    [InlineData("revin", "--stateful follows the level in its head (--norm last) or not at all (--norm none): a window's mean and deviation (revin) do not exist for a stream")]
    [InlineData("gaussian", "--stateful takes a point or quantile loss, not --loss gaussian")]
    [InlineData("whole", "--stateful batches its own streams (whole series cut into contiguous pieces): it takes no --whole-windows")]
    public void RefusedOptionsSayWhy(string what, string message)
    {
        var o = Daily("gru", 1, "last");
        o = what switch
        {
            "patch" => o with { Patch = 2 },
            "pmf" => o with { Decoder = "pmf" },
            "revin" => o with { Norm = "revin" },
            "gaussian" => o with { Loss = "gaussian" },
            _ => o with { WholeWindows = true, ChannelIndependent = true },
        };
        var e = Assert.Throws<GyreDataException>(o.Validate);
        Assert.Equal(message, e.Message);
    }
}
