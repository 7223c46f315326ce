using System.Text.Json;
using Gyre.Data;
using Xunit;

namespace Gyre.Tests.Data;

public sealed class ScalerTests : IDisposable
{
    private readonly TempFiles _tmp = new();
    public void Dispose() => _tmp.Dispose();

    private SeriesSet Load(string rows) => CsvLoader.Load(_tmp.Write("s.csv", "date,y,x\n" + rows), new CsvOptions { Targets = ["y"], Features = ["x"], Fill = FillMode.Mask });

    // y over train = 1, 2, 3, 10 (a missing row in train is excluded); val/test hold 1000s that must not leak.
    private const string Rows = "2020-01-01,1,4\n2020-01-02,2,4\n2020-01-03,,4\n2020-01-04,3,8\n2020-01-05,10,8\n2020-01-06,1000,0\n2020-01-07,1000,0\n2020-01-08,1000,0\n2020-01-09,1000,0\n2020-01-10,1000,0\n";

    [Theory]
    [InlineData(ScalerKind.Standard, 4.0, 3.5355339)]  // mean 16/4, std √(9+4+1+36)/4 = √12.5
    [InlineData(ScalerKind.Robust, 2.5, 3.0)]           // median of 1,2,3,10; q75 = 3 + 0.25·7 = 4.75, q25 = 1 + 0.75·1 = 1.75
    [InlineData(ScalerKind.MinMax, 1.0, 9.0)]
    [InlineData(ScalerKind.None, 0.0, 1.0)]
    public void Fits_on_training_rows_only(ScalerKind kind, double center, double scale)
    {
        var set = Load(Rows);
        var sc = Scaler.Fit(kind, set, SplitSpec.Parse("0.5,0.2,0.3").For(set));
        Assert.Equal(center, sc.Center[0], 5);
        Assert.Equal(scale, sc.Scale[0], 5);
    }

    [Theory]
    [InlineData(ScalerKind.Standard)]
    [InlineData(ScalerKind.Robust)]
    [InlineData(ScalerKind.MinMax)]
    [InlineData(ScalerKind.None)]
    public void Transform_inverse_and_dto_round_trip(ScalerKind kind)
    {
        var set = Load(Rows);
        var sc = Scaler.Fit(kind, set, SplitSpec.Parse("0.5,0.2,0.3").For(set));
        var scaled = sc.Transform(set);
        var back = (float[])scaled.Series[0].Values.Clone();
        sc.Inverse(back, 2);
        for (int i = 0; i < back.Length; i++) Assert.Equal(set.Series[0].Values[i], back[i], 3);
        if (kind == ScalerKind.MinMax) Assert.Equal(0f, scaled.Series[0].Values[0]);

        string json = JsonSerializer.Serialize(sc.ToDto());
        var restored = Scaler.FromDto(JsonSerializer.Deserialize<ScalerDto>(json)!);
        Assert.Equal(sc.Kind, restored.Kind);
        Assert.Equal(sc.Columns, restored.Columns);
        Assert.Equal(sc.Center, restored.Center);
        Assert.Equal(sc.Scale, restored.Scale);
        Assert.Equal(sc.Transform(7.5f, 1), restored.Transform(7.5f, 1));
        Assert.Equal(7.5f, restored.Inverse(restored.Transform(7.5f, 0), 0), 4);
    }

    [Fact]
    public void Bad_kind_and_bad_dto_fail_with_one_line()
    {
        Assert.Contains("unknown scaler 'zscore'", Assert.Throws<GyreDataException>(() => Scaler.ParseKind("zscore")).Message);
        var dto = new ScalerDto { Kind = "standard", Columns = ["y"], Center = [0], Scale = [0] };
        Assert.Contains("must be positive", Assert.Throws<GyreDataException>(() => Scaler.FromDto(dto)).Message);
    }

    [Fact]
    public void Instance_norm_round_trip_and_backward()
    {
        // [B=2, L=3, K=2], normalise the first column only.
        float[] x = [1, 9, 2, 9, 6, 9, /**/ 5, 0, 5, 0, 5, 0];
        float[] orig = (float[])x.Clone();
        var mean = new float[2]; var std = new float[2];
        InstanceNorm.Normalize(x, mean, std, 2, 3, 2, 1);
        Assert.Equal(3f, mean[0]);
        Assert.Equal((float)Math.Sqrt(14.0 / 3 + 1e-5), std[0], 5);
        Assert.Equal(5f, mean[1]);
        Assert.Equal(0f, x[6]);                      // a constant window maps to 0, no NaN
        Assert.Equal(9f, x[1]);                      // unnormalised column untouched
        float[] col0 = [x[0], x[2], x[4], x[6], x[8], x[10]];
        InstanceNorm.Denormalize(col0, mean, std, 2, 3, 1);
        for (int i = 0; i < 6; i++) Assert.Equal(orig[2 * i], col0[i], 4);
        float[] g = [1, 1, 1, 2, 2, 2];
        InstanceNorm.DenormalizeBackward(g, std, 2, 3, 1);
        Assert.Equal(std[0], g[0]);
        Assert.Equal(2 * std[1], g[5]);
    }

