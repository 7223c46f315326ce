using Gyre.Cells;
using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;
using static Gyre.Tests.Kernels.FloatCompare;
using static Gyre.Tests.Layers.GradientCheckTests;

namespace Gyre.Tests.Layers;

/// <summary>"lssl" as a registered cell: finite differences over every state (random upstream, odd sizes, T = 1,
/// B = 1, bidirectional, two layers, both discretisations), the library layer's numbers, padding, initialisation
/// and options.</summary>
public class LsslCellTests
{
    public static IEnumerable<object[]> Shapes()
    {
        // I, H, N, layers, bidirectional, B, T, bias, batchFirst, discretisation
        yield return [1, 1, 1, 1, false, 1, 1, true, true, "zoh"];
        yield return [3, 5, 3, 1, false, 1, 7, true, false, "bilinear"];
        yield return [5, 3, 2, 2, true, 3, 4, true, true, "zoh"];
        yield return [2, 3, 4, 2, true, 2, 1, false, false, "bilinear"];
    }

    private static CellDefinition Cell(int n, string disc) =>
        CellRegistry.FromText($"lssl(state_size={n},discretisation={disc})");

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardMatchesFiniteDifferences(int inputSize, int hidden, int n, int layers, bool bidir, int batch, int steps, bool bias, bool batchFirst, string disc)
    {
        var rng = new Rng(31);
        var layer = new RecurrentLayer(Cell(n, disc), inputSize, hidden, layers, bias, batchFirst, 0f, bidir, seed: 5);
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        Assert.Equal(["h", "s"], layer.Cell.StateNames);
        Assert.Equal(n * hidden, layer.StateWidth(1));
        Assert.True(layer.Cell.HasParallelForm);   // the state scan
        int ld = layers * (bidir ? 2 : 1), d = bidir ? 2 : 1;
        var x = Random(rng, batchFirst ? [batch, steps, inputSize] : [steps, batch, inputSize]);
        var dy = Random(rng, batchFirst ? [batch, steps, d * hidden] : [steps, batch, d * hidden]);
        var s0 = new Tensor[2]; var dN = new Tensor[2];
        for (int j = 0; j < 2; j++)
        {
            s0[j] = Random(rng, [ld, batch, layer.StateWidth(j)]);
            dN[j] = Random(rng, [ld, batch, layer.StateWidth(j)]);
        }
        double Loss()
        {
            var o = layer.ForwardStates(x, s0);
            return Dot(o.Output, dy) + Dot(o.States[0], dN[0]) + Dot(o.States[1], dN[1]);
        }
        Loss();
        layer.ZeroGrad();
        var g = layer.BackwardStates(dy, dN);
        var checks = new List<(string, Tensor, Tensor)> { ("x", x, g.Input), ("h0", s0[0], g.States[0]), ("s0", s0[1], g.States[1]) };
        foreach (var p in layer.Parameters()) checks.Add((p.Name, p.Value, p.Grad));
        foreach (var (name, value, grad) in checks) CheckTensor(name, value, grad, Loss, "lssl");
        // y does not feed back: h0 has no effect, its gradient is exactly zero.
        Assert.All(g.States[0].ReadOnlySpan.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void PaddedRowsGiveTheUnpaddedResults()
    {
        // Row 0 is 3 steps padded to 6 (garbage in the padding), row 1 all 6: each must equal its own unpadded run.
        const int t = 6, i = 2, h = 5, n = 3;
        var rng = new Rng(8);
        var x = Random(rng, [2, t, i]);
        var dy = Random(rng, [2, t, 2 * h]);
        RecurrentLayer Make() => new(Cell(n, "zoh"), i, h, numLayers: 2, batchFirst: true, bidirectional: true, seed: 4);
        var layer = Make();
        var o = layer.ForwardStates(x, null, [3, 6]);
        layer.ZeroGrad();
        var g = layer.Backward(dy);
        var grads = layer.Parameters().Select(p => p.Grad.ReadOnlySpan.ToArray()).ToArray();
        var sum = new double[grads.Length][];
        for (int k = 0; k < grads.Length; k++) sum[k] = new double[grads[k].Length];
        for (int row = 0; row < 2; row++)
        {
            int len = row == 0 ? 3 : 6;
            var alone = Make();
            var xr = Tensor.Zeros(1, len, i); var dyr = Tensor.Zeros(1, len, 2 * h);
            x.ReadOnlySpan.Slice(row * t * i, len * i).CopyTo(xr.Span);
            dy.ReadOnlySpan.Slice(row * t * 2 * h, len * 2 * h).CopyTo(dyr.Span);
            var oa = alone.Forward(xr);
            alone.ZeroGrad();
            var ga = alone.Backward(dyr);
            for (int k = 0; k < len * 2 * h; k++) Assert.Equal(oa.Output.ReadOnlySpan[k], o.Output.ReadOnlySpan[row * t * 2 * h + k], 1e-6f);
            for (int k = len * 2 * h; k < t * 2 * h; k++) Assert.Equal(0f, o.Output.ReadOnlySpan[row * t * 2 * h + k]);
            for (int k = 0; k < len * i; k++) Assert.Equal(ga.Input.ReadOnlySpan[k], g.Input.ReadOnlySpan[row * t * i + k], 1e-5f);
            for (int k = len * i; k < t * i; k++) Assert.Equal(0f, g.Input.ReadOnlySpan[row * t * i + k]);
            for (int s = 0; s < 4; s++)
                for (int w = 0; w < n * h; w++)
                    Assert.Equal(oa.States[1].ReadOnlySpan[s * n * h + w], o.States[1].ReadOnlySpan[(s * 2 + row) * n * h + w], 1e-6f);
            int pi = 0;
            foreach (var p in alone.Parameters())
            {
                var src = p.Grad.ReadOnlySpan;
                for (int k = 0; k < src.Length; k++) sum[pi][k] += src[k];
                pi++;
            }
        }
        // The padded batch's parameter gradients are the two rows' own (padding contributes nothing).
        for (int k = 0; k < grads.Length; k++)
            for (int e = 0; e < grads[k].Length; e++)
                Assert.Equal(sum[k][e], grads[k][e], 1e-4 * (1 + Math.Abs(sum[k][e])));
    }

    [Fact]
    public void StartsFromHippoLegS()
    {
        var layer = new RecurrentLayer(Cell(4, "zoh"), 3, 2, 2, seed: 1, bidirectional: true);
        var p = layer.Parameters().ToDictionary(q => q.Name);
        foreach (string suffix in new[] { "_l0", "_l1_reverse" })
        {
            var a = p["log_neg_a" + suffix].Value; var b = p["b" + suffix].Value;
            Assert.Equal([2, 4], a.Shape);
            for (int j = 0; j < 2; j++)
                for (int k = 0; k < 4; k++)
                {
                    Assert.Equal(MathF.Log(k + 1f), a[j, k]);
                    Assert.Equal(MathF.Sqrt(2f * k + 1f), b[j, k]);
                }
            Assert.All(p["log_dt" + suffix].Value.ReadOnlySpan.ToArray(), v => Assert.InRange(v, MathF.Log(1e-3f), MathF.Log(1e-1f)));
        }
    }

    [Fact]
    public void OptionsRoundTripAndBadOnesAreOneLine()
    {
        Assert.Equal("lssl", CellRegistry.Get("lssl").ToString());
        var c = CellRegistry.FromText("lssl(discretisation=bilinear,state_size=8)");
        Assert.Equal("lssl(discretisation=bilinear,state_size=8)", c.ToString());
        Assert.Equal(8 * 7, c.StateWidth(1, 7));
        Assert.Equal(3 * 8 + 2, c.SavedWidth);
        Assert.Equal("cell 'lssl': state_size must be at least 1, got 0", Assert.Throws<ArgumentException>(() => CellRegistry.FromText("lssl(state_size=0)")).Message);
        Assert.Equal("cell 'lssl': discretisation must be zoh or bilinear, got 'euler'",
            Assert.Throws<ArgumentException>(() => CellRegistry.FromText("lssl(discretisation=euler)")).Message);
        Assert.StartsWith("cell 'lssl' has no option 'heads'", Assert.Throws<ArgumentException>(() => CellRegistry.FromText("lssl(heads=2)")).Message);
    }

    [Trait("Category", "Kernels")]
    [Fact]
    public void KernelMatchesItsScalarTwin()
    {
        // Every tail of the state loop (N across the 8- and 4-lane steps), H from 0, and special values in every input:
        // states, ∂L/∂s and the records bit for bit, y and ∂L/∂u (a different summation order) to rounding.
        var rng = new Rng(12);
        float[] R(int len, float scale) { var a = new float[len]; rng.Uniform(a, -scale, scale); return a; }
        foreach (int n in new[] { 1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 33 })
            for (int h = 0; h <= 9; h++)
            {
                int hn = h * n;
                for (int special = -1; special < 8; special++)
                {
                    var sp = R(hn, 1f); var u = R(h, 2f); var a = R(hn, 1f); var b = R(hn, 1f); var c = R(hn, 1f); var d = R(h, 1f);
                    var dy = R(h, 1f); var dsn = R(hn, 1f);
                    var pick = special switch { 0 => sp, 1 => u, 2 => a, 3 => b, 4 => c, 5 => d, 6 => dy, 7 => dsn, _ => null };
                    if (pick != null) for (int k = special % 3; k < pick.Length; k += 3) pick[k] = Specials[(k / 3 + special) % Specials.Length];
                    var yF = new float[h]; var sF = new float[hn]; var yR = new float[h]; var sR = new float[hn];
                    LsslStep.Forward(yF, sF, sp, u, a, b, c, d, h, n);
                    LsslStepReference.Forward(yR, sR, sp, u, a, b, c, d, h, n);
                    AssertSameBits(sF, sR, $"N={n} H={h} special {special} s'");
                    AssertAllClose(yF, yR, 1e-5f, 1e-5f, $"N={n} H={h} special {special} y");
                    var duF = new float[h]; var dspF = new float[hn]; var recF = new float[3 * hn + h];
                    var duR = new float[h]; var dspR = new float[hn]; var recR = new float[3 * hn + h];
                    LsslStep.Backward(duF, dspF, recF, dy, dsn, sp, sR, u, a, b, c, d, h, n);
                    LsslStepReference.Backward(duR, dspR, recR, dy, dsn, sp, sR, u, a, b, c, d, h, n);
                    AssertSameBits(dspF, dspR, $"N={n} H={h} special {special} ds");
                    AssertSameBits(recF, recR, $"N={n} H={h} special {special} records");
                    AssertAllClose(duF, duR, 1e-5f, 1e-5f, $"N={n} H={h} special {special} du");
                }
            }
    }

    [Trait("Category", "Kernels")]
    [Fact]
    public void ShortSpansThrow()
    {
        float[] F(int k) => new float[k];
        // H = 2, N = 3: [H] spans need 2, [H·N] spans 6, records 3·6 + 2 = 20.
        Assert.Throws<ArgumentException>(() => LsslStep.Forward(F(1), F(6), F(6), F(2), F(6), F(6), F(6), F(2), 2, 3));
        Assert.Throws<ArgumentException>(() => LsslStep.Forward(F(2), F(5), F(6), F(2), F(6), F(6), F(6), F(2), 2, 3));
        Assert.Throws<ArgumentException>(() => LsslStep.Forward(F(2), F(6), F(6), F(2), F(6), F(6), F(5), F(2), 2, 3));
        Assert.Throws<ArgumentException>(() => LsslStep.Forward(F(2), F(6), F(6), F(2), F(6), F(6), F(6), F(1), 2, 3));
        Assert.Throws<ArgumentException>(() => LsslStepReference.Forward(F(2), F(6), F(5), F(2), F(6), F(6), F(6), F(2), 2, 3));
        Assert.Throws<ArgumentException>(() => LsslStep.Backward(F(2), F(6), F(19), F(2), F(6), F(6), F(6), F(2), F(6), F(6), F(6), F(2), 2, 3));
        Assert.Throws<ArgumentException>(() => LsslStep.Backward(F(1), F(6), F(20), F(2), F(6), F(6), F(6), F(2), F(6), F(6), F(6), F(2), 2, 3));
        Assert.Throws<ArgumentException>(() => LsslStep.Backward(F(2), F(6), F(20), F(2), F(6), F(6), F(5), F(2), F(6), F(6), F(6), F(2), 2, 3));
        Assert.Throws<ArgumentException>(() => LsslStepReference.Backward(F(2), F(5), F(20), F(2), F(6), F(6), F(6), F(2), F(6), F(6), F(6), F(2), 2, 3));
        LsslStep.Backward(F(2), F(6), F(20), F(2), F(6), F(6), F(6), F(2), F(6), F(6), F(6), F(2), 2, 3); // exact lengths pass
    }
}
