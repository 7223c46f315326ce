using Google.Protobuf;
using Gyre.IO;
using Gyre.IO.Onnx;
using Gyre.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using Xunit;
using GTensor = Gyre.Tensors.Tensor;

namespace Gyre.Tests.IO;

public class OnnxTests
{
    public const float Tol = 1e-5f;

    public static TheoryData<string> StackFixtures => new()
    {
        "gru_i5_h7_l1_b3_t11_s1.safetensors",
        "gru_i4_h6_l2_bi_b2_t9_s3.safetensors",
        "gru_i3_h16_l3_b4_t20_s7.safetensors",
        "lstm_i5_h7_l1_b3_t11_s2.safetensors",
        "lstm_i4_h6_l2_bi_b2_t9_s4.safetensors",
    };

    internal sealed record Fixture(RecurrentSpec Spec, Dictionary<string, GTensor> Params, Dictionary<string, GTensor> All);

    internal static Fixture LoadFixture(string file)
    {
        var f = Gyre.Tests.Layers.TorchFixture.Load(file);
        var t = f.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value);
        var meta = f.Meta;
        var spec = new RecurrentSpec(RecurrentSpec.ParseKind(meta["kind"]), int.Parse(meta["input_size"]), int.Parse(meta["hidden_size"]),
            int.Parse(meta["num_layers"]), meta["bidirectional"] == "true", Bias: true, BatchFirst: meta["batch_first"] == "true");
        var p = t.Where(kv => kv.Key.StartsWith("weight_") || kv.Key.StartsWith("bias_")).ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(spec.Parameters().Count(), p.Count);
        return new Fixture(spec, p, t);
    }

    internal static Dictionary<string, GTensor> RunOrt(byte[] model, params (string Name, GTensor Value)[] inputs)
    {
        using var session = new InferenceSession(model);
        var ins = inputs.Select(i => NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<float>(i.Value.ReadOnlySpan.ToArray(), i.Value.Shape))).ToList();
        using var outs = session.Run(ins);
        return outs.ToDictionary(o => o.Name, o =>
        {
            var t = o.AsTensor<float>();
            return new GTensor(t.ToArray(), t.Dimensions.ToArray());
        });
    }

    internal static void AssertClose(GTensor expected, GTensor actual, float tol, string what)
    {
        Assert.True(expected.SameShape(actual), $"{what}: shape {actual} != {expected}");
        var e = expected.ReadOnlySpan;
        var a = actual.ReadOnlySpan;
        float worst = 0;
        for (int i = 0; i < e.Length; i++) worst = Math.Max(worst, Math.Abs(e[i] - a[i]));
        Assert.True(worst <= tol, $"{what}: max abs difference {worst} > {tol}");
    }

    private static void AssertIdentical(IReadOnlyDictionary<string, GTensor> expected, IReadOnlyDictionary<string, GTensor> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, e) in expected)
        {
            Assert.True(e.SameShape(actual[name]), $"{name}: shape {actual[name]} != {e}");
            Assert.True(e.ReadOnlySpan.SequenceEqual(actual[name].ReadOnlySpan), $"{name}: values differ");
        }
    }

    [Theory]
    [MemberData(nameof(StackFixtures))]
    public void Export_RunsInOnnxRuntime_MatchesLibtorch(string file)
    {
        var f = LoadFixture(file);
        bool lstm = f.Spec.Kind == RecurrentKind.Lstm;
        foreach (int opset in new[] { 14, 22 })
        {
            var bytes = OnnxExport.ToBytes(f.Spec, f.Params, new OnnxExportOptions { Opset = opset, InitialStateInputs = true });
            var inputs = new List<(string, GTensor)> { ("x", f.All["x"]), ("h0", f.All["h0"]) };
            if (lstm) inputs.Add(("c0", f.All["c0"]));
            var o = RunOrt(bytes, [.. inputs]);
            AssertClose(f.All["y"], o["y"], Tol, $"{file} opset {opset} y");
            AssertClose(f.All["h_n"], o["h_n"], Tol, $"{file} opset {opset} h_n");
            if (lstm) AssertClose(f.All["c_n"], o["c_n"], Tol, $"{file} opset {opset} c_n");
        }
    }

    [Fact]
    public void Export_TimeMajor_MatchesLibtorch()
    {
        var f = LoadFixture("lstm_i4_h6_l2_bi_b2_t9_s4.safetensors");
        var spec = f.Spec with { BatchFirst = false };
        var bytes = OnnxExport.ToBytes(spec, f.Params, new OnnxExportOptions { InitialStateInputs = true });
        var o = RunOrt(bytes, ("x", f.All["x"].TransposeLeading()), ("h0", f.All["h0"]), ("c0", f.All["c0"]));
        AssertClose(f.All["y"].TransposeLeading(), o["y"], Tol, "y [T, B, 2H]");
        AssertClose(f.All["c_n"], o["c_n"], Tol, "c_n");
    }

    [Theory]
    [InlineData("gru_i4_h6_l2_bi_b2_t9_s3.safetensors")]
    [InlineData("lstm_i5_h7_l1_b3_t11_s2.safetensors")]
    public void Export_WithoutStateInputs_StartsFromZeros(string file)
    {
        var f = LoadFixture(file);
        bool lstm = f.Spec.Kind == RecurrentKind.Lstm;
        var zeros = GTensor.Zeros(f.All["h0"].Shape);
        var withStates = OnnxExport.ToBytes(f.Spec, f.Params, new OnnxExportOptions { InitialStateInputs = true });
        var without = OnnxExport.ToBytes(f.Spec, f.Params);
        var inputs = new List<(string, GTensor)> { ("x", f.All["x"]), ("h0", zeros) };
        if (lstm) inputs.Add(("c0", zeros));
        var expected = RunOrt(withStates, [.. inputs]);
        var actual = RunOrt(without, ("x", f.All["x"]));
        AssertClose(expected["y"], actual["y"], 0, "y");
        AssertClose(expected["h_n"], actual["h_n"], 0, "h_n");
        // and the fixture's nonzero h0 does matter, so the comparison above is not vacuous
        var nonzero = OnnxExport.ToBytes(f.Spec, f.Params, new OnnxExportOptions { InitialStateInputs = true });
        inputs[1] = ("h0", f.All["h0"]);
        if (lstm) inputs[2] = ("c0", f.All["c0"]);
        Assert.False(RunOrt(nonzero, [.. inputs])["h_n"].ReadOnlySpan.SequenceEqual(actual["h_n"].ReadOnlySpan));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Export_HeadAndScalers_MatchManualComputation(bool allSteps)
    {
        var f = LoadFixture("gru_i4_h6_l2_bi_b2_t9_s3.safetensors");
        int B = 2, T = 9, I = 4, F = 12, O = 3;
        var w = RecurrentReference.Random(11, O, F);
        var bias = RecurrentReference.Random(12, O);
        var inScale = new AffineScaler(GTensor.FromSpan([2f, 0.5f, 4f, 1.25f], I), GTensor.FromSpan([0.1f, -0.3f, 0.7f, 0f], I));
        var outScale = new AffineScaler(GTensor.FromSpan([3f, -1f, 0.25f], O), GTensor.FromSpan([1f, 2f, -0.5f], O));
        var options = new OnnxExportOptions
        {
            InitialStateInputs = true,
            Head = new LinearHead(w, bias, allSteps),
            InputScaler = inScale,
            OutputScaler = outScale,
        };
        var bytes = OnnxExport.ToBytes(f.Spec, f.Params, options);
        // Feed x' with x' ⊙ scale + shift = x so the stack sees the fixture's x.
        var x = f.All["x"];
        var xPrime = GTensor.Zeros(B, T, I);
        for (int i = 0; i < x.Length; i++) xPrime.Span[i] = (x.Span[i] - inScale.Shift.Span[i % I]) / inScale.Scale.Span[i % I];
        var o = RunOrt(bytes, ("x", xPrime), ("h0", f.All["h0"]));
        AssertClose(f.All["y"], o["y"], Tol, "y");

        var y = f.All["y"];
        int steps = allSteps ? T : 1;
        var expected = allSteps ? GTensor.Zeros(B, T, O) : GTensor.Zeros(B, O);
        for (int b = 0; b < B; b++)
            for (int s = 0; s < steps; s++)
            {
                int t = allSteps ? s : T - 1;
                for (int k = 0; k < O; k++)
                {
                    double acc = bias[k];
                    for (int j = 0; j < F; j++) acc += w[k, j] * y[b, t, j];
                    expected.Span[(b * steps + s) * O + k] = (float)(acc * outScale.Scale[k] + outScale.Shift[k]);
                }
            }
        AssertClose(expected, o["prediction"], 1e-4f, "prediction");
    }

    [Theory]
    [MemberData(nameof(StackFixtures))]
    public void ExportThenImport_GivesIdenticalTensors(string file)
    {
        var f = LoadFixture(file);
        var path = Path.Combine(Path.GetTempPath(), $"gyre-onnx-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxExport.Save(path, f.Spec, f.Params, new OnnxExportOptions { Opset = 22, InitialStateInputs = true });
            var m = OnnxImport.Load(path);
            Assert.Equal(f.Spec, m.Spec);
            AssertIdentical(f.Params, m.StateDict);
            Assert.Null(m.Head);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ExportThenImport_KeepsHeadScalersAndSpecFlags()
    {
        var spec = new RecurrentSpec(RecurrentKind.Lstm, 3, 4, 2, Bidirectional: false, Bias: false, BatchFirst: false) { Reverse = true };
        var p = RecurrentReference.RandomStateDict(spec, 5);
        var head = new LinearHead(RecurrentReference.Random(6, 2, 4), RecurrentReference.Random(7, 2), AllSteps: true);
        var sc = new AffineScaler(RecurrentReference.Random(8, 3), RecurrentReference.Random(9, 3));
        var oc = new AffineScaler(RecurrentReference.Random(10, 2), RecurrentReference.Random(11, 2));
        var m = OnnxImport.Read(OnnxExport.ToBytes(spec, p, new OnnxExportOptions { Head = head, InputScaler = sc, OutputScaler = oc }), "mem");
        Assert.Equal(spec, m.Spec);
        AssertIdentical(p, m.StateDict);
        Assert.NotNull(m.Head);
        Assert.True(m.Head!.AllSteps);
        AssertIdentical(new Dictionary<string, GTensor> { ["w"] = head.Weight, ["b"] = head.Bias!, ["is"] = sc.Scale, ["ih"] = sc.Shift, ["os"] = oc.Scale, ["oh"] = oc.Shift },
            new Dictionary<string, GTensor> { ["w"] = m.Head.Weight, ["b"] = m.Head.Bias!, ["is"] = m.InputScaler!.Scale, ["ih"] = m.InputScaler.Shift, ["os"] = m.OutputScaler!.Scale, ["oh"] = m.OutputScaler.Shift });
    }

    // ONNX GRU with linear_before_reset = 0 (reset applied before R·h): ORT runs it, the importer must
    // return ResetBefore and weights with which the reset-before reference reproduces ORT's outputs.
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void ImportResetBeforeGru_MatchesOnnxRuntime(bool bidirectional, bool reverse)
    {
        var spec = new RecurrentSpec(RecurrentKind.Gru, 3, 5, 2, bidirectional) { ResetBefore = true, Reverse = reverse };
        var p = RecurrentReference.RandomStateDict(spec, 21);
        var bytes = OnnxExport.ToBytes(spec, p, new OnnxExportOptions { InitialStateInputs = true });
        Assert.Contains(OnnxExport.Build(spec, p, null).Graph.Node.Where(n => n.OpType == "GRU").SelectMany(n => n.Attribute),
            a => a.Name == "linear_before_reset" && a.I == 0);
        var x = RecurrentReference.Random(22, 2, 6, 3);
        var h0 = RecurrentReference.Random(23, 2 * spec.Directions, 2, 5);
        var ort = RunOrt(bytes, ("x", x), ("h0", h0));

        var m = OnnxImport.Read(bytes, "lbr0.onnx");
        Assert.True(m.Spec.ResetBefore);
        Assert.Equal(reverse, m.Spec.Reverse);
        var (y, hn, _) = RecurrentReference.Forward(m.Spec, m.StateDict, x, h0, null);
        AssertClose(y, ort["y"], Tol, "y");
        AssertClose(hn, ort["h_n"], Tol, "h_n");
        // The reset-after cell gives different numbers, so the flag is load-bearing.
        var (yAfter, _, _) = RecurrentReference.Forward(m.Spec with { ResetBefore = false }, m.StateDict, x, h0, null);
        Assert.True(Enumerable.Range(0, y.Length).Max(i => Math.Abs(yAfter.Span[i] - ort["y"].Span[i])) > 1e-3);
    }

    [Fact]
    public void Reference_MatchesLibtorchFixture()
    {
        foreach (var file in new[] { "gru_i4_h6_l2_bi_b2_t9_s3.safetensors", "lstm_i4_h6_l2_bi_b2_t9_s4.safetensors" })
        {
            var f = LoadFixture(file);
            var (y, hn, cn) = RecurrentReference.Forward(f.Spec, f.Params, f.All["x"], f.All["h0"], f.All.GetValueOrDefault("c0"));
            AssertClose(f.All["y"], y, Tol, $"{file} y");
            AssertClose(f.All["h_n"], hn, Tol, $"{file} h_n");
            if (f.Spec.Kind == RecurrentKind.Lstm) AssertClose(f.All["c_n"], cn, Tol, $"{file} c_n");
        }
    }

    // ORT's CPU GRU/LSTM kernels do not run layout = 1, which is why the exporter uses layout 0 with
    // Transpose nodes; the importer still reads such files (weights do not depend on layout).
    [Fact]
    public void ImportLayout1_ReadsWeightsAndBatchFirst()
    {
        var f = LoadFixture("gru_i4_h6_l2_bi_b2_t9_s3.safetensors");
        var model = OnnxExport.Build(f.Spec, f.Params, null);
        model.MetadataProps.Clear();
        foreach (var n in model.Graph.Node.Where(n => n.OpType == "GRU")) n.Attribute.Add(new AttributeProto { Name = "layout", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        var m = OnnxImport.Read(model.ToByteArray(), "layout1.onnx");
        Assert.True(m.Spec.BatchFirst);
        AssertIdentical(f.Params, m.StateDict);

        var model0 = OnnxExport.Build(f.Spec with { BatchFirst = false }, f.Params, null);
        model0.MetadataProps.Clear();
        Assert.False(OnnxImport.Read(model0.ToByteArray(), "layout0.onnx").Spec.BatchFirst);
    }

    [Fact]
    public void OnnxRuntime_RejectsLayout1_DocumentedReasonForTranspose()
    {
        var spec = new RecurrentSpec(RecurrentKind.Gru, 3, 4);
        var model = OnnxExport.Build(spec, RecurrentReference.RandomStateDict(spec, 1), new OnnxExportOptions { Opset = 22 });
        var g = model.Graph;
        // Rewire to feed x straight into a layout-1 GRU.
        var gru = g.Node.Single(n => n.OpType == "GRU");
        gru.Input[0] = "x";
        gru.Attribute.Add(new AttributeProto { Name = "layout", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        var ex = Record.Exception(() => RunOrt(model.ToByteArray(), ("x", RecurrentReference.Random(2, 2, 5, 3))));
        Assert.NotNull(ex);
        Assert.Contains("layout", ex!.Message, StringComparison.OrdinalIgnoreCase);
    }

    // ---------------------------------------------------------------- bad input

    private static ModelProto SmallModel(RecurrentKind kind = RecurrentKind.Gru)
    {
        var spec = new RecurrentSpec(kind, 3, 4, 2);
        return OnnxExport.Build(spec, RecurrentReference.RandomStateDict(spec, 3), null);
    }

    private static InvalidDataException ImportFails(byte[] bytes, string name)
    {
        var ex = Assert.Throws<InvalidDataException>(() => OnnxImport.Read(bytes, name));
        Assert.Contains(name, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
        return ex;
    }

    [Fact]
    public void Import_TruncatedFile_Throws()
    {
        var bytes = SmallModel().ToByteArray();
        var path = Path.Combine(Path.GetTempPath(), $"gyre-trunc-{Guid.NewGuid():N}.onnx");
        try
        {
            foreach (int len in new[] { 0, 1, 7, bytes.Length / 2, bytes.Length - 3 })
            {
                File.WriteAllBytes(path, bytes[..len]);
                var ex = Assert.ThrowsAny<Exception>(() => OnnxImport.Load(path));
                Assert.IsType<InvalidDataException>(ex);
                Assert.Contains(path, ex.Message);
                Assert.DoesNotContain('\n', ex.Message);
            }
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Import_RandomBytes_Throws()
    {
        var rng = new Random(42);
        for (int i = 0; i < 20; i++)
        {
            var bytes = new byte[rng.Next(1, 4096)];
            rng.NextBytes(bytes);
            ImportFails(bytes, $"random{i}.onnx");
        }
    }

    [Fact]
    public void Import_UnsupportedOp_NamesNodeAndOp()
    {
        var m = SmallModel();
        m.Graph.Node.Add(new NodeProto { Name = "squash", OpType = "Sigmoid", Input = { "y" }, Output = { "y2" } });
        var ex = ImportFails(m.ToByteArray(), "op.onnx");
        Assert.Contains("squash", ex.Message);
        Assert.Contains("Sigmoid", ex.Message);

        var m2 = SmallModel();
        m2.Graph.Node.Add(new NodeProto { Name = "foreign_mm", OpType = "MatMul", Input = { "y", "y" }, Output = { "y3" } });
        Assert.Contains("foreign_mm", ImportFails(m2.ToByteArray(), "mm.onnx").Message);
    }

    public static TheoryData<string, string> BadAttributes => new()
    {
        { "clip", "clip" },
        { "activations", "activations" },
        { "activation_alpha", "activation_alpha" },
        { "input_forget", "input_forget" },
        { "peephole", "P" },
        { "sequence_lens", "sequence_lens" },
    };

    [Theory]
    [MemberData(nameof(BadAttributes))]
    public void Import_UnsupportedAttributeOrInput_NamesIt(string what, string expectedName)
    {
        var m = SmallModel(RecurrentKind.Lstm);
        var node = m.Graph.Node.First(n => n.OpType == "LSTM");
        switch (what)
        {
            case "clip": node.Attribute.Add(new AttributeProto { Name = "clip", Type = AttributeProto.Types.AttributeType.Float, F = 3 }); break;
            case "activations":
                var a = new AttributeProto { Name = "activations", Type = AttributeProto.Types.AttributeType.Strings };
                a.Strings.Add(ByteString.CopyFromUtf8("HardSigmoid"));
                a.Strings.Add(ByteString.CopyFromUtf8("Tanh"));
                a.Strings.Add(ByteString.CopyFromUtf8("Tanh"));
                node.Attribute.Add(a);
                break;
            case "activation_alpha": node.Attribute.Add(new AttributeProto { Name = "activation_alpha", Type = AttributeProto.Types.AttributeType.Floats, Floats = { 0.2f } }); break;
            case "input_forget": node.Attribute.Add(new AttributeProto { Name = "input_forget", Type = AttributeProto.Types.AttributeType.Int, I = 1 }); break;
            case "peephole":
                while (node.Input.Count < 7) node.Input.Add("");
                node.Input.Add("lstm_l0.P");
                m.Graph.Initializer.Add(new TensorProto { Name = "lstm_l0.P", DataType = 1, Dims = { 1, 12 }, FloatData = { new float[12] } });
                break;
            case "sequence_lens":
                while (node.Input.Count < 4) node.Input.Add("");
                node.Input.Insert(4, "lens");
                break;
        }
        var ex = ImportFails(m.ToByteArray(), "attr.onnx");
        Assert.Contains(node.Name, ex.Message);
        Assert.Contains($"'{expectedName}'", ex.Message);
    }

    [Fact]
    public void Import_DefaultActivationsSpelledOut_Accepted()
    {
        var m = SmallModel();
        var a = new AttributeProto { Name = "activations", Type = AttributeProto.Types.AttributeType.Strings };
        a.Strings.Add(ByteString.CopyFromUtf8("Sigmoid"));
        a.Strings.Add(ByteString.CopyFromUtf8("Tanh"));
        m.Graph.Node.First(n => n.OpType == "GRU").Attribute.Add(a);
        Assert.Equal(2, OnnxImport.Read(m.ToByteArray(), "ok.onnx").Spec.NumLayers);
    }

    [Fact]
    public void Import_ShapeMismatch_NamesNodeAndTensor()
    {
        var m = SmallModel();
        var r = m.Graph.Initializer.Single(t => t.Name == "gru_l1.R");
        r.Dims[2] = 3; // [1, 12, 3]: no longer G·H x H
        r.RawData = ByteString.CopyFrom(new byte[4 * 36]);
        var ex = ImportFails(m.ToByteArray(), "shape.onnx");
        Assert.Contains("gru_l1", ex.Message);
        Assert.Contains("R", ex.Message);

        var m2 = SmallModel();
        var w = m2.Graph.Initializer.Single(t => t.Name == "gru_l0.W");
        w.RawData = ByteString.CopyFrom(new byte[8]); // bytes do not fill the dims
        Assert.Contains("gru_l0.W", ImportFails(m2.ToByteArray(), "bytes.onnx").Message);
    }

    [Fact]
    public void Export_ShapeMismatch_NamesTensor()
    {
        var spec = new RecurrentSpec(RecurrentKind.Gru, 3, 4, 2);
        var p = RecurrentReference.RandomStateDict(spec, 3);
        p["weight_hh_l1"] = GTensor.Zeros(12, 5);
        var ex = Assert.Throws<InvalidDataException>(() => OnnxExport.ToBytes(spec, p));
        Assert.Contains("weight_hh_l1", ex.Message);
        p.Remove("weight_hh_l1");
        Assert.Contains("missing tensor 'weight_hh_l1'", Assert.Throws<InvalidDataException>(() => OnnxExport.ToBytes(spec, p)).Message);
        Assert.Throws<ArgumentException>(() => OnnxExport.ToBytes(spec, RecurrentReference.RandomStateDict(spec, 3), new OnnxExportOptions { Opset = 13 }));
    }

    [Fact]
    public void Save_IsAtomic_LeavesNoTempFiles()
    {
        var dir = Directory.CreateTempSubdirectory("gyre-onnx-").FullName;
        try
        {
            var spec = new RecurrentSpec(RecurrentKind.Gru, 3, 4);
            var path = Path.Combine(dir, "m.onnx");
            File.WriteAllText(path, "old");
            OnnxExport.Save(path, spec, RecurrentReference.RandomStateDict(spec, 1));
            Assert.Single(Directory.GetFiles(dir));
            Assert.Equal(spec, OnnxImport.Load(path).Spec);
            // A failing export leaves the previous file untouched.
            Assert.Throws<InvalidDataException>(() => OnnxExport.Save(path, spec, new Dictionary<string, GTensor>()));
            Assert.Single(Directory.GetFiles(dir));
            Assert.Equal(spec, OnnxImport.Load(path).Spec);
        }
        finally { Directory.Delete(dir, true); }
    }
}
