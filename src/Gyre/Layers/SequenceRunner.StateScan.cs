using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Gyre.Cells;
using Gyre.Kernels;

namespace Gyre.Layers;

// The state scan (SequencePath.StateScan) of a cell that reads out a wide linear state (ICell.HasLinearState: GLA,
// LSSL). Letters as in SequenceRunner.cs; Ws = W_1, the width of state 1 (always the widest), M = B·Ws channels.
internal sealed unsafe partial class SequenceRunner<TCell>
{
    private float[] _stateBlocks = [];   // per worker [StateScanBlockRows(Ws)] rows of step scratch (StateScanJob)

    /// <summary>Rows the state scan hands the cell's step at once: up to 16, fewer for wide states so that a worker's
    /// [2, rows, Ws] blocks stay within about 1 MB (GLA with one head at H = 256 has Ws = 65536). Rows never interact,
    /// so the count changes no bit.</summary>
    internal static int StateScanBlockRows(int ld) => Math.Clamp(65536 / Math.Max(1, ld), 1, 16);

    /// <summary>Per-row floats of a state-scan block: the cell's scratch, ∂L/∂gx of the throw-away backward, then
    /// two [2, ·, Ws] blocks (forward: previous and next states; backward: ∂L/∂next and ∂L/∂prev).</summary>
    private static int StateScanRowWidth(int hidden, int ld) => (TCell.ScratchWidth + TCell.Gates) * hidden + 4 * ld;

    private void EnsureStateScan(int steps, int channels, int chunk, int workers, int hidden, int ld, bool backward)
    {
        long coef = (long)(steps + 1) * channels, work = (long)steps * channels;
        if (coef > Array.MaxLength) throw new OutOfMemoryException($"state scan over {steps} steps of {channels} channels needs {coef} floats");
        if (_coef.Length < coef) _coef = GC.AllocateUninitializedArray<float>((int)coef);
        if (backward && _work.Length < work) _work = GC.AllocateUninitializedArray<float>((int)work);
        if (_end.Length < channels) _end = new float[channels];
        int scratch = LinearRecurrence.ScratchLength(steps, 1, channels, chunk);
        if (_solveScratch.Length < scratch) _solveScratch = GC.AllocateUninitializedArray<float>(scratch);
        long block = (long)workers * StateScanBlockRows(ld) * StateScanRowWidth(hidden, ld);
        if (_stateBlocks.Length < block) _stateBlocks = GC.AllocateUninitializedArray<float>(checked((int)block));
    }

    /// <summary>
    /// <see cref="SequencePath.StateScan"/> forward: a_t, b_t of all T·B rows from gx (parallel over rows; padded steps
    /// a = 1, b = 0, so the state holds), s_t = a_t ⊙ s_{t−1} + b_t in one solve over B·Ws channels from the initial
    /// state, then the cell's own step from every solved s_{t−1} at once for h_t (and the saved rows); padded steps
    /// then hold h. A reverse direction is the solver's transposed recurrence with a_t in slot t + 1.
    /// </summary>
    private void StateScanForward(in DirectionForward a, ExecutionOptions options, WorkerTeam team)
    {
        int h = a.Hidden, b = a.Batch, t = a.Steps, ld = a.StateLd, m = b * ld, all = t * m;
        int chunk = options.ResolveScanChunk(m);
        EnsureStateScan(t, m, chunk, team.Size, h, ld, backward: false);
        int stride = (t + 1) * m;
        var s1 = a.States.Slice(stride, stride);   // state 1 [T+1, B, Ws]
        var coef = _coef.AsSpan(0, (t + 1) * m);
        fixed (float* pGx = a.Gx) fixed (float* pStates = a.States) fixed (float* pSaved = a.Saved) fixed (float* pCoef = _coef)
        fixed (float* pBlocks = _stateBlocks) fixed (float* pExtra = a.Extra) fixed (int* pLen = a.Lengths)
        {
            var job = new StateScanJob<TCell>
            {
                Mode = StateScanJob<TCell>.Part.Coefficients, Reverse = a.Reverse, Batch = b, Hidden = h, Steps = t, Ld = ld,
                BlockRows = StateScanBlockRows(ld), States = pStates, Coef = pCoef + (a.Reverse ? m : 0), Gx = pGx,
                Saved = a.Saved.IsEmpty ? null : pSaved, Blocks = pBlocks, Lengths = a.Lengths.IsEmpty ? null : pLen,
                W = Weights(false, null, null, pExtra, null, a.Params),
            };
            team.Run(ref job);
            // A reverse direction's slot 0 is never a step's; 1 keeps the chunked solve's products finite.
            if (a.Reverse) coef[..m].Fill(1f);
            // Forward: s_t at slot t + 1, s0 at 0; reverse: s_t at slot t, s0 at T.
            var hs = s1.Slice(a.Reverse ? 0 : m, all);
            Solve(a.Reverse, hs, coef, hs, s1.Slice(a.Reverse ? all : 0, m), _solveScratch, t, m, chunk, team, 1);
            job.Mode = StateScanJob<TCell>.Part.Readout;
            team.Run(ref job);
        }
        if (a.Lengths.IsEmpty) return;
        // Padded steps hold h: the value the row had when its padding began (forward: after its last step; reverse:
        // the initial state, since a reverse direction meets the padding first).
        for (int row = 0; row < b; row++)
        {
            int len = a.Lengths[row];
            if (len >= t) continue;
            var from = a.States.Slice((a.Reverse ? t : len) * m + row * ld, h);
            for (int step = len; step < t; step++) from.CopyTo(a.States.Slice((a.Reverse ? step : step + 1) * m + row * ld, h));
        }
    }

