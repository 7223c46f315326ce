using Gyre.Cells;
using Gyre.IO.Onnx;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.IO;

/// <summary>
/// Every registered cell exports to ONNX: cells without a native operator as a Scan over the step they write
/// (<see cref="CellDefinition.EmitOnnxStep"/>), checked in ONNX Runtime against Gyre's own forward; the cells
/// with a native node also through the Scan (ForceScan), so the Scan machinery is held to GRU/LSTM/RNN too.
/// </summary>
public sealed class OnnxScanTests
{
    private const float Tol = 1e-5f;

    public static TheoryData<string> Cells()
    {
        var data = new TheoryData<string>();
        foreach (var name in CellRegistry.Names) data.Add(name);
        return data;
    }

    // (batch, layers, bidirectional, batch-first, reverse-only, bias)
    private static readonly (int B, int L, bool Bi, bool BatchFirst, bool Reverse, bool Bias)[] Shapes =
    [
        (1, 1, false, true, false, true),
        (5, 2, true, true, false, true),
        (3, 2, false, false, true, false),
    ];

    [Theory]
    [MemberData(nameof(Cells))]
    public void EveryCellExports_MatchesGyreInOnnxRuntime(string name)
    {
        var cell = CellRegistry.Get(name);
        Assert.True(cell.Onnx != null || cell.EmitOnnxStep(new ProbeStep()),
            $"cell '{name}' has neither a native ONNX operator nor an ONNX step: override CellDefinition.EmitOnnxStep (see docs/cells.md)");
        foreach (var (b, l, bi, batchFirst, reverse, bias) in Shapes)
            foreach (bool force in cell.Onnx != null ? new[] { false, true } : [false])
                Check(cell, b, l, bi, batchFirst, reverse, bias, force);
    }

    /// <summary>Cells with their options: heads (block-diagonal weight_hh), forget gate, nonlinearity, bound, state size and discretisation.</summary>
    public static TheoryData<string> CellsWithOptions() =>
        new() { "gru(heads=2)", "lstm(heads=4)", "lstm(proj_size=3)", "slstm(forget=exp)", "slstm(heads=2)", "indrnn(nonlinearity=tanh,bound=0.5)", "rnn(nonlinearity=relu)",
            "lssl(discretisation=bilinear,state_size=3)" };

    [Theory]
    [MemberData(nameof(CellsWithOptions))]
    public void CellOptionsExport_MatchGyreInOnnxRuntime(string text)
    {
        var cell = CellRegistry.FromText(text);
        foreach (var (b, l, bi, batchFirst, reverse, bias) in Shapes)
            Check(cell, b, l, bi, batchFirst, reverse, bias, force: false, hidden: 8);
    }

    private static void Check(CellDefinition cell, int b, int l, bool bi, bool batchFirst, bool reverse, bool bias, bool force, int hidden = 7)
    {
        const int I = 5, T = 6;
        int H = hidden;
        string what = $"{cell} B={b} L={l}{(bi ? " bi" : "")}{(reverse ? " reverse" : "")}{(batchFirst ? "" : " time-major")}{(bias ? "" : " no bias")}{(force ? " scan" : "")}";
        var layer = new RecurrentLayer(cell, I, H, l, bias, batchFirst, bidirectional: bi, seed: 3, reverseOnly: reverse) { Training = false };
        // Wider than the default init so every nonlinearity leaves its linear range.
        new Rng(11).Uniform(layer.Block.Values, -0.6f, 0.6f);
        int slots = l * (bi ? 2 : 1);
        var x = Random(21, batchFirst ? [b, T, I] : [T, b, I]);
        // Initial states the cell can reach (the final states of a warm-up sequence from zeros): random values
        // would be unreachable for cells whose states are normalisers or log-space stabilisers (sLSTM's n, m).
        var inits = layer.ForwardStates(Random(41, batchFirst ? [b, T, I] : [T, b, I]), null).States.Select(t => t.Clone()).ToArray();
        var expected = layer.ForwardStates(x, inits);

        var options = new OnnxExportOptions { InitialStateInputs = true, ForceScan = force };
        var bytes = OnnxExport.ToBytes(layer, options);
        var inputs = new List<(string, Tensor)> { ("x", x) };
        for (int j = 0; j < cell.States; j++) inputs.Add((j == 0 ? "h0" : $"{cell.StateNames[j]}0", inits[j]));
        var o = OnnxTests.RunOrt(bytes, [.. inputs]);
        OnnxTests.AssertClose(expected.Output, o["y"], Tol, $"{what}: y");
        for (int j = 0; j < cell.States; j++)
            OnnxTests.AssertClose(expected.States[j], o[$"{cell.StateNames[j]}_n"], Tol, $"{what}: {cell.StateNames[j]}_n");

        // Without state inputs every layer starts from zeros.
        var zeroStart = layer.ForwardStates(x, null);
        var z = OnnxTests.RunOrt(OnnxExport.ToBytes(layer, options with { InitialStateInputs = false }), ("x", x));
        OnnxTests.AssertClose(zeroStart.Output, z["y"], Tol, $"{what}: y from zero states");
    }

    [Fact]
    public void ACellThatCannotBeExpressed_IsRefusedByName()
    {
        // Registered (unlisted) because the exporter finds cells by name through the layer's spec.
        CellRegistry.Register("gru_no_onnx", CellRegistry.NoOptions("gru_no_onnx", () => new NoOnnxDefinition()), listed: false);
        var layer = new RecurrentLayer(new NoOnnxDefinition(), 3, 4);
        var e = Assert.Throws<NotSupportedException>(() => OnnxExport.ToBytes(layer));
        Assert.Contains("cell gru_no_onnx cannot be expressed in ONNX operators", e.Message);
    }

    [Fact]
    public void ScanExport_HasOneScanPerLayerDirection_AndNoRecurrentOperator()
    {
        var layer = new RecurrentLayer(CellRegistry.Get("gru"), 3, 4, numLayers: 2, bidirectional: true);
        var model = Onnx.ModelProto.Parser.ParseFrom(OnnxExport.ToBytes(layer, new OnnxExportOptions { ForceScan = true }));
        var ops = model.Graph.Node.Select(n => n.OpType).ToList();
        Assert.Equal(4, ops.Count(op => op == "Scan"));
        Assert.DoesNotContain("GRU", ops);
    }

    private static Tensor Random(ulong seed, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        new Rng(seed).Uniform(t.Span, -1f, 1f);
        return t;
    }

    /// <summary>A GRU whose definition writes no ONNX step and claims no operator.</summary>
    private sealed class NoOnnxDefinition : CellDefinition<GruCellMath>
    {
        public override string Name => "gru_no_onnx";
    }

    /// <summary>Answers every call with a name, to ask a definition whether it can write its step at all.</summary>
    private sealed class ProbeStep : IOnnxStep
    {
        private int _n;
        public int Hidden => 4;
        public string Gx => "gx";
        public string State(int j) => $"s{j}";
        public string? Parameter(string baseName) => baseName;
        public string ParameterTransposed(string baseName) => baseName + "_t";
        public string Op(string opType, string[] inputs, params (string Name, long Value)[] attributes) => $"v{_n++}";
        public string Constant(float value) => $"c{_n++}";
        public string Reshape(string value, params long[] shape) => $"v{_n++}";
        public string Transpose(string value, params long[] perm) => $"v{_n++}";
        public string Columns(string value, int start, int count) => $"v{_n++}";
        public void SetNext(params string[] states) { }
    }
}
