using Gyre.Layers;
using Gyre.Models;
using Gyre.Tensors;
using Gyre.Tests.Models;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// The gated memory unit on its own: the formula, finite differences (double accumulation, random upstream
/// gradients) of ∂L/∂x, ∂L/∂m and the weights, padding, PyTorch's nn.Linear initialisation bound, shape errors
/// and a repeated step that allocates nothing.
/// </summary>
public class GatedMemoryUnitTests
{
    [Theory]
    [InlineData(3, 4, 5, 7, false)]   // odd sizes, D_x ≠ D_m
    [InlineData(1, 1, 3, 2, false)]   // B = 1, T = 1
    [InlineData(3, 5, 6, 6, true)]
    [InlineData(2, 4, 1, 9, true)]
    public void GradientsMatchFiniteDifferences(int b, int t, int dx, int dm, bool ragged)
    {
        var rng = new Rng(17);
        var gmu = new GatedMemoryUnit(dx, dm, seed: 3);
        foreach (var p in gmu.Parameters()) rng.Uniform(p.Value.Span, -1.5f, 1.5f);
        int[]? lengths = ragged ? Enumerable.Range(0, b).Select(i => 1 + (i * 3) % t).ToArray() : null;
        var x = GradientCheckTests.Random(rng, [b, t, dx]);
        var m = GradientCheckTests.Random(rng, [b, t, dm]);
        var dy = GradientCheckTests.Random(rng, [b, t, dm]);
        double Loss() => GradientCheckTests.Dot(gmu.Forward(x, m, lengths), dy);
        Loss();
        gmu.ZeroGrad();
        var (dX, dM) = gmu.Backward(dy);
        dX = dX.Clone(); dM = dM.Clone();
        ModelGradientTests.Check("x", x, dX, Loss);
        ModelGradientTests.Check("m", m, dM, Loss);
        foreach (var p in gmu.Parameters()) ModelGradientTests.Check(p.Name, p.Value, p.Grad, Loss);
    }

    [Fact]
    public void ForwardIsTheGatedMemoryAndPaddedStepsAreZero()
    {
        var rng = new Rng(2);
        int b = 2, t = 3, dx = 3, dm = 5;
        var gmu = new GatedMemoryUnit(dx, dm, seed: 1);
        var x = GradientCheckTests.Random(rng, [b, t, dx]);
        var m = GradientCheckTests.Random(rng, [b, t, dm]);
        int[] lengths = [3, 1];
        var y = gmu.Forward(x, m, lengths);
        var dy = GradientCheckTests.Random(rng, [b, t, dm]);
        var (dX, dM) = gmu.Backward(dy);
        var w = gmu.Weight.Value; var bias = gmu.Bias.Value;
        for (int i = 0; i < b; i++)
            for (int s = 0; s < t; s++)
                for (int k = 0; k < dm; k++)
                {
                    double a = bias[k];
                    for (int j = 0; j < dx; j++) a += (double)w[k, j] * x[i, s, j];
                    double expected = s < lengths[i] ? m[i, s, k] / (1 + Math.Exp(-a)) : 0;
                    Assert.True(Math.Abs(y[i, s, k] - expected) < 1e-6, $"y[{i},{s},{k}] = {y[i, s, k]}, expected {expected}");
                    if (s >= lengths[i]) { Assert.Equal(0f, dM[i, s, k]); if (k < dx) Assert.Equal(0f, dX[i, s, k]); }
                }
    }

    [Fact]
    public void InitialisationIsPyTorchLinears()
    {
        var gmu = new GatedMemoryUnit(16, 7, seed: 4, prefix: "gmu0.");
        Assert.Equal(["gmu0.weight", "gmu0.bias"], gmu.Parameters().Select(p => p.Name));
        Assert.Equal([7, 16], gmu.Weight.Value.Shape);
        Assert.Equal([7], gmu.Bias.Value.Shape);
        float bound = 1f / MathF.Sqrt(16);
        foreach (var p in gmu.Parameters())
        {
            Assert.All(p.Value.ReadOnlySpan.ToArray(), v => Assert.InRange(v, -bound, bound));
            Assert.True(p.Value.ReadOnlySpan.ToArray().Max() > 0.5f * bound);   // spread over the range, not a constant
        }
    }

    [Fact]
    public void BadShapesThrow()
    {
        var gmu = new GatedMemoryUnit(3, 4, seed: 1);
        Assert.Throws<ArgumentException>(() => gmu.Forward(Tensor.Zeros(2, 3, 2), Tensor.Zeros(2, 3, 4), null));
        Assert.Throws<ArgumentException>(() => gmu.Forward(Tensor.Zeros(2, 3, 3), Tensor.Zeros(2, 2, 4), null));
        Assert.Throws<ArgumentException>(() => gmu.Forward(Tensor.Zeros(2, 3, 3), Tensor.Zeros(2, 3, 4), [3, 4]));
        Assert.Throws<InvalidOperationException>(() => gmu.Backward(Tensor.Zeros(2, 3, 4)));
        gmu.Forward(Tensor.Zeros(2, 3, 3), Tensor.Zeros(2, 3, 4), null);
        Assert.Throws<ArgumentException>(() => gmu.Backward(Tensor.Zeros(2, 3, 3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GatedMemoryUnit(0, 4, seed: 1));
    }

    [Fact]
    public void ARepeatedStepAllocatesNothing()
    {
        var rng = new Rng(1);
        var gmu = new GatedMemoryUnit(24, 24, seed: 1) { Training = true };
        var x = GradientCheckTests.Random(rng, [8, 20, 24]);
        var m = GradientCheckTests.Random(rng, [8, 20, 24]);
        var dy = GradientCheckTests.Random(rng, [8, 20, 24]);
        int[] lengths = [20, 3, 7, 20, 1, 12, 19, 5];
        void Step() { gmu.Forward(x, m, lengths); gmu.Backward(dy); }
        long bytes = Allocations.PerCall(Step);
        Assert.True(bytes < 256, $"{bytes} bytes allocated by a repeated GMU step");
    }
}
