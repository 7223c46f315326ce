using Gyre.Data;
using Gyre.Forecasting;
using Xunit;

namespace Gyre.Tests.Forecasting;

public sealed class MetricsTests
{
    private static readonly float[] A = [2, 0, 4, 5];
    private static readonly float[] P = [1, 1, 6, 5];

    [Fact]
    public void Point_metrics_on_a_hand_computed_example()
    {
        // errors 1, −1, −2, 0
        Assert.Equal(6.0 / 4, Metrics.Mse(A, P), 12);
        Assert.Equal(Math.Sqrt(1.5), Metrics.Rmse(A, P), 12);
        Assert.Equal(1.0, Metrics.Mae(A, P), 12);
        Assert.Equal(100 * (0.5 + 0.5 + 0) / 3, Metrics.Mape(A, P), 10);        // the zero actual is skipped
        Assert.Equal(100 * (2.0 / 3 + 2.0 + 0.4 + 0) / 4, Metrics.Smape(A, P), 10);
        float[] mask = [1, 1, 0, 1];
        Assert.Equal(2.0 / 3, Metrics.Mse(A, P, mask), 12);
        Assert.True(double.IsNaN(Metrics.Mae(A, P, new float[4])));
        Assert.Throws<ArgumentException>(() => Metrics.Mae(A, [1f]));
    }

    [Fact]
    public void Mase_is_scaled_by_in_sample_seasonal_naive_mae()
    {
        float[] train = [1, 3, 2, 4, 3, 5];
        Assert.Equal((2 + 1 + 2 + 1 + 2) / 5.0, Metrics.NaiveScale(train, 1), 12);
        Assert.Equal(1.0, Metrics.NaiveScale(train, 2), 12);
        Assert.Equal(1.0 / 1.6, Metrics.Mase(A, P, train, 1), 12);
        Assert.Equal(1.0, Metrics.Mase(A, P, train, 2), 12);
        Assert.True(double.IsNaN(Metrics.Mase(A, P, [3, 3, 3], 1)));
    }

    [Fact]
    public void Pinball_coverage_and_crps()
    {
        float[] a = [10, 10];
        float[] q = [8, 13];
        // q = 0.9: 0.9·2 = 1.8 and 0.1·3 = 0.3
        Assert.Equal((1.8 + 0.3) / 2, Metrics.Pinball(a, q, 0.9), 12);
        Assert.Equal(0.5 * Metrics.Mae(a, q), Metrics.Pinball(a, q, 0.5), 12);
        Assert.Equal(0.5, Metrics.Coverage(a, [9, 11], [12, 12]), 12);
        // CRPS from 2 levels [0.25, 0.75] per point: point 1 quantiles (9, 11) → 0.25·1 + 0.25·1 = 0.5;
        // point 2 quantiles (10, 12) → 0 + 0.75·... actual 10 < 12: (1−0.75)·2 = 0.5 → 0.5. CRPS = 2·(0.5+0.5)/(2·2)
        Assert.Equal(0.5, Metrics.Crps(a, [9, 11, 10, 12], [0.25, 0.75]), 12);
        // A point forecast (all quantiles equal) gives CRPS ≈ MAE when levels are dense and even.
        var levels = Enumerable.Range(0, 99).Select(k => (k + 0.5) / 99).ToArray();
        var point = Enumerable.Repeat(7f, 99).Concat(Enumerable.Repeat(13f, 99)).ToArray();
        Assert.Equal(Metrics.Mae(a, [7, 13]), Metrics.Crps(a, point, levels), 6);
    }

    [Fact]
    public void Naive_and_seasonal_naive_baselines()
    {
        var values = Enumerable.Range(0, 20).Select(t => (float)(t % 4 * 10 + t)).ToArray();
        var s = new TimeSeries("s", null, values, 1, null, Enumerable.Range(1, 20).ToArray());
        var dst = new float[6];
        Baselines.Naive(s, 1, 1, 10, 6, dst);
        Assert.All(dst, v => Assert.Equal(values[9], v));
        Baselines.SeasonalNaive(s, 1, 1, 10, 6, 4, dst);
        Assert.Equal(new[] { values[6], values[7], values[8], values[9], values[6], values[7] }, dst);
        Baselines.SeasonalNaive(s, 1, 1, 3, 2, 4, dst);   // too little history: naive
        Assert.Equal(values[2], dst[1]);
    }

    [Fact]
    public void Baselines_on_evaluation_windows_of_AirPassengers()
    {
        var set = CsvLoader.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "Data", "AirPassengers.csv"), new CsvOptions());
        var splits = SplitSpec.Parse("0.7,0.1,0.2").For(set);
        var w = WindowSet.Create(set, splits, SplitPart.Test, 24, 12);
        int season = Seasonality.Detect(set.Series[0], 1, 0, splits[0].TrainEnd);
        Assert.Equal(12, season);
        var actual = new float[w.Count * 12]; var naive = new float[w.Count * 12]; var snaive = new float[w.Count * 12];
        var input = new float[24]; var mask = new float[12];
        for (int i = 0; i < w.Count; i++)
        {
            w.Fill(i, input, actual.AsSpan(i * 12, 12), mask, []);
            Baselines.Forecast(w, i, 1, naive.AsSpan(i * 12, 12));
            Baselines.Forecast(w, i, season, snaive.AsSpan(i * 12, 12));
        }
        var train = set.Series[0].Column(0, 1, 0, splits[0].TrainEnd);
        double maseNaive = Metrics.Mase(actual, naive, train, season), maseSeasonal = Metrics.Mase(actual, snaive, train, season);
        // The strongly seasonal series: seasonal naive must beat naive.
        Assert.True(maseSeasonal < maseNaive, $"seasonal {maseSeasonal} vs naive {maseNaive}");
    }
}
