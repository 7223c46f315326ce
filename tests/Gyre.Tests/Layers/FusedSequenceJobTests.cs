using Gyre.Cells;
using Gyre.Kernels;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// The unit split of the fused paths (batch 1, and few rows of the multi-row step) has no barrier: a worker that is left alone (its partners descheduled or never started)
/// must finish the whole sequence by computing the missing shares itself, with the one-thread bits, and a partner that
/// arrives after the end must change nothing.
/// </summary>
public unsafe class FusedSequenceJobTests
{
    private const int T = 23;

    /// <summary>States [NS, T+1, B, H] and saved [T, B, S·H] of one run; <paramref name="run"/> executes the job.</summary>
    private static (float[] States, float[] Saved) Run<TCell>(int h, int batch, bool reverse, int workers, Action<FusedSequenceJob<TCell>> run)
        where TCell : struct, ICell
    {
        int g = TCell.Gates, ns = TCell.States, sw = TCell.SavedWidth, hp = RecurrentStepKernels.PaddedUnits(h);
        var rng = new Rng(5);
        var whh = new float[g * h * h]; rng.Uniform(whh, -0.3f, 0.3f);
        var blocks = GC.AllocateArray<float>((int)RecurrentStepKernels.PackedLength(h, g) + 16, pinned: true);
        var bias = GC.AllocateArray<float>(g * hp + 16, pinned: true);
        int bh = batch * h;
        var gx = GC.AllocateArray<float>(T * g * bh, pinned: true); rng.Uniform(gx, -1f, 1f);
        var states = GC.AllocateArray<float>(ns * (T + 1) * bh, pinned: true);
        var saved = GC.AllocateArray<float>(T * sw * bh, pinned: true);
        var progress = GC.AllocateArray<int>(workers * FusedSequenceJob<TCell>.ProgressStride, pinned: true);
        // Initial states in the slot a direction starts from.
        for (int j = 0; j < ns; j++) rng.Uniform(states.AsSpan((j * (T + 1) + (reverse ? T : 0)) * bh, bh), -1f, 1f);
        fixed (float* pw = whh) fixed (float* pBlocks = blocks) fixed (float* pBias = bias) fixed (float* pGx = gx)
        fixed (float* pStates = states) fixed (float* pSaved = saved) fixed (int* pProgress = progress)
        {
            float* aligned = ThreadScratch.Align(pBlocks), alignedBias = null;
            RecurrentStepKernels.PackUnitBlocks(aligned, pw, h, g, narrow: batch > 1);
            if (TCell.HiddenBiasApart)
            {
                alignedBias = ThreadScratch.Align(pBias);
                for (int gate = 0; gate < g; gate++) rng.Uniform(new Span<float>(alignedBias + gate * hp, h), -0.5f, 0.5f);
            }
            FusedSequenceJob<TCell>.ResetProgress(pProgress, batch, h, T, workers);
            run(new FusedSequenceJob<TCell>
            {
                Reverse = reverse, Batch = batch, Hidden = h, Steps = T, W = aligned, BiasHh = alignedBias, Gx = pGx, States = pStates,
                Saved = pSaved, Progress = pProgress, Patience = 1.0,
            });
        }
        return (states, saved);
    }

    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R}");
    }

    private static void WorkerAloneFinishes<TCell>(int h, bool reverse, int workers, int batch = 1) where TCell : struct, ICell
    {
        var (states, saved) = Run<TCell>(h, batch, reverse, 1, job => job.Execute(0, 1));
        for (int alone = 0; alone < workers; alone++)
        {
            int first = alone;
            var (s, v) = Run<TCell>(h, batch, reverse, workers, job =>
            {
                job.Execute(first, workers);
                // The others arrive after the last step: nothing is left for them.
                for (int w = 0; w < workers; w++) if (w != first) job.Execute(w, workers);
            });
            AssertSameBits(states, s, $"states (worker {alone} of {workers} alone)");
            AssertSameBits(saved, v, $"saved (worker {alone} of {workers} alone)");
        }
    }

    [Theory]
    [InlineData(128, false, 2)]
    [InlineData(150, true, 2)]
    [InlineData(200, false, 3)]
    public void AGruWorkerLeftAloneFinishesWithTheOneThreadBits(int h, bool reverse, int workers) =>
        WorkerAloneFinishes<GruCellMath>(h, reverse, workers);

    [Theory]
    [InlineData(128, true, 2)]
    [InlineData(96, false, 3)]
    public void AnLstmWorkerLeftAloneFinishesWithTheOneThreadBits(int h, bool reverse, int workers) =>
        WorkerAloneFinishes<LstmCellMath>(h, reverse, workers);

    [Theory]
    [InlineData(64, 5, false, 2)]
    [InlineData(48, 7, true, 3)]
    [InlineData(32, 13, false, 2)]
    public void AMultiRowLstmWorkerLeftAloneFinishesWithTheOneThreadBits(int h, int batch, bool reverse, int workers) =>
        WorkerAloneFinishes<LstmCellMath>(h, reverse, workers, batch);

    [Fact]
    public void SharesWithoutUnitsStartDone()
    {
        // H = 64 is one 64-unit block: the second of two workers has no units, so its share counts as done.
        var progress = new int[2 * FusedSequenceJob<GruCellMath>.ProgressStride];
        fixed (int* p = progress) FusedSequenceJob<GruCellMath>.ResetProgress(p, 1, 64, T, 2);
        Assert.Equal(0, progress[0]);
        Assert.Equal(T, progress[FusedSequenceJob<GruCellMath>.ProgressStride]);
    }
}
