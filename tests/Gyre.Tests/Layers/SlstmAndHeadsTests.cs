using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// sLSTM and the heads option of gru / lstm / slstm through the layer: finite-difference gradient checks (double
/// accumulation, random upstream gradients, every state), heads = 1 giving the dense cell's bits, heads = n
/// equal to the dense cell with the block-diagonal weight_hh written out, parameter shapes, option errors.
/// </summary>
public class SlstmAndHeadsTests
{
    public static TheoryData<string, int, int, int, bool, int, int, bool, bool> Shapes()
    {
        // cell, I, H, layers, bidirectional, B, T, bias, batchFirst
        var d = new TheoryData<string, int, int, int, bool, int, int, bool, bool>();
        foreach (var cell in new[] { "slstm", "slstm(forget=exp)" })
        {
            d.Add(cell, 1, 1, 1, false, 1, 1, true, true);
            d.Add(cell, 3, 5, 1, false, 2, 5, true, false);
            d.Add(cell, 5, 7, 1, false, 1, 1, true, true);
            d.Add(cell, 2, 3, 2, true, 3, 4, true, true);
            d.Add(cell, 3, 5, 2, true, 2, 3, false, false);
        }
        foreach (var cell in new[] { "gru(heads=2)", "lstm(heads=3)", "slstm(heads=2)", "slstm(forget=exp,heads=3)" })
        {
            d.Add(cell, 3, 6, 1, false, 1, 1, true, true);
            d.Add(cell, 2, 6, 2, true, 3, 4, true, false);
            d.Add(cell, 5, 12, 1, false, 2, 3, false, true);
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardMatchesFiniteDifferences(string cellText, int inputSize, int hidden, int layers, bool bidir,
        int batch, int steps, bool bias, bool batchFirst)
    {
        var cell = CellRegistry.FromText(cellText);
        var rng = new Rng(43);
        var layer = new RecurrentLayer(cell, inputSize, hidden, layers, bias, batchFirst, 0f, bidir, seed: 8);
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        CheckAllStates(layer, rng, batch, steps);
    }

    /// <summary>
    /// Every input, initial-state and parameter gradient against central differences of
    /// L = Σ y ⊙ dy + Σ_j s_j,n ⊙ ds_j — for sLSTM with its stabiliser m frozen as the backward treats it:
    /// L = Σ y ⊙ dy + Σ h_n ⊙ dh + Σ (c_n ⊙ dc + n_n ⊙ dn) ⊙ e^(m_n − m̄_n) with m̄_n the unperturbed m_n, and a
    /// random dm that the backward must ignore.
    /// </summary>
    internal static void CheckAllStates(RecurrentLayer layer, Rng rng, int batch, int steps)
    {
        int ld = layer.NumLayers * layer.Directions, w0 = layer.OutputSize, ns = layer.StateCount, d = layer.Directions;
        bool stabilised = layer.Cell.StateNames is [.., "m"];
        var x = GradientCheckTests.Random(rng, layer.BatchFirst ? [batch, steps, layer.InputSize] : [steps, batch, layer.InputSize]);
        var dy = GradientCheckTests.Random(rng, layer.BatchFirst ? [batch, steps, d * w0] : [steps, batch, d * w0]);
        var s0 = new Tensor[ns]; var dN = new Tensor[ns];
        for (int j = 0; j < ns; j++)
        {
            s0[j] = GradientCheckTests.Random(rng, [ld, batch, layer.StateWidth(j)]);
            dN[j] = GradientCheckTests.Random(rng, [ld, batch, layer.StateWidth(j)]);
        }
        // The normaliser is positive in a running sLSTM (a sum of positive gates).
        if (stabilised) foreach (ref float v in s0[2].Span) v = 1f + 0.5f * v;
        float[] mBar = stabilised ? layer.ForwardStates(x, s0).States[3].ReadOnlySpan.ToArray() : [];

        double Loss()
        {
            var o = layer.ForwardStates(x, s0);
            double l = GradientCheckTests.Dot(o.Output, dy) + GradientCheckTests.Dot(o.States[0], dN[0]);
            if (!stabilised)
            {
                for (int j = 1; j < ns; j++) l += GradientCheckTests.Dot(o.States[j], dN[j]);
                return l;
            }
            var c = o.States[1].ReadOnlySpan; var n = o.States[2].ReadOnlySpan; var m = o.States[3].ReadOnlySpan;
            for (int i = 0; i < c.Length; i++)
                l += ((double)c[i] * dN[1].ReadOnlySpan[i] + (double)n[i] * dN[2].ReadOnlySpan[i]) * Math.Exp((double)m[i] - mBar[i]);
            return l;
        }

        layer.ForwardStates(x, s0);
        layer.ZeroGrad();
        var g = layer.BackwardStates(dy, dN);
        var checks = new List<(string, Tensor, Tensor)> { ("x", x, g.Input) };
        for (int j = 0; j < ns; j++) checks.Add((layer.Cell.StateNames[j] + "0", s0[j], g.States[j]));
        foreach (var p in layer.Parameters()) checks.Add((p.Name, p.Value, p.Grad));
        foreach (var (name, value, grad) in checks) GradientCheckTests.CheckTensor(name, value, grad, Loss, layer.Cell.ToString());
    }

    [Theory]
    [InlineData("gru")]
    [InlineData("lstm")]
    [InlineData("slstm")]
    public void OneHeadIsTheDenseCellBitForBit(string name)
    {
        var dense = CellRegistry.Get(name);
        var one = CellRegistry.Get(name, CellOptions.Parse("heads=1"));
        Assert.Equal(dense.GetType(), one.GetType());
        Assert.Equal(name, one.ToString());
        (float[] Y, float[] Grads, string[] Names) Run(CellDefinition cell)
        {
            var layer = new RecurrentLayer(cell, 3, 8, 2, bidirectional: true, seed: 5);
            var x = GradientCheckTests.Random(new Rng(1), [6, 4, 3]);
            var o = layer.ForwardStates(x, null);
            layer.BackwardStates(GradientCheckTests.Random(new Rng(2), [.. o.Output.Shape]), null);
            return ([.. o.Output.ReadOnlySpan, .. o.States.SelectMany(s => s.ReadOnlySpan.ToArray())], [.. layer.Block.Grads],
                [.. layer.Parameters().Select(p => $"{p.Name}{Tensor.ShapeString(p.Value.Shape)}")]);
        }
        var a = Run(dense); var b = Run(one);
        Assert.Equal(a.Names, b.Names);
        Assert.Equal(a.Y, b.Y);
        Assert.Equal(a.Grads, b.Grads);
    }

    [Theory]
    [InlineData("gru", 3, 4)]
    [InlineData("lstm", 4, 3)]
    [InlineData("slstm", 4, 2)]
    public void HeadsEqualTheDenseCellWithTheBlocksWrittenOut(string name, int gates, int heads)
    {
        const int I = 3, H = 12, B = 3, T = 5;
        int dh = H / heads;
        var split = new RecurrentLayer(CellRegistry.Get(name, CellOptions.Parse($"heads={heads}")), I, H, seed: 11);
        var dense = new RecurrentLayer(CellRegistry.Get(name), I, H, seed: 12);
        var w = split.Parameters().Single(p => p.Name == "weight_hh_l0");
        Assert.Equal([heads, gates * dh, dh], w.Value.Shape.ToArray());
        foreach (var p in split.Parameters().Where(p => p.Name != "weight_hh_l0"))
            p.Value.ReadOnlySpan.CopyTo(dense.Parameters().Single(q => q.Name == p.Name).Value.Span);
        // dense[g·H + k·d + j, k·d + i] = blocks[k, g·d + j, i], zero off the blocks.
        var full = dense.Parameters().Single(p => p.Name == "weight_hh_l0").Value.Span;
        full.Clear();
        for (int k = 0; k < heads; k++)
            for (int g = 0; g < gates; g++)
                for (int j = 0; j < dh; j++)
                    for (int i = 0; i < dh; i++)
                        full[(g * H + k * dh + j) * H + k * dh + i] = w.Value.ReadOnlySpan[(k * gates * dh + g * dh + j) * dh + i];

        var x = GradientCheckTests.Random(new Rng(3), [T, B, I]);
        var dy = GradientCheckTests.Random(new Rng(4), [T, B, H]);
        var ys = split.ForwardStates(x, null); split.ZeroGrad(); split.BackwardStates(dy, null);
        var yd = dense.ForwardStates(x, null); dense.ZeroGrad(); dense.BackwardStates(dy, null);
        AssertClose(yd.Output.ReadOnlySpan, ys.Output.ReadOnlySpan, "y");
        foreach (var p in split.Parameters().Where(p => p.Name != "weight_hh_l0"))
            AssertClose(dense.Parameters().Single(q => q.Name == p.Name).Grad.ReadOnlySpan, p.Grad.ReadOnlySpan, p.Name);
        var dFull = dense.Parameters().Single(p => p.Name == "weight_hh_l0").Grad.ReadOnlySpan;
        var dBlocks = new float[w.Grad.Length];
        for (int k = 0; k < heads; k++)
            for (int g = 0; g < gates; g++)
                for (int j = 0; j < dh; j++)
                    for (int i = 0; i < dh; i++)
                        dBlocks[(k * gates * dh + g * dh + j) * dh + i] = dFull[(g * H + k * dh + j) * H + k * dh + i];
        AssertClose(dBlocks, w.Grad.ReadOnlySpan, "weight_hh_l0 grad");
    }

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f + 1e-5f * Math.Abs(expected[i]), $"{what}[{i}]: {actual[i]:G9} vs {expected[i]:G9}");
    }

