using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// A cell defined only here, registered at run time, runs through the layer with no change in the library:
/// a two-gate leaky unit with a per-unit peephole p (an extra parameter):
/// <code>
/// f  = σ(W_if x + b_if + W_hf h + b_hf + p ⊙ h)
/// n  = tanh(W_in x + b_in + W_hn h + b_hn)
/// h' = f ⊙ h + (1 − f) ⊙ n
/// </code>
/// </summary>
public class ToyCellTests
{
    public readonly unsafe struct PeepholeLeakyCell : ICell
    {
        public static int Gates => 2;
        public static int States => 1;
        public static int SavedWidth => 2;      // f | n
        public static int ScratchWidth => 0;
        public static RecurrentWeights Recurrent => RecurrentWeights.Dense;
        public static bool HiddenBiasApart => false;

        public static void Forward(in CellStep s)
        {
            int h = s.Hidden;
            CellOps.HiddenProduct(s.Rows, s.Prev, h, s.W, 2 * h, h, s.Gx, 2 * h, true);
            for (int r = 0; r < s.Rows; r++)
                for (int j = 0; j < h; j++)
                {
                    float hp = s.Prev[r * h + j];
                    float f = 1f / (1f + MathF.Exp(-(s.Gx[r * 2 * h + j] + s.W.Extra[j] * hp)));
                    float n = MathF.Tanh(s.Gx[r * 2 * h + h + j]);
                    s.Next[r * h + j] = f * hp + (1f - f) * n;
                    if (s.Saved != null) { s.Saved[r * 2 * h + j] = f; s.Saved[r * 2 * h + h + j] = n; }
                }
        }

        public static void Backward(in CellBackwardStep s)
        {
            int h = s.Hidden;
            for (int r = 0; r < s.Rows; r++)
                for (int j = 0; j < h; j++)
                {
                    float f = s.Saved[r * 2 * h + j], n = s.Saved[r * 2 * h + h + j], hp = s.Prev[r * h + j], dh = s.DNext[r * h + j];
                    float dpf = dh * (hp - n) * f * (1f - f), dpn = dh * (1f - f) * (1f - n * n);
                    s.DGx[r * 2 * h + j] = dpf;
                    s.DGx[r * 2 * h + h + j] = dpn;
                    s.DPrev[r * h + j] = dh * f + dpf * s.W.Extra[j];
                }
            CellOps.HiddenProductBackward(s.Rows, s.DGx, 2 * h, s.W, 2 * h, h, s.DPrev, true);
        }

        public static void RecurrentWeightGradients(in CellWeightGradients g)
        {
            CellOps.DenseRecurrentGradients(g);
            int h = g.Hidden;
            for (int r = 0; r < g.Rows; r++)
                for (int j = 0; j < h; j++) g.W.ExtraGrad[j] += g.DGh[r * 2 * h + j] * g.HPrev[r * h + j];
        }
    }

    public sealed class PeepholeLeakyDefinition : CellDefinition<PeepholeLeakyCell>
    {
        public override string Name => "test_peephole_leaky";
        public override IReadOnlyList<(string Name, int Rows)> ExtraParameters => [("peephole", 1)];
    }

    static ToyCellTests() =>
        CellRegistry.Register("test_peephole_leaky", CellRegistry.NoOptions("test_peephole_leaky", () => new PeepholeLeakyDefinition()), listed: false);

    [Theory]
    [InlineData(3, 5, 1, false, 2, 4)]
    [InlineData(2, 3, 2, true, 3, 5)]
    [InlineData(4, 1, 1, true, 1, 1)]
    public void RunsThroughTheLayerAndItsGradientsMatchFiniteDifferences(int i, int h, int layers, bool bidir, int b, int t)
    {
        var cell = CellRegistry.Get("TEST_PEEPHOLE_LEAKY");
        var layer = new RecurrentLayer(cell, i, h, layers, bias: true, batchFirst: true, bidirectional: bidir, seed: 3);
        Assert.Contains(layer.Parameters(), p => p.Name == "peephole_l0" && p.Value.HasShape(h));
        var rng = new Rng(5);
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        GradientCheckTests.CheckLayer(layer, rng, cell.Name, b, t);
    }

    [Fact]
    public void RowSplitOverTwoWorkersGivesTheSameBits()
    {
        var cell = CellRegistry.Get("test_peephole_leaky");
        float[] Run(int workers)
        {
            using var team = new Gyre.Kernels.WorkerTeam(workers);
            var layer = new RecurrentLayer(cell, 3, 6, 2, bidirectional: true, seed: 9)
            {
                Execution = new ExecutionOptions { Team = team, RowSplitMinRows = 2 },
            };
            var x = GradientCheckTests.Random(new Rng(1), [4, 8, 3]);
            var o = layer.Forward(x);
            Assert.All(layer.LastForwardPaths, p => Assert.Equal(SequencePath.RowSplit, p));
            layer.Backward(GradientCheckTests.Random(new Rng(2), o.Output.Shape.ToArray()));
            return [.. o.Output.ReadOnlySpan, .. layer.Block.Grads];
        }
        Assert.Equal(Run(1), Run(2));
    }
}
