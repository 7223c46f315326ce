using Gyre.Models;
using Gyre.Tensors;
using Gyre.Tests.Layers;
using Xunit;

namespace Gyre.Tests.Models;

/// <summary>
/// Central finite differences (losses accumulated in double) against the analytic backward of the heads' losses,
/// the poolings (random upstream gradients, ragged lengths) and assembled models.
/// </summary>
public class ModelGradientTests
{
    [Theory]
    [InlineData("softmax", false)]
    [InlineData("softmax", true)]
    [InlineData("svm", false)]
    [InlineData("svm", true)]
    [InlineData("linear", false)]
    [InlineData("softmax", false, 0.1f)]
    [InlineData("softmax", true, 0.3f)]
    public void HeadLossMatchesFiniteDifferences(string kind, bool weighted, float smoothing = 0f)
    {
        var rng = new Rng(3);
        int b = 6, c = 5, o = 4;
        var head = Head.Create(kind, c, o, seed: 1, classWeights: weighted ? [0.5f, 2f, 1f, 1.5f] : null, labelSmoothing: smoothing);
        foreach (var p in head.Parameters()) rng.Uniform(p.Value.Span, -1f, 1f);
        var z = GradientCheckTests.Random(rng, [b, c]);
        var labels = Enumerable.Range(0, b).Select(_ => rng.NextInt(o)).ToArray();
        var targets = GradientCheckTests.Random(rng, [b, o]).ReadOnlySpan.ToArray();
        var scratch = new float[b * o];
        double Loss(Span<float> grad)
        {
            var output = head.Forward(z, null);
            return kind == "linear" ? head.Loss(output.ReadOnlySpan, targets, grad) : head.Loss(output.ReadOnlySpan, labels, grad);
        }
        var dOut = Tensor.Zeros(b, o);
        Loss(dOut.Span);
        head.ZeroGrad();
        var dz = head.Backward(dOut).Clone();
        Check("z", z, dz, () => Loss(scratch));
        foreach (var p in head.Parameters()) Check(p.Name, p.Value, p.Grad, () => Loss(scratch));
    }

    [Fact]
    public void LabelSmoothingIsTheMixOfCrossEntropyAndTheMeanLogLoss()
    {
        // PyTorch's definition: (1 − ε)·(−log p_y) + ε·mean_k(−log p_k), averaged over the rows.
        float[] z = [1.5f, -0.5f, 0.25f, 2f, 0f, -1f];
        int[] labels = [2, 0];
        var head = new SoftmaxHead(1, 3, seed: 1, labelSmoothing: 0.2f);
        double expected = 0;
        for (int r = 0; r < 2; r++)
        {
            var row = z.AsSpan(r * 3, 3).ToArray();
            double lse = Math.Log(row.Sum(v => Math.Exp(v)));
            expected += (0.8 * (lse - row[labels[r]]) + 0.2 * row.Average(v => lse - v)) / 2;
        }
        Assert.Equal(expected, head.Loss(z, labels, new float[6]), 1e-6);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SoftmaxHead(1, 3, seed: 1, labelSmoothing: 1f));
    }

    [Theory]
    [InlineData("last", 1, false)]
    [InlineData("last", 1, true)]
    [InlineData("last", 2, true)]
    [InlineData("mean", 1, false)]
    [InlineData("mean", 1, true)]
    [InlineData("max", 1, false)]
    [InlineData("max", 1, true)]
    [InlineData("attention", 1, false)]
    [InlineData("attention", 2, true)]
    public void PoolingMatchesFiniteDifferences(string kind, int directions, bool ragged)
    {
        var rng = new Rng(11);
        int b = 3, t = 5, c = 4;
        var pool = Pooling.Create(kind, c, directions, attentionSize: 3, seed: 5);
        foreach (var p in pool.Parameters()) rng.Uniform(p.Value.Span, -1f, 1f);
        int[]? lengths = ragged ? [5, 2, 4] : null;
        var y = GradientCheckTests.Random(rng, [b, t, c]);
        var dz = GradientCheckTests.Random(rng, [b, c]);
        double Loss() => GradientCheckTests.Dot(pool.Forward(y, lengths), dz);
        Loss();
        pool.ZeroGrad();
        var dy = pool.Backward(dz).Clone();
        // Max pooling's derivative jumps where two steps swap places; a smaller step keeps every random
        // value on its side (the values are ≥ 1e-3 apart for this seed).
        float eps = kind == "max" ? 1e-3f : 1e-2f;
        Check("y", y, dy, Loss, eps);
        foreach (var p in pool.Parameters()) Check(p.Name, p.Value, p.Grad, Loss);
        if (lengths != null)
            for (int i = 0; i < b; i++)
                for (int s = lengths[i]; s < t; s++)
                    for (int j = 0; j < c; j++) Assert.Equal(0f, dy[i, s, j]);
    }

    public static IEnumerable<object[]> Specs()
    {
        // cell, layers, bidirectional, input, pool, head, ragged
        yield return ["gru", 1, false, "none", "last", "softmax", true];
        yield return ["lstm", 2, false, "linear", "mean", "svm", true];
        yield return ["gru", 1, true, "none", "attention", "softmax", true];
        yield return ["gru", 2, true, "linear", "max", "linear", false];
        yield return ["rnn_tanh", 1, false, "none", "attention", "svm", true];
        yield return ["lstm", 1, true, "none", "last", "softmax", true];
        yield return ["gru", 1, false, "conv", "mean", "softmax", true];
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void AssembledModelMatchesFiniteDifferences(string cell, int layers, bool bidirectional, string input, string pool, string head, bool ragged)
    {
        var rng = new Rng(21);
        int b = 3, t = 4, f = 3, o = 3;
        var model = new SequenceModel(new ModelSpec
        {
            InputSize = f, Input = input, InputProjection = 4, Cell = cell, Hidden = 4, Layers = layers, Bidirectional = bidirectional,
            Pool = pool, AttentionSize = 3, Head = head, Outputs = o, Seed = 9,
        });
        foreach (var p in model.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        int[]? lengths = ragged ? [4, 1, 3] : null;
        var x = GradientCheckTests.Random(rng, [b, t, f]);
        var labels = Enumerable.Range(0, b).Select(_ => rng.NextInt(o)).ToArray();
        var targets = GradientCheckTests.Random(rng, [b, o]).ReadOnlySpan.ToArray();
        double Loss()
        {
            model.Forward(x, lengths);
            return head == "linear" ? model.Loss(targets) : model.Loss(labels);
        }
        model.Training = true;
        Loss();
        model.ZeroGrad();
        var dx = model.BackwardLoss().Clone();
        Check("x", x, dx, Loss);
        foreach (var (name, p) in model.NamedParameters()) Check(name, p.Value, p.Grad, Loss);
    }

    internal static void Check(string name, Tensor value, Tensor grad, Func<double> loss, float eps = 1e-2f)
    {
        var v = value.Span;
        for (int i = 0; i < v.Length; i++)
        {
            float keep = v[i];
            v[i] = keep + eps; double up = loss();
            v[i] = keep - eps; double down = loss();
            v[i] = keep;
            double numeric = (up - down) / (2 * eps), analytic = grad.ReadOnlySpan[i];
            Assert.True(Math.Abs(numeric - analytic) <= 2e-3 + 2e-2 * Math.Abs(numeric),
                $"{name}[{i}]: analytic {analytic:G6} vs numeric {numeric:G6}");
        }
        loss();
    }
}
