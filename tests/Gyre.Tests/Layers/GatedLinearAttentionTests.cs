using Gyre.Kernels;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;
using static Gyre.Tests.Layers.GradientCheckTests;

namespace Gyre.Tests.Layers;

/// <summary>
/// Gated linear attention: the recurrent form against the definition summed directly in double, the chunkwise
/// form against the recurrent one (within 1e-5, including strong decay), gradients of both against finite
/// differences with random upstream gradients, and bits across team sizes.
/// </summary>
public class GatedLinearAttentionTests
{
    [Fact]
    public void Recurrent_MatchesTheDefinitionSummedDirectly()
    {
        int b = 2, t = 9, i = 3, h = 8, heads = 2, dk = 2, dv = 4;
        var gla = new GatedLinearAttention(i, h, heads, gateRank: 3, seed: 5);
        var x = Random(new Rng(1), [b, t, i]);
        var y = gla.Forward(x);
        var p = gla.StateDict();
        double[] Row(string name, int e, int s, int rows)
        {
            var w = p[name]; var r = new double[rows];
            for (int a = 0; a < rows; a++)
                for (int c = 0; c < i; c++) r[a] += w[a, c] * x[e, s, c];
            return r;
        }
        for (int e = 0; e < b; e++)
        {
            var q = new double[t][]; var k = new double[t][]; var v = new double[t][]; var la = new double[t][];
            for (int s = 0; s < t; s++)
            {
                q[s] = Row("q_proj.weight", e, s, heads * dk).Select(z => z / Math.Sqrt(dk)).ToArray();
                k[s] = Row("k_proj.weight", e, s, heads * dk);
                v[s] = Row("v_proj.weight", e, s, h);
                var zz = Row("gate_down.weight", e, s, 3);
                la[s] = new double[heads * dk];
                for (int a = 0; a < heads * dk; a++)
                {
                    double pre = p["gate_up.bias"][a];
                    for (int c = 0; c < 3; c++) pre += p["gate_up.weight"][a, c] * zz[c];
                    la[s][a] = -Math.Log(1 + Math.Exp(-pre)) / 16.0;
                }
            }
            for (int s = 0; s < t; s++)
            {
                // o_s = Σ_{u≤s} Σ_i q_s[i]·k_u[i]·Π_{u<w≤s} α_w[i] · v_u, then y = o·W_oᵀ.
                var o = new double[h];
                for (int n = 0; n < heads; n++)
                    for (int u = 0; u <= s; u++)
                    {
                        double a = 0;
                        for (int ii = 0; ii < dk; ii++)
                        {
                            double decay = 0;
                            for (int w = u + 1; w <= s; w++) decay += la[w][n * dk + ii];
                            a += q[s][n * dk + ii] * k[u][n * dk + ii] * Math.Exp(decay);
                        }
                        for (int j = 0; j < dv; j++) o[n * dv + j] += a * v[u][n * dv + j];
                    }
                for (int a = 0; a < h; a++)
                {
                    double yy = 0;
                    for (int c = 0; c < h; c++) yy += p["o_proj.weight"][a, c] * o[c];
                    Assert.True(Math.Abs(yy - y[e, s, a]) < 1e-5, $"y[{e},{s},{a}] = {y[e, s, a]} vs {yy}");
                }
            }
        }
    }

    [Theory]
    [InlineData(1, 0f)]
    [InlineData(5, 0f)]
    [InlineData(16, 0f)]
    [InlineData(17, 0f)]
    [InlineData(300, 0f)]
    [InlineData(300, -40f)] // log α ≈ −2.5 per step: e^{−b} would overflow within one chunk
    [InlineData(300, 8f)]   // α ≈ 1: long memory
    public void Chunkwise_AgreesWithRecurrent(int t, float gateBias)
    {
        var gla = new GatedLinearAttention(4, 16, heads: 2, seed: 7);
        foreach (var (name, p) in gla.NamedParameters()) if (name == "gate_up.bias") p.Value.Fill(gateBias);
        var x = Random(new Rng(3), [2, t, 4]);
        var rec = gla.Forward(x);
        gla.Scan = ScanMode.Parallel;
        var chunked = gla.Forward(x);
        Assert.True(MaxDiff(rec, chunked) <= 1e-5f, $"max |Δy| = {MaxDiff(rec, chunked)}");
    }

    [Theory]
    [InlineData(ScanMode.Sequential)]
    [InlineData(ScanMode.Parallel)]
    public void Backward_MatchesFiniteDifferences(ScanMode scan)
    {
        var gla = new GatedLinearAttention(3, 8, heads: 2, gateRank: 3, seed: 2) { Scan = scan };
        var rng = new Rng(42);
        foreach (var p in gla.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        var x = Random(rng, [2, 19, 3]); // 19 steps: a full chunk and a tail
        var dy = Random(rng, [2, 19, 8]);
        double Loss() => Dot(gla.Forward(x), dy);
        Loss();
        gla.ZeroGrad();
        var dx = gla.Backward(dy);
        CheckTensor("x", x, dx, Loss, "gla");
        foreach (var p in gla.Parameters()) CheckTensor(p.Name, p.Value, p.Grad, Loss, "gla");
    }

    [Fact]
    public void SameBits_ForAnyTeamSize()
    {
        (float[], float[]) RunWith(int threads, ScanMode scan)
        {
            using var team = new WorkerTeam(threads);
            var gla = new GatedLinearAttention(3, 16, heads: 2, seed: 4) { Team = team, Scan = scan };
            var rng = new Rng(6);
            var y = gla.Forward(Random(rng, [3, 70, 3]));
            var dx = gla.Backward(Random(rng, [3, 70, 16]));
            return (y.ReadOnlySpan.ToArray(), dx.ReadOnlySpan.ToArray().Concat(gla.Parameters().SelectMany(p => p.Grad.ReadOnlySpan.ToArray())).ToArray());
        }
        foreach (var scan in new[] { ScanMode.Sequential, ScanMode.Parallel })
        {
            var one = RunWith(1, scan);
            var three = RunWith(3, scan);
            Assert.Equal(one.Item1, three.Item1);
            Assert.Equal(one.Item2, three.Item2);
        }
    }

    [Fact]
    public void BadSizes_Throw()
    {
        Assert.Throws<ArgumentException>(() => new GatedLinearAttention(3, 10, heads: 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GatedLinearAttention(0, 8));
        Assert.Throws<ArgumentException>(() => new GatedLinearAttention(3, 8, heads: 2).Forward(Tensor.Zeros(1, 4, 2)));
        Assert.Throws<InvalidOperationException>(() => new GatedLinearAttention(3, 8, heads: 2).Backward(Tensor.Zeros(1, 4, 8)));
    }
}
