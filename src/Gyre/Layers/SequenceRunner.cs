using System.Diagnostics;
using System.Runtime.CompilerServices;
using Gyre.Cells;
using Gyre.Kernels;

namespace Gyre.Layers;

/// <summary>
/// One layer direction's buffers and weights for a forward call. Letters: T steps, B rows, I input size,
/// H hidden, G gates, S saved width, NS states, W_0 the width of h (the output), Ws the row stride of every
/// state (the widest state; H when every state is H wide). States are in processing convention: for a forward direction
/// state[t] is the state before step t and state[t+1] after it; for a reverse direction state[t+1] is the
/// state before step t and state[t] after it.
/// </summary>
internal ref struct DirectionForward
{
    public ReadOnlySpan<float> X;          // [T, B, I]
    public int InSize;
    public ReadOnlySpan<float> WIh;        // [G·H, I]
    public ReadOnlySpan<float> Bias;       // [G·H] b_ih (+ b_hh unless apart) or empty
    public ReadOnlySpan<float> WHh;        // weight_hh as stored, or empty
    public ReadOnlySpan<float> BHh;        // [G·H] b_hh when the cell keeps it apart, else empty
    public ReadOnlySpan<float> Extra;      // extra per-unit parameters or empty
    public CellParams Params;
    public int Batch, Steps, Hidden;
    public int OutWidth, StateLd;          // W_0, Ws
    public bool Reverse;
    public Span<float> Gx;                 // [T, B, G·H] scratch
    public Span<float> States;             // [NS, T+1, B, Ws], initial states in place
    public Span<float> Saved;              // [T, B, S·H] or empty (inference)
    public Span<float> Scratch;            // [B, ScratchWidth·H]
    public ReadOnlySpan<int> Lengths;      // [B] or empty; set only when some row is shorter than T
    public int PackGeneration;             // 0: the weights may have changed (pack them); else packs of this generation stay valid
}

/// <summary>One layer direction's buffers and gradients for a backward call (see <see cref="DirectionForward"/>).</summary>
internal ref struct DirectionBackward
{
    public ReadOnlySpan<float> X;          // [T, B, I]
    public int InSize;
    public ReadOnlySpan<float> WIh, WHh, Extra;
    public CellParams Params;
    public int Batch, Steps, Hidden, Direction, Directions;
    public int OutWidth, StateLd;          // W_0, Ws
    public bool Reverse, HasBias;
    public ReadOnlySpan<float> DOut;       // [T, B, D·W_0] ∂L/∂y of this layer
    public ReadOnlySpan<float> States;     // [NS, T+1, B, Ws]
    public ReadOnlySpan<float> Saved;      // [T, B, S·H]
    public Span<float> DGi;                // [T, B, G·H] ∂L/∂gx (overwrites gx)
    public Span<float> DGh;                // [T, B, G·H] when apart, else empty
    public Span<float> D, DTmp;            // [NS, B, Ws] each; D holds ∂L/∂(final states) on entry
    public Span<float> Scratch;            // [B, ScratchWidth·H]
    public Span<float> DIn;                // [T, B, I] += ∂L/∂x
    public Span<float> DWIh, DWHh, DBIh, DBHh, DExtra;
    public ReadOnlySpan<int> Lengths;
}

/// <summary>The sequence runner of one cell type behind the layer (one per layer direction: it owns the packed weights).</summary>
internal interface ISequenceRunner
{
    /// <summary>Linear solves the last Newton forward used (0 on every other path).</summary>
    int LastIterations { get; }

    SequencePath Forward(in DirectionForward a, ExecutionOptions options);

    /// <summary>Returns the path and whether the ∂L/∂(initial states) ended in <c>DTmp</c> (else in <c>D</c>).</summary>
    (SequencePath Path, bool InTmp) Backward(in DirectionBackward a, ExecutionOptions options);
}

/// <summary>
/// Runs a layer direction for cell <typeparamref name="TCell"/>: the input projection, the time loop on the
/// path <see cref="SequencePaths.Choose"/> picks, variable lengths, and the weight gradients. Packed weight
/// buffers grow once and are reused; they are refreshed at every call (the weights may have changed), except in
/// inference while the layer's weights are frozen (<see cref="RecurrentLayer.WeightsFrozen"/>): then once per freeze.
/// </summary>
internal sealed unsafe partial class SequenceRunner<TCell> : ISequenceRunner where TCell : struct, ICell
{
    private readonly PackedMatrix _hiddenToGates = new();   // W_hhᵀ (K = H, N = G·H)
    private readonly PackedMatrix _extraProduct = new();    // E [N, H] of Extra packed for x·Eᵀ (ICell.PackedExtraColumns)
    private readonly PackedMatrix _gatesToHidden = new();   // W_hh (K = G·H, N = H)
    private float[] _inputBlocks = [];                      // W_ih in narrow unit blocks for the in-step projection of FusedRows (+16)
    private readonly PackedMatrix _gatesToInput = new();    // W_ih (K = G·H, N = I) for dX of every backward chunk
    private float[] _blocks = [];                           // unit blocks for the fused paths (+16 for alignment)
    private float[] _bias = [];                             // b_hh [G, Hp] zero-padded (+16)
    // The weight generation each packed form holds (0: none). _blocks holds the wide or the narrow unit blocks.
    private int _hiddenToGatesGen, _inputToGatesGen, _wideGen, _narrowGen, _extraProductGen;
    private int[] _progress = [];                           // [workers, 32] progress of the batch-1 split (FusedSequenceJob)
    private readonly SplitChooser[] _splitChoosers = new SplitChooser[SplitChooser.Buckets];   // unit split or one thread, per call length
    private readonly PackedMatrix _inputToGatesT = new();   // W_ihᵀ (K = I, N = G·H) for the batch-1 projection ahead
    private int _inputToGatesTGen;
    private int[] _aheadFlags = [];                         // [blocks, 16] block states of ProjectAheadJob
    private float[] _aheadPrivate = [];                     // [32, G·H] (+16) the recurrence's own copy of a late block
    private int[] _claims = [];                             // [workers, Gemm.Chunks.Stride] row-block claims of the backward loop
    private int[] _rowClaims = [];                          // [blocks, FusedRowBlocks.ClaimStride] claims of the fused multi-row forward

    /// <summary>The cell's parallel-in-time path: <see cref="SequencePath.StateScan"/> for a read-out over a wide linear state,
    /// <see cref="SequencePath.Scan"/> for a linear cell,
    /// <see cref="SequencePath.Newton"/> for a cell whose Jacobian ∂s_t/∂s_{t−1} is one K×K block per unit (per-unit or no
    /// weight_hh, K = NS ≤ <see cref="LinearRecurrence.MaxBlock"/> states), else none.</summary>
    // A saved width that depends on the options (LSSL's 3N + 2) is known to the loop paths only: no parallel path.
    // A cell that reads out a wide linear state (GLA, LSSL) takes the state scan, whose scratch follows the options.
    internal static SequencePath? ParallelPath => TCell.HasLinearState ? SequencePath.StateScan : TCell.SavedWidthFromParams ? null : TCell.IsLinear ? SequencePath.Scan
        : TCell.States <= LinearRecurrence.MaxBlock && TCell.Recurrent is RecurrentWeights.Diagonal or RecurrentWeights.None ? SequencePath.Newton : null;

    public SequencePath Forward(in DirectionForward a, ExecutionOptions options)
    {
        LastIterations = 0;
        int h = a.Hidden, g = TCell.Gates, gh = g * h, b = a.Batch, t = a.Steps, rows = t * b;
        var team = options.ResolveTeam();
        // The fused kernels address every state as [·, H]: only cells whose states are all H wide take them (and the
        // parallel paths, whose solves run over [T, B·H]).
        bool uniform = a.StateLd == h && a.OutWidth == h;
        var path = SequencePaths.Choose(false, TCell.HasFusedStep && uniform, TCell.HasFusedRows && uniform, b, h, !a.Lengths.IsEmpty, options, team.Size,
            uniform || TCell.HasLinearState ? ParallelPath : null);
        if (path == SequencePath.FusedRows) { RunFusedRows(a, options, team); return path; }
        // Batch 1 projects its inputs itself (on another core while the recurrence runs, where that pays).
        if (path == SequencePath.FusedSingleRow) { RunFused(a, options, team); return path; }

        var gx = a.Gx;
        Project(a, null);
        int extraColumns = TCell.PackedExtraColumns(a.Params);
        if (extraColumns > 0 && Stale(ref _extraProductGen, a.PackGeneration))
            _extraProduct.Pack(true, extraColumns, h, a.Extra, h);
        if (path is SequencePath.Scan or SequencePath.Newton) { ParallelForward(a, options, team, path == SequencePath.Newton); return path; }
        if (path == SequencePath.StateScan) { StateScanForward(a, options, team); return path; }

        if (TCell.Recurrent == RecurrentWeights.Dense && Stale(ref _hiddenToGatesGen, a.PackGeneration)) _hiddenToGates.Pack(true, gh, a.OutWidth, a.WHh, a.OutWidth);
        fixed (float* pGx = gx) fixed (float* pStates = a.States) fixed (float* pSaved = a.Saved) fixed (float* pScratch = a.Scratch)
        fixed (float* pWhh = a.WHh) fixed (float* pBhh = a.BHh) fixed (float* pExtra = a.Extra) fixed (int* pLen = a.Lengths)
        {
            var job = new RowSplitForward<TCell>
            {
                Batch = b, Hidden = h, Steps = t, StateLd = a.StateLd, Reverse = a.Reverse,
                Gx = pGx, States = pStates, Saved = a.Saved.IsEmpty ? null : pSaved, Scratch = pScratch,
                Lengths = a.Lengths.IsEmpty ? null : pLen,
                W = Weights(false, pWhh, pBhh, pExtra, null, a.Params, extraPacked: extraColumns > 0),
            };
            Run(ref job, path, team);
        }
        return path;
    }

