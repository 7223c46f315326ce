using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// Padding a batch changes nothing: each row of a padded batch (lengths given, garbage at padded steps) gives the
/// outputs, final states and gradients of that sequence run alone, outputs and ∂L/∂x at padded steps are 0, and
/// the parameter gradients are the sums of the sequences' own. Every registered cell, bidirectional, 2 layers.
/// </summary>
public class VariableLengthTests
{
    public static TheoryData<string, bool> Cells()
    {
        var d = new TheoryData<string, bool>();
        // H = 5 below: heads = 5 gives one-unit heads.
        foreach (var name in CellRegistry.Names.Concat(["test_peephole_leaky", "gru(heads=5)", "lstm(heads=5)", "slstm(forget=exp,heads=5)", "slstm(forget=exp)", "lstm(proj_size=3)"]))
        {
            if (name.StartsWith("test_", StringComparison.Ordinal) && name != "test_peephole_leaky") continue;
            d.Add(name, true);
            d.Add(name, false);
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void PaddingABatchChangesNoSequencesResults(string cellName, bool batchFirst)
    {
        System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(ToyCellTests).TypeHandle);
        var cell = CellRegistry.FromText(cellName);
        const int I = 3, H = 5, L = 2, D = 2, T = 6;
        int[] lengths = [6, 2, 4, 1, 0];
        int B = lengths.Length, ns = cell.States, ld = L * D;
        var rng = new Rng(17);
        var layer = new RecurrentLayer(cell, I, H, L, bias: true, batchFirst: batchFirst, bidirectional: true, seed: 4);
        int W = layer.OutputSize;   // H, or P for lstm(proj_size=P)
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.7f, 0.7f);
        var x = GradientCheckTests.Random(rng, batchFirst ? [B, T, I] : [T, B, I]);
        var dy = GradientCheckTests.Random(rng, batchFirst ? [B, T, D * W] : [T, B, D * W]);
        var s0 = new Tensor[ns]; var dN = new Tensor[ns];
        for (int j = 0; j < ns; j++) { s0[j] = GradientCheckTests.Random(rng, [ld, B, layer.StateWidth(j)]); dN[j] = GradientCheckTests.Random(rng, [ld, B, layer.StateWidth(j)]); }
        int Ix(int b, int t, int width, int k) => batchFirst ? (b * T + t) * width + k : (t * B + b) * width + k;

        layer.ZeroGrad();
        var padded = layer.ForwardStates(x, s0, lengths);
        var grads = layer.BackwardStates(dy, dN);
        var paramGrads = layer.Parameters().Select(p => p.Grad.ReadOnlySpan.ToArray()).ToArray();
        var sumGrads = paramGrads.Select(g => new double[g.Length]).ToArray();

        for (int b = 0; b < B; b++)
        {
            int len = lengths[b];
            for (int t = len; t < T; t++)
                for (int k = 0; k < D * W; k++) Assert.Equal(0f, padded.Output.ReadOnlySpan[Ix(b, t, D * W, k)]);
            for (int t = len; t < T; t++)
                for (int k = 0; k < I; k++) Assert.Equal(0f, grads.Input.ReadOnlySpan[Ix(b, t, I, k)]);
            if (len == 0)
            {
                // No real step in any layer: every state passes through, and ∂L/∂(final state) is ∂L/∂(initial state).
                for (int j = 0; j < ns; j++)
                    for (int s = 0; s < ld; s++)
                        for (int k = 0; k < layer.StateWidth(j); k++)
                        {
                            int at = (s * B + b) * layer.StateWidth(j) + k;
                            Assert.Equal(s0[j].ReadOnlySpan[at], padded.States[j].ReadOnlySpan[at]);
                            Assert.Equal(dN[j].ReadOnlySpan[at], grads.States[j].ReadOnlySpan[at]);
                        }
                continue;
            }
            // The sequence alone: batch 1, its own length.
            var xs = Tensor.Zeros(batchFirst ? [1, len, I] : [len, 1, I]);
            for (int t = 0; t < len; t++)
                for (int k = 0; k < I; k++) xs.Span[t * I + k] = x.ReadOnlySpan[Ix(b, t, I, k)];
            var dys = Tensor.Zeros(batchFirst ? [1, len, D * W] : [len, 1, D * W]);
            for (int t = 0; t < len; t++)
                for (int k = 0; k < D * W; k++) dys.Span[t * D * W + k] = dy.ReadOnlySpan[Ix(b, t, D * W, k)];
            var s0s = s0.Select(s => Row(s, b, ld, B, s.Dim(2))).ToArray();
            var dNs = dN.Select(s => (Tensor?)Row(s, b, ld, B, s.Dim(2))).ToArray();
            layer.ZeroGrad();
            var alone = layer.ForwardStates(xs, s0s);
            var g1 = layer.BackwardStates(dys, dNs);
            for (int t = 0; t < len; t++)
                for (int k = 0; k < D * W; k++)
                    Close(alone.Output.ReadOnlySpan[t * D * W + k], padded.Output.ReadOnlySpan[Ix(b, t, D * W, k)], $"{cellName} y[b={b}, t={t}, {k}]");
            for (int t = 0; t < len; t++)
                for (int k = 0; k < I; k++)
                    Close(g1.Input.ReadOnlySpan[t * I + k], grads.Input.ReadOnlySpan[Ix(b, t, I, k)], $"{cellName} dx[b={b}, t={t}, {k}]");
            for (int j = 0; j < ns; j++)
            {
                int wj = layer.StateWidth(j);
                for (int s = 0; s < ld; s++)
                    for (int k = 0; k < wj; k++)
                    {
                        Close(alone.States[j].ReadOnlySpan[s * wj + k], padded.States[j].ReadOnlySpan[(s * B + b) * wj + k], $"{cellName} state {j} final [{s}, b={b}, {k}]");
                        Close(g1.States[j].ReadOnlySpan[s * wj + k], grads.States[j].ReadOnlySpan[(s * B + b) * wj + k], $"{cellName} d state {j} initial [{s}, b={b}, {k}]");
                    }
            }
            int pi = 0;
            foreach (var p in layer.Parameters())
            {
                var g = p.Grad.ReadOnlySpan;
                for (int i = 0; i < g.Length; i++) sumGrads[pi][i] += g[i];
                pi++;
            }
        }
        // A zero-length row adds nothing to the parameter gradients (its steps are all padding).
        for (int p = 0; p < paramGrads.Length; p++)
            for (int i = 0; i < paramGrads[p].Length; i++)
                Close((float)sumGrads[p][i], paramGrads[p][i], $"{cellName} {layer.Parameters().ElementAt(p).Name}[{i}]");
    }

    [Fact]
    public void LengthsAreChecked()
    {
        var layer = new RecurrentLayer(CellRegistry.Get("gru"), 2, 3);
        var x = Tensor.Zeros(4, 2, 2);
        Assert.Contains("lengths has 1 entries", Assert.Throws<ArgumentException>(() => layer.Forward(x, lengths: [4])).Message);
        Assert.Contains("lengths[1] = 5 is outside 0..4", Assert.Throws<ArgumentException>(() => layer.Forward(x, lengths: [4, 5])).Message);
    }

    private static Tensor Row(Tensor s, int b, int ld, int batch, int h)
    {
        var r = Tensor.Zeros(ld, 1, h);
        for (int i = 0; i < ld; i++) s.ReadOnlySpan.Slice((i * batch + b) * h, h).CopyTo(r.Span.Slice(i * h, h));
        return r;
    }

    private static void Close(float expected, float actual, string what)
    {
        if (Math.Abs(expected - actual) > 1e-5f + 1e-4f * Math.Abs(expected))
            Assert.Fail($"{what}: expected {expected:G9}, got {actual:G9}");
    }
}
