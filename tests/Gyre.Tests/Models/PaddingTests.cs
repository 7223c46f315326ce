using Gyre.Models;
using Gyre.Tensors;
using Gyre.Tests.Layers;
using Xunit;

namespace Gyre.Tests.Models;

/// <summary>Padded steps never change a result: outputs and gradients of each sequence are its own.</summary>
public class PaddingTests
{
    [Theory]
    [InlineData("gru", "last", false)]
    [InlineData("gru", "last", true)]
    [InlineData("lstm", "last", true)]
    [InlineData("lstm", "mean", false)]
    [InlineData("gru", "max", true)]
    [InlineData("gru", "attention", true)]
    [InlineData("gru", "mean", false, 2, 0)]     // gated memory units reading layer 0
    [InlineData("gru", "last", true, 2, 1)]
    [InlineData("lstm", "attention", true, 1, 0)]
    [InlineData("gru", "max", false, 0, 0, "conv")]     // convolution blocks: padded steps read as zeros
    [InlineData("gru", "max", false, 0, 0, "none", true)]     // a convolutional path beside the encoder
    public void PaddingLeavesOutputsAndGradientsUnchanged(string cell, string pool, bool bidirectional, int gmu = 0, int gmuMemory = 0, string input = "none",
        bool branch = false)
    {
        var rng = new Rng(8);
        int f = 3, o = 4, t = 6;
        int[] lengths = [6, 2, 4];
        var model = new SequenceModel(new ModelSpec { InputSize = f, Input = input, ConvKernels = input == "conv" ? [4, 3] : null,
            ConvBranch = branch ? [5, 2] : null, ConvBranchWidth = 3, Cell = cell, Hidden = 5, Layers = 2, Bidirectional = bidirectional,
            Gmu = gmu, GmuMemory = gmu > 0 ? gmuMemory : null, Pool = pool, Head = "softmax", Outputs = o, Seed = 2 });
        var x = GradientCheckTests.Random(rng, [3, t, f]);
        var dOut = GradientCheckTests.Random(rng, [3, o]);

        var (out1, grads1) = Run(model, x, lengths, dOut);
        // Other values in the padding: the same bits everywhere.
        var x2 = x.Clone();
        for (int i = 0; i < 3; i++)
            for (int s = lengths[i]; s < t; s++)
                for (int j = 0; j < f; j++) x2[i, s, j] = 100f * rng.NextFloat() - 50f;
        var (out2, grads2) = Run(model, x2, lengths, dOut);
        Assert.Equal(out1, out2);
        Assert.Equal(grads1, grads2);

        // Each sequence alone, unpadded: the same output, and the batch's gradient is the sum of theirs.
        var sum = new double[grads1.Length];
        for (int i = 0; i < 3; i++)
        {
            var xi = Tensor.Zeros(1, lengths[i], f);
            for (int s = 0; s < lengths[i]; s++)
                for (int j = 0; j < f; j++) xi[0, s, j] = x[i, s, j];
            var (outI, gradsI) = Run(model, xi, null, Tensor.FromSpan(dOut.ReadOnlySpan.Slice(i * o, o), 1, o));
            for (int k = 0; k < o; k++) Assert.Equal(out1[i * o + k], outI[k], 5e-6f);
            for (int k = 0; k < sum.Length; k++) sum[k] += gradsI[k];
        }
        for (int k = 0; k < sum.Length; k++) Assert.True(Math.Abs(sum[k] - grads1[k]) <= 1e-5 + 1e-4 * Math.Abs(sum[k]), $"gradient {k}: {grads1[k]} vs {sum[k]}");
    }

    private static (float[] Output, float[] Grads) Run(SequenceModel model, Tensor x, int[]? lengths, Tensor dOut)
    {
        model.Training = true;
        var output = model.Forward(x, lengths).ReadOnlySpan.ToArray();
        model.ZeroGrad();
        model.Backward(dOut);
        return (output, model.Parameters().SelectMany(p => p.Grad.ReadOnlySpan.ToArray()).ToArray());
    }
}