    /// <summary>gx [T·B, G·H] = 1·bias + x·W_ihᵀ, one GEMM over all rows (on <paramref name="team"/>; null: the default).</summary>
    private void Project(in DirectionForward a, WorkerTeam? team)
    {
        int gh = TCell.Gates * a.Hidden, rows = a.Steps * a.Batch;
        var gx = a.Gx;
        if (a.PackGeneration != 0 && (long)rows * gh * a.InSize > Gemm.SmallWork)
        {
            // Frozen weights (inference, serving): W_ihᵀ packed once per freeze, not at every call, which at a stream's
            // one-step call cost more than the product. The same bits: packed and unpacked B take one blocked path,
            // and a bias row start is bit-identical to writing the bias rows and accumulating.
            if (Stale(ref _inputToGatesTGen, a.PackGeneration)) _inputToGatesT.Pack(true, gh, a.InSize, a.WIh, a.InSize);
            if (a.Bias.IsEmpty) Gemm.Multiply(false, rows, a.X, a.InSize, _inputToGatesT, gx, gh, false, team);
            else Gemm.Multiply(false, rows, a.X, a.InSize, _inputToGatesT, gx, gh, a.Bias, team);
            return;
        }
        if (!a.Bias.IsEmpty && a.InSize > Gemm.InPlaceMaxK)
            // Compute-bound: each tile starts from the bias row (LSTM B=16 I=256 H=256: −0.8 ms of 26).
            Gemm.Multiply(false, true, rows, gh, a.InSize, a.X, a.InSize, a.WIh, a.InSize, gx, gh, a.Bias, team);
        else if (!a.Bias.IsEmpty)
        {
            // Small K, bound by gx's memory traffic: the streaming pass that writes the bias rows first was
            // measured faster than starting each tile from the bias (GRU B=64 I=32 H=128: 6.2 vs 6.5 ms).
            for (int r = 0; r < rows; r++) a.Bias.CopyTo(gx.Slice(r * gh, gh));
            Gemm.Multiply(false, true, rows, gh, a.InSize, a.X, a.InSize, a.WIh, a.InSize, gx, gh, true, team);
        }
        else Gemm.Multiply(false, true, rows, gh, a.InSize, a.X, a.InSize, a.WIh, a.InSize, gx, gh, false, team);
    }

    public (SequencePath, bool) Backward(in DirectionBackward a, ExecutionOptions options)
    {
        int h = a.Hidden, g = TCell.Gates, gh = g * h, b = a.Batch, t = a.Steps;
        var team = options.ResolveTeam();
        bool uniform = a.StateLd == h && a.OutWidth == h;
        var path = SequencePaths.Choose(true, TCell.HasFusedStep, TCell.HasFusedRows, b, h, !a.Lengths.IsEmpty, options, team.Size,
            uniform || TCell.HasLinearState ? ParallelPath : null);
        bool inTmp = t % 2 == 1;
        if (TCell.Recurrent == RecurrentWeights.Dense) _gatesToHidden.Pack(false, a.OutWidth, gh, a.WHh, a.OutWidth);
        var dGh = TCell.HiddenBiasApart ? a.DGh : a.DGi;
        // The row split's blocks are claimed (RowSplitBackward.Claims): one per worker.
        int workers = path == SequencePath.RowSplit ? team.Size : 1;
        if (_claims.Length < workers * Gemm.Chunks.Stride) _claims = GC.AllocateArray<int>(workers * Gemm.Chunks.Stride, pinned: true);
        fixed (float* pDOut = a.DOut) fixed (float* pStates = a.States) fixed (float* pSaved = a.Saved)
        fixed (float* pDGi = a.DGi) fixed (float* pDGh = dGh) fixed (float* pD = a.D) fixed (float* pDTmp = a.DTmp)
        fixed (float* pScratch = a.Scratch) fixed (float* pWhh = a.WHh) fixed (float* pExtra = a.Extra)
        fixed (float* pDExtra = a.DExtra) fixed (int* pLen = a.Lengths) fixed (float* pDWhh = a.DWHh) fixed (int* claims = _claims)
        {
            var w = Weights(true, pWhh, null, pExtra, pDExtra, a.Params);
            var job = new RowSplitBackward<TCell>
            {
                Batch = b, Hidden = h, Steps = t, StateLd = a.StateLd, OutWidth = a.OutWidth,
                Reverse = a.Reverse, Direction = a.Direction, Directions = a.Directions,
                DOut = pDOut, States = pStates, Saved = pSaved, DGi = pDGi, DGh = pDGh, D = pD, DTmp = pDTmp,
                Scratch = pScratch, Lengths = a.Lengths.IsEmpty ? null : pLen, W = w, Claims = claims,
            };
            int groups = BackwardGroups(b, options.BackwardGroupRows, options.BackwardMaxGroups > 0 ? options.BackwardMaxGroups : MaxBackwardGroups);
            if (groups > 1 && path is not (SequencePath.Scan or SequencePath.Newton or SequencePath.StateScan)
                && TCell.Recurrent != RecurrentWeights.None && a.DExtra.IsEmpty)
            {
                GroupedBackward(a, options, team, groups, job, pDGi, pDGh);
                return (path, inTmp);
            }
            var grads = new ChunkGradients { States = pStates, Saved = pSaved, DGh = pDGh, DWhh = pDWhh, W = w };
            int chunk = TCell.HasLinearState ? t : options.BackwardChunkSteps > 0 ? Math.Min(options.BackwardChunkSteps, t)
                : BackwardChunkSteps(b, t, a.InSize, a.OutWidth, gh, TCell.HiddenBiasApart);
            // Chunks multiply by W_ih many times: packed once here (one dispatch and one packing less per chunk).
            if (chunk < t && (long)chunk * b * a.InSize * gh > Gemm.SmallWork)
            {
                _gatesToInput.Pack(false, a.InSize, gh, a.WIh, a.InSize);
                grads.WIhPacked = _gatesToInput;
            }
            // The loop runs in chunks of steps, each followed by its share of the weight gradients while the
            // chunk's ∂L/∂g rows are still in cache (instead of four passes over all of [T·B, G·H] from memory).
            // The parallel paths sum their weight gradients by the same chunks in the same order: every path
            // then reduces over the rows alike.
            if (path is SequencePath.Scan or SequencePath.Newton or SequencePath.StateScan)
            {
                if (path == SequencePath.StateScan) StateScanBackward(a, options, team, pStates, pSaved, pDGi, pD, pDTmp, pDOut, w);
                else ParallelBackward(a, options, team, pStates, pSaved, pDGi, pDGh, pD, pDTmp, pDOut, w);
                for (int end = t; end > 0; end -= chunk)
                {
                    int begin = Math.Max(0, end - chunk);
                    AccumulateGradients(a, grads, dGh, team, a.Reverse ? t - end : begin, end - begin);
                }
                return (path, true);
            }
            for (int end = t; end > 0; end -= chunk)
            {
                job.StepBegin = Math.Max(0, end - chunk);
                job.StepEnd = end;
                Gemm.Chunks.Init(claims, workers, workers);
                if (workers > 1) team.RunClaimed(ref job);
                else Run(ref job, path, team);
                AccumulateGradients(a, grads, dGh, team, a.Reverse ? t - end : job.StepBegin, end - job.StepBegin);
            }
        }
        return (path, inTmp);
    }

    /// <summary>Bytes of ∂L/∂g (∂L/∂gx and, when apart, ∂L/∂gh) one chunk of the backward loop may write before its
    /// weight gradients run: they then read it from L2 and the shared L3 instead of memory.</summary>
    internal const long BackwardChunkBytes = 2L << 20;

    /// <summary>Rows per unit of I + W_0 a chunk holds at least: a chunk's weight-gradient GEMMs load and store dW
    /// ([G·H, I + W_0]) once, so K = rows must be long beside I + W_0 for those loads to stay a small share.</summary>
    internal const int BackwardChunkRowsPerColumn = 4;

    /// <summary>
    /// Steps per chunk of the backward loop: as many as fit their ∂L/∂g in <see cref="BackwardChunkBytes"/> (fewer chunks,
    /// fewer dispatches), provided that is ≥ <see cref="BackwardChunkRowsPerColumn"/>·(I + W_0) rows; else all T steps
    /// (nothing is gained by chunking). From the shape alone, never the team, so the summation order (and every bit
    /// of the gradients) is the same for any thread count.
    /// </summary>
    internal static int BackwardChunkSteps(int batch, int steps, int inSize, int width, int gh, bool apart)
    {
        if (steps <= 1) return Math.Max(steps, 1);
        long stepBytes = (long)batch * gh * sizeof(float) * (apart ? 2 : 1);
        long fit = BackwardChunkBytes / stepBytes;
        long need = ((long)BackwardChunkRowsPerColumn * (inSize + width) + batch - 1) / batch;
        return need > fit ? steps : (int)Math.Min(steps, fit);
    }

    /// <summary>The pointers the per-chunk weight gradients read, pinned by <see cref="Backward"/>.</summary>
    private struct ChunkGradients
    {
        public float* States, Saved, DGh, DWhh;
        public CellWeights W;
        public PackedMatrix? WIhPacked;     // W_ih packed for dX (null: multiply by W_ih as stored)
    }

    /// <summary>
    /// The gradients of steps [t0, t0 + steps) (time order): dW_hh (the cell's rule), dW_ih += dGiᵀ·X, the bias
    /// gradients (column sums of dGi and dGh) and dX += dGi·W_ih, each accumulated onto what the chunks after
    /// it in the loop (earlier in processing order) left.
    /// </summary>
    private static void AccumulateGradients(in DirectionBackward a, in ChunkGradients c, ReadOnlySpan<float> dGhAll, WorkerTeam team, int t0, int steps)
    {
        int h = a.Hidden, gh = TCell.Gates * h, b = a.Batch, rows = steps * b, i = a.InSize;
        nint bs = (nint)b * a.StateLd, first = (nint)t0 * b;
        if (TCell.Recurrent != RecurrentWeights.None || !a.DExtra.IsEmpty)
        {
            int sw = CellOps.SavedWidthOf<TCell>(a.Params) * h;
            var grads = new CellWeightGradients
            {
                Rows = rows, Hidden = h, Gates = TCell.Gates, SavedWidth = sw, HWidth = a.OutWidth, HPrevLd = a.StateLd,
                DGh = c.DGh + first * gh, HPrev = c.States + (a.Reverse ? bs : 0) + t0 * bs, Saved = c.Saved + first * sw,
                DWhh = c.DWhh, W = c.W,
            };
            TCell.RecurrentWeightGradients(grads);
        }
        var dGi = a.DGi.Slice((int)(first * gh), rows * gh);
        var x = a.X.Slice((int)(first * i), rows * i);
        Gemm.Multiply(true, false, gh, i, rows, dGi, gh, x, i, a.DWIh, i, true);
        if (a.HasBias)
            ColumnSumsInto(a.DBIh, dGi, TCell.Recurrent != RecurrentWeights.None ? a.DBHh : default, dGhAll.Slice((int)(first * gh), rows * gh), rows, gh, team);
        var dIn = a.DIn.Slice((int)(first * i), rows * i);
        if (c.WIhPacked is { } packed) Gemm.Multiply(false, rows, dGi, gh, packed, dIn, i, true, team);
        else Gemm.Multiply(false, false, rows, i, gh, dGi, gh, a.WIh, i, dIn, i, true);
    }

