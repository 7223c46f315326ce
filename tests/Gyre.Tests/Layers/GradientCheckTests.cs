using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// Central finite differences of L = Σ y ⊙ dy + Σ h_n ⊙ dh_n (+ Σ c_n ⊙ dc_n), accumulated in double,
/// with random upstream gradients, against the analytic backward — on shapes the libtorch fixtures lack.
/// </summary>
public class GradientCheckTests
{
    public static IEnumerable<object[]> Shapes()
    {
        // kind, I, H, layers, bidirectional, B, T, bias, batchFirst, dropout
        foreach (var kind in new[] { "gru", "lstm", "rnn_tanh", "rnn_relu" })
        {
            yield return [kind, 1, 1, 1, false, 1, 1, true, true, 0f];
            yield return [kind, 3, 1, 1, false, 2, 5, true, false, 0f];
            yield return [kind, 5, 7, 1, false, 1, 1, true, true, 0f];
            yield return [kind, 2, 3, 3, false, 3, 4, true, true, 0f];
            yield return [kind, 3, 5, 2, true, 2, 3, false, false, 0f];
            yield return [kind, 4, 3, 3, true, 1, 6, true, true, 0.3f];
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardMatchesFiniteDifferences(string kind, int inputSize, int hidden, int layers, bool bidir,
        int batch, int steps, bool bias, bool batchFirst, float dropout)
    {
        var cell = CellRegistry.Parse(kind);
        var rng = new Rng(42);
        var layer = new RecurrentLayer(cell, inputSize, hidden, layers, bias, batchFirst, dropout, bidir, seed: 7);
        // Push weights a little off the default scale so every nonlinearity is exercised.
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        CheckLayer(layer, rng, kind, batch, steps);
    }

    [Theory]
    [InlineData("gru", 4)]
    [InlineData("lstm", 5)]
    [InlineData("rnn_tanh", 3)]
    public void BackwardInChunksMatchesFiniteDifferences(string kind, int chunk)
    {
        // T = 12 in chunks of a few steps (the last one shorter where they do not divide 12), both directions.
        var rng = new Rng(43);
        var layer = new RecurrentLayer(CellRegistry.Parse(kind), 2, 3, 1, true, false, 0f, true, seed: 7)
        {
            Execution = new ExecutionOptions { BackwardChunkSteps = chunk },
        };
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        CheckLayer(layer, rng, kind, 2, 12);
    }

    /// <summary>
    /// Random inputs, states and upstream gradients for <paramref name="layer"/>, then every input, state and
    /// parameter gradient against central differences of L = Σ y ⊙ dy + Σ h_n ⊙ dh_n (+ Σ c_n ⊙ dc_n), with per-row
    /// <paramref name="lengths"/> when given.
    /// </summary>
    internal static void CheckLayer(RecurrentLayer layer, Rng rng, string kind, int batch, int steps, int[]? lengths = null)
    {
        bool lstm = layer.StateCount > 1, batchFirst = layer.BatchFirst;
        int ld = layer.NumLayers * layer.Directions, d = layer.Directions, hidden = layer.HiddenSize, inputSize = layer.InputSize;
        var x = Random(rng, batchFirst ? [batch, steps, inputSize] : [steps, batch, inputSize]);
        var h0 = Random(rng, [ld, batch, hidden]);
        var c0 = lstm ? Random(rng, [ld, batch, hidden]) : null;
        var dy = Random(rng, batchFirst ? [batch, steps, d * hidden] : [steps, batch, d * hidden]);
        var dhN = Random(rng, [ld, batch, hidden]);
        var dcN = lstm ? Random(rng, [ld, batch, hidden]) : null;

        double Loss()
        {
            layer.DropoutRng = new Rng(99); // the same dropout mask on every evaluation
            var o = layer.Forward(x, h0, c0, lengths);
            double l = Dot(o.Output, dy) + Dot(o.Hidden, dhN);
            if (lstm) l += Dot(o.Cell!, dcN!);
            return l;
        }

        Loss();
        layer.ZeroGrad();
        var g = layer.Backward(dy, dhN, dcN);

        var checks = new List<(string, Tensor, Tensor)> { ("x", x, g.Input), ("h0", h0, g.Hidden) };
        if (lstm) checks.Add(("c0", c0!, g.Cell!));
        foreach (var p in layer.Parameters()) checks.Add((p.Name, p.Value, p.Grad));
        foreach (var (name, value, grad) in checks) CheckTensor(name, value, grad, Loss, kind);
    }

    internal static void CheckTensor(string name, Tensor value, Tensor grad, Func<double> loss, string kind)
    {
        const float eps = 1e-2f;
        var v = value.Span;
        for (int i = 0; i < v.Length; i++)
        {
            float keep = v[i];
            double center = loss();
            v[i] = keep + eps; double up = loss();
            v[i] = keep - eps; double down = loss();
            v[i] = keep;
            double numeric = (up - down) / (2 * eps);
            double analytic = grad.ReadOnlySpan[i];
            double tol = 2e-3 + 2e-2 * Math.Abs(numeric);
            if (Math.Abs(numeric - analytic) <= tol) continue;
            // A ReLU kink inside [x − ε, x + ε]: the derivative there is one of the one-sided ones,
            // so the analytic value must lie between them (checked, not skipped).
            double right = (up - center) / eps, left = (center - down) / eps;
            bool kink = kind == "rnn_relu" && Math.Abs(right - left) > tol;
            Assert.True(kink && analytic >= Math.Min(left, right) - tol && analytic <= Math.Max(left, right) + tol,
                $"{name}[{i}]: analytic {analytic:G6} vs numeric {numeric:G6} (one-sided {left:G6}, {right:G6})");
        }
    }

    internal static Tensor Random(Rng rng, int[] shape)
    {
        var t = Tensor.Zeros(shape);
        rng.Uniform(t.Span, -1f, 1f);
        return t;
    }

    /// <summary>max_i |a_i − b_i|.</summary>
    internal static float MaxDiff(Tensor a, Tensor b)
    {
        float m = 0f;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a.ReadOnlySpan[i] - b.ReadOnlySpan[i]));
        return m;
    }

    internal static double Dot(Tensor a, Tensor b)
    {
        double s = 0;
        var x = a.ReadOnlySpan; var y = b.ReadOnlySpan;
        for (int i = 0; i < x.Length; i++) s += (double)x[i] * y[i];
        return s;
    }
}