    [Fact]
    public void Calendar_features_encode_phase_as_sin_cos()
    {
        var f = Calendar.Parse("hour,dow,month");
        Assert.Equal(6, Calendar.Width(f));
        Assert.Equal(new[] { "hour_sin", "hour_cos", "dow_sin", "dow_cos", "month_sin", "month_cos" }, Calendar.Names(f));
        var v = new float[6];
        Calendar.Encode(new DateTime(2024, 4, 3, 6, 0, 0), f, v);  // a Wednesday: dow 2; April: month 3
        Assert.Equal(1f, v[0], 5); Assert.Equal(0f, v[1], 5);
        Assert.Equal((float)Math.Sin(2 * Math.PI * 2 / 7), v[2], 5);
        Assert.Equal(1f, v[4], 5); Assert.Equal(0f, v[5], 5);
        Assert.Throws<GyreDataException>(() => Calendar.Parse("fortnight"));

        var set = CsvLoader.Load(_tmp.Write("c.csv", "date,y\n2020-01-01,1\n2020-02-01,2\n"), new CsvOptions());
        var withCal = Calendar.AddFutureFeatures(set, CalendarFeatures.Month);
        Assert.Equal(new[] { "y", "month_sin", "month_cos" }, withCal.Columns);
        Assert.Equal(2, withCal.FutureCount);
        Assert.Equal((float)Math.Sin(2 * Math.PI / 12), withCal.Series[0].Values[4], 5);
    }

    [Fact]
    public void Time_step_and_season_detection()
    {
        DateTime[] monthly = [new(2020, 1, 1), new(2020, 2, 1), new(2020, 3, 1), new(2020, 5, 1)];
        var step = TimeStep.Infer(monthly);
        Assert.Equal(1, step.Months);
        Assert.Equal(new DateTime(2020, 8, 1), step.Advance(new DateTime(2020, 5, 1), 3));
        Assert.Equal(12, Seasonality.FromStep(step, []));
        Assert.Equal(24, Seasonality.FromStep(new TimeStep(0, TimeSpan.FromHours(1)), []));
        Assert.Equal(288, Seasonality.FromStep(new TimeStep(0, TimeSpan.FromMinutes(5)), []));
        // Daily values with no weekly or annual cycle (here constant) have no season; too few values to tell keep the calendar's 7.
        Assert.Equal(1, Seasonality.FromStep(new TimeStep(0, TimeSpan.FromDays(1)), new float[100]));
        Assert.Equal(7, Seasonality.FromStep(new TimeStep(0, TimeSpan.FromDays(1)), new float[10]));
        // No time information: the autocorrelation peak of a period-10 signal.
        var x = Enumerable.Range(0, 200).Select(t => (float)Math.Sin(2 * Math.PI * t / 10)).ToArray();
        Assert.Equal(10, Seasonality.AutocorrelationPeak(x));
        Assert.Equal(1, Seasonality.AutocorrelationPeak(new float[50]));

        var seattle = CsvLoader.Load(TempFiles.Bundled("seattle-weather.csv"), new CsvOptions { Targets = ["temp_max"] });
        Assert.Equal(365, Seasonality.Detect(seattle.Series[0], 1, 0, seattle.Series[0].Length));
    }

    /// <summary>
    /// A random walk shows no season, with or without a time column: its levels correlate at every lag (the old
    /// peak search found "seasons" of hundreds of steps), so the search runs on its differences and finds none.
    /// </summary>
    [Fact]
    public void A_random_walk_has_no_season_and_says_why()
    {
        var rng = new Gyre.Tensors.Rng(7);
        var walk = new float[3000];
        for (int t = 1; t < walk.Length; t++) walk[t] = walk[t - 1] + rng.NextGaussian();
        var plain = new TimeSeries("w", null, walk, 1, null, Enumerable.Range(0, walk.Length).ToArray());
        var none = Seasonality.Choose(plain, 1, 0, walk.Length);
        Assert.Equal(1, none.Season);
        Assert.Contains("no significant autocorrelation peak", none.Reason);
        var daily = Seasonality.ChooseFromStep(new TimeStep(0, TimeSpan.FromDays(1)), walk);
        Assert.Equal(1, daily.Season);
        var hourly = Seasonality.ChooseFromStep(new TimeStep(0, TimeSpan.FromHours(1)), walk);
        Assert.Equal(1, hourly.Season);
        Assert.Contains("without a daily cycle", hourly.Reason);
        // The same walk plus a daily cycle: 24 again.
        var cycled = walk.Select((v, t) => v + 3f * MathF.Sin(2 * MathF.PI * t / 24)).ToArray();
        Assert.Equal(24, Seasonality.ChooseFromStep(new TimeStep(0, TimeSpan.FromHours(1)), cycled).Season);
        // Without a time column, a period-10 cycle under the walk is found after differencing.
        var tenPlain = new TimeSeries("t", null, walk.Select((v, t) => v + 4f * MathF.Sin(2 * MathF.PI * t / 10)).ToArray(), 1, null, Enumerable.Range(0, walk.Length).ToArray());
        Assert.Equal(10, Seasonality.Detect(tenPlain, 1, 0, walk.Length));
    }
}