    /// <summary>Whether a packed form of generation <paramref name="held"/> must be packed again for <paramref name="current"/>
    /// (always when 0: the weights may have changed since); records the generation it will hold.</summary>
    private static bool Stale(ref int held, int current)
    {
        if (current != 0 && held == current) return false;
        held = current;
        return true;
    }

    /// <summary>The step's view of the weights; the packed forms packed for this call only (forward or backward).</summary>
    private CellWeights Weights(bool backward, float* whh, float* bhh, float* extra, float* dExtra, CellParams p, bool extraPacked = false) => new()
    {
        Whh = whh,
        WhhT = TCell.Recurrent == RecurrentWeights.Dense && !backward ? _hiddenToGates.Pointer : null,
        WhhPacked = TCell.Recurrent == RecurrentWeights.Dense && backward ? _gatesToHidden.Pointer : null,
        // Only where the caller packed it for this call (the time loop's forward).
        ExtraPacked = extraPacked ? _extraProduct.Pointer : null,
        BiasHh = bhh, Extra = extra, ExtraGrad = dExtra, Params = p,
    };

    /// <summary>Row split over the team's workers (falls back to one thread when the team is busy), or the
    /// unit split: one worker on this thread whose products run on the team.</summary>
    private static void Run<TJob>(ref TJob job, SequencePath path, WorkerTeam team) where TJob : unmanaged, IWorkerJob
    {
        if (path == SequencePath.RowSplit && team.Size > 1 && team.TryRunConcurrently(ref job)) return;
        if (path == SequencePath.UnitSplit)
        {
            CellOps.StepTeam = team;
            try { job.Execute(0, 1); }
            finally { CellOps.StepTeam = null; }
            return;
        }
        job.Execute(0, 1);
    }

    /// <summary>dst[N] += Σ_rows src[rows, N], and likewise dst2 from src2 unless dst2 is empty (both in one dispatch),
    /// rows summed in order (fixed reduction order), columns split over the team: a pass over [T·B, G·H] that reads
    /// memory, so two cores finish it sooner, and each column keeps its order.</summary>
    private static void ColumnSumsInto(Span<float> dst, ReadOnlySpan<float> src, Span<float> dst2, ReadOnlySpan<float> src2, int rows, int n, WorkerTeam team)
    {
        if (n == 0 || rows == 0) return;
        if ((long)src.Length < (long)rows * n || dst.Length < n) throw new ArgumentException($"column sums of [{rows}, {n}] over spans of {src.Length} and {dst.Length}");
        if (!dst2.IsEmpty && ((long)src2.Length < (long)rows * n || dst2.Length < n)) throw new ArgumentException($"column sums of [{rows}, {n}] over spans of {src2.Length} and {dst2.Length}");
        bool split = team.Size > 1 && n >= 2 * ColumnSumsJob.Block && (long)rows * n >= ColumnSumsJob.ParallelMin;
        int workers = split ? team.Size : 1, chunks = Math.Min((n + ColumnSumsJob.Block - 1) / ColumnSumsJob.Block, ColumnSumsJob.ChunksPerWorker * workers);
        fixed (float* pDst = dst) fixed (float* pSrc = src) fixed (float* pDst2 = dst2) fixed (float* pSrc2 = src2)
        fixed (int* cursors = ThreadScratch.Cursors(workers))
        {
            var job = new ColumnSumsJob { Dst = pDst, Src = pSrc, Dst2 = dst2.IsEmpty ? null : pDst2, Src2 = pSrc2, Rows = rows, N = n, Chunks = chunks, Cursors = cursors };
            Gemm.Chunks.Init(cursors, workers, chunks);
            if (split) team.RunClaimed(ref job);
            else job.Execute(0, 1);
        }
    }

    /// <summary>Workers claim chunks of whole <see cref="Block"/>-wide column blocks and sum each column over every row, in
    /// row order (<see cref="ColumnSums"/>; a worker the host has descheduled leaves its chunks to the other).</summary>
    private struct ColumnSumsJob : IWorkerJob
    {
        /// <summary>Columns per block: four 512-bit vectors, so that a chunk is one or a few register passes over the rows.</summary>
        public const int Block = 64;
        /// <summary>Chunks per worker, so that one who finishes first takes over the tail of a late one.</summary>
        public const int ChunksPerWorker = 4;
        /// <summary>Elements below which a dispatch costs more than the pass.</summary>
        public const long ParallelMin = 1L << 16;
        public float* Dst, Src, Dst2, Src2;   // Dst2 null: one sum
        public int Rows, N, Chunks;
        public int* Cursors;

        public readonly void Execute(int worker, int workers)
        {
            int blocks = (N + Block - 1) / Block;
            for (int v = 0, chunk; (chunk = Gemm.Chunks.Claim(Cursors, worker, workers, Chunks, ref v)) >= 0;)
            {
                int j0 = (int)((long)blocks * chunk / Chunks) * Block, j1 = Math.Min(N, (int)((long)blocks * (chunk + 1) / Chunks) * Block);
                if (j0 >= j1) continue;
                ColumnSums.Accumulate(Dst, Src, N, Rows, j0, j1);
                if (Dst2 != null) ColumnSums.Accumulate(Dst2, Src2, N, Rows, j0, j1);
            }
        }
    }

    // ------------------------------------------------------------------ parallel in time: linear scan and Newton

    // K = NS states. For K = 1 the solver's layouts are the runner's [T, B, H]; for K > 1 they are the solver's
    // planar [T, K, M] / [T, K, K, M] (M = B·H), which the row-parallel job scatters to and gathers from.
    private float[] _coef = [];          // [T+1, K, K, B·H] a_t or J_t = ∂s_t/∂s_{t−1} (slot t; J_tᵀ in slot t + 1 in a reverse direction)
    private float[] _work = [];          // [T, K, B·H] Newton: f(S) − S, then δS; backward: ∂L/∂s_t, direct then total
    private float[] _end = [];           // [B, H] the first step's term a ⊙ h0 of a reverse direction (linear scan)
    private float[] _solveScratch = [];  // the chunked solve's carries
    private float[] _blocks2 = [];       // Newton: per worker [NewtonBlockRows, BlockWidth·H] step scratch
    private readonly float[] _maxAbs = GC.AllocateArray<float>(256, pinned: true); // Newton: max |F| per worker

    /// <summary>Rows a Newton evaluation hands the cell at once (its scratch stays in cache).</summary>
    internal const int NewtonBlockRows = 16;

    /// <summary>Linear solves the last Newton forward used (0 on every other path).</summary>
    public int LastIterations { get; private set; }

    /// <summary>max_t |F_t| when the last Newton forward stopped.</summary>
    public float LastResidual { get; private set; }

    // Per-row floats of a Newton block: cell scratch, dGx and dGh, saved (inference), then K = 1: ones / zeros;
    // K > 1: values, previous states, ∂L/∂next and ∂L/∂prev, [K, rows·H] each.
    internal static int BlockWidth => TCell.ScratchWidth + 2 * TCell.Gates + TCell.SavedWidth + 4 * TCell.States;

    private void EnsureParallel(int steps, int channels, int chunk, int workers, int hidden, bool newton)
    {
        int k = TCell.States;
        long coef = (long)(steps + 1) * k * k * channels, work = (long)steps * k * channels;
        if (coef > Array.MaxLength) throw new OutOfMemoryException($"parallel time axis over {steps} steps of {channels} channels needs {coef} floats");
        if (_coef.Length < coef) _coef = GC.AllocateUninitializedArray<float>((int)coef);
        if (_work.Length < work) _work = GC.AllocateUninitializedArray<float>((int)work);
        if (_end.Length < channels) _end = new float[channels];
        int scratch = LinearRecurrence.ScratchLength(steps, k, channels, chunk);
        if (_solveScratch.Length < scratch) _solveScratch = GC.AllocateUninitializedArray<float>(scratch);
        long block = (long)workers * NewtonBlockRows * BlockWidth * hidden;
        if (newton && _blocks2.Length < block) _blocks2 = GC.AllocateUninitializedArray<float>(checked((int)block));
    }