    /// <summary>
    /// <see cref="SequencePath.StateScan"/> backward. With e_t = a_t ⊙ (∂s_t/∂… of the read-out)ᵀ·∂L/∂h_t (the cell's step
    /// backward with ∂L/∂next = (∂L/∂h_t, 0) gives it as ∂L/∂prev), the gradient D_t reaching s_t from the later steps is
    /// the reverse recurrence D_t = a_{t+1} ⊙ D_{t+1} + e_{t+1} from D = ∂L/∂(final state): one transposed solve. Then the
    /// cell's own step backward over all rows at once with ∂L/∂next = (∂L/∂h_t, D_t), exactly the loop's step; the rows
    /// of the first step processed give ∂L/∂(initial states) into DTmp.
    /// </summary>
    private void StateScanBackward(in DirectionBackward a, ExecutionOptions options, WorkerTeam team, float* pStates, float* pSaved,
        float* pDGi, float* pD, float* pDTmp, float* pDOut, in CellWeights w)
    {
        int h = a.Hidden, b = a.Batch, t = a.Steps, ld = a.StateLd, m = b * ld, all = t * m;
        int chunk = options.ResolveScanChunk(m);
        EnsureStateScan(t, m, chunk, team.Size, h, ld, backward: true);
        fixed (float* pCoef = _coef) fixed (float* pWork = _work) fixed (float* pBlocks = _stateBlocks) fixed (int* pLen = a.Lengths)
        {
            var job = new StateScanJob<TCell>
            {
                Mode = StateScanJob<TCell>.Part.Decay, Reverse = a.Reverse, Batch = b, Hidden = h, Steps = t, Ld = ld,
                BlockRows = StateScanBlockRows(ld), States = pStates, Coef = pCoef + (a.Reverse ? m : 0), Work = pWork,
                Saved = pSaved, DGi = pDGi, DOut = pDOut, DEnd = pD, DFirst = pDTmp, Direction = a.Direction, Directions = a.Directions,
                Blocks = pBlocks, Lengths = a.Lengths.IsEmpty ? null : pLen, W = w,
            };
            team.Run(ref job);
            var coef = new Span<float>(pCoef, (t + 1) * m);
            var d = new Span<float>(pWork, all);
            var dEnd = new ReadOnlySpan<float>(pD + m, m);   // ∂L/∂(final state 1)
            if (!a.Reverse) LinearRecurrence.Reverse(d, default, coef[..all], d, dEnd, _solveScratch, t, 1, m, chunk, team);
            else
            {
                // Slot 0 (a = 1) passes ∂L/∂(final state) to step 0, the last one processed, unchanged.
                coef[..m].Fill(1f);
                LinearRecurrence.Forward(d, default, coef[..all], d, dEnd, _solveScratch, t, 1, m, chunk, team);
            }
            job.Mode = StateScanJob<TCell>.Part.Backward;
            team.Run(ref job);
        }
    }
}

/// <summary>
/// Row-parallel parts of <see cref="SequencePath.StateScan"/>: all T·B rows (time-major, row r = t·B + b) split evenly
/// over the workers and handed to the cell in blocks of <see cref="BlockRows"/>, each row by one worker in a fixed
/// order (same bits for any team size). Row r's previous state is slot t (forward) or t + 1 (reverse), its own the
/// other one. The cell's step runs on copies in the worker's block scratch, so no worker writes a state row another
/// one reads.
/// </summary>
internal unsafe struct StateScanJob<TCell> : IWorkerJob where TCell : struct, ICell
{
    public enum Part
    {
        /// <summary>a into Coef, b into state 1's rows (solved in place after); padded steps a = 1, b = 0.</summary>
        Coefficients,
        /// <summary>The cell's step from the solved previous states: h into state 0's rows (not at padded steps), saved.</summary>
        Readout,
        /// <summary>Backward: a into Coef from saved; e_t into Work's row of the step processed just before t (0 for the
        /// step processed last).</summary>
        Decay,
        /// <summary>Backward: the cell's step backward with ∂L/∂next = (∂L/∂h_t, Work); the first step's ∂L/∂prev into DFirst.</summary>
        Backward,
    }

