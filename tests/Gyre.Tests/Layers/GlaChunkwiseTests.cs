using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>GLA's chunkwise form (<see cref="GlaChunkwise"/>) against the runner's loop of the "gla" cell with the same
/// weights (outputs, final state and every gradient within 1e-5 relative to the scale), and its own gradients against
/// finite differences (double accumulation, random upstream on y and on the final state).</summary>
public class GlaChunkwiseTests
{
    // heads, I, H, B, T, chunk: T a multiple of the chunk, not one, T = 1, T shorter than the chunk, chunk 1.
    public static TheoryData<int, int, int, int, int, int> Shapes() => new()
    {
        { 1, 3, 4, 2, 16, 8 },
        { 4, 3, 8, 2, 23, 8 },
        { 1, 2, 3, 3, 1, 4 },
        { 4, 5, 8, 1, 5, 16 },
        { 2, 2, 6, 2, 37, 7 },
        { 4, 3, 8, 2, 9, 1 },
    };

    private static (RecurrentLayer Layer, Tensor X, Tensor S0, float[] W, float[] Bias) Setup(int heads, int input, int hidden, int batch, int steps, ulong seed)
    {
        var layer = new RecurrentLayer(CellRegistry.FromText($"gla(heads={heads})"), input, hidden, batchFirst: false, seed: 3);
        var rng = new Rng(seed);
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        var x = GradientCheckTests.Random(rng, [steps, batch, input]);
        var s0 = GradientCheckTests.Random(rng, [1, batch, layer.StateWidth(1)]);
        var w = layer.Parameters().First(p => p.Name.Contains("weight_ih")).Value.ReadOnlySpan.ToArray(); // [4H, I]
        var bias = layer.Parameters().First(p => p.Name.Contains("bias_ih")).Value.ReadOnlySpan.ToArray(); // [4H]
        return (layer, x, s0, w, bias);
    }