    /// <summary>
    /// <see cref="SequencePath.Scan"/> and <see cref="SequencePath.Newton"/> forward. Scan: a, b of all T·B rows from
    /// gx (rows split over the team), padded steps a = 1, b = 0 (the state holds), then h_t = a_t ⊙ h_{t−1} + b_t in
    /// one solve. Newton (ParaRNN): guess H_t = f(0, x_t); repeat F_t = H_t − f(H_{t−1}, x_t) and J_t over all rows
    /// at once, stop when max |F| ≤ tolerance, else solve δ_t = J_t ⊙ δ_{t−1} − F_t and H += δ. A reverse direction
    /// (s_t = f(s_{t+1})) is the solver's transposed recurrence with a_t / J_t in slot t + 1.
    /// </summary>
    private void ParallelForward(in DirectionForward a, ExecutionOptions options, WorkerTeam team, bool newton)
    {
        int h = a.Hidden, b = a.Batch, t = a.Steps, m = b * h, all = t * m, k = TCell.States;
        int chunk = options.ResolveScanChunk(m);
        EnsureParallel(t, m, chunk, team.Size, h, newton);
        LastIterations = 0; LastResidual = 0f;
        var coef = _coef.AsSpan(0, (t + 1) * k * k * m);
        var scratch = _solveScratch.AsSpan();
        // Forward: H_t at state slot t + 1, h0 at 0; reverse: H_t at slot t, h0 at T.
        var hs = a.States.Slice(a.Reverse ? 0 : m, all);
        fixed (float* pGx = a.Gx) fixed (float* pStates = a.States) fixed (float* pSaved = a.Saved) fixed (float* pCoef = _coef)
        fixed (float* pWork = _work) fixed (float* pBlocks = _blocks2) fixed (float* pMax = _maxAbs)
        fixed (float* pWhh = a.WHh) fixed (float* pBhh = a.BHh) fixed (float* pExtra = a.Extra) fixed (int* pLen = a.Lengths)
        {
            var job = new ParallelTimeJob<TCell>
            {
                Batch = b, Hidden = h, Steps = t, Reverse = a.Reverse,
                Coef = pCoef + (a.Reverse ? k * k * m : 0), States = pStates, Work = pWork, Gx = pGx,
                Saved = a.Saved.IsEmpty ? null : pSaved, Blocks = pBlocks, MaxAbs = pMax, Lengths = a.Lengths.IsEmpty ? null : pLen,
                W = Weights(false, pWhh, pBhh, pExtra, null, a.Params),
            };
            if (!newton)
            {
                job.Mode = ParallelTimeJob<TCell>.Part.Coefficients;
                team.Run(ref job);
                Solve(a.Reverse, hs, coef, hs, a.States.Slice(a.Reverse ? all : 0, m), scratch, t, m, chunk, team, k);
                return;
            }
            job.Mode = ParallelTimeJob<TCell>.Part.Guess;
            team.Run(ref job);
            var work = _work.AsSpan(0, k * all);
            int iterations = 0;
            float residual;
            while (true)
            {
                job.Mode = ParallelTimeJob<TCell>.Part.Residual;
                team.Run(ref job);
                residual = 0f;
                for (int w = 0; w < team.Size; w++) if (!(pMax[w] <= residual)) residual = pMax[w];
                if (residual <= options.NewtonTolerance || iterations >= options.NewtonMaxIterations || float.IsNaN(residual)) break;
                Solve(a.Reverse, work, coef, work, default, scratch, t, m, chunk, team, k);
                job.Mode = ParallelTimeJob<TCell>.Part.Update;
                team.Run(ref job);
                iterations++;
            }
            LastIterations = iterations;
            LastResidual = residual;
        }
    }

    /// <summary>
    /// h_t = C_t·h_{t−1} + b_t over the time-major rows (forward), or s_t = C_{t+1}ᵀ·s_{t+1} + b_t with C_{t+1} in slot
    /// t + 1 (reverse, through the solver's transposed recurrence; for K = 1 the first step's c ⊙ h0 as its end term).
    /// C is K×K per channel (K = NS); h0 only on the linear scan (K = 1).
    /// </summary>
    private void Solve(bool reverse, Span<float> h, Span<float> coef, Span<float> b, ReadOnlySpan<float> h0, Span<float> scratch,
        int t, int m, int chunk, WorkerTeam team, int k)
    {
        int all = t * m, a = all * k * k;
        if (!reverse) { LinearRecurrence.Forward(h, default, coef[..a], b, h0, scratch, t, k, m, chunk, team); return; }
        var end = h0.IsEmpty ? default : _end.AsSpan(0, m);
        if (!h0.IsEmpty) System.Numerics.Tensors.TensorPrimitives.Multiply(coef.Slice(all, m), h0, end);
        LinearRecurrence.Reverse(h, default, coef[..a], b, end, scratch, t, k, m, chunk, team);
    }

