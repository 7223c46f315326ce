using Gyre.IO;
using Gyre.IO.Onnx;
using Gyre.Layers;
using Gyre.Tests.Layers;
using Xunit;

namespace Gyre.Tests.IO;

public class LayerFileTests
{
    [Theory]
    [InlineData("gru_i4_h6_l2_bi_b2_t9_s3.safetensors", RecurrentKind.Gru)]
    [InlineData("lstm_i5_h7_l1_b3_t11_s2.safetensors", RecurrentKind.Lstm)]
    public void TorchStateDictToLayerFileToOnnxAndBack(string fixture, RecurrentKind kind)
    {
        var f = TorchFixture.Load(fixture);
        var spec = LayerFile.InferSpec(f.StateDict(), kind, batchFirst: true, fixture);
        Assert.Equal(f.Int("num_layers"), spec.NumLayers);
        Assert.Equal(f.Bool("bidirectional"), spec.Bidirectional);
        var layer = RecurrentLayer.FromSpec(spec, f.StateDict(), fixture);
        string dir = Directory.CreateTempSubdirectory("gyre-layer").FullName;
        try
        {
            RoundTrip(f, kind, layer, dir);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void RoundTrip(TorchFixture f, RecurrentKind kind, RecurrentLayer layer, string dir)
    {
        string path = Path.Combine(dir, "l.safetensors"), onnx = Path.Combine(dir, "l.onnx");
        LayerFile.Save(path, layer);
        var back = LayerFile.Load(path);
        OnnxExport.Save(onnx, back);
        var again = OnnxImport.LoadLayer(onnx);
        foreach (var l in new[] { layer, back, again }) l.Training = false;
        var c0 = kind == RecurrentKind.Lstm ? f["c0"] : null;
        var y = layer.Forward(f["x"], f["h0"], c0).Output.ReadOnlySpan.ToArray();
        Assert.Equal(y, back.Forward(f["x"], f["h0"], c0).Output.ReadOnlySpan.ToArray());
        Assert.Equal(y, again.Forward(f["x"], f["h0"], c0).Output.ReadOnlySpan.ToArray());
        var expected = f["y"].ReadOnlySpan;
        for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(y[i] - expected[i]) < 1e-5, $"y[{i}]");
    }

    [Fact]
    public void WrongKindAndPlainStateDictsAreRefused()
    {
        var f = TorchFixture.Load("gru_i5_h7_l1_b3_t11_s1.safetensors");
        var e = Assert.Throws<InvalidDataException>(() => LayerFile.InferSpec(f.Tensors, RecurrentKind.Lstm, true, "gru.safetensors"));
        Assert.Contains("weight_hh_l0", e.Message);
        Assert.Contains("LSTM", e.Message);
        var e2 = Assert.Throws<InvalidDataException>(() => LayerFile.Load(Path.Combine(TorchFixture.Folder, "gru_i5_h7_l1_b3_t11_s1.safetensors")));
        Assert.Contains("not a Gyre layer file", e2.Message);
    }
}
