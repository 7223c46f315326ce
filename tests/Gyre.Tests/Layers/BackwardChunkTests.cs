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
        // GRU B 64, I 32, H 128: ∂L/∂gx and ∂L/∂gh of a step are 2·64·384 floats (192 KiB): 10 steps fit 2 MiB, and
        // they hold the 4·(32 + 128) = 640 rows a chunk needs at least.
        Assert.Equal(10, SequenceRunner<GruCellMath>.BackwardChunkSteps(64, 100, 32, 128, 384, apart: true));
        // GRU B 256, I 64, H 64: 5 steps of 384 KiB fit (≥ 512 rows).
        Assert.Equal(5, SequenceRunner<GruCellMath>.BackwardChunkSteps(256, 50, 64, 64, 192, apart: true));
        // LSTM B 64, I 32, H 128: one ∂L/∂g buffer, 128 KiB a step: 16 steps.
        Assert.Equal(16, SequenceRunner<LstmCellMath>.BackwardChunkSteps(64, 100, 32, 128, 512, apart: false));
        // B 1, I 32, H 128: 682 steps fit, ≥ 640 rows.
        Assert.Equal(682, SequenceRunner<GruCellMath>.BackwardChunkSteps(1, 1000, 32, 128, 384, apart: true));
        // GRU B 64, I 128, H 256: the 1536 rows a chunk needs would hold 9 MiB, beyond the budget: the whole sequence.
        Assert.Equal(100, SequenceRunner<GruCellMath>.BackwardChunkSteps(64, 100, 128, 256, 768, apart: true));
        // A sequence that fits the budget whole is one chunk.
        Assert.Equal(6, SequenceRunner<GruCellMath>.BackwardChunkSteps(64, 6, 32, 128, 384, apart: true));
        Assert.Equal(30, SequenceRunner<GruCellMath>.BackwardChunkSteps(5, 30, 3, 5, 15, apart: true));
        Assert.Equal(1, SequenceRunner<GruCellMath>.BackwardChunkSteps(64, 1, 32, 128, 384, apart: true));
    }

    [Theory]
    [InlineData("gru", false, 32, 3)]
    [InlineData("gru", true, 32, 4)]
    [InlineData("lstm", false, 32, 7)]
    [InlineData("lstm", true, 3, 5)]
    [InlineData("gru", false, 5, 8)]
    [InlineData("paragru", true, 32, 4, true)]
    [InlineData("mingru", false, 32, 7, true)]
    public void GradientsHaveTheSameBitsOnOneAndTwoWorkers(string cell, bool bidirectional, int batch, int chunk, bool parallel = false)
    {
        // T = 30 in chunks of a few steps (a last, shorter one where they do not divide 30); batch 32 splits rows over
        // the two workers, batch 3 and 5 split units; the parallel-in-time paths sum their weight gradients by the same chunks.
        const int t = 30, i = 5, h = 16;
        var rng = new Rng(3);
        int d = bidirectional ? 2 : 1;
        var x = Random(rng, [t, batch, i]);
        var dy = Random(rng, [t, batch, d * h]);
        var dhN = Random(rng, [d, batch, h]);
        (Tensor Dx, Tensor Dh0, Tensor[] Grads) Run(WorkerTeam team, int steps)
        {
            var layer = new RecurrentLayer(CellRegistry.FromText(cell), i, h, bidirectional: bidirectional, seed: 4)
            {
                Execution = new ExecutionOptions { Team = team, BackwardChunkSteps = steps, Scan = parallel ? ScanMode.Parallel : ScanMode.Sequential },
            };
            layer.Forward(x);
            var g = layer.Backward(dy, dhN);
            return (g.Input, g.Hidden, layer.Parameters().Select(p => p.Grad).ToArray());
        }
        var one = Run(OneWorker, chunk);
        var two = Run(TwoWorkers, chunk);
        Assert.True(one.Dx.ReadOnlySpan.SequenceEqual(two.Dx.ReadOnlySpan));
        Assert.True(one.Dh0.ReadOnlySpan.SequenceEqual(two.Dh0.ReadOnlySpan));
        for (int k = 0; k < one.Grads.Length; k++)
            Assert.True(one.Grads[k].ReadOnlySpan.SequenceEqual(two.Grads[k].ReadOnlySpan), $"parameter {k}");

        // Chunks change only the order of the weight gradients' sums: dX and ∂L/∂h0 keep their bits, the rest its rounding.
        var whole = Run(TwoWorkers, t);
        Assert.True(whole.Dx.ReadOnlySpan.SequenceEqual(two.Dx.ReadOnlySpan));
        Assert.True(whole.Dh0.ReadOnlySpan.SequenceEqual(two.Dh0.ReadOnlySpan));
        for (int k = 0; k < one.Grads.Length; k++)
            for (int e = 0; e < whole.Grads[k].Length; e++)
            {
                float u = whole.Grads[k].ReadOnlySpan[e], v = two.Grads[k].ReadOnlySpan[e];
                Assert.True(Math.Abs(u - v) <= 1e-5f * Math.Max(1f, Math.Abs(u)), $"parameter {k}[{e}]: whole {u:R}, chunked {v:R}");
            }
    }

    static Tensor Random(Rng rng, int[] shape)
    {
        var x = Tensor.Zeros(shape);
        rng.Uniform(x.Span, -1f, 1f);
        return x;
    }
}
