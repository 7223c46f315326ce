using Gyre.Cells;
using Gyre.IO;
using Gyre.IO.Onnx;
using Gyre.Layers;
using Gyre.Tensors;
using Onnx;
using Xunit;
using static Gyre.IO.Onnx.OnnxProto;

namespace Gyre.Tests.IO;

/// <summary>
/// Layers through the interop paths: a Gyre layer against ONNX Runtime running its export, bitwise round
/// trips through ONNX and safetensors, ONNX files written by hand (linear_before_reset = 0) and Keras
/// weights loaded into ready layers, and the messages for state dicts that do not fit.
/// Letters: B batch, T steps, I input, H hidden, L layers, D directions.
/// </summary>
public sealed class LayerInteropTests : IDisposable
{
    private const float Tol = 1e-5f;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "gyre-interop-" + Guid.NewGuid().ToString("N"));

    public LayerInteropTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Temp(string name) => Path.Combine(_dir, name);

    /// <summary>A layer with weights spread beyond the default init so every nonlinearity is exercised.</summary>
    private static RecurrentLayer MakeLayer(string kind, int I, int H, int L, bool bidir, bool reverseOnly, bool batchFirst = true, bool bias = true, ulong seed = 1)
    {
        var layer = new RecurrentLayer(CellRegistry.Parse(kind), I, H, L, bias, batchFirst, bidirectional: bidir, seed: seed, reverseOnly: reverseOnly);
        new Rng(seed + 100).Uniform(layer.Block.Values, -0.6f, 0.6f);
        return layer;
    }

    private static Tensor Random(ulong seed, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        new Rng(seed).Uniform(t.Span, -1f, 1f);
        return t;
    }

    public static IEnumerable<object[]> OrtCases()
    {
        // kind, reverseOnly, layers, bidirectional, batch
        foreach (var kind in new[] { "gru", "lstm" })
            for (int layers = 1; layers <= 3; layers++)
                foreach (bool bidir in new[] { false, true })
                    foreach (int batch in new[] { 1, 5 })
                        yield return [kind, false, layers, bidir, batch];
        foreach (int batch in new[] { 1, 5 })
        {
            yield return ["gru_reset_before", false, 2, false, batch];
            yield return ["gru_reset_before", false, 3, true, batch];
            yield return ["gru_reset_before", true, 2, false, batch];
            yield return ["gru", true, 2, false, batch];
            yield return ["lstm", true, 3, false, batch];
        }
    }

    [Theory]
    [MemberData(nameof(OrtCases))]
    public void LayerForward_MatchesOnnxRuntimeOnItsExport(string kind, bool reverseOnly, int layers, bool bidir, int batch)
    {
        int I = 4, H = 6, T = 7;
        var layer = MakeLayer(kind, I, H, layers, bidir, reverseOnly, seed: (ulong)(layers * 10 + batch));
        bool lstm = layer.Kind == CellKind.Lstm;
        int ld = layers * layer.Directions;
        var x = Random(11, batch, T, I);
        var h0 = Random(12, ld, batch, H);
        var c0 = lstm ? Random(13, ld, batch, H) : null;
        var o = layer.Forward(x, h0, c0);

        var bytes = OnnxExport.ToBytes(layer, new OnnxExportOptions { InitialStateInputs = true });
        var inputs = new List<(string, Tensor)> { ("x", x), ("h0", h0) };
        if (lstm) inputs.Add(("c0", c0!));
        var ort = OnnxTests.RunOrt(bytes, [.. inputs]);
        OnnxTests.AssertClose(ort["y"], o.Output, Tol, "y");
        OnnxTests.AssertClose(ort["h_n"], o.Hidden, Tol, "h_n");
        if (lstm) OnnxTests.AssertClose(ort["c_n"], o.Cell!, Tol, "c_n");
    }

    [Fact]
    public void TimeMajorLayerWithoutBias_MatchesOnnxRuntime()
    {
        var layer = MakeLayer("gru_reset_before", 3, 5, 2, bidir: true, reverseOnly: false, batchFirst: false, bias: false);
        var x = Random(21, 6, 3, 3); // [T, B, I]
        var o = layer.Forward(x);
        var ort = OnnxTests.RunOrt(OnnxExport.ToBytes(layer), ("x", x));
        OnnxTests.AssertClose(ort["y"], o.Output, Tol, "y [T, B, 2H]");
        OnnxTests.AssertClose(ort["h_n"], o.Hidden, Tol, "h_n");
    }

    public static TheoryData<string, bool, bool> RoundTripCases => new()
    {
        { "gru", false, false }, { "gru", true, false }, { "gru", false, true },
        { "gru_reset_before", false, false }, { "gru_reset_before", true, false }, { "gru_reset_before", false, true },
        { "lstm", false, false }, { "lstm", true, false }, { "lstm", false, true },
    };

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public void GyreToOnnxToGyre_IsBitwiseIdentical(string kind, bool bidir, bool reverseOnly)
    {
        var layer = MakeLayer(kind, 3, 5, 2, bidir, reverseOnly);
        string path = Temp($"{kind}.onnx");
        OnnxExport.Save(path, layer, new OnnxExportOptions { Opset = 22 });
        var back = OnnxImport.LoadLayer(path);
        Assert.Equal(layer.ToSpec(), back.ToSpec());
        Assert.Equal(layer.Kind, back.Kind);
        AssertSameOutputs(layer, back, Random(31, 4, 9, 3));
    }

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public void GyreToSafetensorsToGyre_IsBitwiseIdentical(string kind, bool bidir, bool reverseOnly)
    {
        var layer = MakeLayer(kind, 3, 5, 2, bidir, reverseOnly);
        string path = Temp($"{kind}.safetensors");
        Safetensors.Write(path, layer.StateDict());
        var back = RecurrentLayer.FromSpec(layer.ToSpec(), Safetensors.Read(path).Tensors, path);
        AssertSameOutputs(layer, back, Random(32, 2, 8, 3));

        // A PyTorch model's state dict carries the submodule's prefix ("rnn."); it loads the same.
        string prefixed = Temp($"{kind}-prefixed.safetensors");
        Safetensors.Write(prefixed, layer.StateDict().Select(kv => KeyValuePair.Create("rnn." + kv.Key, kv.Value)));
        AssertSameOutputs(layer, RecurrentLayer.FromSpec(layer.ToSpec(), Safetensors.Read(prefixed).Tensors, prefixed), Random(33, 2, 8, 3));
    }

    private static void AssertSameOutputs(RecurrentLayer a, RecurrentLayer b, Tensor x)
    {
        foreach (var (name, t) in a.StateDict())
            Assert.True(t.ReadOnlySpan.SequenceEqual(b.StateDict()[name].ReadOnlySpan), $"parameter {name} differs");
        var oa = a.Forward(x);
        var ob = b.Forward(x);
        Assert.True(oa.Output.ReadOnlySpan.SequenceEqual(ob.Output.ReadOnlySpan), "y differs");
        Assert.True(oa.Hidden.ReadOnlySpan.SequenceEqual(ob.Hidden.ReadOnlySpan), "h_n differs");
        if (oa.Cell != null) Assert.True(oa.Cell.ReadOnlySpan.SequenceEqual(ob.Cell!.ReadOnlySpan), "c_n differs");
    }

    // A single ONNX GRU node with linear_before_reset = 0, written here with ONNX's own gate order (z, r, h)
    // and layout ([T, B, I] in, Y [T, D, B, H]) and no Gyre metadata, as another exporter would.
    [Theory]
    [InlineData("forward", 1)]
    [InlineData("reverse", 3)]
    [InlineData("bidirectional", 1)]
    [InlineData("bidirectional", 4)]
    public void HandWrittenOnnxGruLinearBeforeReset0_RunsInGyre_MatchesOnnxRuntime(string direction, int B)
    {
        int I = 3, H = 5, T = 6, D = direction == "bidirectional" ? 2 : 1;
        var w = Random(41, D, 3 * H, I);
        var r = Random(42, D, 3 * H, H);
        var bias = Random(43, D, 6 * H);
        var g = new GraphProto { Name = "hand" };
        g.Input.Add(FloatValue("X", "", T, "batch", I));
        g.Input.Add(FloatValue("initial_h", "", D, "batch", H));
        g.Initializer.Add(FloatTensor("W", w.ReadOnlySpan, D, 3 * H, I));
        g.Initializer.Add(FloatTensor("R", r.ReadOnlySpan, D, 3 * H, H));
        g.Initializer.Add(FloatTensor("B", bias.ReadOnlySpan, D, 6 * H));
        g.Node.Add(Node("GRU", "gru", ["X", "W", "R", "B", "", "initial_h"], ["Y", "Y_h"],
            String("direction", direction), Int("hidden_size", H), Int("linear_before_reset", 0)));
        g.Output.Add(FloatValue("Y", "", T, D, "batch", H));
        g.Output.Add(FloatValue("Y_h", "", D, "batch", H));
        var model = new ModelProto { IrVersion = 7, Graph = g };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 14 });
        string path = Temp($"hand-{direction}.onnx");
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(model));

        var x = Random(44, T, B, I);
        var h0 = Random(45, D, B, H);
        var ort = OnnxTests.RunOrt(File.ReadAllBytes(path), ("X", x), ("initial_h", h0));

        var layer = OnnxImport.LoadLayer(path);
        Assert.Equal(CellKind.GruResetBefore, layer.Kind);
        Assert.False(layer.BatchFirst); // layout 0 and no metadata: time-major, as the file
        Assert.Equal(direction == "reverse", layer.ReverseOnly);
        Assert.Equal(D == 2, layer.Bidirectional);
        var o = layer.Forward(x, h0);
        var y = Tensor.Zeros(T, D, B, H); // Gyre's [T, B, D·H] in ONNX's [T, D, B, H]
        for (int t = 0; t < T; t++)
            for (int d = 0; d < D; d++)
                for (int b = 0; b < B; b++)
                    for (int j = 0; j < H; j++) y[t, d, b, j] = o.Output[t, b, d * H + j];
        OnnxTests.AssertClose(ort["Y"], y, Tol, "Y");
        OnnxTests.AssertClose(ort["Y_h"], o.Hidden, Tol, "Y_h");
    }

    // Keras weights written to safetensors under their Keras names (w.path), loaded into a ready layer, against
    // Keras' own cell equations on the Keras-layout tensors (KerasWeightsTests.KerasRun).
    [Theory]
    [InlineData("gru_before", false)]
    [InlineData("gru_before", true)]
    [InlineData("gru_after", false)]
    [InlineData("lstm", true)]
    public void KerasWeightsFile_LoadsIntoLayer_MatchesKerasCell(string cell, bool bidirectional)
    {
        int I = 3, U = 4, G = cell == "lstm" ? 4 : 3, B = 3, T = 6;
        string layerName = cell == "lstm" ? "lstm" : "gru";
        var weights = new Dictionary<string, Tensor>();
        var parts = new List<(Tensor K, Tensor Rk, Tensor Bias)>();
        foreach (var dirName in bidirectional ? new[] { "forward_", "backward_" } : [""])
        {
            ulong s = (ulong)(parts.Count * 10);
            var k = Random(51 + s, I, G * U);
            var rk = Random(52 + s, U, G * U);
            var bias = cell == "gru_after" ? Random(53 + s, 2, G * U) : Random(53 + s, G * U);
            string prefix = bidirectional ? $"bidirectional/{dirName}{layerName}/{layerName}_cell" : $"{layerName}/{layerName}_cell";
            weights[$"{prefix}/kernel"] = k;
            weights[$"{prefix}/recurrent_kernel"] = rk;
            weights[$"{prefix}/bias"] = bias;
            parts.Add((k, rk, bias));
        }
        weights["dense/kernel"] = Random(59, bidirectional ? 2 * U : U, 1); // a head the loader must ignore
        string path = Temp($"keras-{cell}.safetensors");
        Safetensors.Write(path, weights);

        var layer = KerasWeights.Load(path);
        Assert.Equal(cell switch { "gru_before" => CellKind.GruResetBefore, "gru_after" => CellKind.Gru, _ => CellKind.Lstm }, layer.Kind);
        Assert.Equal(bidirectional, layer.Bidirectional);
        var x = Random(60, B, T, I);
        var o = layer.Forward(x);
        for (int d = 0; d < parts.Count; d++)
        {
            // Keras' backward layer reads the sequence reversed; its final state is after x[0].
            var xd = d == 0 ? x : FlipTime(x);
            var expected = Tensor.FromSpan(KerasWeightsTests.KerasRun(cell, parts[d].K, parts[d].Rk, parts[d].Bias, xd), B, U);
            var actual = Tensor.FromSpan(o.Hidden.ReadOnlySpan.Slice(d * B * U, B * U), B, U);
            OnnxTests.AssertClose(expected, actual, Tol, $"h_n direction {d}");
        }
    }

    private static Tensor FlipTime(Tensor x)
    {
        var r = Tensor.Zeros(x.Shape);
        int B = x.Dim(0), T = x.Dim(1), F = x.Dim(2);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                x.ReadOnlySpan.Slice((b * T + T - 1 - t) * F, F).CopyTo(r.Span.Slice((b * T + t) * F, F));
        return r;
    }

    [Fact]
    public void BadInput_ClearOneLineMessages()
    {
        var spec = new RecurrentSpec(RecurrentKind.Gru, 4, 3, NumLayers: 2);
        var good = RecurrentReference.RandomStateDict(spec, 1);
        T Fails<T>(Action a, params string[] parts) where T : Exception
        {
            var e = Assert.Throws<T>(a);
            foreach (var p in parts) Assert.Contains(p, e.Message);
            Assert.DoesNotContain('\n', e.Message);
            return e;
        }

        Fails<InvalidDataException>(() => RecurrentLayer.FromSpec(spec, new Dictionary<string, Tensor>(good) { ["weight_hh_l1"] = Tensor.Zeros(9, 4) }, "m.safetensors"),
            "m.safetensors", "'weight_hh_l1'", "[9, 4]", "[9, 3]");
        var missing = new Dictionary<string, Tensor>(good);
        missing.Remove("bias_hh_l1");
        Fails<InvalidDataException>(() => RecurrentLayer.FromSpec(spec, missing, "m.safetensors"), "m.safetensors", "missing", "bias_hh_l1");
        // The file holds a layer more than the spec describes.
        Fails<InvalidDataException>(() => RecurrentLayer.FromSpec(spec with { NumLayers = 1 }, good, "m.safetensors"), "unexpected tensor", "_l1");
        // The spec says bidirectional, the file has one direction.
        Fails<InvalidDataException>(() => RecurrentLayer.FromSpec(spec with { Bidirectional = true }, good, "m.safetensors"), "weight_ih_l0_reverse");
        Fails<InvalidDataException>(() => RecurrentLayer.FromSpec(spec with { Kind = RecurrentKind.Lstm }, good, "m.safetensors"), "'weight_ih_l0'", "[9, 4]", "[12, 4]");
        Fails<InvalidDataException>(() => RecurrentLayer.FromSpec(new RecurrentSpec(RecurrentKind.Lstm, 4, 3) { ResetBefore = true },
            RecurrentReference.RandomStateDict(new RecurrentSpec(RecurrentKind.Lstm, 4, 3), 2), "m.safetensors"), "ResetBefore applies to GRU only");
        // Elman RNN layers have a spec and export as a Scan over their step (OnnxScanTests runs them in ORT).
        Assert.Equal("rnn_tanh", new Rnn(3, 4).ToSpec().CellName);

        string dense = Temp("dense.safetensors");
        Safetensors.Write(dense, new Dictionary<string, Tensor> { ["dense/kernel"] = Tensor.Zeros(3, 2) });
        Fails<InvalidDataException>(() => KerasWeights.Load(dense), dense, "no Keras GRU/LSTM weights");
        Fails<IOException>(() => OnnxImport.LoadLayer(Temp("absent.onnx")), "absent.onnx");
        Fails<InvalidDataException>(() => OnnxImport.LoadLayer(dense), dense, "not an ONNX model");
    }

    // The path docs/interop.md shows for a PyTorch state dict: a Gru built with PyTorch's arguments loads it.
    [Fact]
    public void PyTorchStateDictFile_LoadsIntoGruWithTheSameArguments()
    {
        var f = Gyre.Tests.Layers.TorchFixture.Load("gru_i4_h6_l2_bi_b2_t9_s3.safetensors");
        var gru = new Gru(inputSize: 4, hiddenSize: 6, numLayers: 2, batchFirst: true, bidirectional: true);
        // The reference file holds inputs, outputs and gradients too: the state dict is its parameters.
        gru.LoadStateDict(f.Tensors.Where(kv => kv.Key.StartsWith("weight_") || kv.Key.StartsWith("bias_")).ToDictionary());
        gru.Training = false;
        var o = gru.Forward(f["x"], f["h0"]);
        OnnxTests.AssertClose(f["y"], o.Output, Tol, "y");
        OnnxTests.AssertClose(f["h_n"], o.Hidden, Tol, "h_n");
    }
}
