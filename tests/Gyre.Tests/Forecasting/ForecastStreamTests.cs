using Gyre.Data;
using Gyre.Forecasting;
using Gyre.Tests.Cli;
using Xunit;

namespace Gyre.Tests.Forecasting;

/// <summary>
/// <see cref="ForecastStream"/>: a stream fed rows a few at a time forecasts what <see cref="Forecaster.Predict"/>
/// forecasts on the same rows read offline, at every step of 100, whether its encoder state slides (one-layer minGRU
/// and minLSTM encoders: direct, pmf and recurrent decoders, patches, calendar features, channel-independent channels,
/// quantiles) or its window is re-run; and which forecasters slide.
/// </summary>
public sealed class ForecastStreamTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private Forecaster Create(ForecastOptions o) =>
        Forecaster.Create(_dir.Daily("daily.csv", 240), o with { Horizon = 5, Hidden = 8, Epochs = 1, Seed = 7 });

    private static ForecastOptions Daily(string cell) => new() { TimeColumn = "date", Targets = ["y"], Features = ["x"], Cell = cell, Lookback = 14 };

    /// <summary>The first <paramref name="rows"/> rows of the loaded set's one series: what loading a file of them gives.</summary>
    internal static SeriesSet Prefix(SeriesSet full, int rows)
    {
        var s = full.Series[0];
        int k = full.ColumnCount;
        var series = new TimeSeries(s.Id, s.Times?[..rows], s.Values[..(rows * k)], k, null, s.SourceRows[..rows]);
        return new SeriesSet(full.Source, full.TimeColumn, full.IdColumn, full.Columns, full.TargetCount, full.PastCount, full.FutureCount, [series]);
    }

    /// <summary>Feeds 100 + L rows in pieces of 1–3 and compares every forecast with offline Predict on the prefix.</summary>
    private void StreamEqualsOffline(Forecaster f, bool slides, bool times, bool future = false)
    {
        var stream = new ForecastStream(f, times);
        Assert.Equal(slides, stream.Slides);
        var full = f.LoadData(_dir["daily.csv"]);
        var s = full.Series[0];
        int kAll = full.ColumnCount, k = stream.Columns.Count, l = f.Options.Lookback, end = l + 100, q = f.Options.Quantiles.Length;
        int fed = 0, piece = 0, compared = 0;
        while (fed < end)
        {
            int rows = Math.Min(1 + piece++ % 3, end - fed);
            var values = new float[rows * k];                    // [rows, K] targets and past covariates, raw
            for (int r = 0; r < rows; r++) s.Values.AsSpan((fed + r) * kAll, k).CopyTo(values.AsSpan(r * k, k));
            stream.Append(values, rows, times ? s.Times.AsSpan(fed, rows) : default);
            fed += rows;
            Assert.Equal(fed, stream.Rows);
            Assert.Equal(Math.Max(0, l - fed), stream.RowsNeeded);
            if (fed < l) continue;
            SeriesSet? fut = null;
            if (future)
            {
                // The known-future covariate x over the horizon: the next N rows' values, dated.
                int n = f.Options.Horizon;
                var xs = new float[n];
                for (int h = 0; h < n; h++) xs[h] = s.Values[(fed + h) * kAll + k - 1];
                fut = new SeriesSet("future", "date", null, ["x"], 1, 0, 0, [new TimeSeries(s.Id, s.Times![fed..(fed + n)], xs, 1, null, [.. Enumerable.Range(0, n)])]);
            }
            var want = f.Predict(Prefix(full, fed), fut);
            var got = stream.Forecast(fut);
            Assert.Equal(want.Rows.Count, got.Rows.Count);
            for (int i = 0; i < want.Rows.Count; i++)
                for (int j = 0; j < want.Rows[i].Values.Length; j++)
                {
                    Close(want.Rows[i].Values[j], got.Rows[i].Values[j], $"{fed} rows, step {want.Rows[i].Step}, target {j}");
                    for (int r = 0; r < q; r++) Close(want.Rows[i].Quantiles[j][r], got.Rows[i].Quantiles[j][r], $"{fed} rows, quantile {r}");
                }
            compared++;
        }
        Assert.True(compared >= 50, $"{compared} forecasts compared");
    }

    internal static void Close(float want, float got, string what) =>
        Assert.True(Math.Abs(want - got) <= 1e-5f * Math.Max(1f, Math.Abs(want)), $"{what}: stream {got:R}, offline {want:R}");

    [Fact]
    public void MinGruDirectHeadWithCalendarSlidesAndEqualsOffline() =>
        StreamEqualsOffline(Create(Daily("mingru") with { Calendar = "dow" }), slides: true, times: true);

    [Fact]
    public void MinLstmPatchesWithPmfDecoderSlideAndEqualOffline() =>
        StreamEqualsOffline(Create(Daily("minlstm") with { Patch = 3, Decoder = "pmf" }), slides: true, times: false);

    [Fact]
    public void MinGruChannelIndependentRecurrentDecoderWithQuantilesSlidesAndEqualsOffline() =>
        StreamEqualsOffline(Create(new ForecastOptions
        {
            TimeColumn = "date", Targets = ["y", "x"], Cell = "mingru", ChannelIndependent = true, Decoder = "recurrent", Patch = 2,
            Loss = "quantile", Quantiles = [0.1f, 0.5f, 0.9f], Lookback = 13,
        }), slides: true, times: false);

    [Theory]
    [InlineData("mingru", true)]
    [InlineData("gru", false)]
    public void KnownFutureCovariatesAreReadOverTheHorizonAndEqualOffline(string cell, bool slides) =>
        StreamEqualsOffline(Create(new ForecastOptions
        {
            TimeColumn = "date", Targets = ["y"], FutureFeatures = ["x"], Cell = cell, Norm = "none", Lookback = 14, Patch = 2,
        }), slides, times: true, future: true);

    [Fact]
    public void WindowedForecastersReRunTheirWindowAndEqualOffline()
    {
        StreamEqualsOffline(Create(Daily("gru")), slides: false, times: false);
        StreamEqualsOffline(Create(Daily("mingru") with { Norm = "revin", Patch = 2 }), slides: false, times: false);
    }

    [Fact]
    public void OnlyOneLayerLinearEncodersWithoutWindowNormSlide()
    {
        Assert.Null(ForecastStream.WhyWindowed(Create(Daily("mingru"))));
        Assert.Null(ForecastStream.WhyWindowed(Create(Daily("minlstm") with { Patch = 4 })));
        Assert.Contains("not linear in its state", ForecastStream.WhyWindowed(Create(Daily("gru"))));
        Assert.Contains("not linear in its state", ForecastStream.WhyWindowed(Create(Daily("paragru"))));
        Assert.Contains("2-layer", ForecastStream.WhyWindowed(Create(Daily("mingru") with { Layers = 2 })));
        Assert.Contains("GMU", ForecastStream.WhyWindowed(Create(Daily("mingru") with { Gmu = 1 })));
        Assert.Contains("revin normalisation", ForecastStream.WhyWindowed(Create(Daily("mingru") with { InstanceNorm = true })));
        Assert.Contains("last normalisation", ForecastStream.WhyWindowed(Create(Daily("minlstm") with { Norm = "last" })));
    }

    [Theory]
    [InlineData("gru", "revin", "mse")]
    [InlineData("mingru", "none", "mse")]
    [InlineData("lstm", "none", "gaussian")]
    public void StreamsForecastTogetherEqualEachAlone(string cell, string norm, string loss)
    {
        var f = Create(Daily(cell) with { Norm = norm, Loss = loss, Samples = 50 });
        var s = f.LoadData(_dir["daily.csv"]).Series[0];
        int kAll = s.Values.Length / s.Length;
        var streams = new List<ForecastStream>();
        foreach (var (from, rows) in new[] { (0, 20), (5, 31), (11, 14), (40, 60) })
        {
            var stream = new ForecastStream(f, false);
            var values = new float[rows * 2];
            for (int r = 0; r < rows; r++) s.Values.AsSpan((from + r) * kAll, 2).CopyTo(values.AsSpan(r * 2, 2));
            stream.Append(values, rows, default);
            streams.Add(stream);
        }
        var together = ForecastStream.ForecastMany(streams);
        for (int i = 0; i < streams.Count; i++)
        {
            var alone = streams[i].Forecast();
            Assert.Equal(alone.Rows.Count, together[i].Rows.Count);
            for (int h = 0; h < alone.Rows.Count; h++)
            {
                Close(alone.Rows[h].Values[0], together[i].Rows[h].Values[0], $"stream {i} step {h + 1}");
                for (int r = 0; r < alone.QuantileLevels.Length; r++)
                    Close(alone.Rows[h].Quantiles[0][r], together[i].Rows[h].Quantiles[0][r], $"stream {i} step {h + 1} quantile {r}");
            }
        }
    }

    [Fact]
    public void PredictOfManySeriesInOneBatchEqualsEachSeriesAlone()
    {
        string csv = _dir.Write("many.csv", string.Concat(Enumerable.Range(0, 4).Select(i =>
        {
            string one = File.ReadAllText(_dir.Daily($"s{i}.csv", 40 + 9 * i, id: $"s{i}", offset: i));
            return i == 0 ? one : one[(one.IndexOf('\n') + 1)..];
        })));
        var f = Forecaster.Create(csv, Daily("gru") with { IdColumn = "id", Horizon = 5, Hidden = 8, Epochs = 1, Seed = 7 });
        var all = f.LoadData(csv);
        var together = f.Predict(all);
        Assert.Equal(4 * 5, together.Rows.Count);
        foreach (var series in all.Series)
        {
            var alone = f.Predict(new SeriesSet(all.Source, all.TimeColumn, all.IdColumn, all.Columns, all.TargetCount, all.PastCount, all.FutureCount, [series]));
            var batched = together.Rows.Where(r => r.SeriesId == series.Id).ToArray();
            Assert.Equal(alone.Rows.Count, batched.Length);
            for (int h = 0; h < batched.Length; h++) Close(alone.Rows[h].Values[0], batched[h].Values[0], $"series {series.Id} step {h + 1}");
        }
    }

    [Fact]
    public void AStreamNeedsItsLookbackAndItsTimes()
    {
        var f = Create(Daily("mingru") with { Calendar = "dow" });
        Assert.Throws<ArgumentException>(() => new ForecastStream(f, times: false));
        var stream = new ForecastStream(f, times: true);
        Assert.Throws<InvalidOperationException>(() => stream.Forecast());
        Assert.Throws<ArgumentException>(() => stream.Append(new float[3], 1, [DateTime.UnixEpoch]));
    }
}