    /// <summary>
    /// Backward of both parallel paths: J_t of every step from the cell's own backward with ∂L/∂(next) = 1 (for a
    /// one-state cell with a diagonal Jacobian that is ∂h_t/∂h_{t−1}; for a linear cell exactly a_t), ∂L/∂y of this
    /// direction as the direct terms, the total ∂L/∂h_t in one transposed solve (∂L/∂h0 into DTmp), then the cell's
    /// step backward over all rows at once with that total as ∂L/∂(next state).
    /// </summary>
    private void ParallelBackward(in DirectionBackward a, ExecutionOptions options, WorkerTeam team, float* pStates, float* pSaved,
        float* pDGi, float* pDGh, float* pD, float* pDTmp, float* pDOut, in CellWeights w)
    {
        int h = a.Hidden, b = a.Batch, t = a.Steps, m = b * h, all = t * m, k = TCell.States, kk = k * k;
        int chunk = options.ResolveScanChunk(m);
        bool blocks = TCell.ScratchWidth > 0 || k > 1;
        EnsureParallel(t, m, chunk, team.Size, h, newton: blocks);
        fixed (float* pCoef = _coef) fixed (float* pWork = _work) fixed (float* pBlocks = _blocks2) fixed (int* pLen = a.Lengths)
        {
            var job = new ParallelTimeJob<TCell>
            {
                Mode = ParallelTimeJob<TCell>.Part.Jacobian, Batch = b, Hidden = h, Steps = t, Reverse = a.Reverse,
                Coef = pCoef + (a.Reverse ? kk * m : 0), States = pStates, Work = pWork, Saved = pSaved, DGi = pDGi, DGh = pDGh,
                Lengths = a.Lengths.IsEmpty ? null : pLen, DOut = pDOut, Direction = a.Direction, Directions = a.Directions, W = w,
                Blocks = blocks ? pBlocks : null,
            };
            team.Run(ref job);

            // D and DTmp are [NS, B, H] = the solver's [K, M].
            var coef = new Span<float>(pCoef, (t + 1) * kk * m);
            var g = new Span<float>(pWork, k * all);
            var dEnd = new ReadOnlySpan<float>(pD, k * m);
            var dFirst = new Span<float>(pDTmp, k * m);
            if (!a.Reverse) LinearRecurrence.Reverse(g, dFirst, coef[..(kk * all)], g, dEnd, _solveScratch, t, k, m, chunk, team);
            else
            {
                // Slot 0 (the identity) maps ∂L/∂(final state) onto the first processed step unchanged;
                // ∂L/∂s0 = J_{T−1}ᵀ·g_{T−1}, J_{T−1}ᵀ being slot T: dFirst_i = Σ_j C_T(i, j)·g_{T−1, j}.
                coef[..(kk * m)].Clear();
                for (int i = 0; i < k; i++) coef.Slice((i * k + i) * m, m).Fill(1f);
                LinearRecurrence.Forward(g, default, coef[..(kk * all)], g, dEnd, _solveScratch, t, k, m, chunk, team);
                dFirst.Clear();
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++)
                    {
                        var di = dFirst.Slice(i * m, m);
                        System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(coef.Slice(kk * all + (i * k + j) * m, m),
                            g.Slice(k * all - (k - j) * m, m), di, di);
                    }
            }

            job.Mode = ParallelTimeJob<TCell>.Part.Backward;
            team.Run(ref job);
        }
    }

    // ------------------------------------------------------------------ fused paths

    /// <summary>
    /// A whole batch-1 sequence of fused steps, its input projection included: W_hh (and b_hh when apart) packed into
    /// unit blocks; then either the hidden units split over the team (<see cref="FusedSequenceJob{TCell}"/>, after one
    /// GEMM projects every step), or the recurrence on one core while the team projects the steps ahead
    /// (<see cref="ProjectAheadJob{TCell}"/>), whichever <see cref="SplitChooser"/> measured faster here.
    /// </summary>
    private void RunFused(in DirectionForward a, ExecutionOptions options, WorkerTeam team)
    {
        int hidden = a.Hidden, g = TCell.Gates, gh = g * hidden, hp = RecurrentStepKernels.PaddedUnits(hidden), workers = team.Size;
        bool canSplit = workers > 1 && hidden >= options.ParallelFusedMinHidden && TCell.FusedStepSplitsUnits;
        bool timed = canSplit && options.TimeFusedSplit && !SplitChooser.SplitClearlyPays(1, g, hidden);
        bool split = canSplit && (!timed || Chooser(a.Steps).ShouldSplit(1, hidden, a.Steps));
        // Ahead only where the whole-sequence GEMM takes its blocked path (so every block's GEMM gives its bits) and
        // there are blocks to overlap.
        bool ahead = !split && workers > 1 && a.InSize > 0 && a.Steps >= 2 * ProjectAheadJob<TCell>.BlockSteps
            && (long)a.Steps * gh * a.InSize > Gemm.SmallWork;
        long start = Stopwatch.GetTimestamp();
        if (!ahead) Project(a, team);
        else if (Stale(ref _inputToGatesTGen, a.PackGeneration)) _inputToGatesT.Pack(true, gh, a.InSize, a.WIh, a.InSize);

        long need = RecurrentStepKernels.PackedLength(hidden, g) + 16;
        if (_blocks.Length < need) { _blocks = GC.AllocateUninitializedArray<float>(checked((int)need), pinned: true); _wideGen = _narrowGen = 0; }
        if (_bias.Length < g * hp + 16) _bias = GC.AllocateArray<float>(g * hp + 16, pinned: true);
        fixed (float* blocksRaw = _blocks) fixed (float* biasRaw = _bias) fixed (float* w = a.WHh)
        fixed (float* pGx = a.Gx) fixed (float* pStates = a.States) fixed (float* pSaved = a.Saved)
        {
            float* blocks = ThreadScratch.Align(blocksRaw), bias = null;
            if (Stale(ref _wideGen, a.PackGeneration))
            {
                if (!TCell.FusedStepPacksGatesApart) RecurrentStepKernels.PackUnitBlocks(blocks, w, hidden, g);
                else for (int gate = 0; gate < g; gate++)
                    RecurrentStepKernels.PackUnitBlocks(blocks + gate * RecurrentStepKernels.PackedLength(hidden, 1), w + (nint)gate * hidden * hidden, hidden, 1);
                _narrowGen = 0;
            }
            if (TCell.HiddenBiasApart && !a.BHh.IsEmpty)
            {
                bias = ThreadScratch.Align(biasRaw);
                var padded = new Span<float>(bias, g * hp);
                padded.Clear();
                for (int gate = 0; gate < g; gate++) a.BHh.Slice(gate * hidden, hidden).CopyTo(padded.Slice(gate * hp, hidden));
            }
            if (_progress.Length < workers * FusedSequenceJob<TCell>.ProgressStride)
                _progress = GC.AllocateArray<int>(workers * FusedSequenceJob<TCell>.ProgressStride, pinned: true);
            fixed (int* progress = _progress)
            {
                var job = new FusedSequenceJob<TCell>
                {
                    Reverse = a.Reverse, Batch = 1, Hidden = hidden, Steps = a.Steps, W = blocks, BiasHh = bias,
                    Gx = pGx, States = pStates, Saved = a.Saved.IsEmpty ? null : pSaved, Progress = progress,
                    Patience = options.FusedSplitPatience,
                };
                bool ran = false;
                if (split)
                {
                    FusedSequenceJob<TCell>.ResetProgress(progress, 1, hidden, a.Steps, workers);
                    ran = team.TryRunConcurrently(ref job);
                }
                else if (ahead) ran = RunProjectAhead(a, job, team);
                if (!ran)
                {
                    if (ahead) Project(a, team);   // the team was busy: project here, then step
                    job.Execute(0, 1);
                }
                // A split that found the team busy ran alone by necessity: not a timing of the arm it chose.
                if (timed && (ran || !split)) Chooser(a.Steps).Record(split, a.Steps, Stopwatch.GetTimestamp() - start);
            }
        }
    }

    /// <summary>The chooser for calls of <paramref name="steps"/> steps: one per power-of-two class of call length, since a
    /// one-step call (a served stream's step) pays the team's dispatch that a long one spreads over its steps.</summary>
    private SplitChooser Chooser(int steps) => _splitChoosers[SplitChooser.Bucket(steps)] ??= new SplitChooser();

    /// <summary>Runs <paramref name="loop"/> on this thread with the input projection of the blocks ahead on the team;
    /// false (nothing done) when the team is busy.</summary>
    private bool RunProjectAhead(in DirectionForward a, in FusedSequenceJob<TCell> loop, WorkerTeam team)
    {
        int gh = TCell.Gates * a.Hidden, blocks = ProjectAheadJob<TCell>.Blocks(a.Steps);
        int flags = blocks * ProjectAheadJob<TCell>.FlagStride;
        if (_aheadFlags.Length < flags) _aheadFlags = GC.AllocateArray<int>(flags, pinned: true);
        long privateNeed = (long)ProjectAheadJob<TCell>.BlockSteps * gh + 16;
        if (_aheadPrivate.Length < privateNeed) _aheadPrivate = GC.AllocateUninitializedArray<float>(checked((int)privateNeed), pinned: true);
        // Tests: every block as if claimed by a worker that never finishes, so the recurrence projects them all privately.
        new Span<int>(_aheadFlags, 0, flags).Fill(ProjectAheadTesting.AbsentPartner ? 1 : 0);
        fixed (int* pFlags = _aheadFlags) fixed (float* pPrivate = _aheadPrivate) fixed (float* pX = a.X) fixed (float* pBias = a.Bias)
        {
            var job = new ProjectAheadJob<TCell>
            {
                Loop = loop, X = pX, InSize = a.InSize, WIhT = _inputToGatesT.Pointer, Bias = a.Bias.IsEmpty ? null : pBias,
                Private = ThreadScratch.Align(pPrivate), Flags = pFlags, Patience = ProjectAheadTesting.AbsentPartner ? 0 : ProjectAheadPatience,
            };
            return team.TryRunConcurrently(ref job);
        }
    }

    /// <summary>How long the recurrence waits for a block another worker is projecting before it projects the block
    /// itself: 50 µs, ten times a block's projection at I = 32, H = 128 and a fraction of a host's time slice.</summary>
    private static readonly long ProjectAheadPatience = Stopwatch.Frequency / 20_000;

    /// <summary>
    /// A whole direction at batch above 1 with the fused multi-row step, including the input projection
    /// gx = 1·bias + x·W_ihᵀ: batch rows split over the team when each worker gets
    /// <see cref="ExecutionOptions.RowSplitMinRows"/>, else 16-unit blocks split when H ≥
    /// <see cref="ExecutionOptions.ParallelFusedMinHidden"/>, else one thread. Each gx element is the same FMA
    /// chain whether projected per step or for the whole sequence (rows never split K), so no bit changes.
    /// </summary>
    private void RunFusedRows(in DirectionForward a, ExecutionOptions options, WorkerTeam team)
    {
        bool splitRows = team.Size > 1 && a.Batch >= options.RowSplitMinRows * team.Size;
        // Both arms of a unit split are timed whole (the projection differs between them: one GEMM before a split).
        bool canSplitUnits = !splitRows && team.Size > 1 && a.Hidden >= options.ParallelFusedMinHidden;
        bool timed = canSplitUnits && options.TimeFusedSplit && !SplitChooser.SplitClearlyPays(a.Batch, TCell.Gates, a.Hidden);
        bool splitUnits = canSplitUnits && (!timed || Chooser(a.Steps).ShouldSplit(a.Batch, a.Hidden, a.Steps));
        long start = Stopwatch.GetTimestamp();
        bool ranSplit = RunFusedRows(a, options, team, splitRows, splitUnits);
        if (timed && ranSplit == splitUnits) Chooser(a.Steps).Record(splitUnits, a.Steps, Stopwatch.GetTimestamp() - start);
    }

    /// <summary>The body of <see cref="RunFusedRows(in DirectionForward, ExecutionOptions, WorkerTeam)"/>; returns
    /// whether a unit split ran (false when asked but the team was busy).</summary>
    private bool RunFusedRows(in DirectionForward a, ExecutionOptions options, WorkerTeam team, bool splitRows, bool splitUnits)
    {
        int hidden = a.Hidden, batch = a.Batch, steps = a.Steps, inSize = a.InSize, g = TCell.Gates, gh = g * hidden;
        // A worker owning units would need every row's projection, so a unit split projects the whole sequence first. A
        // cell whose b_hh is apart (GRU) projects in step too, into a tile of its own (gi and gh stay apart).
        bool perStep = !splitUnits && inSize <= options.ProjectInStepMaxInput;
        if (perStep)
        {
            long inputNeed = RecurrentStepKernels.PackedLength(hidden, g, inSize) + 16;
            if (_inputBlocks.Length < inputNeed) { _inputBlocks = GC.AllocateUninitializedArray<float>(checked((int)inputNeed), pinned: true); _inputToGatesGen = 0; }
            if (Stale(ref _inputToGatesGen, a.PackGeneration))
                fixed (float* raw = _inputBlocks) fixed (float* wIh = a.WIh)
                    RecurrentStepKernels.PackUnitBlocks(ThreadScratch.Align(raw), wIh, hidden, g, narrow: true, depth: inSize);
        }
        else Project(a, team);

        // A cell whose b_hh is apart finds it right after the narrow blocks ([G, H], zeros without a bias).
        long packed = RecurrentStepKernels.PackedLength(hidden, g), need = packed + (TCell.HiddenBiasApart ? gh : 0) + 16;
        if (_blocks.Length < need) { _blocks = GC.AllocateUninitializedArray<float>(checked((int)need), pinned: true); _wideGen = _narrowGen = 0; }
        fixed (float* blocksRaw = _blocks) fixed (float* w = a.WHh)
        fixed (float* pGx = a.Gx) fixed (float* pStates = a.States) fixed (float* pSaved = a.Saved)
        fixed (float* pX = a.X) fixed (float* pBias = a.Bias) fixed (float* pInput = _inputBlocks)
        {
            float* blocks = ThreadScratch.Align(blocksRaw);
            if (Stale(ref _narrowGen, a.PackGeneration)) { RecurrentStepKernels.PackUnitBlocks(blocks, w, hidden, g, narrow: true); _wideGen = 0; }
            if (TCell.HiddenBiasApart)
            {
                var bhh = new Span<float>(blocks + packed, gh);
                if (a.BHh.IsEmpty) bhh.Clear(); else a.BHh.CopyTo(bhh);
            }
            if (splitUnits)
            {
                int workers = team.Size;
                if (_progress.Length < workers * FusedSequenceJob<TCell>.ProgressStride)
                    _progress = GC.AllocateArray<int>(workers * FusedSequenceJob<TCell>.ProgressStride, pinned: true);
                fixed (int* progress = _progress)
                {
                    var split = new FusedSequenceJob<TCell>
                    {
                        Reverse = a.Reverse, Batch = batch, Hidden = hidden, Steps = steps, W = blocks,
                        Gx = pGx, States = pStates, Saved = a.Saved.IsEmpty ? null : pSaved, Progress = progress,
                        Patience = options.FusedSplitPatience, Params = a.Params,
                    };
                    FusedSequenceJob<TCell>.ResetProgress(progress, batch, hidden, steps, workers);
                    if (team.TryRunConcurrently(ref split)) return true;
                }
            }
            var job = new FusedRowsJob<TCell>
            {
                Reverse = a.Reverse, Batch = batch, Hidden = hidden, Steps = steps, W = blocks,
                Gx = pGx, States = pStates, Saved = a.Saved.IsEmpty ? null : pSaved,
                X = perStep ? pX : null, InSize = inSize, WIh = perStep ? ThreadScratch.Align(pInput) : null,
                Bias = a.Bias.IsEmpty ? null : pBias, Params = a.Params,
            };
            if (!splitRows) { job.Execute(0, 1); return false; }
            long weightBytes = (packed + (perStep ? RecurrentStepKernels.PackedLength(hidden, g, inSize) : 0)) * sizeof(float);
            (job.BlockRows, job.Blocks, job.ChunkSteps) = options.FusedRowBlocks
                ? FusedRowBlocks.Plan(batch, steps, g, hidden, perStep ? inSize : 0, weightBytes, team.Size, Gemm.Blocking.Caches.L2)
                : (0, 0, 0);
            if (job.Blocks == 0)
            {
                if (!team.TryRunConcurrently(ref job)) job.Execute(0, 1);
                return false;
            }
            if (_rowClaims.Length < job.Blocks * FusedRowBlocks.ClaimStride)
                _rowClaims = GC.AllocateArray<int>(job.Blocks * FusedRowBlocks.ClaimStride, pinned: true);
            fixed (int* claims = _rowClaims)
            {
                FusedRowBlocks.ResetClaims(claims, job.Blocks);
                job.Claims = claims;
                team.RunClaimed(ref job);
            }
            return false;
        }
    }
}