    /// <summary>Every entry within 1e-5·max(1, max |expected|) of the reference.</summary>
    internal static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = 1f;
        foreach (float e in expected) scale = Math.Max(scale, Math.Abs(e));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * scale, $"{what}[{i}]: loop {expected[i]:G9}, other form {actual[i]:G9}");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ChunkwiseMatchesTheLoop(int heads, int input, int hidden, int batch, int steps, int chunk)
    {
        var (layer, x, s0, w, bias) = Setup(heads, input, hidden, batch, steps, 41);
        int sw = layer.StateWidth(1);
        var loop = layer.ForwardStates(x, [null, s0]);
        var y = new float[steps * batch * hidden]; var sT = new float[batch * sw];
        GlaChunkwise.Forward(y, sT, x.ReadOnlySpan, s0.ReadOnlySpan, w, bias, steps, batch, input, hidden, heads, chunk);
        Close(loop.Output.ReadOnlySpan, y, "y");
        Close(loop.States[1].ReadOnlySpan, sT, "S_T");

        var rng = new Rng(43);
        var dy = GradientCheckTests.Random(rng, [steps, batch, hidden]);
        var dsT = GradientCheckTests.Random(rng, [1, batch, sw]);
        layer.ZeroGrad();
        var g = layer.BackwardStates(dy, [null, dsT]);
        var dx = new float[x.Length]; var ds0 = new float[s0.Length];
        var dw = new float[w.Length]; var db = new float[bias.Length];
        GlaChunkwise.Backward(dx, ds0, dw, db, dy.ReadOnlySpan, dsT.ReadOnlySpan, x.ReadOnlySpan, s0.ReadOnlySpan, w, bias,
            steps, batch, input, hidden, heads, chunk);
        Close(g.Input.ReadOnlySpan, dx, "dx");
        Close(g.States[1].ReadOnlySpan, ds0, "dS0");
        Close(layer.Parameters().First(p => p.Name.Contains("weight_ih")).Grad.ReadOnlySpan, dw, "dweight_ih");
        Close(layer.Parameters().First(p => p.Name.Contains("bias_ih")).Grad.ReadOnlySpan, db, "dbias_ih");
    }

    [Theory]
    [InlineData(1, 2, 3, 2, 7, 3)]
    [InlineData(4, 3, 8, 1, 6, 4)]
    [InlineData(2, 2, 4, 2, 1, 2)]
    public void BackwardMatchesFiniteDifferences(int heads, int input, int hidden, int batch, int steps, int chunk)
    {
        var (layer, x, s0, w, bias) = Setup(heads, input, hidden, batch, steps, 47);
        int sw = layer.StateWidth(1);
        var rng = new Rng(53);
        var dy = GradientCheckTests.Random(rng, [steps, batch, hidden]);
        var dsT = GradientCheckTests.Random(rng, [1, batch, sw]);
        var wt = Tensor.Zeros(w.Length); w.CopyTo(wt.Span);
        var bt = Tensor.Zeros(bias.Length); bias.CopyTo(bt.Span);
        var y = new float[steps * batch * hidden]; var sT = new float[batch * sw];
        double Loss()
        {
            GlaChunkwise.Forward(y, sT, x.ReadOnlySpan, s0.ReadOnlySpan, wt.ReadOnlySpan, bt.ReadOnlySpan, steps, batch, input, hidden, heads, chunk);
            double l = 0;
            for (int i = 0; i < y.Length; i++) l += (double)y[i] * dy.ReadOnlySpan[i];
            for (int i = 0; i < sT.Length; i++) l += (double)sT[i] * dsT.ReadOnlySpan[i];
            return l;
        }
        var dx = Tensor.Zeros(x.Length); var ds0 = Tensor.Zeros(s0.Length);
        var dw = Tensor.Zeros(w.Length); var db = Tensor.Zeros(bias.Length);
        GlaChunkwise.Backward(dx.Span, ds0.Span, dw.Span, db.Span, dy.ReadOnlySpan, dsT.ReadOnlySpan, x.ReadOnlySpan, s0.ReadOnlySpan,
            wt.ReadOnlySpan, bt.ReadOnlySpan, steps, batch, input, hidden, heads, chunk);
        GradientCheckTests.CheckTensor("x", x, dx.Reshape(x.Shape), Loss, "gla");
        GradientCheckTests.CheckTensor("s0", s0, ds0.Reshape(s0.Shape), Loss, "gla");
        GradientCheckTests.CheckTensor("weight_ih", wt, dw, Loss, "gla");
        GradientCheckTests.CheckTensor("bias_ih", bt, db, Loss, "gla");
    }

    [Fact]
    public void StrongDecayStaysFinite()
    {
        // gx_a = −400: log α = −25 per step, so e^{Σ log α} underflows over a chunk; only differences b_r − b_s ≤ 0 are exponentiated.
        const int I = 1, H = 2, T = 40;
        var w = new float[4 * H * I]; var bias = new float[4 * H];
        for (int e = 0; e < H; e++) { bias[e] = 1f; bias[H + e] = 1f; bias[2 * H + e] = 0.5f; bias[3 * H + e] = -400f; }
        var x = new float[T]; var y = new float[T * H]; var sT = new float[H * H];
        GlaChunkwise.Forward(y, sT, x, [], w, bias, T, 1, I, H, 1, 16);
        // Each step forgets everything before it: S_t = kᵀv, o_t = q·kᵀv = (1/√2)·2·0.5 per column.
        foreach (float o in y) Assert.Equal(1f / MathF.Sqrt(2), o, 1e-6f);
        foreach (float s in sT) Assert.Equal(0.5f, s, 1e-6f);
    }

    [Fact]
    public void BadShapesThrow()
    {
        var y = new float[8]; var sT = new float[4];
        Assert.Throws<ArgumentException>(() => GlaChunkwise.Forward(y, sT, new float[4], [], new float[12], [], 4, 1, 1, 3, 2, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => GlaChunkwise.Forward(y, sT, new float[4], [], new float[8], [], 4, 1, 1, 2, 1, 0));
        Assert.Throws<ArgumentException>(() => GlaChunkwise.Forward(y, sT, new float[3], [], new float[8], [], 4, 1, 1, 2, 1, 2));
    }
}
