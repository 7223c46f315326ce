using Gyre.Cells;
using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;
using static Gyre.Tests.Kernels.FloatCompare;

namespace Gyre.Tests.Layers;

/// <summary>The "gla" cell (gated linear attention, a matrix state per head): finite-difference gradients of every
/// input, state and parameter (random upstream, odd sizes, T = 1, B = 1, bidirectional, two layers, heads), the
/// step against the definition evaluated in double precision, and its option errors. Padding invariance and the
/// ONNX Scan step are covered with every registered cell (VariableLengthTests, OnnxScanTests).</summary>
public class GlaCellTests
{
    public static TheoryData<string, int, int, int, bool, int, int, bool, bool> Shapes() => new()
    {
        // cell, I, H, layers, bidirectional, B, T, bias, batchFirst
        { "gla", 1, 1, 1, false, 1, 1, true, true },
        { "gla", 3, 5, 1, false, 1, 7, true, false },
        { "gla(heads=2)", 5, 4, 2, true, 3, 4, true, true },
        { "gla(heads=3)", 2, 3, 2, true, 2, 1, false, false },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardMatchesFiniteDifferences(string cell, int inputSize, int hidden, int layers, bool bidir,
        int batch, int steps, bool bias, bool batchFirst)
    {
        var rng = new Rng(23);
        var layer = new RecurrentLayer(CellRegistry.FromText(cell), inputSize, hidden, layers, bias, batchFirst, 0f, bidir, seed: 5);
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        Assert.Equal(hidden * hidden / ((GlaDefinition)layer.Cell).HeadCount, layer.StateWidth(1));
        SlstmAndHeadsTests.CheckAllStates(layer, rng, batch, steps);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(6)]
    public void StepIsTheDefinitionInDouble(int heads)
    {
        // S_t = diag(α_t) S_{t−1} + k_tᵀ v_t, o_t = q_t S_t per head, α = σ(gx_a)^(1/16), q = gx_q / √d,
        // evaluated here from weight_ih and bias_ih in double.
        const int I = 3, H = 6, B = 2, T = 9;
        int d = H / heads;
        var layer = new RecurrentLayer(CellRegistry.FromText($"gla(heads={heads})"), I, H, batchFirst: true, seed: 7);
        var rng = new Rng(31);
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -1f, 1f);
        var x = GradientCheckTests.Random(rng, [B, T, I]);
        var y = layer.ForwardStates(x, null);
        var w = layer.Parameters().First(p => p.Name.Contains("weight_ih")).Value.ReadOnlySpan.ToArray();  // [4H, I]
        var bi = layer.Parameters().First(p => p.Name.Contains("bias_ih")).Value.ReadOnlySpan.ToArray();   // [4H]
        for (int b = 0; b < B; b++)
        {
            var s = new double[H * d]; // [N, d, d]
            for (int t = 0; t < T; t++)
            {
                var gx = new double[4 * H];
                for (int r = 0; r < 4 * H; r++)
                {
                    gx[r] = bi[r];
                    for (int i = 0; i < I; i++) gx[r] += (double)w[r * I + i] * x.ReadOnlySpan[(b * T + t) * I + i];
                }
                for (int n = 0; n < heads; n++)
                    for (int j = 0; j < d; j++)
                    {
                        double o = 0;
                        for (int i = 0; i < d; i++)
                        {
                            int e = n * d + i;
                            double alpha = Math.Pow(1 / (1 + Math.Exp(-gx[3 * H + e])), 1 / 16.0);
                            s[e * d + j] = alpha * s[e * d + j] + gx[H + e] * gx[2 * H + n * d + j];
                            o += gx[e] / Math.Sqrt(d) * s[e * d + j];
                        }
                        Assert.Equal(o, y.Output.ReadOnlySpan[(b * T + t) * H + n * d + j], 1e-5);
                    }
            }
            for (int k = 0; k < H * d; k++) Assert.Equal(s[k], y.States[1].ReadOnlySpan[b * H * d + k], 1e-5);
        }
    }

