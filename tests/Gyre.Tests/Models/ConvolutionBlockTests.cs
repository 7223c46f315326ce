using Gyre.Models;
using Gyre.Tensors;
using Gyre.Tests.Layers;
using Xunit;

namespace Gyre.Tests.Models;

/// <summary>
/// The convolutional input transform: the block against the convolution written out from its definition, finite
/// differences with random upstream gradients over ragged batches, padding invariance, no allocation per step,
/// the model file and the ONNX refusal.
/// </summary>
public class ConvolutionBlockTests
{
    /// <summary>The block's output from the formula, in double: zero outside each row's valid steps.</summary>
    private static double[] Oracle(ConvolutionBlock block, Tensor x, int[] lengths)
    {
        int B = x.Dim(0), T = x.Dim(1), F = block.InputSize, E = block.OutputSize, K = block.Kernel;
        var p = block.Parameters().ToList();
        var w = p[0].Value; var bias = p[1].Value; var gamma = p[2].Value; var beta = p[3].Value;
        var y = new double[B * T * E];
        var a = new double[E];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < lengths[b]; t++)
            {
                for (int e = 0; e < E; e++)
                {
                    a[e] = bias[e];
                    for (int j = 0; j < K; j++)
                    {
                        int s = t + j - (K - 1) / 2;
                        if (s < 0 || s >= lengths[b]) continue;
                        for (int f = 0; f < F; f++) a[e] += w[e, j * F + f] * (double)x[b, s, f];
                    }
                }
                double mean = a.Average(), variance = a.Average(v => (v - mean) * (v - mean));
                for (int e = 0; e < E; e++)
                    y[(b * T + t) * E + e] = Math.Max(0, gamma[e] * (a[e] - mean) / Math.Sqrt(variance + 1e-5) + beta[e]);
            }
        return y;
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]     // even width: one step more after t than before it, as PyTorch's padding="same"
    [InlineData(1)]
    [InlineData(8)]     // wider than the shortest row
    public void ForwardMatchesTheDefinition(int kernel)
    {
        var rng = new Rng(4);
        var block = new ConvolutionBlock(3, 5, kernel, seed: 2);
        foreach (var p in block.Parameters()) rng.Uniform(p.Value.Span, -1f, 1f);
        int[] lengths = [7, 2, 5];
        var x = GradientCheckTests.Random(rng, [3, 7, 3]);
        var y = block.Forward(x, lengths).ReadOnlySpan.ToArray();
        var expected = Oracle(block, x, lengths);
        for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-5 + 1e-5 * Math.Abs(expected[i]), $"y[{i}] = {y[i]}, expected {expected[i]}");
    }

    [Theory]
    [InlineData(3, true)]
    [InlineData(4, true)]
    [InlineData(5, false)]
    public void GradientsMatchFiniteDifferences(int kernel, bool ragged)
    {
        var rng = new Rng(13);
        int b = 3, t = 6, f = 2, e = 4;
        var block = new ConvolutionBlock(f, e, kernel, seed: 3);
        foreach (var p in block.Parameters()) rng.Uniform(p.Value.Span, -1f, 1f);
        int[]? lengths = ragged ? [6, 2, 4] : null;
        var x = GradientCheckTests.Random(rng, [b, t, f]);
        var dy = GradientCheckTests.Random(rng, [b, t, e]);
        // Random upstream gradient also on padded steps: the block must not pass any of it on.
        double Loss() => GradientCheckTests.Dot(block.Forward(x, lengths), dy);
        Loss();
        block.ZeroGrad();
        var dx = block.Backward(dy).Clone();
        // ReLU and the norm's kinks: a small step keeps every pre-activation on its side for this seed.
        ModelGradientTests.Check("x", x, dx, Loss, 1e-3f);
        foreach (var p in block.Parameters()) ModelGradientTests.Check(p.Name, p.Value, p.Grad, Loss, 1e-3f);
        if (lengths != null)
            for (int i = 0; i < b; i++)
                for (int s = lengths[i]; s < t; s++)
                    for (int j = 0; j < f; j++) Assert.Equal(0f, dx[i, s, j]);
    }

    [Theory]
    [InlineData("none", "last")]
    [InlineData("conv", "max")]
    public void AModelWithAConvolutionalPathMatchesFiniteDifferences(string input, string pool)
    {
        var rng = new Rng(17);
        int b = 3, t = 5, f = 2, o = 3;
        var model = new SequenceModel(new ModelSpec
        {
            InputSize = f, Input = input, ConvKernels = input == "conv" ? [3] : null, InputProjection = 3, ConvBranch = [3, 2], ConvBranchWidth = 4,
            Hidden = 4, Pool = pool, Outputs = o, Seed = 6,
        });
        foreach (var p in model.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        Assert.Equal(4 + 4, model.Head.InputSize);
        int[] lengths = [5, 1, 3];
        var x = GradientCheckTests.Random(rng, [b, t, f]);
        var labels = Enumerable.Range(0, b).Select(_ => rng.NextInt(o)).ToArray();
        double Loss()
        {
            model.Forward(x, lengths);
            return model.Loss(labels);
        }
        Loss();
        model.ZeroGrad();
        var dx = model.BackwardLoss().Clone();
        ModelGradientTests.Check("x", x, dx, Loss, 1e-3f);
        foreach (var (name, p) in model.NamedParameters()) ModelGradientTests.Check(name, p.Value, p.Grad, Loss, 1e-3f);
        Assert.Contains(model.NamedParameters(), p => p.Name == "branch.1.conv.weight");
    }

    [Fact]
    public void InvalidSettingsAreRefusedByName()
    {
        Assert.Contains("kernel width", Assert.Throws<ArgumentOutOfRangeException>(() => new ConvolutionBlock(2, 3, 0, 1)).Message);
        var spec = new ModelSpec { InputSize = 2, Input = "linear", ConvKernels = [3], Outputs = 2 };
        Assert.Contains("conv input transform", Assert.Throws<ArgumentException>(spec.Validate).Message);
        Assert.Contains("1..64", Assert.Throws<ArgumentException>((spec with { Input = "conv", ConvKernels = [3, 65] }).Validate).Message);
        Assert.Contains("'convolution'", Assert.Throws<ArgumentException>((spec with { Input = "convolution", ConvKernels = null }).Validate).Message);
        Assert.Contains("branch kernels", Assert.Throws<ArgumentException>((spec with { Input = "none", ConvKernels = null, ConvBranch = [] }).Validate).Message);
    }

    [Fact]
    public void ATrainingStepAllocatesNothing()
    {
        var model = new SequenceModel(new ModelSpec { InputSize = 3, Input = "conv", ConvKernels = [8, 5, 3], Hidden = 16, Pool = "max", Outputs = 4, Seed = 1 });
        var rng = new Rng(1);
        var x = GradientCheckTests.Random(rng, [8, 20, 3]);
        int[] lengths = [20, 3, 7, 20, 1, 12, 19, 5];
        int[] labels = [0, 1, 2, 3, 0, 1, 2, 3];
        void Step()
        {
            model.Forward(x, lengths);
            model.Loss(labels);
            model.BackwardLoss();
        }
        var plain = new SequenceModel(model.Spec with { Input = "none", ConvKernels = null, InputSize = 16 });
        var u = GradientCheckTests.Random(rng, [8, 20, 16]);
        void PlainStep()
        {
            plain.Forward(u, lengths);
            plain.Loss(labels);
            plain.BackwardLoss();
        }
        // What the recurrent layer itself allocates per step (if anything) is the same with the front end before it.
        Assert.Equal(Allocations.PerCall(PlainStep), Allocations.PerCall(Step));
    }

    [Fact]
    public void TheModelFileKeepsTheBlocksAndOnnxExportRefusesThem()
    {
        string dir = Directory.CreateTempSubdirectory("gyre-conv-").FullName;
        try
        {
            var spec = new ModelSpec { InputSize = 2, Input = "conv", ConvKernels = [4, 3], Hidden = 6, Pool = "max", Outputs = 3, Seed = 5 };
            var model = new SequenceModel(spec) { Training = false };
            Assert.Contains(model.NamedParameters(), p => p.Name == "input.1.norm.weight");
            var x = GradientCheckTests.Random(new Rng(2), [4, 9, 2]);
            int[] lengths = [9, 3, 6, 1];
            var expected = model.Forward(x, lengths).ReadOnlySpan.ToArray();
            string path = Path.Combine(dir, "m.gyre");
            model.Save(path, "classify", []);
            var (loaded, _, _, _) = SequenceModel.Load(path);
            Assert.Equal([4, 3], loaded.Spec.ConvKernels!);
            Assert.Equal(expected, loaded.Forward(x, lengths).ReadOnlySpan.ToArray());
            var e = Assert.Throws<NotSupportedException>(() => SequenceModelOnnx.ToBytes(model));
            Assert.Contains("input transform 'conv'", e.Message);

            var branched = new SequenceModel(spec with { Input = "none", ConvKernels = null, ConvBranch = [3], Pool = "last" }) { Training = false };
            expected = branched.Forward(x, lengths).ReadOnlySpan.ToArray();
            branched.Save(path, "classify", []);
            (loaded, _, _, _) = SequenceModel.Load(path);
            Assert.Equal([3], loaded.Spec.ConvBranch!);
            Assert.Equal(expected, loaded.Forward(x, lengths).ReadOnlySpan.ToArray());
            Assert.Contains("a convolution branch", Assert.Throws<NotSupportedException>(() => SequenceModelOnnx.ToBytes(branched)).Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}
