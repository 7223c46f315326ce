using Gyre.Cells;
using Gyre.Kernels;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// The fused batch-1 step (unit-blocked GEMV with the gate math on the registers) must give the very same
/// bits as the GEMM + gate-kernel path, and the same bits whatever the team splitting its units.
/// </summary>
// Category Kernels: CI also runs these with AVX-512 and then AVX2 switched off, so the Vector256 fused steps and the
// GEMM fallback are compared bit for bit on a machine with AVX-512 too.
[Collection(nameof(RecurrentStepTests))]
[Trait("Category", "Kernels")]
public class RecurrentStepTests
{
    // Never disposed: another test may still hold it through Gemm.Team for a moment after we restore.
    private static readonly WorkerTeam Two = new(2), One = new(1);

    /// <summary>Runs forward + backward twice and inference once with the given execution options and checks that
    /// every layer direction took <paramref name="expected"/> forward (the fused paths exist only where
    /// <see cref="RecurrentStepKernels.IsSupported"/>: elsewhere the caller's expectation is the split the runner falls back to).</summary>
    private static float[][] Run(CellDefinition kind, int h, bool bias, bool bidirectional, bool fused, WorkerTeam team, int parallelMin = 256,
        int batch = 1, int splitMin = 12, int projectMax = 128, SequencePath? expected = null, double patience = 1.0)
    {
        const int t = 9, i = 5;
        var options = new ExecutionOptions
        {
            Team = team, AllowFused = fused, ParallelFusedMinHidden = parallelMin, RowSplitMinRows = splitMin,
            ProjectInStepMaxInput = projectMax, FusedSplitPatience = patience,
            TimeFusedSplit = false,   // always the split where allowed (SplitChooser has its own tests)
        };
        int d = bidirectional ? 2 : 1, l = 2;
        var layer = new RecurrentLayer(kind, i, h, l, bias: bias, bidirectional: bidirectional, seed: 7) { Execution = options };
        var rng = new Rng(11);
        var x = GradientCheckTests.Random(rng, [t, batch, i]);
        // Every state starts away from zero (sLSTM's normaliser n positive, as the cell keeps it).
        var inits = new Tensor?[layer.StateCount];
        for (int j = 0; j < inits.Length; j++)
        {
            var s0 = GradientCheckTests.Random(rng, [l * d, batch, h]);
            if (j == 2) foreach (ref float v in s0.Span) v = 0.5f + Math.Abs(v);
            inits[j] = s0;
        }
        var outputs = new List<float[]>();
        var split = team.Size > 1 && batch >= splitMin * team.Size ? SequencePath.RowSplit : team.Size > 1 ? SequencePath.UnitSplit : SequencePath.RowSplit;
        var want = fused && RecurrentStepKernels.IsSupported && expected is { } e ? e : split;
        // Twice: the second call reuses the packed buffers after a weight change.
        for (int call = 0; call < 2; call++)
        {
            if (call == 1) foreach (var p in layer.Parameters()) p.Value.Span[0] += 0.25f;
            var r = layer.ForwardStates(x, inits);
            Assert.All(layer.LastForwardPaths, p => Assert.Equal(want, p));
            var dy = GradientCheckTests.Random(rng, r.Output.Shape.ToArray());
            var g = layer.Backward(dy);
            Assert.All(layer.LastBackwardPaths, p => Assert.Equal(split, p));
            outputs.Add(r.Output.ReadOnlySpan.ToArray());
            foreach (var state in r.States) outputs.Add(state.ReadOnlySpan.ToArray());
            outputs.Add(g.Input.ReadOnlySpan.ToArray());
            outputs.Add(g.Hidden.ReadOnlySpan.ToArray());
            foreach (var p in layer.Parameters()) outputs.Add(p.Grad.ReadOnlySpan.ToArray());
        }
        layer.Training = false;
        var inference = layer.ForwardStates(x, inits);
        Assert.All(layer.LastForwardPaths, p => Assert.Equal(want, p));
        outputs.Add(inference.Output.ReadOnlySpan.ToArray());
        return outputs.ToArray();
    }

