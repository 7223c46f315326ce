using Gyre.Layers;
using Gyre.Tensors;
using Xunit;
using static Gyre.Tests.Layers.GradientCheckTests;

namespace Gyre.Tests.Layers;

/// <summary>
/// The diagonal state-space layer: HiPPO-LegS initial values, recurrent / chunked-scan / convolutional modes
/// agreeing within 1e-5 for both discretisations, the discretisations against their formulas, and every
/// gradient against finite differences with random upstream gradients.
/// </summary>
public class StateSpaceLayerTests
{
    [Fact]
    public void Initialisation_IsRealDiagonalHippoLegS()
    {
        var ssm = new StateSpaceLayer(2, 3, stateSize: 5, seed: 1);
        var p = ssm.StateDict();
        for (int h = 0; h < 3; h++)
        {
            for (int n = 0; n < 5; n++)
            {
                Assert.Equal(-(n + 1.0), -Math.Exp(p["log_neg_a"][h, n]), 5);
                Assert.Equal(Math.Sqrt(2 * n + 1.0), p["b"][h, n], 5);
            }
            Assert.InRange(Math.Exp(p["log_dt"][h]), 1e-3 - 1e-9, 1e-1 + 1e-9);
        }
    }

    [Theory]
    [InlineData(Discretisation.ZeroOrderHold, 1)]
    [InlineData(Discretisation.ZeroOrderHold, 300)]
    [InlineData(Discretisation.Bilinear, 7)]
    [InlineData(Discretisation.Bilinear, 300)]
    public void RecurrentScanAndConvolution_Agree(Discretisation disc, int t)
    {
        var ssm = new StateSpaceLayer(3, 6, stateSize: 8, disc, seed: 2) { ChunkLength = 16 };
        var x = Random(new Rng(4), [2, t, 3]);
        var rec = ssm.Forward(x);
        ssm.Scan = ScanMode.Parallel;
        var scan = ssm.Forward(x);
        ssm.Convolutional = true;
        var conv = ssm.Forward(x);
        Assert.True(MaxDiff(rec, scan) <= 1e-5f, $"scan: {MaxDiff(rec, scan)}");
        Assert.True(MaxDiff(rec, conv) <= 1e-5f, $"convolution: {MaxDiff(rec, conv)}");
    }

    [Theory]
    [InlineData(Discretisation.ZeroOrderHold)]
    [InlineData(Discretisation.Bilinear)]
    public void OneStateFollowsTheDiscretisedOde(Discretisation disc)
    {
        // One channel, one state, input projection 1·x + 0: y_t = C·s_t + D·x_t with s_t = Ā·s_{t−1} + B̄·x_t.
        var ssm = new StateSpaceLayer(1, 1, stateSize: 1, disc);
        var p = ssm.StateDict();
        p["in_proj.weight"].Fill(1f); p["in_proj.bias"].Fill(0f);
        p["log_dt"].Fill(MathF.Log(0.5f)); p["log_neg_a"].Fill(MathF.Log(2f)); p["b"].Fill(3f); p["c"].Fill(0.7f); p["d"].Fill(-0.2f);
        double dt = 0.5, a = -2, b = 3;
        double ab = disc == Discretisation.ZeroOrderHold ? Math.Exp(dt * a) : (1 + dt * a / 2) / (1 - dt * a / 2);
        double bb = disc == Discretisation.ZeroOrderHold ? (ab - 1) / a * b : dt * b / (1 - dt * a / 2);
        float[] xs = [1f, -0.5f, 2f, 0f];
        var y = ssm.Forward(Tensor.FromSpan(xs, 1, 4, 1));
        double s = 0;
        for (int t = 0; t < 4; t++)
        {
            s = ab * s + bb * xs[t];
            Assert.Equal(0.7 * s - 0.2 * xs[t], y[0, t, 0], 5);
        }
    }

    [Theory]
    [InlineData(Discretisation.ZeroOrderHold, ScanMode.Sequential, false)]
    [InlineData(Discretisation.ZeroOrderHold, ScanMode.Parallel, false)]
    [InlineData(Discretisation.Bilinear, ScanMode.Sequential, true)]
    public void Backward_MatchesFiniteDifferences(Discretisation disc, ScanMode scan, bool conv)
    {
        var ssm = new StateSpaceLayer(3, 4, stateSize: 3, disc, seed: 3) { Scan = scan, ChunkLength = 4, Convolutional = conv };
        var rng = new Rng(42);
        // Larger steps than the default init so that Δ, A and B all matter at this scale.
        foreach (var (name, p) in ssm.NamedParameters())
            if (name == "log_dt") rng.Uniform(p.Value.Span, MathF.Log(0.1f), MathF.Log(0.8f));
            else if (name != "log_neg_a") rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        var x = Random(rng, [2, 11, 3]);
        var dy = Random(rng, [2, 11, 4]);
        double Loss() => Dot(ssm.Forward(x), dy);
        Loss();
        ssm.ZeroGrad();
        var dx = ssm.Backward(dy);
        CheckTensor("x", x, dx, Loss, "lssl");
        foreach (var p in ssm.Parameters()) CheckTensor(p.Name, p.Value, p.Grad, Loss, "lssl");
    }

    [Fact]
    public void BadShapes_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StateSpaceLayer(1, 0));
        Assert.Throws<ArgumentException>(() => new StateSpaceLayer(2, 3).Forward(Tensor.Zeros(1, 4, 3)));
        Assert.Throws<InvalidOperationException>(() => new StateSpaceLayer(2, 3).Backward(Tensor.Zeros(1, 4, 3)));
    }
}
