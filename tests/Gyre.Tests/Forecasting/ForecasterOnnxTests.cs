using Gyre.Data;
using Gyre.Forecasting;
using Gyre.Tensors;
using Gyre.Tests.IO;
using Xunit;

namespace Gyre.Tests.Forecasting;

/// <summary>A whole forecaster exported to ONNX gives Gyre's raw-unit forecasts in ONNX Runtime.</summary>
public class ForecasterOnnxTests
{
    [Theory]
    [InlineData("gru", 1, 14, "")]
    [InlineData("lstm", 2, 22, "")]
    [InlineData("gru", 2, 14, "quantile")]
    public void ExportedForecasterMatchesGyre(string cell, int layers, int opset, string loss)
    {
        var o = ForecasterTests.Small(epochs: 2) with { Cell = cell, Layers = layers, Targets = ["all"] };
        if (loss == "quantile") o = o with { Loss = "quantile", Quantiles = [0.1f, 0.5f, 0.9f] };
        string csv = ForecasterTests.Bundled("co2-concentration.csv");
        var f = Forecaster.Fit(csv, o);
        var set = f.LoadData(csv);
        int b = 3, l = o.Lookback, k = set.ColumnCount;
        // Raw inputs: the last windows of the data.
        var raw = Tensor.Zeros(b, l, k);
        var s = set.Series[0];
        for (int i = 0; i < b; i++) WindowSet.CopyInput(s, k, s.Length - i * 5, l, raw.Span.Slice(i * l * k, l * k));
        // Gyre: scale, run, unscale.
        var x = raw.Clone();
        f.Scaler.Transform(x.Span, k);
        int q = f.Network.Config.QuantileCount, n = o.Horizon, c = set.TargetCount;
        var pred = new float[b * n * c * q];
        f.RunNetwork(x, null, pred, b);
        for (int i = 0; i < pred.Length; i++) pred[i] = f.Scaler.Inverse(pred[i], i / q % c);

        var ort = OnnxTests.RunOrt(ForecasterOnnx.ToBytes(f, opset), ("x", raw))["prediction"];
        Assert.True(ort.HasShape(b, n * c * q));
        double worst = 0;
        for (int i = 0; i < pred.Length; i++) worst = Math.Max(worst, Math.Abs(pred[i] - ort.ReadOnlySpan[i]) / Math.Max(1, Math.Abs(pred[i])));
        // Raw CO₂ values are ~400: compare relative to the magnitude, i.e. 1e-5 in scaled units.
        Assert.True(worst <= 1e-5, $"max relative difference {worst:E2}");
    }

    [Fact]
    public void UnsupportedConfigurationsAreRefusedByName()
    {
        var f = Forecaster.Fit(ForecasterTests.Bundled("AirPassengers.csv"), ForecasterTests.Small(epochs: 1) with { InstanceNorm = true });
        var e = Assert.Throws<NotSupportedException>(() => ForecasterOnnx.ToBytes(f));
        Assert.Contains("--instance-norm", e.Message);
    }
}
