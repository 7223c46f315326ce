using Gyre.Cells;
using Gyre.Kernels;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// The backward loop runs in chunks of steps, each followed by its weight gradients: the chunk length follows
/// the shape alone, and the gradients keep the same bits on any team. (Their values are held to finite differences
/// over several chunks in <see cref="GradientCheckTests"/>.)
/// </summary>
public class BackwardChunkTests
{
    static readonly WorkerTeam OneWorker = new(1);
    static readonly WorkerTeam TwoWorkers = new(2);

    [Fact]
    public void ChunkLengthFollowsTheShape()
    {
        // GRU B 64, I 32, H 128: 4·(32 + 128) = 640 rows = 10 steps, whose ∂L/∂gx and ∂L/∂gh (640·384 floats each,
        // 1.9 MiB) fit the 2 MiB budget.
        Assert.Equal(10, SequenceRunner<GruCellMath>.BackwardChunkSteps(64, 100, 32, 128, 384, apart: true));
        // GRU B 256, I 64, H 64: 512 rows = 2 steps.
        Assert.Equal(2, SequenceRunner<GruCellMath>.BackwardChunkSteps(256, 50, 64, 64, 192, apart: true));
        // LSTM B 64, I 32, H 128: one ∂L/∂g buffer, 10 steps (1.3 MiB).
        Assert.Equal(10, SequenceRunner<LstmCellMath>.BackwardChunkSteps(64, 100, 32, 128, 512, apart: false));
        // Rows rounded up to whole steps: 4·(3 + 5) = 32 rows at B 5 = 7 steps.
        Assert.Equal(7, SequenceRunner<GruCellMath>.BackwardChunkSteps(5, 100, 3, 5, 15, apart: true));
        // GRU B 64, I 128, H 256: 24 steps would hold 9 MiB, beyond the budget: the whole sequence at once.
        Assert.Equal(100, SequenceRunner<GruCellMath>.BackwardChunkSteps(64, 100, 128, 256, 768, apart: true));
        // A sequence shorter than one chunk is one chunk.
        Assert.Equal(6, SequenceRunner<GruCellMath>.BackwardChunkSteps(64, 6, 32, 128, 384, apart: true));
        Assert.Equal(1, SequenceRunner<GruCellMath>.BackwardChunkSteps(64, 1, 32, 128, 384, apart: true));
    }

    [Theory]
    [InlineData("gru", false, 32)]
    [InlineData("gru", true, 32)]
    [InlineData("lstm", false, 32)]
    [InlineData("lstm", true, 3)]
    [InlineData("gru", false, 5)]
    public void GradientsHaveTheSameBitsOnOneAndTwoWorkers(string cell, bool bidirectional, int batch)
    {
        // I 5, H 16: chunks of ⌈84 / B⌉ steps, so T = 30 runs two or more chunks (batch 32 splits rows over the two
        // workers, batch 3 and 5 split units).
        const int t = 30, i = 5, h = 16;
        Assert.True(SequenceRunner<GruCellMath>.BackwardChunkSteps(batch, t, i, h, 3 * h, true) < t);
        var rng = new Rng(3);
        int d = bidirectional ? 2 : 1;
        var x = Random(rng, [t, batch, i]);
        var dy = Random(rng, [t, batch, d * h]);
        var dhN = Random(rng, [d, batch, h]);
        (Tensor Dx, Tensor Dh0, Tensor[] Grads) Run(WorkerTeam team)
        {
            var layer = new RecurrentLayer(CellRegistry.FromText(cell), i, h, bidirectional: bidirectional, seed: 4)
            {
                Execution = new ExecutionOptions { Team = team },
            };
            layer.Forward(x);
            var g = layer.Backward(dy, dhN);
            return (g.Input, g.Hidden, layer.Parameters().Select(p => p.Grad).ToArray());
        }
        var one = Run(OneWorker);
        var two = Run(TwoWorkers);
        Assert.True(one.Dx.ReadOnlySpan.SequenceEqual(two.Dx.ReadOnlySpan));
        Assert.True(one.Dh0.ReadOnlySpan.SequenceEqual(two.Dh0.ReadOnlySpan));
        for (int k = 0; k < one.Grads.Length; k++)
            Assert.True(one.Grads[k].ReadOnlySpan.SequenceEqual(two.Grads[k].ReadOnlySpan), $"parameter {k}");
    }

    static Tensor Random(Rng rng, int[] shape)
    {
        var x = Tensor.Zeros(shape);
        rng.Uniform(x.Span, -1f, 1f);
        return x;
    }
}
