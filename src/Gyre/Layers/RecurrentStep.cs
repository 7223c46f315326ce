using Gyre.Cells;
using Gyre.Kernels;

namespace Gyre.Layers;

/// <summary>
/// One direction's recurrent weight W_hh [G·H, H] in the layouts the per-step kernels read, refreshed at
/// every Forward / Backward call (the weights may have changed in between, e.g. an optimiser step), so
/// the time loop itself never packs: W_hhᵀ packed for h·W_hhᵀ, W_hh packed for dGh·W_hh, and the unit
/// blocks of <see cref="RecurrentStepKernels"/> for the fused batch-1 step. Buffers grow once and are reused.
/// </summary>
internal sealed unsafe class RecurrentStepWeights
{
    /// <summary>op(B) = W_hhᵀ: K = H, N = G·H (forward, batch above 1).</summary>
    public readonly PackedMatrix HiddenToGates = new();
    /// <summary>op(B) = W_hh: K = G·H, N = H (backward, dh_prev += dGh·W_hh).</summary>
    public readonly PackedMatrix GatesToHidden = new();

    private float[] _blocks = [];     // [Hp·G·H] unit blocks (+16 for alignment)
    private float[] _bias = [];       // GRU b_hh [3, Hp] zero-padded (+16)
    private readonly int[] _barrier = GC.AllocateArray<int>(48, pinned: true);

    /// <summary>Tests turn the fused step off to compare it with the GEMM + gate-kernel path.</summary>
    internal static bool FusedEnabled = true;

    /// <summary>The fused batch-1 step runs for GRU and LSTM where Vector512 is accelerated.</summary>
    public static bool UseFused(CellKind kind, int batch) =>
        FusedEnabled && batch == 1 && RecurrentStepKernels.IsSupported && kind is CellKind.Gru or CellKind.Lstm;

    /// <summary>
    /// Hidden sizes from which the fused sequence splits units over a team. A step is only microseconds,
    /// so the per-step spin barrier pays only while the partner core is free at every step. On this
    /// 2-vCPU machine the split at H = 128 measured anywhere from 1.3 ms to 9 ms per 1000 GRU steps from
    /// run to run, against a steady 1.7–2.1 ms unsplit (2026-11-30, otherwise idle machine; 4× slower
    /// under load average 6): the barrier is hostage to the host scheduler. 256 keeps the split where
    /// the work per step is large enough to absorb a late partner.
    /// </summary>
    internal static int ParallelFusedMinHidden = 256;

    public void PackForGemm(ReadOnlySpan<float> wHh, int gates, int hidden) =>
        HiddenToGates.Pack(true, gates * hidden, hidden, wHh, hidden);

    public void PackForBackward(ReadOnlySpan<float> wHh, int gates, int hidden) =>
        GatesToHidden.Pack(false, hidden, gates * hidden, wHh, hidden);