/// <summary>
/// The time loop, forward: worker w steps rows [w·B/W, (w+1)·B/W) through every step (the cell's step on
/// those rows), then holds padded rows' states (t ≥ length). Each output element is the same chain of
/// operations whatever W (products never split K), so the bits do not depend on the team.
/// </summary>
internal unsafe struct RowSplitForward<TCell> : IWorkerJob where TCell : struct, ICell
{
    public bool Reverse;
    public int Batch, Hidden, Steps, StateLd;
    public float* Gx, States, Saved, Scratch;   // [T, B, G·H], [NS, T+1, B, Ws], [T, B, S·H] or null, [B, W·H]
    public int* Lengths;                        // [B] or null
    public CellWeights W;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void Execute(int worker, int workers)
    {
        int r0 = (int)((long)Batch * worker / workers), r1 = (int)((long)Batch * (worker + 1) / workers), rows = r1 - r0;
        if (rows == 0) return;
        int h = Hidden, ls = StateLd, gh = TCell.Gates * h, sw = CellOps.SavedWidthOf<TCell>(W.Params) * h, ns = TCell.States;
        nint bs = (nint)Batch * ls, stride = (nint)(Steps + 1) * bs;
        var step = new CellStep
        {
            Rows = rows, Hidden = h, StateStride = stride, StateLd = ls, Scratch = Scratch + (nint)r0 * TCell.ScratchWidth * h, W = W,
        };
        for (int s = 0; s < Steps; s++)
        {
            int t = Reverse ? Steps - 1 - s : s;
            step.Prev = States + (Reverse ? t + 1 : t) * bs + (nint)r0 * ls;
            step.Next = States + (Reverse ? t : t + 1) * bs + (nint)r0 * ls;
            step.Gx = Gx + ((nint)t * Batch + r0) * gh;
            step.Saved = Saved == null || sw == 0 ? null : Saved + ((nint)t * Batch + r0) * sw;
            TCell.Forward(step);
            if (Lengths != null)
                for (int r = 0; r < rows; r++)
                    if (t >= Lengths[r0 + r])
                        for (int j = 0; j < ns; j++)
                            new ReadOnlySpan<float>(step.Prev + j * stride + (nint)r * ls, ls).CopyTo(new Span<float>(step.Next + j * stride + (nint)r * ls, ls));
        }
    }
}

/// <summary>
/// Row-parallel parts of <see cref="SequencePath.Scan"/> and <see cref="SequencePath.Newton"/>: all T·B rows
/// (time-major, row t·B + r) split evenly over the workers, each row by one worker in a fixed order (same bits for
/// any team size). Row r's previous state is state slot t (forward) or t + 1 (reverse), its own the other one;
/// Coef points at row 0's coefficient slot.
/// </summary>
internal unsafe struct ParallelTimeJob<TCell> : IWorkerJob where TCell : struct, ICell
{
    public enum Part
    {
        /// <summary>Linear cells: a into Coef, b into the state rows, saved; padded steps a = 1, b = 0.</summary>
        Coefficients,
        /// <summary>Newton's first guess H_t = f(0, x_t) into the state rows (padded steps 0).</summary>
        Guess,
        /// <summary>Newton: f(H_{t−1}) − H_t into Work, J_t into Coef, saved; max |·| per worker into MaxAbs.
        /// Padded steps: f is the identity (J = 1).</summary>
        Residual,
        /// <summary>Newton: H += Work.</summary>
        Update,
        /// <summary>Backward: J_t into Coef (the cell's backward with ∂L/∂next = 1), then ∂L/∂y into Work (0 at padded steps, J = 1).</summary>
        Jacobian,
        /// <summary>Backward: the cell's step backward with ∂L/∂next = Work; dGx (and dGh) 0 at padded steps.</summary>
        Backward,
    }

