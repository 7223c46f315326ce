using Gyre.Forecasting;
using Gyre.IO;
using Gyre.Tests.IO;
using Gyre.Tests.Layers;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>`gyre import` and `gyre export`: PyTorch → layer file → ONNX → layer file, and a forecaster to ONNX.</summary>
public sealed class InteropCommandTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void TorchToLayerToOnnxAndBackKeepsTheOutputs()
    {
        string fixture = TorchFixture.WriteStateDict("lstm_i4_h6_l2_bi_b2_t9_s4.safetensors", _dir.Dir);
        _dir.Ok("import", "--torch", fixture, "--kind", "lstm", "--out", _dir["l.safetensors"]);
        _dir.Ok("export", "--layer", _dir["l.safetensors"], "--onnx", _dir["l.onnx"], "--opset", "22");
        _dir.Ok("import", "--onnx", _dir["l.onnx"], "--out", _dir["back.safetensors"]);
        var f = TorchFixture.Load("lstm_i4_h6_l2_bi_b2_t9_s4.safetensors");
        var layer = LayerFile.Load(_dir["back.safetensors"]);
        layer.Training = false;
        var y = layer.Forward(f["x"], f["h0"], f["c0"]).Output.ReadOnlySpan;
        for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(y[i] - f["y"].ReadOnlySpan[i]) < 1e-5, $"y[{i}]");
        // ONNX Runtime on the exported file agrees with libtorch too.
        var ort = OnnxTests.RunOrt(File.ReadAllBytes(_dir["l.onnx"]), ("x", f["x"]), ("h0", f["h0"]), ("c0", f["c0"]));
        for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(ort["y"].ReadOnlySpan[i] - f["y"].ReadOnlySpan[i]) < 1e-5, $"ort y[{i}]");
    }

    [Fact]
    public void ForecasterExportsToOnnx()
    {
        string data = _dir.Daily("d.csv");
        _dir.Ok("forecast", "train", "--data", data, "--target", "y", "--lookback", "14", "--horizon", "7", "--epochs", "1", "--hidden", "8", "--out", _dir["m.gyre"]);
        var r = _dir.Ok("export", "--model", _dir["m.gyre"], "--onnx", _dir["m.onnx"]);
        Assert.Contains("inputs y [batch, 14]; outputs forecast [batch, 7, 1]", r.Out);
        var f = Forecaster.Load(_dir["m.gyre"]);
        Assert.Equal(File.ReadAllBytes(_dir["m.onnx"]), ForecasterOnnx.ToBytes(f));
    }

    [Fact]
    public void BadInteropInputIsOneLineExitTwoNothingWritten()
    {
        string fixture = Path.Combine(TorchFixture.Folder, "gru_i5_h7_l1_b3_t11_s1.safetensors");
        var before = _dir.Files();
        var r = _dir.Run("import", "--torch", fixture, "--kind", "lstm", "--out", _dir["x.safetensors"]);
        Assert.Equal(2, r.Code);
        Assert.Contains("weight_hh_l0", r.Err);
        Assert.Single(r.Err.Trim().Split('\n'));
        r = _dir.Run("import", "--onnx", fixture, "--out", _dir["x.safetensors"]);
        Assert.Equal(2, r.Code);
        r = _dir.Run("export", "--onnx", _dir["x.onnx"]);
        Assert.Equal(2, r.Code);
        Assert.Contains("--model or --layer", r.Err);
        Assert.Equal(before, _dir.Files());
    }
}

public sealed class BundledModelExportTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void TheBundledJobsModelExportsAndRunsLikePredict()
    {
        // The README's own model: instance normalisation on, as the bundled job trains it (fewer epochs here).
        _dir.Ok("forecast", "--epochs", "2", "--out-dir", _dir["out"]);
        var r = _dir.Ok("export", "--model", _dir["out/co2.gyre"], "--onnx", _dir["m.onnx"]);
        Assert.Contains("inputs CO2 [batch, 36]; outputs forecast [batch, 12, 1]", r.Out);
        var f = Forecaster.Load(_dir["out/co2.gyre"]);
        Assert.True(f.Options.InstanceNorm);
        var data = f.LoadData(Path.Combine(AppContext.BaseDirectory, "Data", "co2-concentration.csv"));
        var s = data.Series[0];
        var last = Enumerable.Range(s.Length - 36, 36).Select(t => s.Values[t * data.ColumnCount]).ToArray();
        var ort = OnnxTests.RunOrt(File.ReadAllBytes(_dir["m.onnx"]), ("CO2", new Gyre.Tensors.Tensor(last, [1, 36])))["forecast"];
        var expected = f.Predict(data).Rows.Select(row => row.Values[0]).ToArray();
        Assert.True(ort.HasShape(1, 12, 1));
        for (int h = 0; h < 12; h++) Assert.True(Math.Abs(expected[h] - ort.ReadOnlySpan[h]) <= 1e-5 * Math.Abs(expected[h]), $"step {h + 1}: {ort.ReadOnlySpan[h]} vs {expected[h]}");
    }
}
