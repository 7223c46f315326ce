using Gyre.Cells;
using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;
using static Gyre.Tests.Kernels.FloatCompare;

namespace Gyre.Tests.Layers;

/// <summary>IndRNN: finite-difference gradients through the layer (random upstream, odd sizes, T = 1, B = 1,
/// bidirectional, two layers, both nonlinearities, with and without a bound), options, and the layout.</summary>
public class IndRnnTests
{
    public static IEnumerable<object[]> Shapes()
    {
        // options, I, H, layers, bidirectional, B, T, bias, batchFirst
        foreach (var options in new[] { "", "nonlinearity=tanh", "bound=0.5", "nonlinearity=tanh,bound=0.6" })
        {
            yield return [options, 1, 1, 1, false, 1, 1, true, true];
            yield return [options, 3, 5, 1, false, 1, 7, true, false];
            yield return [options, 5, 7, 2, true, 3, 4, true, true];
            yield return [options, 2, 3, 2, true, 2, 1, false, false];
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardMatchesFiniteDifferences(string options, int inputSize, int hidden, int layers, bool bidir,
        int batch, int steps, bool bias, bool batchFirst)
    {
        var cell = CellRegistry.Get("indrnn", CellOptions.Parse(options));
        var rng = new Rng(31);
        var layer = new RecurrentLayer(cell, inputSize, hidden, layers, bias, batchFirst, 0f, bidir, seed: 5);
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        // u well inside or outside the bound (a kink exactly at the bound would be a one-sided derivative).
        foreach (var p in layer.Parameters().Where(p => p.Name.StartsWith("weight_hh")))
        {
            Assert.True(p.Value.HasShape(hidden));
            var u = p.Value.Span;
            for (int j = 0; j < u.Length; j++) u[j] = (j % 2 == 0 ? 1 : -1) * (j % 3 == 0 ? 0.9f : 0.3f);
        }
        // "rnn_relu" turns on CheckTensor's rule for a ReLU kink inside the finite-difference interval.
        GradientCheckTests.CheckLayer(layer, rng, options.Contains("tanh") ? "indrnn_tanh" : "rnn_relu", batch, steps);
    }

    [Fact]
    public void OptionsAreCheckedAndKept()
    {
        Assert.Equal("indrnn(bound=2,nonlinearity=tanh)", CellRegistry.FromText("indrnn(nonlinearity=tanh,bound=2)").ToString());
        Assert.Contains("bound must be positive", Assert.Throws<ArgumentException>(() => CellRegistry.FromText("indrnn(bound=0)")).Message);
        Assert.Contains("relu or tanh", Assert.Throws<ArgumentException>(() => CellRegistry.FromText("indrnn(nonlinearity=sigmoid)")).Message);
        Assert.Contains("no option 'heads'", Assert.Throws<ArgumentException>(() => CellRegistry.FromText("indrnn(heads=2)")).Message);
        Assert.Equal(RecurrentWeights.Diagonal, CellRegistry.Get("indrnn").Recurrent);
    }

    [Fact]
    public void TheBoundClampsTheRecurrentWeight()
    {
        // h' = relu(gx + clamp(u)·h): with u = 3 and bound 0.5, one step from h0 = 1 and x = 0 gives relu(b + 0.5).
        var layer = new RecurrentLayer(CellRegistry.FromText("indrnn(bound=0.5)"), 1, 1);
        foreach (var p in layer.Parameters()) p.Value.Span.Clear();
        layer.Parameters().First(p => p.Name == "weight_hh_l0").Value.Span[0] = 3f;
        var o = layer.Forward(Tensor.Zeros(1, 1, 1), Tensor.Zeros(1, 1, 1).Also(t => t.Span[0] = 1f));
        Assert.Equal(0.5f, o.Hidden.ReadOnlySpan[0]);
    }

    // ------------------------------------------------------------------ the kernel against its scalar twin

    static readonly float[] Specials = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 1e30f, -1e30f, 88f, -88f, 9.5f, -9.5f];

    [Trait("Category", "Kernels")]
    [Theory]
    [InlineData(true, float.PositiveInfinity)]
    [InlineData(false, float.PositiveInfinity)]
    [InlineData(true, 0.7f)]
    [InlineData(false, 0.7f)]
    public void KernelMatchesItsScalarTwin(bool relu, float bound)
    {
        var rng = new Rng(3);
        float[] R(int len, float scale) { var a = new float[len]; rng.Uniform(a, -scale, scale); return a; }
        foreach (int rows in new[] { 1, 3 })
            for (int h = 0; h <= 70; h++)
            {
                int n = rows * h;
                for (int special = -1; special < 4; special++)
                {
                    var gx = R(n, 3f); var u = R(h, 1.5f); var hp = R(n, 1f); var dh = R(n, 1f);
                    var pick = special switch { 0 => gx, 1 => u, 2 => hp, 3 => dh, _ => null };
                    if (pick != null) for (int i = special % 3; i < pick.Length; i += 3) pick[i] = Specials[(i / 3 + special) % Specials.Length];
                    var hF = new float[n]; var hR = new float[n];
                    IndRnnGates.Forward(hF, gx, u, hp, rows, h, relu, bound);
                    IndRnnReference.Forward(hR, gx, u, hp, rows, h, relu, bound);
                    for (int i = 0; i < n; i++)
                        Assert.True(Close(hF[i], hR[i], 2e-6f, 1e-5f), $"relu={relu} bound={bound} R={rows} H={h} special {special} h'[{i}]: {hF[i]:R} vs {hR[i]:R}");
                    var dpF = new float[n]; var dpR = new float[n]; var dhF = new float[n]; var dhR = new float[n];
                    IndRnnGates.Backward(dpF, dhF, dh, hR, u, rows, h, relu, bound);
                    IndRnnReference.Backward(dpR, dhR, dh, hR, u, rows, h, relu, bound);
                    for (int i = 0; i < n; i++)
                    {
                        Assert.True(Ulps(dpF[i], dpR[i]) == 0, $"dpre[{i}]: {dpF[i]:R} vs {dpR[i]:R}");
                        Assert.True(Ulps(dhF[i], dhR[i]) == 0, $"dh[{i}]: {dhF[i]:R} vs {dhR[i]:R}");
                    }
                }
            }
    }

    [Trait("Category", "Kernels")]
    [Fact]
    public void ShortSpansThrow()
    {
        Assert.Throws<ArgumentException>(() => IndRnnGates.Forward(new float[5], new float[6], new float[3], new float[6], 2, 3, true, 1f));
        Assert.Throws<ArgumentException>(() => IndRnnGates.Forward(new float[6], new float[5], new float[3], new float[6], 2, 3, true, 1f));
        Assert.Throws<ArgumentException>(() => IndRnnGates.Forward(new float[6], new float[6], new float[2], new float[6], 2, 3, true, 1f));
        Assert.Throws<ArgumentException>(() => IndRnnGates.Forward(new float[6], new float[6], new float[3], new float[5], 2, 3, true, 1f));
        Assert.Throws<ArgumentException>(() => IndRnnGates.Backward(new float[5], new float[6], new float[6], new float[6], new float[3], 2, 3, true, 1f));
        Assert.Throws<ArgumentException>(() => IndRnnGates.Backward(new float[6], new float[6], new float[6], new float[5], new float[3], 2, 3, true, 1f));
        Assert.Throws<ArgumentException>(() => IndRnnGates.Backward(new float[6], new float[6], new float[6], new float[6], new float[2], 2, 3, true, 1f));
    }
}

internal static class TensorTestExtensions
{
    public static Tensor Also(this Tensor t, Action<Tensor> f) { f(t); return t; }
}