    public Part Mode;
    public bool Reverse;
    public int Batch, Hidden, Steps, Ld, BlockRows, Direction, Directions;
    public float* States;            // [2, T+1, B, Ws]
    public float* Coef;              // a_t at row r·Ws (already at this direction's slot 0)
    public float* Work;              // [T, B, Ws] e, then D
    public float* Gx, Saved, DGi, DOut;
    public float* DEnd, DFirst;      // [2, B, Ws] ∂L/∂(final states), ∂L/∂(initial states)
    public float* Blocks;            // per worker BlockRows·(ScratchWidth·H + G·H + 4·Ws)
    public int* Lengths;
    public CellWeights W;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void Execute(int worker, int workers)
    {
        long n = (long)Steps * Batch;
        int r0 = (int)(n * worker / workers), r1 = (int)(n * (worker + 1) / workers);
        if (r0 == r1) return;
        int h = Hidden, ld = Ld, gh = TCell.Gates * h, sw = CellOps.SavedWidthOf<TCell>(W.Params) * h, blk = BlockRows;
        nint m = (nint)Batch * ld, stride = (Steps + 1) * m, pair = (nint)blk * ld;
        float* prevBase = States + (Reverse ? m : 0), nextBase = States + (Reverse ? 0 : m);
        float* scratch = Blocks + (nint)worker * blk * ((TCell.ScratchWidth + TCell.Gates) * h + 4 * ld);
        float* dgx = scratch + (nint)blk * TCell.ScratchWidth * h, p0 = dgx + (nint)blk * gh, p1 = p0 + 2 * pair;
        // The coefficients need no scratch: one call for all of this worker's rows (the cell's per-call set-up, e.g.
        // LSSL's check that Ā, B̄ are current, then runs once, not once a block).
        if (Mode == Part.Coefficients)
        {
            TCell.LinearStateCoefficients(Coef + (nint)r0 * ld, nextBase + stride + (nint)r0 * ld, ld, Gx + (nint)r0 * gh, r1 - r0, h, W);
            for (int r = r0; r < r1; r++)
                if (Padded(r))
                {
                    new Span<float>(Coef + (nint)r * ld, ld).Fill(1f);
                    new Span<float>(nextBase + stride + (nint)r * ld, ld).Clear();
                }
            return;
        }
        if (Mode == Part.Decay) TCell.LinearStateDecay(Coef + (nint)r0 * ld, ld, Saved + (nint)r0 * sw, r1 - r0, h, W);
        for (int b0 = r0; b0 < r1; b0 += blk)
        {
            int rows = Math.Min(blk, r1 - b0);
            nint o = (nint)b0 * ld;
            switch (Mode)
            {
                case Part.Readout:
                    // p0: previous states (h as the contract hands it, s solved), p1: the step's own next states.
                    for (int r = 0; r < rows; r++)
                        new ReadOnlySpan<float>(prevBase + o + (nint)r * ld, h).CopyTo(new Span<float>(p0 + (nint)r * ld, h));
                    new ReadOnlySpan<float>(prevBase + stride + o, rows * ld).CopyTo(new Span<float>(p0 + pair, rows * ld));
                    TCell.Forward(new CellStep
                    {
                        Rows = rows, Hidden = h, Prev = p0, Next = p1, StateStride = pair, StateLd = ld,
                        Gx = Gx + (nint)b0 * gh, Saved = Saved == null ? null : Saved + (nint)b0 * sw, Scratch = scratch, W = W,
                    });
                    for (int r = b0; r < b0 + rows; r++)
                        if (!Padded(r)) new ReadOnlySpan<float>(p1 + (nint)(r - b0) * ld, h).CopyTo(new Span<float>(nextBase + (nint)r * ld, h));
                    break;
                case Part.Decay:
                    DirectGradient(b0, rows, p0, zeroPadded: true);
                    new Span<float>(p0 + pair, rows * ld).Clear();
                    StepBackward(b0, rows, p0, p1, pair, dgx, scratch);
                    for (int r = b0; r < b0 + rows; r++)
                    {
                        int step = r / Batch;
                        bool padded = Padded(r);
                        if (padded) new Span<float>(Coef + (nint)r * ld, ld).Fill(1f);
                        // e_t belongs to the step processed just before t; the step processed last gets none.
                        int before = Reverse ? r + Batch : r - Batch;
                        if (Reverse ? step < Steps - 1 : step > 0)
                        {
                            var dst = new Span<float>(Work + (nint)before * ld, ld);
                            if (padded) dst.Clear();
                            else new ReadOnlySpan<float>(p1 + pair + (nint)(r - b0) * ld, ld).CopyTo(dst);
                        }
                        if (Reverse ? step == 0 : step == Steps - 1) new Span<float>(Work + (nint)r * ld, ld).Clear();
                    }
                    break;
                case Part.Backward:
                    DirectGradient(b0, rows, p0, zeroPadded: false);
                    new ReadOnlySpan<float>(Work + o, rows * ld).CopyTo(new Span<float>(p0 + pair, rows * ld));
                    StepBackward(b0, rows, p0, p1, pair, DGi + (nint)b0 * gh, scratch);
                    for (int r = b0; r < b0 + rows; r++)
                    {
                        nint q = (nint)(r - b0) * ld;
                        if (Padded(r))
                        {
                            // A padded step passes ∂L/∂states through and has no ∂L/∂gx or weight-gradient records.
                            new Span<float>(DGi + (nint)r * gh, gh).Clear();
                            if (sw > 0) new Span<float>(Saved + (nint)r * sw, sw).Clear();
                            new ReadOnlySpan<float>(p0 + q, h).CopyTo(new Span<float>(p1 + q, h));
                            new ReadOnlySpan<float>(p0 + pair + q, ld).CopyTo(new Span<float>(p1 + pair + q, ld));
                        }
                        int step = r / Batch, row = r - step * Batch;
                        if (step != (Reverse ? Steps - 1 : 0)) continue;
                        new ReadOnlySpan<float>(p1 + q, h).CopyTo(new Span<float>(DFirst + (nint)row * ld, h));
                        new ReadOnlySpan<float>(p1 + pair + q, ld).CopyTo(new Span<float>(DFirst + m + (nint)row * ld, ld));
                    }
                    break;
            }
        }
    }