    private static void AssertSameBits(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int a = 0; a < expected.Length; a++)
        {
            Assert.Equal(expected[a].Length, actual[a].Length);
            for (int j = 0; j < expected[a].Length; j++)
                if (BitConverter.SingleToInt32Bits(expected[a][j]) != BitConverter.SingleToInt32Bits(actual[a][j]))
                    Assert.Fail($"array {a}, element {j}: expected {expected[a][j]:R}, got {actual[a][j]:R}");
        }
    }

    [Theory]
    [InlineData("gru", 5, true, false)]
    [InlineData("gru", 16, false, true)]
    [InlineData("gru", 37, true, true)]
    [InlineData("gru", 64, true, false)]
    [InlineData("gru", 100, true, true)]
    [InlineData("gru", 131, false, false)]
    [InlineData("lstm", 3, true, false)]
    [InlineData("lstm", 16, true, true)]
    [InlineData("lstm", 45, false, true)]
    [InlineData("lstm", 64, true, false)]
    [InlineData("lstm", 150, true, true)]
    [InlineData("mgu", 5, true, false)]
    [InlineData("mgu", 16, false, true)]
    [InlineData("mgu", 37, true, true)]
    [InlineData("mgu", 64, true, false)]
    [InlineData("mgu", 100, true, true)]
    [InlineData("mgu", 144, false, false)]
    [InlineData("gru_reset_before", 7, true, true)]
    [InlineData("gru_reset_before", 64, false, false)]
    [InlineData("gru_reset_before", 128, true, false)]
    [InlineData("gru_reset_before", 150, true, true)]
    [InlineData("gru_reset_before", 900, true, false)]
    public void FusedStepMatchesGemmPathBitForBit(string cell, int h, bool bias, bool bidirectional)
    {
        var kind = CellRegistry.FromText(cell);
        AssertSameBits(Run(kind, h, bias, bidirectional, fused: false, One),
            Run(kind, h, bias, bidirectional, fused: true, One, expected: SequencePath.FusedSingleRow));
    }

    [Theory]
    [InlineData("gru", 37)]
    [InlineData("gru", 200)]
    [InlineData("lstm", 150)]
    [InlineData("lstm", 272)]
    public void UnitSplitOverTheTeamChangesNoBit(string cell, int h)
    {
        var kind = CellRegistry.FromText(cell);
        AssertSameBits(Run(kind, h, true, true, fused: true, One, parallelMin: 16, expected: SequencePath.FusedSingleRow),
                       Run(kind, h, true, true, fused: true, Two, parallelMin: 16, expected: SequencePath.FusedSingleRow));
    }

    [Theory]
    [InlineData("gru", 128, 1)]
    [InlineData("lstm", 150, 1)]
    [InlineData("lstm", 64, 5)]
    [InlineData("slstm", 48, 5)]
    public void UnitSplitThatNeverWaitsChangesNoBit(string cell, int h, int batch)
    {
        // Patience 0: a worker computes every missing share of the other at once, so shares are computed twice,
        // often at the same time; duplicates write the same bits.
        var kind = CellRegistry.FromText(cell);
        var path = batch == 1 ? SequencePath.FusedSingleRow : SequencePath.FusedRows;
        AssertSameBits(Run(kind, h, true, true, fused: true, One, parallelMin: 16, batch: batch, splitMin: 1000, expected: path),
                       Run(kind, h, true, true, fused: true, Two, parallelMin: 16, batch: batch, splitMin: 1000, expected: path, patience: 0));
    }

    [Theory]
    [InlineData("gru", 13, 7)]
    [InlineData("gru", 70, 30)]
    [InlineData("lstm", 21, 9)]
    [InlineData("lstm", 64, 25)]
    public void BatchSplitOverTheTeamChangesNoBit(string cell, int h, int batch)
    {
        var kind = CellRegistry.FromText(cell);
        // Not fused: the row split itself (the fused multi-row LSTM has its own test below).
        var one = Run(kind, h, true, true, fused: false, One, batch: batch, splitMin: 3);
        var two = Run(kind, h, true, true, fused: false, Two, batch: batch, splitMin: 3);
        var noSplit = Run(kind, h, true, true, fused: false, Two, batch: batch, splitMin: 1000);
        AssertSameBits(one, two);
        AssertSameBits(one, noSplit);
    }

    [Theory]
    [InlineData("lstm", 16, 2, false)]
    [InlineData("lstm", 32, 7, true)]
    [InlineData("lstm", 48, 11, true)]
    [InlineData("lstm", 64, 25, false)]
    [InlineData("lstm", 32, 4, false, false)]
    [InlineData("gru", 16, 2, false)]
    [InlineData("gru", 32, 7, true)]
    [InlineData("gru", 48, 13, true)]
    [InlineData("gru", 64, 25, false)]
    [InlineData("gru", 32, 4, true, false)]
    [InlineData("slstm", 16, 2, false)]
    [InlineData("slstm", 32, 7, true)]
    [InlineData("slstm", 48, 13, true, false)]
    [InlineData("slstm(forget=exp)", 32, 11, false)]
    [InlineData("slstm(forget=exp)", 64, 25, true)]
    public void FusedRowsStepMatchesGemmPathBitForBit(string cell, int h, int batch, bool bidirectional, bool bias = true)
    {
        // Batch above 1: the multi-row fused step (GEMM tile + gate math on the tile; LSTM and sLSTM 6×64 over [K, 4, 16],
        // GRU 6×48 over [K, 3, 16] with b_hh apart) on one thread, split by rows (splitMin 3) and split by unit blocks
        // (splitMin 1000, parallelMin 16) must all give the GEMM + gate-kernel bits, with ragged last row tiles.
        var kind = CellRegistry.FromText(cell);
        var rows = SequencePath.FusedRows;
        var gemm = Run(kind, h, bias, bidirectional, fused: false, One, batch: batch);
        AssertSameBits(gemm, Run(kind, h, bias, bidirectional, fused: true, One, batch: batch, expected: rows));
        AssertSameBits(gemm, Run(kind, h, bias, bidirectional, fused: true, Two, batch: batch, splitMin: 3, expected: rows));
        AssertSameBits(gemm, Run(kind, h, bias, bidirectional, fused: true, Two, parallelMin: 16, batch: batch, splitMin: 1000, expected: rows));
        // The input projection once for the whole sequence instead of per step (as at large I; the GRU always).
        AssertSameBits(gemm, Run(kind, h, bias, bidirectional, fused: true, One, batch: batch, projectMax: 0, expected: rows));
        AssertSameBits(gemm, Run(kind, h, bias, bidirectional, fused: true, Two, batch: batch, splitMin: 3, projectMax: 0, expected: rows));
    }

    [Theory]
    [InlineData("lstm", 16, 40, false)]
    [InlineData("lstm", 32, 61, true)]
    [InlineData("gru", 16, 40, true)]
    [InlineData("gru", 48, 61, false)]
    [InlineData("slstm", 32, 61, true)]
    public void ClaimedRowBlocksChangeNoBit(string cell, int h, int batch, bool bidirectional)
    {
        // A row split over claimed blocks (3 and 4 blocks of 18 rows, the last ragged), each claim advancing its block by
        // one step so that blocks change hands all the time: the GEMM path's bits, in training and in inference.
        var kind = CellRegistry.FromText(cell);
        int gates = kind.Gates;
        var plan = FusedRowBlocks.Plan(batch, 9, gates, h, 5, 0, 2, Gemm.Blocking.Caches.L2);
        Assert.Equal((18, batch == 40 ? 3 : 4), (plan.BlockRows, plan.Blocks));
        double saved = FusedRowBlocks.ChunkFlops;
        try
        {
            FusedRowBlocks.ChunkFlops = 1;
            var gemm = Run(kind, h, true, bidirectional, fused: false, One, batch: batch);
            AssertSameBits(gemm, Run(kind, h, true, bidirectional, fused: true, Two, batch: batch, splitMin: 3, expected: SequencePath.FusedRows));
            AssertSameBits(gemm, Run(kind, h, true, bidirectional, fused: true, Two, batch: batch, splitMin: 3, projectMax: 0, expected: SequencePath.FusedRows));
        }
        finally { FusedRowBlocks.ChunkFlops = saved; }
    }

    [Fact]
    public void RowBlocksOnlyWhereTheyPay()
    {
        long l2 = 1 << 20;
        // One worker, weights over half the L2, or too few rows for more blocks than workers: the fixed split.
        Assert.Equal(0, FusedRowBlocks.Plan(64, 100, 3, 128, 32, 100_000, 1, l2).Blocks);
        Assert.Equal(0, FusedRowBlocks.Plan(64, 100, 3, 256, 128, 600_000, 2, l2).Blocks);
        Assert.Equal(0, FusedRowBlocks.Plan(24, 100, 3, 64, 32, 1000, 2, l2).Blocks);
        // Blocks of whole 6-row tiles, at most four per worker, chunks of about ChunkFlops.
        var (rows, blocks, chunk) = FusedRowBlocks.Plan(64, 100, 4, 128, 32, 327_680, 2, l2);
        Assert.Equal((18, 4), (rows, blocks));
        Assert.Equal((int)Math.Ceiling(FusedRowBlocks.ChunkFlops / (2.0 * 18 * 4 * 128 * 160)), chunk);
        Assert.Equal((36, 8), FusedRowBlocks.Plan(256, 50, 3, 64, 64, 100_000, 2, l2) is var p ? (p.BlockRows, p.Blocks) : default);
    }

    [Theory]
    [InlineData("gru_reset_before", 13, 30)]
    [InlineData("rnn_tanh", 21, 26)]
    [InlineData("rnn_relu", 8, 25)]
    public void EveryCellRowSplitAndUnitSplitChangeNoBit(string cell, int h, int batch)
    {
        var kind = CellRegistry.FromText(cell);
        var one = Run(kind, h, true, true, fused: true, One, batch: batch, splitMin: 3);
        AssertSameBits(one, Run(kind, h, true, true, fused: true, Two, batch: batch, splitMin: 3));
        AssertSameBits(one, Run(kind, h, true, true, fused: true, Two, batch: batch, splitMin: 1000));
    }

    [Fact]
    public void AForcedPathThatCannotRunIsAnError()
    {
        var layer = new RecurrentLayer(CellRegistry.Get("rnn_tanh"), 3, 4) { Execution = new ExecutionOptions { Path = SequencePath.FusedSingleRow } };
        var e = Assert.Throws<ArgumentException>(() => layer.Forward(Tensor.Zeros(2, 1, 3)));
        Assert.Contains("FusedSingleRow", e.Message);
    }

    [Theory]
    [InlineData("gru", 128, 1, false, 16, false)]
    [InlineData("gru", 40, 1, true, 128, false)]
    [InlineData("gru", 40, 1, true, 128, true)]
    [InlineData("lstm", 128, 1, true, 16, false)]
    [InlineData("lstm", 100, 1, true, 16, true)]
    [InlineData("lstm", 64, 5, false, 16, false)]
    [InlineData("mgu", 128, 1, true, 16, false)]
    [InlineData("mgu", 100, 1, false, 16, true)]
    [InlineData("gru_reset_before", 64, 1, true, 16, false)]
    public void TimedSplitChoiceChangesNoBit(string cell, int h, int batch, bool bidirectional, int parallelMin, bool absentPartner)
    {
        // Long enough to be timed: the chooser alternates split, one thread, split, one thread over the first four
        // calls, then keeps the faster; every call must give the bits of a one-thread team. At batch 1 the
        // one-thread arm projects the inputs ahead on the other worker (ProjectAheadJob, blocks of 32 steps, a
        // ragged last block, reversed in time for the backward direction).
        const int t = SplitChooser.TrialSteps + 7, i = 6;
        var kind = CellRegistry.FromText(cell);
        var path = batch == 1 ? SequencePath.FusedSingleRow : SequencePath.FusedRows;
        // Each call: the output, and in training mode (odd calls) every gradient too — a training forward at batch 1
        // takes the same arms and saves its activations from them.
        float[][] Infer(WorkerTeam team, int calls)
        {
            var options = new ExecutionOptions { Team = team, ParallelFusedMinHidden = parallelMin, RowSplitMinRows = 1000 };
            var layer = new RecurrentLayer(kind, i, h, 1, bidirectional: bidirectional, seed: 3) { Execution = options };
            var rng = new Rng(5);
            var x = GradientCheckTests.Random(rng, [t, batch, i]);
            var dy = GradientCheckTests.Random(rng, [t, batch, (bidirectional ? 2 : 1) * h]);
            float[][]? first = null;
            for (int c = 0; c < calls; c++)
            {
                var got = new List<float[]>();
                for (int mode = 0; mode < 2; mode++)
                {
                    layer.Training = mode == 1;
                    foreach (var p in layer.Parameters()) p.Grad.Span.Clear();
                    var r = layer.Forward(x);
                    if (RecurrentStepKernels.IsSupported) Assert.All(layer.LastForwardPaths, p => Assert.Equal(path, p));
                    got.Add(r.Output.ReadOnlySpan.ToArray());
                    if (mode == 1)
                    {
                        got.Add(layer.Backward(dy).Input.ReadOnlySpan.ToArray());
                        foreach (var p in layer.Parameters()) got.Add(p.Grad.ReadOnlySpan.ToArray());
                    }
                }
                if (first == null) first = [.. got];
                else AssertSameBits(first, [.. got]);
            }
            return first!;
        }
        var expected = Infer(One, 1);
        // absentPartner: the projection ahead finds every block claimed by a worker that never finishes and projects each
        // into the recurrence's private buffer (the path a descheduled partner causes).
        ProjectAheadTesting.AbsentPartner = absentPartner;
        try { AssertSameBits(expected, Infer(Two, 6)); }
        finally { ProjectAheadTesting.AbsentPartner = false; }
    }

    [Theory]
    [InlineData("gru")]
    [InlineData("lstm")]
    [InlineData("mgu")]
    public void StepByStepStreamsTimeTheirOwnArmAndChangeNoBit(string cell)
    {
        // A served stream advances one step per call: its calls are timed apart from long ones (their own chooser, in
        // trials of TrialSteps calls: split, one thread, split, …), and every call must give a one-thread team's bits.
        const int i = 5, h = 128, steps = 2 * SplitChooser.TrialSteps + 12;
        var kind = CellRegistry.FromText(cell);
        float[] Run(WorkerTeam team)
        {
            var layer = new RecurrentLayer(kind, i, h, 1, seed: 2)
            {
                Execution = new ExecutionOptions { Team = team, ParallelFusedMinHidden = 16 }, Training = false, WeightsFrozen = true,
            };
            var x = GradientCheckTests.Random(new Rng(8), [steps, 1, i]);
            var states = Enumerable.Range(0, layer.StateCount).Select(j => Tensor.Zeros(1, 1, layer.StateWidth(j))).ToArray();
            var y = Tensor.Zeros(1, 1, h);
            var outputs = new List<float>();
            for (int t = 0; t < steps; t++)
            {
                var xt = Tensor.Zeros(1, 1, i);
                x.ReadOnlySpan.Slice(t * i, i).CopyTo(xt.Span);
                layer.Advance(xt, states, y);
                if (RecurrentStepKernels.IsSupported) Assert.All(layer.LastForwardPaths, p => Assert.Equal(SequencePath.FusedSingleRow, p));
                outputs.AddRange(y.ReadOnlySpan.ToArray());
            }
            foreach (var s in states) outputs.AddRange(s.ReadOnlySpan.ToArray());
            return outputs.ToArray();
        }
        AssertSameBits([Run(One)], [Run(Two)]);
    }

    [Fact]
    public void CallLengthsFallInPowerOfTwoClasses()
    {
        Assert.Equal(0, SplitChooser.Bucket(1));
        Assert.Equal(1, SplitChooser.Bucket(2));
        Assert.Equal(1, SplitChooser.Bucket(3));
        Assert.Equal(2, SplitChooser.Bucket(4));
        Assert.Equal(5, SplitChooser.Bucket(63));
        Assert.Equal(6, SplitChooser.Bucket(64));
        Assert.Equal(SplitChooser.Buckets - 1, SplitChooser.Bucket(1_000_000));
    }

    [Fact]
    public void LargeStepsSplitWithoutTiming()
    {
        // 2·B·G·H² FLOPs per step: the GRU 16·768 step (57 MFLOP) and the LSTM 16·256 step (8 MFLOP) split at once; a
        // batch-1 GRU or LSTM step at H = 128 (0.1 MFLOP) and a small LSTM batch are timed.
        Assert.True(SplitChooser.SplitClearlyPays(16, 3, 768));
        Assert.True(SplitChooser.SplitClearlyPays(16, 4, 256));
        Assert.True(SplitChooser.SplitClearlyPays(1, 3, 768));
        Assert.False(SplitChooser.SplitClearlyPays(1, 3, 128));
        Assert.False(SplitChooser.SplitClearlyPays(1, 4, 256));
        Assert.False(SplitChooser.SplitClearlyPays(5, 4, 64));
    }

    [Fact]
    public void SplitChooserTriesBothArmsThenKeepsTheFaster()
    {
        var c = new SplitChooser();
        int n = SplitChooser.TrialSteps;
        // The arms alternate, split first, until each has its trials; a cold first trial (10× slower) does not
        // condemn the split: an arm's time is the smaller of its last two.
        Assert.True(c.ShouldSplit(1, 128, n)); c.Record(true, n, 10_000 * n);
        Assert.False(c.ShouldSplit(1, 128, n)); c.Record(false, n, 1_500 * n);
        Assert.True(c.ShouldSplit(1, 128, n)); c.Record(true, n, 1_000 * n);
        Assert.False(c.ShouldSplit(1, 128, n)); c.Record(false, n, 1_600 * n);
        Assert.Equal(2, c.SplitCalls); Assert.Equal(2, c.AloneCalls);
        // The split is faster: it runs, and the slower arm gets one trial every RetryEvery trials.
        int alone = 0;
        for (int call = 5; call <= 4 + 2 * SplitChooser.RetryEvery; call++)
        {
            bool split = c.ShouldSplit(1, 128, n);
            if (!split) alone++;
            c.Record(split, n, (split ? 1_000 : 1_500) * (long)n);
        }
        Assert.Equal(2, alone);
        // The load changes and the split slows below one thread: once its last two trials say so, one thread runs.
        for (int call = 0; call < SplitChooser.RetryEvery + 2; call++)
        {
            bool split = c.ShouldSplit(1, 128, n);
            c.Record(split, n, (split ? 3_000 : 1_500) * (long)n);
        }
        Assert.False(c.ShouldSplit(1, 128, n));
        // A new shape starts over: split first.
        Assert.True(c.ShouldSplit(4, 128, n));
        Assert.Equal(0, c.SplitCalls + c.AloneCalls);
    }

    [Fact]
    public void ShortCallsAreTimedInTrialsOfSeveralCalls()
    {
        // One-step calls (a served stream): a trial gathers TrialSteps consecutive calls on one arm before it is scored.
        var c = new SplitChooser();
        int n = SplitChooser.TrialSteps;
        for (int call = 0; call < n; call++) { Assert.True(c.ShouldSplit(1, 128, 1)); c.Record(true, 1, 10_000); }
        Assert.Equal(1, c.SplitCalls);
        for (int call = 0; call < n; call++) { Assert.False(c.ShouldSplit(1, 128, 1)); c.Record(false, 1, 7_000); }
        Assert.Equal(1, c.AloneCalls);
        // A call on the other arm (the team was busy) abandons the trial in progress rather than mixing the arms.
        Assert.True(c.ShouldSplit(1, 128, 1)); c.Record(true, 1, 10_000);
        c.Record(false, 1, 7_000);
        for (int call = 1; call < n; call++) { Assert.False(c.ShouldSplit(1, 128, 1)); c.Record(false, 1, 7_000); }
        Assert.Equal(2, c.AloneCalls);
        Assert.Equal(1, c.SplitCalls);
        // Both arms have their trials after one more split trial; then one thread, the faster, runs.
        for (int call = 0; call < n; call++) { Assert.True(c.ShouldSplit(1, 128, 1)); c.Record(true, 1, 10_000); }
        Assert.False(c.ShouldSplit(1, 128, 1));
    }

    [Fact]
    public void UnitSharesCoverEveryPaddedUnitOnce()
    {
        foreach (int h in new[] { 1, 16, 17, 64, 100, 128, 200, 768 })
            foreach (int workers in new[] { 1, 2, 3, 5 })
            {
                int next = 0;
                for (int w = 0; w < workers; w++)
                {
                    var (start, end) = RecurrentStepKernels.Share(h, w, workers);
                    Assert.Equal(next, start);
                    Assert.True(end >= start, $"h={h} workers={workers} worker {w}: [{start}, {end})");
                    next = end;
                }
                Assert.Equal(RecurrentStepKernels.PaddedUnits(h), next);
            }
    }
}