    [Fact]
    public void OptionsAreCheckedAndRoundTrip()
    {
        Assert.Contains("hidden size 6 is not a multiple of heads=4",
            Assert.Throws<ArgumentException>(() => new RecurrentLayer(CellRegistry.FromText("gru(heads=4)"), 2, 6)).Message);
        Assert.Contains("heads must be at least 1", Assert.Throws<ArgumentException>(() => CellRegistry.FromText("lstm(heads=0)")).Message);
        Assert.Contains("forget must be sigmoid or exp", Assert.Throws<ArgumentException>(() => CellRegistry.FromText("slstm(forget=relu)")).Message);
        Assert.Contains("has no option 'proj'", Assert.Throws<ArgumentException>(() => CellRegistry.FromText("slstm(proj=2)")).Message);
        foreach (var text in new[] { "slstm", "slstm(forget=exp)", "slstm(forget=exp,heads=4)", "gru(heads=2)", "lstm(heads=8)" })
            Assert.Equal(text, CellRegistry.FromText(text).ToString());
        Assert.Equal("slstm", CellRegistry.FromText("slstm(forget=sigmoid,heads=1)").ToString());
        Assert.Equal(["h", "c", "n", "m"], CellRegistry.Get("slstm").StateNames);
        Assert.Throws<NotSupportedException>(() => CellRegistry.KindOf(CellRegistry.FromText("gru(heads=2)")));
        // A spec carries any cell by name and options (ONNX Scan export covers every cell).
        Assert.Equal("gru(heads=2)", new RecurrentLayer(CellRegistry.FromText("gru(heads=2)"), 2, 4).ToSpec().Cell().ToString());
    }
}
