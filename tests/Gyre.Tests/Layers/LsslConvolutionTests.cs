using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>LSSL's convolutional mode (<see cref="LsslConvolution"/>) against the runner's loop of the "lssl" cell with
/// the same parameters from a zero state: y and every gradient (random upstream) within 1e-5 relative to the scale.</summary>
public class LsslConvolutionTests
{
    [Theory]
    [InlineData("zoh", 4, 3, 5, 2, 33)]
    [InlineData("bilinear", 4, 3, 5, 2, 33)]
    [InlineData("zoh", 1, 1, 1, 1, 1)]
    [InlineData("bilinear", 7, 2, 3, 3, 12)]
    public void ConvolutionMatchesTheLoop(string discretisation, int stateSize, int input, int hidden, int batch, int steps)
    {
        var layer = new RecurrentLayer(CellRegistry.FromText($"lssl(state_size={stateSize},discretisation={discretisation})"), input, hidden,
            batchFirst: false, seed: 9);
        var rng = new Rng(61);
        // HiPPO-LegS A, B and Δ as initialised; random input weights, C and D, so every channel differs.
        var p = layer.Parameters().ToDictionary(q => q.Name);
        foreach (string name in new[] { "weight_ih_l0", "bias_ih_l0", "c_l0", "d_l0" }) rng.Uniform(p[name].Value.Span, -0.8f, 0.8f);
        rng.Uniform(p["log_dt_l0"].Value.Span, -3f, 0f);
        var x = GradientCheckTests.Random(rng, [steps, batch, input]);
        var loop = layer.ForwardStates(x, null);
        var disc = discretisation == "zoh" ? Discretisation.ZeroOrderHold : Discretisation.Bilinear;
        ReadOnlySpan<float> V(string name) => p[name + "_l0"].Value.ReadOnlySpan;
        var y = new float[steps * batch * hidden];
        LsslConvolution.Forward(y, x.ReadOnlySpan, V("weight_ih"), V("bias_ih"), V("log_dt"), V("log_neg_a"), V("b"), V("c"), V("d"),
            steps, batch, input, hidden, stateSize, disc);
        GlaChunkwiseTests.Close(loop.Output.ReadOnlySpan, y, "y");

        var dy = GradientCheckTests.Random(rng, [steps, batch, hidden]);
        layer.ZeroGrad();
        var g = layer.BackwardStates(dy, null);
        string[] names = ["weight_ih", "bias_ih", "log_dt", "log_neg_a", "b", "c", "d"];
        var grads = names.ToDictionary(n => n, n => new float[p[n + "_l0"].Value.Length]);
        var dx = new float[x.Length];
        LsslConvolution.Backward(dx, grads["weight_ih"], grads["bias_ih"], grads["log_dt"], grads["log_neg_a"], grads["b"], grads["c"], grads["d"],
            dy.ReadOnlySpan, x.ReadOnlySpan, V("weight_ih"), V("bias_ih"), V("log_dt"), V("log_neg_a"), V("b"), V("c"), V("d"),
            steps, batch, input, hidden, stateSize, disc);
        GlaChunkwiseTests.Close(g.Input.ReadOnlySpan, dx, "dx");
        foreach (string n in names) GlaChunkwiseTests.Close(p[n + "_l0"].Grad.ReadOnlySpan, grads[n], "d" + n);
    }

    [Fact]
    public void KernelIsTheImpulseResponse()
    {
        // One channel, N = 2: K_τ = Σ_n C_n Ā_n^τ B̄_n.
        var k = new double[4];
        LsslConvolution.Kernel(k, [0.5f, -0.25f], [2f, 4f], [1f, 3f], 4, 1, 2);
        for (int t = 0; t < 4; t++) Assert.Equal(Math.Pow(0.5, t) * 2 + 3 * Math.Pow(-0.25, t) * 4, k[t], 12);
    }

    [Fact]
    public void BadShapesThrow()
    {
        var y = new float[4];
        Assert.Throws<ArgumentException>(() => LsslConvolution.Forward(y, new float[4], new float[2], [], new float[2], new float[2], new float[2],
            new float[2], new float[1], 2, 1, 2, 2, 1, Discretisation.ZeroOrderHold));
        Assert.Throws<ArgumentOutOfRangeException>(() => LsslConvolution.Forward(y, new float[4], new float[4], [], new float[2], new float[2],
            new float[2], new float[2], new float[2], 2, 1, 2, 2, 0, Discretisation.ZeroOrderHold));
    }
}
