using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// mgu, leaky_rnn and leaky_gru through the layer: finite-difference gradient checks (double accumulation, random
/// upstream gradients on y and h_n, odd sizes, T = 1, B = 1, bidirectional, 2 layers, no bias, time-major), a
/// one-unit MGU step by hand, and the leaky cells' limits (τ → 1 is the inner cell, bit for bit close).
/// </summary>
public class MguAndLeakyTests
{
    public static TheoryData<string, int, int, int, bool, int, int, bool, bool> Shapes()
    {
        // cell, I, H, layers, bidirectional, B, T, bias, batchFirst
        var d = new TheoryData<string, int, int, int, bool, int, int, bool, bool>();
        foreach (var cell in new[] { "mgu", "leaky_rnn", "leaky_gru" })
        {
            d.Add(cell, 1, 1, 1, false, 1, 1, true, true);
            d.Add(cell, 3, 5, 1, false, 2, 5, true, false);
            d.Add(cell, 5, 7, 1, false, 1, 1, true, true);
            d.Add(cell, 2, 3, 2, true, 3, 4, true, true);
            d.Add(cell, 3, 5, 2, true, 2, 3, false, false);
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardMatchesFiniteDifferences(string cellText, int inputSize, int hidden, int layers, bool bidir,
        int batch, int steps, bool bias, bool batchFirst)
    {
        var rng = new Rng(61);
        var layer = new RecurrentLayer(CellRegistry.FromText(cellText), inputSize, hidden, layers, bias, batchFirst, 0f, bidir, seed: 7);
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        SlstmAndHeadsTests.CheckAllStates(layer, rng, batch, steps);
    }

    /// <summary>One unit, two steps, by hand from the header's equations: f = σ(w_f x + u_f h + b_f),
    /// h̃ = tanh(w_h x + u_h f h + b_h), h' = (1 − f) h + f h̃.</summary>
    [Fact]
    public void MguFollowsItsEquations()
    {
        var layer = new RecurrentLayer(CellRegistry.Get("mgu"), 1, 1, batchFirst: true);
        float wf = 0.5f, wh = -0.3f, uf = 0.8f, uh = 1.1f, bf = 0.1f, bh = -0.2f;
        var p = layer.Parameters().ToDictionary(q => q.Name, q => q.Value.Span.ToArray());
        Set(layer, "weight_ih_l0", wf, wh); Set(layer, "weight_hh_l0", uf, uh);
        Set(layer, "bias_ih_l0", bf, 0f); Set(layer, "bias_hh_l0", 0f, bh);
        float[] xs = [0.7f, -1.2f];
        var x = Tensor.Zeros(1, 2, 1); xs.CopyTo(x.Span);
        var y = layer.ForwardStates(x, null).Output.ReadOnlySpan;
        double h = 0;
        for (int t = 0; t < 2; t++)
        {
            double f = 1 / (1 + Math.Exp(-(wf * xs[t] + uf * h + bf)));
            double c = Math.Tanh(wh * xs[t] + uh * f * h + bh);
            h = (1 - f) * h + f * c;
            Assert.Equal(h, y[t], 6);
        }
    }

    private static void Set(RecurrentLayer layer, string name, params float[] values) =>
        values.CopyTo(layer.Parameters().Single(q => q.Name == name).Value.Span);

    /// <summary>ρ → −∞ gives τ → 1 (α = σ(−ρ) → 1): the leaky cell is its inner cell; ρ → +∞ freezes h.</summary>
    [Theory]
    [InlineData("leaky_rnn", "rnn_tanh")]
    [InlineData("leaky_gru", "gru")]
    public void TauLimitsAreTheInnerCellAndAFrozenState(string leaky, string inner)
    {
        var a = new RecurrentLayer(CellRegistry.Get(leaky), 3, 6, 2, bidirectional: true, seed: 2);
        var b = new RecurrentLayer(CellRegistry.Get(inner), 3, 6, 2, bidirectional: true, seed: 3);
        foreach (var p in b.Parameters()) a.Parameters().Single(q => q.Name == p.Name).Value.ReadOnlySpan.CopyTo(p.Value.Span);
        var rhos = a.Parameters().Where(q => q.Name.StartsWith("rho_", StringComparison.Ordinal)).ToArray();
        Assert.Equal(4, rhos.Length);
        Assert.Equal([6], rhos[0].Value.Shape.ToArray());
        foreach (var r in rhos) r.Value.Span.Fill(-100f);
        var x = GradientCheckTests.Random(new Rng(4), [5, 2, 3]);
        var h0 = GradientCheckTests.Random(new Rng(5), [4, 2, 6]);
        var ya = a.ForwardStates(x, [h0]); var yb = b.ForwardStates(x, [h0]);
        Assert.True(GradientCheckTests.MaxDiff(ya.Output, yb.Output) < 1e-6f, $"{leaky} at τ = 1 differs from {inner}");
        foreach (var r in rhos) r.Value.Span.Fill(100f);
        var frozen = a.ForwardStates(x, [h0]);
        Assert.True(GradientCheckTests.MaxDiff(frozen.Hidden, h0) < 1e-6f, $"{leaky} at τ = ∞ moved its state");
    }
}
