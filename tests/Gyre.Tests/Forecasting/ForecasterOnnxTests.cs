using System.Globalization;
using System.Text;
using Gyre.Data;
using Gyre.Forecasting;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;

namespace Gyre.Tests.Forecasting;

/// <summary>
/// Every forecaster configuration exported to ONNX gives, in ONNX Runtime, the forecasts of <see cref="Forecaster.Predict"/>
/// (to 1e-5 relative to max(1, |value|)), from raw inputs named after the training columns.
/// </summary>
public sealed class ForecasterOnnxTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gyre-fc-onnx").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// Two hourly series (ids a and b) across 2024-02-29: targets y1, y2 (daily and weekly seasons), a past covariate p
    /// and a known-future covariate u.
    /// </summary>
    private string Data()
    {
        var sb = new StringBuilder("id,time,y1,y2,p,u\n");
        var start = new DateTime(2024, 2, 20, 0, 0, 0);
        foreach (var (id, shift) in new[] { ("a", 0.0), ("b", 3.0) })
            for (int t = 0; t < 260; t++)
            {
                double u = Math.Cos(2 * Math.PI * t / 24), p = Math.Sin(t / 5.0);
                double y1 = 10 + shift + 3 * Math.Sin(2 * Math.PI * t / 24) + 0.5 * u, y2 = 20 - shift + 2 * Math.Sin(2 * Math.PI * t / 168) + 0.3 * p;
                sb.Append(CultureInfo.InvariantCulture, $"{id},{start.AddHours(t):yyyy-MM-dd HH:mm},{y1:F4},{y2:F4},{p:F4},{u:F4}\n");
            }
        string path = Path.Combine(_dir, "d.csv");
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    private static ForecastOptions Base => new()
    {
        TimeColumn = "time", IdColumn = "id", Targets = ["y1", "y2"], Lookback = 16, Horizon = 5, Hidden = 6, Epochs = 1, Batch = 32,
        Seed = 7, LearningRate = 5e-3f, Split = "0.8,0.2,0",
    };

    public static TheoryData<string> Configurations =>
    [
        "plain", "quantiles", "instance-norm", "last-value-norm", "last-value-norm-channel-independent", "patch", "recurrent-decoder", "channel-independent", "calendar", "future-covariates",
        "everything-lstm", "everything-slstm", "opset-22", "pmf", "pmf-whole-horizon", "pmf-everything",
        "gaussian", "studentt", "negbinomial", "lstm-projection", "lstm-projection-recurrent-decoder",
        "gmu", "gmu-pmf-gru", "gmu-inner-memory-patch", "gmu-recurrent-decoder", "gmu-pmf-slstm",
    ];

    private static (ForecastOptions Options, int Opset) Configure(string name) => name switch
    {
        "plain" => (Base, 14),
        "quantiles" => (Base with { Loss = "quantile", Quantiles = [0.1f, 0.5f, 0.9f] }, 14),
        "instance-norm" => (Base with { InstanceNorm = true }, 14),
        "last-value-norm" => (Base with { Norm = "last" }, 14),
        "last-value-norm-channel-independent" => (Base with { Norm = "last", ChannelIndependent = true, Features = ["p"], Patch = 4 }, 14),
        "patch" => (Base with { Patch = 5 }, 14),                                   // 16 = 3·5 + 1: one step dropped
        "recurrent-decoder" => (Base with { Decoder = "recurrent", Layers = 2 }, 14),
        "channel-independent" => (Base with { ChannelIndependent = true, Features = ["p"] }, 14),
        "calendar" => (Base with { Calendar = "hour,dow,dom,month,doy" }, 14),
        "future-covariates" => (Base with { Features = ["p"], FutureFeatures = ["u"] }, 14),
        "everything-lstm" => (Base with
        {
            Cell = "lstm", Layers = 2, InstanceNorm = true, Patch = 4, Decoder = "recurrent", ChannelIndependent = true, Features = ["p"],
            FutureFeatures = ["u"], Calendar = "hour,dow", Loss = "quantile", Quantiles = [0.2f, 0.5f, 0.8f],
        }, 14),
        "everything-slstm" => (Base with
        {
            Cell = "slstm", InstanceNorm = true, Decoder = "recurrent", ChannelIndependent = true, FutureFeatures = ["u"], Calendar = "dom,doy,month",
        }, 14),
        "opset-22" => (Base with { InstanceNorm = true, Patch = 4, Calendar = "hour", Decoder = "recurrent", Cell = "gru" }, 22),
        "pmf" => (Base with { Decoder = "pmf", Patch = 4, Norm = "last" }, 14),               // 5 steps in 2 segments of 4: one padded
        "pmf-whole-horizon" => (Base with { Decoder = "pmf", Cell = "lstm", Layers = 2, Norm = "revin" }, 14),   // one segment of N
        "pmf-everything" => (Base with
        {
            Decoder = "pmf", Patch = 4, Norm = "last", ChannelIndependent = true, Features = ["p"], FutureFeatures = ["u"], Calendar = "hour,doy",
            Loss = "quantile", Quantiles = [0.1f, 0.5f, 0.9f],
        }, 22),
        "gaussian" => (Base with { Loss = "gaussian", Norm = "revin" }, 14),
        "studentt" => (Base with { Loss = "studentt", Norm = "last", Patch = 4 }, 14),
        "lstm-projection" => (Base with { Cell = "lstm(proj_size=3)", InstanceNorm = true, Features = ["p"] }, 14),
        "lstm-projection-recurrent-decoder" => (Base with { Cell = "lstm(proj_size=3)", Layers = 2, Decoder = "recurrent", FutureFeatures = ["u"] }, 14),
        "negbinomial" => (Base with { Loss = "negbinomial", Scaler = "none", Norm = "none" }, 14),
        // Gated memory units: their last-step output replaces the top layer's final h for the head or the decoder.
        "gmu" => (Base with { Gmu = 1 }, 14),
        "gmu-pmf-gru" => (Base with { Gmu = 2, Decoder = "pmf", Patch = 4, Norm = "last" }, 14),   // one GRU layer: the shared segment step
        "gmu-inner-memory-patch" => (Base with { Layers = 2, Gmu = 2, GmuMemory = 0, Patch = 4, InstanceNorm = true }, 14),
        "gmu-recurrent-decoder" => (Base with { Cell = "lstm", Layers = 2, Gmu = 1, GmuMemory = 0, Decoder = "recurrent", FutureFeatures = ["u"] }, 14),
        "gmu-pmf-slstm" => (Base with { Cell = "slstm", Layers = 2, Gmu = 1, Decoder = "pmf", Patch = 4, Norm = "last" }, 22),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void ExportedForecasterMatchesPredict(string configuration)
    {
        var (options, opset) = Configure(configuration);
        string csv = Data();
        var f = Forecaster.Fit(csv, options);
        Assert.Null(ForecasterOnnx.Unsupported(f));
        var all = f.LoadData(csv);
        var future = options.FutureFeatures.Length > 0 ? f.LoadFutureData(csv) : null;
        int l = options.Lookback, n = options.Horizon, c = 2, q = Math.Max(options.Quantiles.Length, 1);
        int[] cuts = [260 - n, 260 - n - 7, 260 - n - 30];

        // Gyre: Predict on each history cut short; ONNX: one batch row per (cut, series) with the same raw values.
        var expected = new List<(float[] Point, float[][] Quantiles)>();   // per batch row: [N·C], [N·C][Q]
        var expectedDistribution = new List<float[]>();                     // per batch row: [N·C·P] in the targets' units
        var columns = ForecasterOnnx.InputNames(f);
        var inputs = columns.ToDictionary(name => name, _ => new List<float>());
        var times = new List<long>();
        foreach (int cut in cuts)
        {
            var table = f.Predict(Cut(all, cut), future);
            if (f.Distribution is { } kind) expectedDistribution.AddRange(Parameters(f, kind, Cut(all, cut)));
            foreach (var s in all.Series)
            {
                var rows = table.Rows.Where(r => r.SeriesId == s.Id).OrderBy(r => r.Step).ToArray();
                Assert.Equal(n, rows.Length);
                expected.Add(([.. rows.SelectMany(r => r.Values)], [.. rows.SelectMany(r => r.Quantiles)]));
                for (int j = 0; j < all.ColumnCount - f.DataInfo.CalendarCount; j++)
                {
                    bool known = j >= all.TargetCount + all.PastCount;
                    for (int t = cut - l; t < cut + (known ? n : 0); t++) inputs[all.Columns[j]].Add(s.Values[t * all.ColumnCount + j]);
                }
                for (int t = cut - l; t < cut + n; t++) times.Add((long)(s.Times![t] - DateTime.UnixEpoch).TotalSeconds);
            }
        }

        int b = expected.Count;
        using var session = new InferenceSession(ForecasterOnnx.ToBytes(f, opset));
        var feeds = new List<NamedOnnxValue>();
        foreach (var name in columns)
        {
            if (name == "time")
                feeds.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(times.ToArray(), [b, l + n])));
            else
                feeds.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(inputs[name].ToArray(), [b, inputs[name].Count / b])));
        }
        using var outputs = session.Run(feeds);
        Assert.Equal(options.Quantiles.Length > 0 ? ["forecast", "quantiles"] : f.Distribution is null ? ["forecast"] : ["forecast", "distribution"],
            outputs.Select(o => o.Name));
        var forecast = outputs.First(o => o.Name == "forecast").AsTensor<float>();
        Assert.Equal([b, n, c], forecast.Dimensions.ToArray());
        var flat = forecast.ToArray();
        double worst = 0;
        for (int i = 0; i < b; i++)
            for (int k = 0; k < n * c; k++)
                worst = Math.Max(worst, Relative(expected[i].Point[k], flat[i * n * c + k]));
        if (f.Distribution is not null)
        {
            var parameters = outputs.First(o => o.Name == "distribution").AsTensor<float>();
            int p = expectedDistribution[0].Length / (n * c);
            Assert.Equal([b, n, c, p], parameters.Dimensions.ToArray());
            var ps = parameters.ToArray();
            for (int i = 0; i < b; i++)
                for (int k = 0; k < n * c * p; k++)
                    worst = Math.Max(worst, Relative(expectedDistribution[i][k], ps[i * n * c * p + k]));
        }
        if (options.Quantiles.Length > 0)
        {
            var quantiles = outputs.First(o => o.Name == "quantiles").AsTensor<float>();
            Assert.Equal([b, n, c, q], quantiles.Dimensions.ToArray());
            var qs = quantiles.ToArray();
            for (int i = 0; i < b; i++)
                for (int k = 0; k < n * c; k++)
                    for (int r = 0; r < q; r++)
                        worst = Math.Max(worst, Relative(expected[i].Quantiles[k][r], qs[(i * n * c + k) * q + r]));
        }
        Assert.True(worst <= 1e-5, $"{configuration}: max relative difference {worst:E2}");
    }

    /// <summary>
    /// A distribution model's natural parameters for the windows ending each series of <paramref name="history"/>, in the
    /// targets' units as the export gives them: location (or mean count) through the inverse scaler, scale times the
    /// column's scale, ν and the dispersion as they are. For models without covariates or channel independence.
    /// </summary>
    private static IEnumerable<float[]> Parameters(Forecaster f, Gyre.Training.LossKind kind, SeriesSet history)
    {
        var view = f.ModelView(history);
        int l = f.Options.Lookback, n = f.Options.Horizon, k = view.ColumnCount, c = view.TargetCount, q = f.Network.Config.QuantileCount;
        foreach (var s in view.Series)
        {
            var x = Gyre.Tensors.Tensor.Zeros(1, l, k);
            WindowSet.CopyInput(s, k, s.Length, l, x.Span);
            var theta = new float[n * c * q];
            f.RunNetwork(x, null, theta, 1);
            for (int i = 0; i < theta.Length; i++)
            {
                int r = i % q, j = i / q % c;
                theta[i] = r == 0 ? f.Scaler.Inverse(theta[i], j)
                    : r == 1 && kind is Gyre.Training.LossKind.Gaussian or Gyre.Training.LossKind.StudentT ? theta[i] * f.Scaler.Scale[j] : theta[i];
            }
            yield return theta;
        }
    }

    private static double Relative(float expected, float actual) => Math.Abs(expected - actual) / Math.Max(1, Math.Abs(expected));

    /// <summary>Every series of <paramref name="set"/> cut to its first <paramref name="rows"/> rows.</summary>
    private static SeriesSet Cut(SeriesSet set, int rows) =>
        new(set.Source, set.TimeColumn, set.IdColumn, set.Columns, set.TargetCount, set.PastCount, set.FutureCount,
            [.. set.Series.Select(s => new TimeSeries(s.Id, s.Times?[..rows], s.Values[..(rows * set.ColumnCount)], set.ColumnCount,
                s.Observed?[..(rows * set.TargetCount)], s.SourceRows[..rows], s.SourceTarget))]);

    [Fact]
    public void TheGraphHasNoStrayOutputsAndNamesItsInputsAfterTheColumns()
    {
        var f = Forecaster.Fit(Data(), Base with { Features = ["p"], FutureFeatures = ["u"], Calendar = "hour" });
        var model = Onnx.ModelProto.Parser.ParseFrom(ForecasterOnnx.ToBytes(f));
        Assert.Equal(["y1", "y2", "p", "u", "time"], model.Graph.Input.Select(i => i.Name));
        Assert.Equal(["forecast"], model.Graph.Output.Select(o => o.Name));
        Assert.Equal("inputs y1 [batch, 16], y2 [batch, 16], p [batch, 16], u [batch, 16+5], time [batch, 16+5] int64 seconds since 1970-01-01; outputs forecast [batch, 5, 2]",
            ForecasterOnnx.Describe(f));
    }
}