    public Part Mode;
    public bool Reverse;
    public int Batch, Hidden, Steps, Direction, Directions;
    public float* Coef, States, Work, Gx, Saved, DOut, DGi, DGh, Blocks, MaxAbs;
    public int* Lengths;
    public CellWeights W;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void Execute(int worker, int workers)
    {
        long n = (long)Steps * Batch;
        int r0 = (int)(n * worker / workers), r1 = (int)(n * (worker + 1) / workers), rows = r1 - r0;
        if (Mode == Part.Residual) MaxAbs[worker] = 0f;
        if (rows == 0) return;
        if (TCell.States > 1) { ExecuteStates(worker, r0, r1); return; }
        int h = Hidden, gh = TCell.Gates * h, sw = TCell.SavedWidth * h;
        nint bh = (nint)Batch * h, o = (nint)r0 * h;
        float* prev = States + (Reverse ? bh : 0), next = States + (Reverse ? 0 : bh);
        switch (Mode)
        {
            case Part.Coefficients:
                TCell.LinearCoefficients(Coef + o, next + o, Saved == null ? null : Saved + (nint)r0 * sw, Gx + (nint)r0 * gh, rows, h, W);
                break;
            case Part.Guess:
            case Part.Residual:
                Evaluate(worker, r0, r1);
                break;
            case Part.Update:
                System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(next + o, rows * h), new ReadOnlySpan<float>(Work + o, rows * h),
                    new Span<float>(next + o, rows * h));
                return;
            case Part.Jacobian:
                new Span<float>(Work + o, rows * h).Fill(1f);
                BackwardBlocks(worker, r0, r1);
                for (int r = r0; r < r1; r++)
                {
                    var dst = new Span<float>(Work + (nint)r * h, h);
                    if (Padded(r)) dst.Clear();
                    else new ReadOnlySpan<float>(DOut + ((nint)r * Directions + Direction) * h, h).CopyTo(dst);
                }
                break;
            case Part.Backward:
                BackwardBlocks(worker, r0, r1);
                break;
        }
        if (Lengths == null) return;
        for (int r = r0; r < r1; r++)
        {
            if (!Padded(r)) continue;
            if (Mode == Part.Backward)
            {
                new Span<float>(DGi + (nint)r * gh, gh).Clear();
                if (DGh != DGi) new Span<float>(DGh + (nint)r * gh, gh).Clear();
            }
            else if (Mode is Part.Coefficients or Part.Jacobian)
            {
                new Span<float>(Coef + (nint)r * h, h).Fill(1f);
                if (Mode == Part.Coefficients) new Span<float>(next + (nint)r * h, h).Clear();
            }
        }
    }

    /// <summary>
    /// Guess or residual for rows [r0, r1) in blocks of <see cref="SequenceRunner{TCell}.NewtonBlockRows"/>, with this
    /// worker's scratch: the cell's forward (from the zero state for the guess), then for the residual its backward
    /// with ∂L/∂next = 1, which for a one-state cell with a diagonal Jacobian writes J_t as ∂L/∂prev.
    /// </summary>
    private readonly void Evaluate(int worker, int r0, int r1)
    {
        int h = Hidden, gh = TCell.Gates * h, sw = TCell.SavedWidth * h, blk = SequenceRunner<TCell>.NewtonBlockRows;
        nint bh = (nint)Batch * h;
        float* prevBase = States + (Reverse ? bh : 0), nextBase = States + (Reverse ? 0 : bh);
        float* mine = Blocks + (nint)worker * blk * SequenceRunner<TCell>.BlockWidth * h;
        float* scratch = mine, dgx = scratch + (nint)blk * TCell.ScratchWidth * h, dgh = dgx + (nint)blk * gh;
        float* savedBlock = dgh + (nint)blk * gh, ones = savedBlock + (nint)blk * sw, zeros = ones + (nint)blk * h;
        new Span<float>(ones, blk * h).Fill(1f);
        new Span<float>(zeros, blk * h).Clear();
        float max = 0f;
        for (int b0 = r0; b0 < r1; b0 += blk)
        {
            int rows = Math.Min(blk, r1 - b0);
            nint o = (nint)b0 * h;
            float* saved = Saved != null ? Saved + (nint)b0 * sw : savedBlock;
            bool guess = Mode == Part.Guess;
            var step = new CellStep
            {
                Rows = rows, Hidden = h, StateStride = (nint)(Steps + 1) * bh, StateLd = h,
                Prev = guess ? zeros : prevBase + o, Next = guess ? nextBase + o : Work + o,
                Gx = Gx + (nint)b0 * gh, Saved = guess ? null : saved, Scratch = scratch, W = W,
            };
            TCell.Forward(step);
            if (guess)
            {
                if (Lengths != null)
                    for (int r = b0; r < b0 + rows; r++) if (Padded(r)) new Span<float>(nextBase + (nint)r * h, h).Clear();
                continue;
            }
            var back = new CellBackwardStep
            {
                Rows = rows, Hidden = h, DStride = bh, StateStride = (nint)(Steps + 1) * bh, StateLd = h,
                DNext = ones, DPrev = Coef + o, Prev = prevBase + o, Next = Work + o,
                Saved = saved, DGx = dgx, DGh = TCell.HiddenBiasApart ? dgh : dgx, Scratch = scratch, W = W,
            };
            TCell.Backward(back);
            for (int r = b0; r < b0 + rows; r++)
            {
                float* f = Work + (nint)r * h, hr = nextBase + (nint)r * h;
                if (Padded(r))
                {
                    new ReadOnlySpan<float>(prevBase + (nint)r * h, h).CopyTo(new Span<float>(f, h));
                    new Span<float>(Coef + (nint)r * h, h).Fill(1f);
                }
                NegativeResidual(f, f, hr, h, ref max);
            }
        }
        if (Mode == Part.Residual) MaxAbs[worker] = max;
    }

    /// <summary>The cell's step backward for rows [r0, r1) in blocks, with ∂L/∂next = Work and ∂L/∂prev into Coef
    /// (the Jacobian when Work holds ones), dGx / dGh into their rows, the worker's block scratch as the step's.</summary>
    private readonly void BackwardBlocks(int worker, int r0, int r1)
    {
        int h = Hidden, gh = TCell.Gates * h, blk = SequenceRunner<TCell>.NewtonBlockRows;
        nint bh = (nint)Batch * h;
        float* scratch = Blocks == null ? null : Blocks + (nint)worker * blk * SequenceRunner<TCell>.BlockWidth * h;
        for (int b0 = r0; b0 < r1; b0 += blk)
        {
            nint o = (nint)b0 * h;
            TCell.Backward(new CellBackwardStep
            {
                Rows = Math.Min(blk, r1 - b0), Hidden = h, DStride = bh, StateStride = (nint)(Steps + 1) * bh, StateLd = h,
                DNext = Work + o, DPrev = Coef + o, Prev = States + (Reverse ? bh : 0) + o, Next = States + (Reverse ? 0 : bh) + o,
                Saved = Saved + (nint)b0 * TCell.SavedWidth * h, DGx = DGi + (nint)b0 * gh, DGh = DGh + (nint)b0 * gh, Scratch = scratch, W = W,
            });
        }
    }

    private readonly bool Padded(int r) => Lengths != null && r / Batch >= Lengths[r % Batch];

    /// <summary>
    /// Every part but <see cref="Part.Coefficients"/> for a cell of K = NS &gt; 1 states (ParaLSTM: h, c), whose
    /// Jacobian is a K×K block per unit. The runner's states are [K, T+1, B, H] while the solver's vectors are planar
    /// [T, K, M] and its blocks [T, K, K, M] (M = B·H): each block of rows runs through the worker's scratch as
    /// [K, rows·H] and row r = t·B + b is scattered to / gathered from channel offset b·H of step t, so no
    /// call allocates or transposes a whole buffer. Row i of J_t is the cell's backward with ∂L/∂next = e_i
    /// (∂L/∂prev = Jᵀ·e_i); a reverse direction stores J_tᵀ (see <see cref="SequenceRunner{TCell}"/>'s Solve).
    /// Padded steps: f is the identity (J = I), ∂L/∂y 0.
    /// </summary>
    private readonly void ExecuteStates(int worker, int r0, int r1)
    {
        int h = Hidden, k = TCell.States, gh = TCell.Gates * h, sw = TCell.SavedWidth * h, blk = SequenceRunner<TCell>.NewtonBlockRows;
        nint bh = (nint)Batch * h, stride = (nint)(Steps + 1) * bh, bs = (nint)blk * h;
        float* prevBase = States + (Reverse ? bh : 0), nextBase = States + (Reverse ? 0 : bh);
        if (Mode == Part.Update)
        {
            for (int r = r0; r < r1; r++)
                for (int s = 0; s < k; s++)
                {
                    var dst = new Span<float>(nextBase + s * stride + (nint)r * h, h);
                    System.Numerics.Tensors.TensorPrimitives.Add(dst, new ReadOnlySpan<float>(SolverRow(Work, r, s), h), dst);
                }
            return;
        }
        float* scratch = Blocks + (nint)worker * blk * SequenceRunner<TCell>.BlockWidth * h;
        float* dgx = scratch + (nint)blk * TCell.ScratchWidth * h, dgh = dgx + (nint)blk * gh, savedBlock = dgh + (nint)blk * gh;
        float* val = savedBlock + (nint)blk * sw, prv = val + k * bs, dn = prv + k * bs, dp = dn + k * bs;   // [K, blk·H] each
        float max = 0f;
        for (int b0 = r0; b0 < r1; b0 += blk)
        {
            int rows = Math.Min(blk, r1 - b0), n = rows * h;
            nint o = (nint)b0 * h;
            float* saved = Saved != null ? Saved + (nint)b0 * sw : savedBlock;
            if (Mode == Part.Backward)
            {
                // ∂L/∂next = the total ∂L/∂s_t, gathered from the solver's rows.
                for (int r = b0; r < b0 + rows; r++)
                    for (int s = 0; s < k; s++)
                        new ReadOnlySpan<float>(SolverRow(Work, r, s), h).CopyTo(new Span<float>(dn + s * bs + (nint)(r - b0) * h, h));
                TCell.Backward(new CellBackwardStep
                {
                    Rows = rows, Hidden = h, DStride = bs, StateStride = stride, StateLd = h, DNext = dn, DPrev = dp,
                    Prev = prevBase + o, Next = nextBase + o, Saved = saved, DGx = DGi + (nint)b0 * gh, DGh = DGh + (nint)b0 * gh,
                    Scratch = scratch, W = W,
                });
                if (Lengths != null)
                    for (int r = b0; r < b0 + rows; r++)
                        if (Padded(r))
                        {
                            new Span<float>(DGi + (nint)r * gh, gh).Clear();
                            if (DGh != DGi) new Span<float>(DGh + (nint)r * gh, gh).Clear();
                        }
                continue;
            }
            // Guess: f(0, x_t); residual: f(S_{t−1}, x_t) with saved; both through [K, rows·H] block copies.
            bool guess = Mode == Part.Guess, jacobianOnly = Mode == Part.Jacobian;
            for (int s = 0; s < k; s++)
            {
                var p = new Span<float>(prv + s * bs, n);
                if (guess) p.Clear();
                else new ReadOnlySpan<float>(prevBase + s * stride + o, n).CopyTo(p);
            }
            if (!jacobianOnly)
            {
                TCell.Forward(new CellStep
                {
                    Rows = rows, Hidden = h, StateStride = bs, StateLd = h, Prev = prv, Next = val,
                    Gx = Gx + (nint)b0 * gh, Saved = guess ? null : saved, Scratch = scratch, W = W,
                });
                if (guess)
                {
                    for (int r = b0; r < b0 + rows; r++)
                        for (int s = 0; s < k; s++)
                        {
                            var dst = new Span<float>(nextBase + s * stride + (nint)r * h, h);
                            if (Padded(r)) dst.Clear();
                            else new ReadOnlySpan<float>(val + s * bs + (nint)(r - b0) * h, h).CopyTo(dst);
                        }
                    continue;
                }
            }
            else for (int s = 0; s < k; s++) new ReadOnlySpan<float>(nextBase + s * stride + o, n).CopyTo(new Span<float>(val + s * bs, n));
            // J_t row by row: ∂L/∂next = e_i gives ∂L/∂prev_j = J_t(i, j).
            for (int i = 0; i < k; i++)
            {
                for (int s = 0; s < k; s++) new Span<float>(dn + s * bs, n).Fill(s == i ? 1f : 0f);
                TCell.Backward(new CellBackwardStep
                {
                    Rows = rows, Hidden = h, DStride = bs, StateStride = bs, StateLd = h, DNext = dn, DPrev = dp,
                    Prev = prv, Next = val, Saved = saved, DGx = dgx, DGh = TCell.HiddenBiasApart ? dgh : dgx, Scratch = scratch, W = W,
                });
                for (int r = b0; r < b0 + rows; r++)
                {
                    bool padded = Padded(r);
                    for (int j = 0; j < k; j++)
                    {
                        var dst = new Span<float>(CoefRow(r, Reverse ? j : i, Reverse ? i : j), h);
                        if (padded) dst.Fill(i == j ? 1f : 0f);
                        else new ReadOnlySpan<float>(dp + j * bs + (nint)(r - b0) * h, h).CopyTo(dst);
                    }
                }
            }
            for (int r = b0; r < b0 + rows; r++)
            {
                bool padded = Padded(r);
                for (int s = 0; s < k; s++)
                {
                    float* dst = SolverRow(Work, r, s);
                    if (jacobianOnly)
                    {
                        // The direct terms: this direction's ∂L/∂y on h (state 0), none on the others.
                        var d = new Span<float>(dst, h);
                        if (padded || s > 0) d.Clear();
                        else new ReadOnlySpan<float>(DOut + ((nint)r * Directions + Direction) * h, h).CopyTo(d);
                        continue;
                    }
                    // −F = f(S_{t−1}) − S_t (padded: f is the identity, f = S_{t−1}).
                    float* f = padded ? prv + s * bs + (nint)(r - b0) * h : val + s * bs + (nint)(r - b0) * h;
                    NegativeResidual(dst, f, nextBase + s * stride + (nint)r * h, h, ref max);
                }
            }
        }
        if (Mode == Part.Residual) MaxAbs[worker] = max;
    }

    /// <summary>dst = −F = f − cur over H values (dst may be f); max = max(max, |−F|), NaN winning so that a diverged
    /// Newton reports NaN.</summary>
    private static void NegativeResidual(float* dst, float* f, float* cur, int h, ref float max)
    {
        for (int j = 0; j < h; j++)
        {
            float negF = f[j] - cur[j];
            dst[j] = negF;
            float abs = MathF.Abs(negF);
            if (!(abs <= max)) max = abs;
        }
    }

    /// <summary>Component s of row r = t·B + b in the solver's [T, K, M] layout.</summary>
    private readonly float* SolverRow(float* v, int r, int s)
    {
        int t = r / Batch, b = r - t * Batch;
        return v + ((nint)t * TCell.States + s) * Batch * Hidden + (nint)b * Hidden;
    }

    /// <summary>Entry (i, j) of row r's block in the solver's [T, K, K, M] coefficients (Coef already at this direction's slot 0).</summary>
    private readonly float* CoefRow(int r, int i, int j)
    {
        int t = r / Batch, b = r - t * Batch, k = TCell.States;
        return Coef + (((nint)t * k + i) * k + j) * Batch * Hidden + (nint)b * Hidden;
    }
}

/// <summary>
/// The time loop, backward, split by rows like <see cref="RowSplitForward{TCell}"/> (one block of rows per worker, claimed,
/// so a worker the host has descheduled leaves its block to one that is running): per step ∂L/∂h += this
/// direction's ∂L/∂y, the cell's backward, then padded rows pass ∂L/∂states through unchanged with zero
/// ∂L/∂gx and their saved rows cleared; D and DTmp swap every step, so after T steps the result is in D for
/// even T, else in DTmp.
/// </summary>
internal unsafe struct RowSplitBackward<TCell> : IWorkerJob where TCell : struct, ICell
{
    public bool Reverse;
    public int Batch, Hidden, Steps, Direction, Directions, StateLd, OutWidth;
    /// <summary>The processing steps s this call runs, from StepEnd − 1 down to StepBegin (the whole sequence: 0 and T).</summary>
    public int StepBegin, StepEnd;
    public float* DOut, States, Saved, DGi, DGh, D, DTmp, Scratch;
    public int* Lengths;
    public CellWeights W;

    /// <summary>Claims of the row blocks, one block per worker (<see cref="Gemm.Chunks"/>, set for the workers that run
    /// the call): a worker that finishes its block takes one nobody has started, so a descheduled worker delays nothing.</summary>
    public int* Claims;

    /// <summary>∂L/∂g laid out by row groups ([T, rows, G·H] per group from row r0·T, <see cref="RowGroupBackward{TCell}"/>)
    /// instead of [T, B, G·H].</summary>
    public bool GroupMajor;