    /// <summary>
    /// Runs a whole batch-1 sequence of fused steps (see <see cref="FusedSequenceJob"/>): packs W_hh (and GRU
    /// b_hh) into unit blocks, then splits hidden units over <paramref name="team"/> when H is large enough.
    /// gx [T, G·H], hs/cs [T+1, H] (initial state already in place), saved [T, S·H] or empty.
    /// </summary>
    public void RunFused(CellKind kind, ReadOnlySpan<float> wHh, ReadOnlySpan<float> bHh, int hidden, int steps, bool reverse,
        Span<float> gx, Span<float> hs, Span<float> cs, Span<float> saved, WorkerTeam team)
    {
        bool lstm = kind == CellKind.Lstm;
        int g = lstm ? 4 : 3, hp = RecurrentStepKernels.PaddedUnits(hidden);
        long need = RecurrentStepKernels.PackedLength(hidden, g) + 16;
        if (_blocks.Length < need) _blocks = GC.AllocateUninitializedArray<float>(checked((int)need), pinned: true);
        if (_bias.Length < 3 * hp + 16) _bias = GC.AllocateArray<float>(3 * hp + 16, pinned: true);
        fixed (float* blocksRaw = _blocks) fixed (float* biasRaw = _bias) fixed (float* w = wHh)
        fixed (float* pGx = gx) fixed (float* pHs = hs) fixed (float* pCs = cs) fixed (float* pSaved = saved)
        fixed (int* barrier = _barrier)
        {
            float* blocks = ThreadScratch.Align(blocksRaw), bias = null;
            RecurrentStepKernels.PackUnitBlocks(blocks, w, hidden, g);
            if (!lstm && !bHh.IsEmpty)
            {
                bias = ThreadScratch.Align(biasRaw);
                var padded = new Span<float>(bias, 3 * hp);
                padded.Clear();
                for (int gate = 0; gate < 3; gate++) bHh.Slice(gate * hidden, hidden).CopyTo(padded.Slice(gate * hp, hidden));
            }
            barrier[0] = 0; barrier[16] = 0;
            var job = new FusedSequenceJob
            {
                Lstm = lstm, Reverse = reverse, Hidden = hidden, Steps = steps, W = blocks, BiasHh = bias,
                Gx = pGx, Hs = pHs, Cs = lstm ? pCs : null, Saved = saved.IsEmpty ? null : pSaved, Barrier = barrier,
            };
            if (team.Size > 1 && hidden >= ParallelFusedMinHidden && team.TryRunConcurrently(ref job)) return;
            job.Execute(0, 1);
        }
    }

    private float[] _rowBlocks = [];  // [H·4·H] narrow unit blocks (+16 for alignment)

    /// <summary>The fused multi-row LSTM step runs where Vector512 is accelerated and H is whole vectors.</summary>
    public static bool UseFusedRows(CellKind kind, int batch, int hidden) =>
        FusedEnabled && batch > 1 && kind == CellKind.Lstm && hidden % RecurrentStepKernels.Lanes == 0 && RecurrentStepKernels.IsSupported;

    /// <summary>W_ihᵀ packed once per sequence for the per-step input projection of <see cref="RunFusedRows"/>.</summary>
    private readonly PackedMatrix _inputToGates = new();

    /// <summary>
    /// Input sizes up to which <see cref="RunFusedRows"/> projects x inside the time loop, one [rows, 4H]
    /// block per step into a buffer that stays in cache, instead of one [T·B, 4H] GEMM before it. At small
    /// I that GEMM is bound by writing gx to memory and reading it back (B = 64, I = 32, H = 128: 1.9 ms for
    /// 0.2 GFLOP, 13 MB of gx; 8.0 → 7.3 ms for the layer); at I = 256 it is compute-bound and the big
    /// GEMM is faster (measured 2026-11-30).
    /// </summary>
    internal static int ProjectInStepMaxInput = 128;