    /// <summary>The cell's step backward of rows [b0, b0 + rows) with ∂L/∂next = dn, ∂L/∂prev into dp ([2, rows, Ws] each,
    /// <paramref name="pair"/> apart) and ∂L/∂gx into dgx, reading the stored states and saved rows.</summary>
    private readonly void StepBackward(int b0, int rows, float* dn, float* dp, nint pair, float* dgx, float* scratch)
    {
        nint m = (nint)Batch * Ld, o = (nint)b0 * Ld;
        TCell.Backward(new CellBackwardStep
        {
            Rows = rows, Hidden = Hidden, DNext = dn, DPrev = dp, DStride = pair, StateStride = (Steps + 1) * m, StateLd = Ld,
            Prev = States + (Reverse ? m : 0) + o, Next = States + (Reverse ? 0 : m) + o,
            Saved = Saved + (nint)b0 * CellOps.SavedWidthOf<TCell>(W.Params) * Hidden, DGx = dgx, DGh = dgx, Scratch = scratch, W = W,
        });
    }

    /// <summary>∂L/∂h of rows [b0, b0 + rows) into dst (rows Ws apart): this direction's ∂L/∂y, plus ∂L/∂(final h) at the
    /// row's last step processed (as the loop adds it there); at padded steps 0, or with <paramref name="zeroPadded"/>
    /// false the final gradient for a row with no steps at all (which passes it straight to the initial state).</summary>
    private readonly void DirectGradient(int b0, int rows, float* dst, bool zeroPadded)
    {
        int h = Hidden;
        for (int r = b0; r < b0 + rows; r++)
        {
            int step = r / Batch, row = r - step * Batch, len = Lengths == null ? Steps : Lengths[row];
            var d = new Span<float>(dst + (nint)(r - b0) * Ld, h);
            var end = new ReadOnlySpan<float>(DEnd + (nint)row * Ld, h);
            if (step >= len)
            {
                if (zeroPadded || len > 0) d.Clear();
                else end.CopyTo(d);
                continue;
            }
            new ReadOnlySpan<float>(DOut + ((nint)r * Directions + Direction) * h, h).CopyTo(d);
            if (step == (Reverse ? 0 : len - 1)) TensorPrimitives.Add(d, end, d);
        }
    }

    private readonly bool Padded(int r) => Lengths != null && r / Batch >= Lengths[r % Batch];
}