    public readonly void Execute(int worker, int workers)
    {
        for (int v = 0, block; (block = Gemm.Chunks.Claim(Claims, worker, workers, workers, ref v)) >= 0;)
            Rows((int)((long)Batch * block / workers), (int)((long)Batch * (block + 1) / workers));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal readonly void Rows(int r0, int r1)
    {
        int rows = r1 - r0;
        if (rows == 0) return;
        int h = Hidden, ls = StateLd, w0 = OutWidth, gh = TCell.Gates * h, sw = CellOps.SavedWidthOf<TCell>(W.Params) * h, ns = TCell.States, d = Directions;
        nint bs = (nint)Batch * ls, rs = (nint)r0 * ls, stride = (nint)(Steps + 1) * bs;
        bool apart = DGh != DGi;
        // D and DTmp swap every step: after an even number of steps ∂L/∂(next states) is back in D.
        bool even = (Steps - StepEnd) % 2 == 0;
        float* dNext = (even ? D : DTmp) + rs, dPrev = (even ? DTmp : D) + rs;
        int n = rows * ls;
        var step = new CellBackwardStep
        {
            Rows = rows, Hidden = h, DStride = bs, StateStride = stride, StateLd = ls, Scratch = Scratch + (nint)r0 * TCell.ScratchWidth * h, W = W,
        };
        for (int s = StepEnd - 1; s >= StepBegin; s--)
        {
            int t = Reverse ? Steps - 1 - s : s;
            if (d == 1 && Lengths == null && ls == w0)
            {
                // One direction: this step's dY rows are contiguous.
                var all = new Span<float>(dNext, n);
                System.Numerics.Tensors.TensorPrimitives.Add(all, new ReadOnlySpan<float>(DOut + ((nint)t * Batch + r0) * w0, n), all);
            }
            else for (int r = 0; r < rows; r++)
            {
                if (Lengths != null && t >= Lengths[r0 + r]) continue;
                var dst = new Span<float>(dNext + (nint)r * ls, w0);
                System.Numerics.Tensors.TensorPrimitives.Add(dst,
                    new ReadOnlySpan<float>(DOut + ((nint)t * Batch + r0 + r) * d * w0 + Direction * w0, w0), dst);
            }
            step.DNext = dNext; step.DPrev = dPrev;
            step.Prev = States + (Reverse ? t + 1 : t) * bs + rs;
            step.Next = States + (Reverse ? t : t + 1) * bs + rs;
            step.Saved = sw == 0 ? null : Saved + ((nint)t * Batch + r0) * sw;
            // Group-major (RowGroupBackward): this group's block [T, rows, G·H] starts at row r0·T.
            nint dg = GroupMajor ? (nint)r0 * Steps + (nint)t * rows : (nint)t * Batch + r0;
            step.DGx = DGi + dg * gh;
            step.DGh = DGh + dg * gh;
            TCell.Backward(step);
            if (Lengths != null)
                for (int r = 0; r < rows; r++)
                    if (t >= Lengths[r0 + r])
                    {
                        new Span<float>(step.DGx + (nint)r * gh, gh).Clear();
                        if (apart) new Span<float>(step.DGh + (nint)r * gh, gh).Clear();
                        if (sw > 0) new Span<float>(step.Saved + (nint)r * sw, sw).Clear();
                        for (int j = 0; j < ns; j++)
                            new ReadOnlySpan<float>(dNext + j * bs + (nint)r * ls, ls).CopyTo(new Span<float>(dPrev + j * bs + (nint)r * ls, ls));
                    }
            float* swap = dNext; dNext = dPrev; dPrev = swap;
        }
    }
}

/// <summary>
/// A whole sequence of the cell's fused multi-row steps (batch above 1), its rows split over the team; a split by units
/// is <see cref="FusedSequenceJob{TCell}"/>. Without <see cref="Claims"/> worker w owns rows [w·B/W, (w+1)·B/W) for all
/// steps (no synchronisation). With them the rows are <see cref="Blocks"/> blocks (<see cref="FusedRowBlocks"/>) that
/// workers claim a chunk of steps at a time, always the least advanced free block: rows never depend on each other, so
/// a block may move between workers between chunks, and a worker the host runs slower (a shared machine's cores differ
/// from minute to minute) advances fewer chunks instead of making the other wait for its fixed half. Every row is the
/// same chain of operations whichever worker steps it, so the bits do not depend on the team or the blocks.
/// Buffers are time-major: gx [T, B, G·H] (or its first [B, G·H] with X), states [NS, T+1, B, H], saved [T, B, S·H] or null.
/// </summary>
internal unsafe struct FusedRowsJob<TCell> : IWorkerJob where TCell : struct, ICell
{
    public bool Reverse;
    public int Batch, Hidden, Steps;
    public float* W;                 // narrow unit blocks [H/16][K, G, 16], pinned
    public float* Gx, States, Saved;
    // Per-step projection (X not null): the step itself starts each tile from Bias + x·W_ihᵀ of its rows
    // (StepInput), so gx never goes to memory; else Gx holds all T steps.
    public float* X, WIh, Bias;      // x [T, B, I]; W_ih in narrow unit blocks [H/16][I, G, 16]; bias [G·H] or null
    public int InSize;
    public CellParams Params;        // the cell's options, for its step

    /// <summary>Per block b, at [b·FusedRowBlocks.ClaimStride]: 2·(steps done) + 1 while a worker holds it; null: the fixed split.</summary>
    public int* Claims;
    /// <summary>Rows per claimed block (the last may be shorter), blocks, and steps a claim advances its block by.</summary>
    public int BlockRows, Blocks, ChunkSteps;

    public void Execute(int worker, int workers)
    {
        if (Claims == null)
        {
            int r0 = (int)((long)Batch * worker / workers), r1 = (int)((long)Batch * (worker + 1) / workers);
            if (r0 < r1) Rows(r0, r1, 0, Steps);
            return;
        }
        // Each worker starts its scan at its own share of the blocks, so ties go to the blocks it stepped before.
        int first = Blocks * worker / workers;
        while (true)
        {
            int best = -1, bestDone = int.MaxValue, bestWord = 0;
            for (int i = 0; i < Blocks; i++)
            {
                int b = first + i < Blocks ? first + i : first + i - Blocks;
                int word = Volatile.Read(ref Claims[b * FusedRowBlocks.ClaimStride]);
                int done = word >> 1;
                if ((word & 1) != 0 || done >= Steps || done >= bestDone) continue;
                best = b; bestDone = done; bestWord = word;
            }
            // Nothing free is left to do: what others hold they finish (they release, then claim again).
            if (best < 0) return;
            ref int claim = ref Claims[best * FusedRowBlocks.ClaimStride];
            if (Interlocked.CompareExchange(ref claim, bestWord | 1, bestWord) != bestWord) continue;
            int end = Math.Min(Steps, bestDone + ChunkSteps);
            Rows(best * BlockRows, Math.Min(Batch, (best + 1) * BlockRows), bestDone, end);
            Volatile.Write(ref claim, end << 1);
        }
    }

    /// <summary>Rows [r0, r1) through processing steps [s0, s1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private readonly void Rows(int r0, int r1, int s0, int s1)
    {
        int g = TCell.Gates;
        nint h = Hidden, bh = (nint)Batch * h, rh = (nint)r0 * h, stride = (Steps + 1) * bh, sw = TCell.SavedWidth * h;
        int rows = r1 - r0;
        for (int s = s0; s < s1; s++)
        {
            int step = Reverse ? Steps - 1 - s : s;
            nint prev = Reverse ? step + 1 : step, next = Reverse ? step : step + 1;
            float* saved = Saved == null ? null : Saved + ((nint)step * Batch + r0) * sw;
            // The step after this one, whose gates the kernel prefetches (null after the last step).
            float* gStep = null, nextGx = null;
            var input = default(StepInput);
            if (X != null) input = new StepInput { X = X + ((nint)step * Batch + r0) * InSize, Ldx = InSize, W = WIh, Size = InSize, Bias = Bias };
            else
            {
                gStep = Gx + ((nint)step * bh + rh) * g;
                if (s + 1 < Steps) nextGx = Gx + ((nint)(Reverse ? step - 1 : step + 1) * bh + rh) * g;
            }
            TCell.FusedRowsStep(States + next * bh + rh, States + prev * bh + rh, stride, saved, gStep, W, rows, Hidden, 0, Hidden, nextGx, input, Params);
        }
    }
}

/// <summary>How <see cref="FusedRowsJob{TCell}"/> hands out its rows as claimed blocks (none: the fixed split).</summary>
internal static unsafe class FusedRowBlocks
{
    /// <summary>Ints between two blocks' claim words: one cache line each, so claims do not bounce a shared line.</summary>
    public const int ClaimStride = 16;

    /// <summary>A claim advances its block by about this many flops (tens of microseconds): a claim costs one
    /// compare-and-swap, and the worker left waiting at the end waits for at most one unit. Tests lower it.</summary>
    public static double ChunkFlops = 6e6;

    /// <summary>
    /// The blocks for <paramref name="workers"/> workers: up to four per worker of at least two 6-row tiles, when
    /// the step's packed weights (<paramref name="weightBytes"/>) fit in half the L2 (each block then reads them from
    /// there again every step, where with one block per worker they are read once); else one per worker, the fixed
    /// split (blocks 0). Chunks are sized from the flops of a block's step.
    /// </summary>
    public static (int BlockRows, int Blocks, int ChunkSteps) Plan(int batch, int steps, int gates, int hidden, int inSize,
        long weightBytes, int workers, long l2Bytes)
    {
        int tile = 2 * Gemm.MR;
        if (workers <= 1 || weightBytes > l2Bytes / 2) return (0, 0, 0);
        int target = Math.Min(4 * workers, batch / tile);
        if (target <= workers) return (0, 0, 0);
        int blockRows = Gemm.MR * (int)Math.Ceiling((double)batch / target / Gemm.MR);
        int blocks = (batch + blockRows - 1) / blockRows;
        if (blocks <= workers) return (0, 0, 0);
        double stepFlops = 2.0 * blockRows * gates * hidden * (hidden + inSize);
        int chunk = (int)Math.Clamp(Math.Ceiling(ChunkFlops / stepFlops), 1, steps);
        return (blockRows, blocks, chunk);
    }

    /// <summary>Every block at step 0, free.</summary>
    public static void ResetClaims(int* claims, int blocks)
    {
        for (int b = 0; b < blocks; b++) claims[b * ClaimStride] = 0;
    }
}