    /// <summary>
    /// Runs a whole LSTM layer direction at batch above 1 with the fused multi-row step (see
    /// <see cref="LstmRowsSequenceJob"/>), including the input projection gx = 1·bias + x·W_ihᵀ: batch rows
    /// split over the team when each worker gets <see cref="BatchSplitMinRows"/>, else 16-unit blocks split
    /// when H ≥ <see cref="ParallelFusedMinHidden"/>, else one thread. Each gx element is the same FMA chain
    /// whether projected per step or for the whole sequence (rows never split K), so no bit changes.
    /// x [T, B, I], wIh [4H, I], bias [4H] (b_ih + b_hh) or empty, gx [T, B, 4H] scratch (contents undefined
    /// afterwards), hs/cs [T+1, B, H] (initial state in place), saved [T, B, 5H] or empty.
    /// </summary>
    public void RunFusedRows(ReadOnlySpan<float> x, int inSize, ReadOnlySpan<float> wIh, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> wHh, int batch, int hidden, int steps, bool reverse,
        Span<float> gx, Span<float> hs, Span<float> cs, Span<float> saved, WorkerTeam team)
    {
        int gh = 4 * hidden;
        bool splitRows = team.Size > 1 && batch >= BatchSplitMinRows * team.Size;
        bool splitUnits = !splitRows && team.Size > 1 && hidden >= ParallelFusedMinHidden;
        // A worker owning units would need every row's projection, so a unit split projects the whole sequence first.
        bool perStep = !splitUnits && inSize <= ProjectInStepMaxInput;
        if (perStep) _inputToGates.Pack(true, gh, inSize, wIh, inSize);
        else if (bias.IsEmpty) Gemm.Multiply(false, true, steps * batch, gh, inSize, x, inSize, wIh, inSize, gx, gh, false, team);
        else Gemm.Multiply(false, true, steps * batch, gh, inSize, x, inSize, wIh, inSize, gx, gh, bias, team);

        long need = RecurrentStepKernels.PackedLength(hidden, 4) + 16;
        if (_rowBlocks.Length < need) _rowBlocks = GC.AllocateUninitializedArray<float>(checked((int)need), pinned: true);
        fixed (float* blocksRaw = _rowBlocks) fixed (float* w = wHh)
        fixed (float* pGx = gx) fixed (float* pHs = hs) fixed (float* pCs = cs) fixed (float* pSaved = saved)
        fixed (float* pX = x) fixed (float* pBias = bias) fixed (int* barrier = _barrier)
        {
            float* blocks = ThreadScratch.Align(blocksRaw);
            RecurrentStepKernels.PackUnitBlocks(blocks, w, hidden, 4, narrow: true);
            barrier[0] = 0; barrier[16] = 0;
            var job = new LstmRowsSequenceJob
            {
                Reverse = reverse, SplitUnits = splitUnits, Batch = batch, Hidden = hidden, Steps = steps, W = blocks,
                Gx = pGx, Hs = pHs, Cs = pCs, Saved = saved.IsEmpty ? null : pSaved, Barrier = barrier,
                X = perStep ? pX : null, InSize = inSize, WIh = perStep ? _inputToGates.Pointer : null,
                Bias = bias.IsEmpty ? null : pBias,
            };
            if ((splitRows || splitUnits) && team.TryRunConcurrently(ref job)) return;
            job.SplitUnits = false;
            job.Execute(0, 1);
        }
    }

    /// <summary>
    /// Batch rows each worker must get before the sequence is split by batch rows (two 6-row GEMM tiles):
    /// below that a step's GEMM is split over the team instead (N panels at small batch).
    /// </summary>
    internal static int BatchSplitMinRows = 12;

    /// <summary>Whether <see cref="RunBatchSplit"/> takes the sequence: GRU or LSTM, a team, enough rows per worker.</summary>
    public static bool UseBatchSplit(CellKind kind, int batch, WorkerTeam team) =>
        team.Size > 1 && batch >= BatchSplitMinRows * team.Size && kind is CellKind.Gru or CellKind.Lstm;

    /// <summary>
    /// Runs the whole sequence with the batch rows divided between the workers of <paramref name="team"/>:
    /// rows never interact, so each worker steps its rows through all T steps (GEMM against the packed
    /// W_hhᵀ, then the gate kernel) with no synchronisation until the end. Each output element is the same
    /// chain of operations as on one thread (the GEMM never splits K), so the bits do not depend on the team.
    /// Falls back to one thread when the team is busy.
    /// </summary>
    public void RunBatchSplit(CellKind kind, bool hasBias, ReadOnlySpan<float> bHh, int batch, int hidden, int steps, bool reverse,
        Span<float> gx, Span<float> hs, Span<float> cs, Span<float> saved, Span<float> ghBuf, WorkerTeam team)
    {
        bool lstm = kind == CellKind.Lstm;
        fixed (float* pGx = gx) fixed (float* pHs = hs) fixed (float* pCs = cs) fixed (float* pSaved = saved)
        fixed (float* pGh = ghBuf) fixed (float* pB = bHh)
        {
            var job = new BatchSequenceJob
            {
                Lstm = lstm, Reverse = reverse, HasBias = hasBias, Batch = batch, Hidden = hidden, Steps = steps,
                W = HiddenToGates.Pointer, Gx = pGx, Hs = pHs, Cs = lstm ? pCs : null, Saved = saved.IsEmpty ? null : pSaved,
                Gh = pGh, BiasHh = pB,
            };
            if (!team.TryRunConcurrently(ref job)) job.Execute(0, 1);
        }
    }