    [Fact]
    public void OptionsAreCheckedInOneLine()
    {
        Assert.Contains("multiple of heads = 2", Assert.Throws<ArgumentException>(() => new RecurrentLayer(CellRegistry.FromText("gla(heads=2)"), 2, 5)).Message);
        Assert.Contains("has no option 'key'", Assert.Throws<ArgumentException>(() => CellRegistry.FromText("gla(key=3)")).Message);
        Assert.Contains("heads must be at least 1", Assert.Throws<ArgumentException>(() => CellRegistry.FromText("gla(heads=0)")).Message);
        Assert.Equal(["h", "s"], CellRegistry.Get("gla").StateNames);
    }

    [Trait("Category", "Kernels")]
    [Fact]
    public void GateKernelMatchesItsScalarTwin()
    {
        var rng = new System.Random(5);
        for (int n = 0; n <= 70; n++)
            for (int special = -1; special < 2; special++)
            {
                var q = Random(rng, n, -3f, 3f); var a = Random(rng, n, -30f, 30f);
                var pick = special switch { 0 => q, 1 => a, _ => null };
                if (pick != null) for (int k = 0; k < n; k++) pick[k] = Specials[(k + n) % Specials.Length];
                float[] qF = [.. q], qR = [.. q], aF = [.. a], aR = [.. a], sF = new float[n], sR = new float[n];
                GlaGates.Forward(qF, aF, sF, 0.37f);
                GlaGatesReference.Forward(qR, aR, sR, 0.37f);
                for (int k = 0; k < n; k++)
                {
                    Assert.True(Ulps(qF[k], qR[k]) == 0, $"n={n} q[{k}] of {q[k]:R}: {qF[k]:R} vs {qR[k]:R}");
                    Assert.True(Close(aF[k], aR[k], 0f, 2e-6f), $"n={n} α[{k}] of {a[k]:R}: {aF[k]:R} vs {aR[k]:R}");
                    Assert.True(Close(sF[k], sR[k], 1e-30f, 4e-6f), $"n={n} slope[{k}] of {a[k]:R}: {sF[k]:R} vs {sR[k]:R}");
                }
                // Without the slope: the same α.
                float[] q2 = [.. q], a2 = [.. a];
                GlaGates.Forward(q2, a2, default, 0.37f);
                for (int k = 0; k < n; k++) Assert.True(Ulps(a2[k], aF[k]) == 0, $"α[{k}] without slope");
            }
    }

    [Trait("Category", "Kernels")]
    [Fact]
    public void GateIsTheSixteenthRootOfSigmaAndItsSlope()
    {
        // In double: α = σ(x)^(1/16), ∂α/∂x = α·(1 − σ(x))/16, also deep in the tails where σ itself underflows in float.
        foreach (float x in new[] { -1000f, -150f, -90f, -20f, -1f, -1e-3f, 0f, 1e-3f, 0.5f, 3f, 17f, 90f })
        {
            float[] q = [1f], a = [x], s = new float[1];
            GlaGates.Forward(q, a, s, 1f);
            double sig = 1 / (1 + Math.Exp(-(double)x)), alpha = Math.Exp((Math.Min(x, 0) - Math.Log(1 + Math.Exp(-Math.Abs((double)x)))) / 16);
            Assert.True(Math.Abs(a[0] - alpha) <= 2e-6 * alpha, $"α({x}) = {a[0]:R}, expected {alpha:R}");
            double slope = alpha * (1 - sig) / 16;
            Assert.True(Math.Abs(s[0] - slope) <= 1e-6 * slope + 1e-38, $"slope({x}) = {s[0]:R}, expected {slope:R}");
        }
        Assert.True(Math.Abs(Math.Pow(1 / (1 + Math.Exp(1.0)), 1 / 16.0) - GateOf(-1f)) < 1e-6);

        static float GateOf(float x) { float[] q = [0f], a = [x]; GlaGates.Forward(q, a, default, 1f); return a[0]; }
    }

    [Trait("Category", "Kernels")]
    [Fact]
    public void GateKernelShortSpansThrow()
    {
        Assert.Throws<ArgumentException>(() => GlaGates.Forward(new float[6], new float[5], default, 1f));
        Assert.Throws<ArgumentException>(() => GlaGates.Forward(new float[6], new float[6], new float[5], 1f));
        Assert.Throws<ArgumentException>(() => GlaGatesReference.Forward(new float[6], new float[5], default, 1f));
        Assert.Throws<ArgumentException>(() => GlaGatesReference.Forward(new float[6], new float[6], new float[5], 1f));
    }
}