    /// <summary>Backward through time with the batch rows divided between the workers (see <see cref="BatchBackwardJob"/>).</summary>
    public void RunBackwardBatchSplit(CellKind kind, int batch, int hidden, int steps, bool reverse, int directions,
        ReadOnlySpan<float> dOut, ReadOnlySpan<float> hs, ReadOnlySpan<float> cs, ReadOnlySpan<float> saved,
        Span<float> dGi, Span<float> dGh, Span<float> dh, Span<float> dhTmp, Span<float> dc, Span<float> dcTmp, WorkerTeam team)
    {
        bool lstm = kind == CellKind.Lstm;
        fixed (float* pDOut = dOut) fixed (float* pHs = hs) fixed (float* pCs = cs) fixed (float* pSaved = saved)
        fixed (float* pDGi = dGi) fixed (float* pDGh = dGh) fixed (float* pDh = dh) fixed (float* pDhTmp = dhTmp)
        fixed (float* pDc = dc) fixed (float* pDcTmp = dcTmp)
        {
            var job = new BatchBackwardJob
            {
                Lstm = lstm, Reverse = reverse, Batch = batch, Hidden = hidden, Steps = steps, Directions = directions,
                W = GatesToHidden.Pointer, DOut = pDOut, Hs = pHs, Cs = pCs, Saved = pSaved, DGi = pDGi, DGh = pDGh,
                Dh = pDh, DhTmp = pDhTmp, Dc = pDc, DcTmp = pDcTmp,
            };
            if (!team.TryRunConcurrently(ref job)) job.Execute(0, 1);
        }
    }
}

/// <summary>
/// Backward through time split by batch rows: worker w runs rows [w·B/W, (w+1)·B/W) through every step,
/// exactly the single-thread loop of RecurrentLayer restricted to those rows (dh += dY slice, gate
/// backward, dh_prev (+)= dG·W_hh with W_hh packed, swap). dOut [T, B, D·H]; dGi, dGh [T, B, G·H];
/// dh, dhTmp, dc, dcTmp [B, H]; after T steps the results sit in dh/dc for even T, else dhTmp/dcTmp.
/// </summary>
internal unsafe struct BatchBackwardJob : IWorkerJob
{
    public bool Lstm, Reverse;
    public int Batch, Hidden, Steps, Directions;
    public float* W;                 // packed W_hh (K = G·H, N = H), pinned
    public float* DOut, Hs, Cs, Saved, DGi, DGh, Dh, DhTmp, Dc, DcTmp;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public readonly void Execute(int worker, int workers)
    {
        int r0 = (int)((long)Batch * worker / workers), r1 = (int)((long)Batch * (worker + 1) / workers), rows = r1 - r0;
        if (rows == 0) return;
        int h = Hidden, g = Lstm ? 4 : 3, gh = g * h, sw = (Lstm ? 5 : 4) * h, d = Directions;
        nint bh = (nint)Batch * h, rh = (nint)r0 * h;
        float* dh = Dh + rh, dhTmp = DhTmp + rh, dc = Lstm ? Dc + rh : null, dcTmp = Lstm ? DcTmp + rh : null;
        int n = rows * h;
        for (int s = Steps - 1; s >= 0; s--)
        {
            int step = Reverse ? Steps - 1 - s : s;
            if (d == 1)
            {
                // One direction: this step's dY rows are contiguous.
                var all = new Span<float>(dh, n);
                System.Numerics.Tensors.TensorPrimitives.Add(all, new ReadOnlySpan<float>(DOut + ((nint)step * Batch + r0) * h, n), all);
            }
            else for (int r = 0; r < rows; r++)
            {
                var dst = new Span<float>(dh + (nint)r * h, h);
                System.Numerics.Tensors.TensorPrimitives.Add(dst,
                    new ReadOnlySpan<float>(DOut + ((nint)step * Batch + r0 + r) * d * h + (Reverse ? h : 0), h), dst);
            }
            nint prev = Reverse ? step + 1 : step;
            float* dGiStep = DGi + ((nint)step * Batch + r0) * gh;
            var savedRows = new ReadOnlySpan<float>(Saved + ((nint)step * Batch + r0) * sw, rows * sw);
            if (Lstm)
            {
                LstmGates.Backward(new Span<float>(dGiStep, rows * gh), new Span<float>(dcTmp, n), new ReadOnlySpan<float>(dh, n),
                    new ReadOnlySpan<float>(dc, n), savedRows, new ReadOnlySpan<float>(Cs + prev * bh + rh, n), rows, h);
                Gemm.MultiplyPackedSerial(rows, dGiStep, gh, W, h, gh, dhTmp, h, false);
                float* swapC = dc; dc = dcTmp; dcTmp = swapC;
            }
            else
            {
                float* dGhStep = DGh + ((nint)step * Batch + r0) * gh;
                GruGates.Backward(new Span<float>(dGiStep, rows * gh), new Span<float>(dGhStep, rows * gh), new Span<float>(dhTmp, n),
                    new ReadOnlySpan<float>(dh, n), savedRows, new ReadOnlySpan<float>(Hs + prev * bh + rh, n), rows, h);
                Gemm.MultiplyPackedSerial(rows, dGhStep, gh, W, h, gh, dhTmp, h, true);
            }
            float* swap = dh; dh = dhTmp; dhTmp = swap;
        }
    }
}

/// <summary>
/// A sequence split by batch rows: worker w steps rows [w·B/W, (w+1)·B/W) through every time step.
/// Buffers are time-major: gx [T, B, G·H], hs/cs [T+1, B, H], saved [T, B, S·H], gh [B, G·H] (GRU).
/// </summary>
internal unsafe struct BatchSequenceJob : IWorkerJob
{
    public bool Lstm, Reverse, HasBias;
    public int Batch, Hidden, Steps;
    public float* W;                 // packed W_hhᵀ (K = H, N = G·H), pinned
    public float* Gx, Hs, Cs, Saved, Gh, BiasHh;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public readonly void Execute(int worker, int workers)
    {
        int r0 = (int)((long)Batch * worker / workers), r1 = (int)((long)Batch * (worker + 1) / workers), rows = r1 - r0;
        if (rows == 0) return;
        int h = Hidden, g = Lstm ? 4 : 3, gh = g * h, sw = (Lstm ? 5 : 4) * h;
        nint bh = (nint)Batch * h;
        float* ghRows = Gh + (nint)r0 * gh;
        for (int s = 0; s < Steps; s++)
        {
            int step = Reverse ? Steps - 1 - s : s;
            float* hPrev = Hs + (Reverse ? step + 1 : step) * bh + (nint)r0 * h;
            float* hNext = Hs + (Reverse ? step : step + 1) * bh + (nint)r0 * h;
            float* gStep = Gx + ((nint)step * Batch + r0) * gh;
            var savedRows = Saved == null ? default : new Span<float>(Saved + ((nint)step * Batch + r0) * sw, rows * sw);
            if (Lstm)
            {
                Gemm.MultiplyPackedSerial(rows, hPrev, h, W, gh, h, gStep, gh, true);
                float* cPrev = Cs + (Reverse ? step + 1 : step) * bh + (nint)r0 * h;
                float* cNext = Cs + (Reverse ? step : step + 1) * bh + (nint)r0 * h;
                LstmGates.Forward(new Span<float>(hNext, rows * h), new Span<float>(cNext, rows * h), savedRows,
                    new ReadOnlySpan<float>(gStep, rows * gh), new ReadOnlySpan<float>(cPrev, rows * h), rows, h);
            }
            else
            {
                if (HasBias)
                    for (int r = 0; r < rows; r++) new ReadOnlySpan<float>(BiasHh, gh).CopyTo(new Span<float>(ghRows + (nint)r * gh, gh));
                Gemm.MultiplyPackedSerial(rows, hPrev, h, W, gh, h, ghRows, gh, HasBias);
                GruGates.Forward(new Span<float>(hNext, rows * h), savedRows, new ReadOnlySpan<float>(gStep, rows * gh),
                    new ReadOnlySpan<float>(ghRows, rows * gh), new ReadOnlySpan<float>(hPrev, rows * h), rows, h);
            }
        }
    }
}
