using System.Numerics.Tensors;
using Gyre.Cells;
using Gyre.Kernels;

namespace Gyre.Layers;

// The backward time loop in row groups (cells with ICell.RowGroupGradients: GRU, LSTM). Letters as in SequenceRunner.cs;
// Gr = rows of a group, L = steps of a chunk, K = L·Gr rows of a chunk's weight-gradient products.
//
// Why: the shared loop splits each chunk's rows over the workers, then splits each weight-gradient GEMM of the chunk by
// its output, so every worker reads all of the chunk's ∂L/∂g rows, half of them from the other core's cache, behind a
// barrier per chunk and per GEMM. Here a group's rows go through the whole backward on one worker: its loop, then its
// chunk's dW_hh, dW_ih, bias sums and dX while the group's ∂L/∂g is in that core's cache, with no barrier until the end.
// Measured on a 2-core Zen 5 (GRU 64·100·32·128): two independent half-batch backwards side by side take 6.5 ms each
// where the split loop took 9–9.5 ms on two threads.
//
// Bits: the groups come from the batch and the machine's processor count (never the team), group 0 accumulates onto the
// gradients as they were and every later group into a partial of its own, added in group order at the end; so the bits
// are the same for any team (one worker runs the groups one after the other), though not those of the shared loop
// (another summation order).
internal sealed unsafe partial class SequenceRunner<TCell>
{
    private float[] _groupPartials = [];   // [G − 1, |dW_ih| + |dW_hh| + |db_ih| + |db_hh|] the later groups' gradients
    private float[] _groupGather = [];     // [G, GatherSteps·Gr, W_0 + I] each group's H_prev and X rows of a few steps, time order
    private int[] _groupClaims = [];       // [workers, Gemm.Chunks.Stride] the groups' claim cursors

    /// <summary>Bytes of gathered H_prev and X rows a group holds at once (a few steps of a chunk; see GroupedBackward).
    /// Speed and memory only, never a bit; tests lower it.</summary>
    internal static long GatherBytes = 1L << 20;

    /// <summary>
    /// At most this many groups: the machine's processors (at most 8), never the team, so the bits do not depend on the
    /// thread count. More groups than cores only cost: each group's steps are smaller products, and its H_prev and X rows
    /// are gathered (one thread, GRU 256·50·64·64 on the Zen 5 VM: 8 groups +13 %, 2 groups +6 % over the shared loop;
    /// two threads: 8 groups −9 %, 2 groups −24 %).
    /// </summary>
    internal static readonly int MaxBackwardGroups = Math.Clamp(Environment.ProcessorCount, 1, 8);

    /// <summary>Row groups of the backward loop for <paramref name="batch"/> rows (1: the shared loop), from the batch,
    /// <see cref="ExecutionOptions.BackwardGroupRows"/> (default 32: groups that fill whole 6-row tiles) and at most
    /// <paramref name="maxGroups"/> (<see cref="MaxBackwardGroups"/> unless a test sets another).</summary>
    internal static int BackwardGroups(int batch, int groupRows, int maxGroups) =>
        TCell.RowGroupGradients && groupRows > 0 ? Math.Clamp(batch / groupRows, 1, maxGroups) : 1;

    /// <summary>The backward loop and every weight gradient in <paramref name="groups"/> row groups; see the file's head.</summary>
    private void GroupedBackward(in DirectionBackward a, ExecutionOptions options, WorkerTeam team, int groups, RowSplitBackward<TCell> loop,
        float* pDGi, float* pDGh)
    {
        int h = a.Hidden, gh = TCell.Gates * h, b = a.Batch, t = a.Steps, i = a.InSize, w0 = a.OutWidth;
        int rowsPerGroup = b / groups, maxRows = (b + groups - 1) / groups;
        int chunk = options.BackwardChunkSteps > 0 ? Math.Min(options.BackwardChunkSteps, t)
            : BackwardChunkSteps(rowsPerGroup, t, i, w0, gh, TCell.HiddenBiasApart);
        int nIh = a.DWIh.Length, nHh = a.DWHh.Length, nBIh = a.DBIh.Length, nBHh = a.DBHh.Length;
        long partial = (long)nIh + nHh + nBIh + nBHh, partials = (groups - 1) * partial;
        // The gathered rows of a chunk's steps go through the weight-gradient products a few steps at a time, at most
        // GatherBytes a group: a product continued over the next rows with accumulate is the same FMA chain per element
        // as one product over all of them (same bits), and a long chunk (the whole sequence where chunks do not pay)
        // would otherwise copy all of X and H_prev.
        int gatherSteps = (int)Math.Clamp(GatherBytes / sizeof(float) / ((long)maxRows * (w0 + i)), 1, chunk);
        long gather = (long)gatherSteps * maxRows * (w0 + i), gathers = groups * gather;
        if (partials > Array.MaxLength || gathers > Array.MaxLength)
            throw new OutOfMemoryException($"backward row groups need {Math.Max(partials, gathers)} floats");
        if (_groupPartials.Length < partials) _groupPartials = GC.AllocateUninitializedArray<float>((int)partials, pinned: true);
        if (_groupGather.Length < gathers) _groupGather = GC.AllocateUninitializedArray<float>((int)gathers, pinned: true);
        if (_groupClaims.Length < team.Size * Gemm.Chunks.Stride) _groupClaims = GC.AllocateArray<int>(team.Size * Gemm.Chunks.Stride, pinned: true);
        new Span<float>(_groupPartials, 0, (int)partials).Clear();
        // dX multiplies by W_ih once per step of every group: packed once here.
        _gatesToInput.Pack(false, i, gh, a.WIh, i);
        loop.GroupMajor = true;
        fixed (float* pPartials = _groupPartials) fixed (float* pGather = _groupGather) fixed (int* claims = _groupClaims)
        fixed (float* pX = a.X) fixed (float* pDIn = a.DIn) fixed (float* pDWIh = a.DWIh) fixed (float* pDWHh = a.DWHh)
        fixed (float* pDBIh = a.DBIh) fixed (float* pDBHh = a.DBHh) fixed (float* pWIh = _gatesToInput.Buffer)
        {
            var job = new RowGroupBackward<TCell>
            {
                Loop = loop, Groups = groups, ChunkSteps = chunk, GatherSteps = gatherSteps, InSize = i, HasBias = a.HasBias,
                X = pX, DIn = pDIn, DGi = pDGi, DGh = pDGh, WIhPacked = pWIh + _gatesToInput.Start,
                DWIh = pDWIh, DWHh = pDWHh, DBIh = nBIh == 0 ? null : pDBIh, DBHh = nBHh == 0 ? null : pDBHh,
                NIh = nIh, NHh = nHh, NBIh = nBIh, Partials = pPartials, PartialLength = partial,
                Gather = pGather, GatherLength = gather, Claims = claims,
            };
            // Every worker of the team gets a claim cursor (RunClaimed runs all of them; those beyond the groups find none).
            if (team.Size > 1) { Gemm.Chunks.Init(claims, team.Size, groups); team.RunClaimed(ref job); }
            else { Gemm.Chunks.Init(claims, 1, groups); job.Execute(0, 1); }
            // The later groups' sums onto group 0's, in group order.
            for (int g = 1; g < groups; g++)
            {
                float* p = pPartials + (g - 1) * partial;
                TensorPrimitives.Add(a.DWIh, new ReadOnlySpan<float>(p, nIh), a.DWIh);
                if (nHh > 0) TensorPrimitives.Add(a.DWHh, new ReadOnlySpan<float>(p + nIh, nHh), a.DWHh);
                if (nBIh > 0) TensorPrimitives.Add(a.DBIh, new ReadOnlySpan<float>(p + nIh + nHh, nBIh), a.DBIh);
                if (nBHh > 0) TensorPrimitives.Add(a.DBHh, new ReadOnlySpan<float>(p + nIh + nHh + nBIh, nBHh), a.DBHh);
            }
        }
    }
}

/// <summary>
/// One backward row group per claim (<see cref="Gemm.Chunks"/>): group g's rows [B·g/G, B·(g+1)/G) through every chunk of
/// steps in processing order — the loop (<see cref="RowSplitBackward{TCell}"/> with ∂L/∂g group-major, so a chunk's rows
/// are one [K, G·H] block), then the chunk's dW_hh (the cell's rule), dW_ih, bias sums and dX += ∂L/∂gx·W_ih.
/// Buffers: ∂L/∂g [G][T, Gr, G·H] (group g from row B·g/G·T); partials [G − 1, ·]; gather [G, GatherSteps·Gr, W_0 + I].
/// </summary>
internal unsafe struct RowGroupBackward<TCell> : IWorkerJob where TCell : struct, ICell
{
    public RowSplitBackward<TCell> Loop;
    public int Groups, ChunkSteps, GatherSteps, InSize, NIh, NHh, NBIh;
    public bool HasBias;
    public float* X, DIn, DGi, DGh, WIhPacked;       // x and ∂L/∂x [T, B, I]; W_ih packed [I panels, G·H]
    public float* DWIh, DWHh, DBIh, DBHh;            // group 0's gradients (the layer's); DBIh/DBHh null without
    public float* Partials, Gather;
    public long PartialLength, GatherLength;
    public int* Claims;

    public void Execute(int worker, int workers)
    {
        for (int v = 0, g; (g = Gemm.Chunks.Claim(Claims, worker, workers, Groups, ref v)) >= 0;) Group(g);
    }

    private void Group(int g)
    {
        int b = Loop.Batch, t = Loop.Steps, h = Loop.Hidden, gh = TCell.Gates * h, w0 = Loop.OutWidth, ls = Loop.StateLd, i = InSize;
        int r0 = (int)((long)b * g / Groups), r1 = (int)((long)b * (g + 1) / Groups), rows = r1 - r0;
        float* p = g == 0 ? null : Partials + (g - 1) * PartialLength;
        float* dwIh = g == 0 ? DWIh : p, dwHh = g == 0 ? DWHh : p + NIh;
        float* dbIh = DBIh == null ? null : g == 0 ? DBIh : p + NIh + NHh;
        float* dbHh = DBHh == null ? null : g == 0 ? DBHh : p + NIh + NHh + NBIh;
        float* hg = Gather + g * GatherLength;                           // [K, W_0]
        nint bs = (nint)b * ls;
        float* dGiGroup = DGi + (nint)r0 * t * gh, dGhGroup = DGh + (nint)r0 * t * gh;
        var loop = Loop;
        for (int end = t; end > 0; end -= ChunkSteps)
        {
            int begin = Math.Max(0, end - ChunkSteps), steps = end - begin;
            loop.StepBegin = begin; loop.StepEnd = end;
            loop.Rows(r0, r1);
            // The chunk's time steps [t0, t0 + steps): its ∂L/∂g rows are contiguous in the group's block. Its products
            // run GatherSteps steps at a time, each continuing the last one's FMA chains (accumulate): the bits of one product.
            int t0 = Loop.Reverse ? t - end : begin;
            for (int s0 = 0; s0 < steps; s0 += GatherSteps)
            {
                int part = Math.Min(GatherSteps, steps - s0), k = part * rows, ts = t0 + s0;
                float* xg = hg + (nint)k * w0;                            // [K, I]
                for (int s = 0; s < part; s++)
                {
                    int tt = ts + s;
                    float* hPrev = Loop.States + (Loop.Reverse ? tt + 1 : tt) * bs + (nint)r0 * ls;
                    for (int r = 0; r < rows; r++)
                        new ReadOnlySpan<float>(hPrev + (nint)r * ls, w0).CopyTo(new Span<float>(hg + ((nint)s * rows + r) * w0, w0));
                    new ReadOnlySpan<float>(X + ((nint)tt * b + r0) * i, rows * i).CopyTo(new Span<float>(xg + (nint)s * rows * i, rows * i));
                }
                float* dGi = dGiGroup + (nint)ts * rows * gh, dGh = dGhGroup + (nint)ts * rows * gh;
                if (NHh > 0)
                    TCell.RecurrentWeightGradients(new CellWeightGradients
                    {
                        Rows = k, Hidden = h, Gates = TCell.Gates, SavedWidth = 0, HWidth = w0, HPrevLd = w0,
                        DGh = dGh, HPrev = hg, Saved = null, DWhh = dwHh, W = Loop.W,
                    });
                Gemm.Multiply(true, false, gh, i, k, new ReadOnlySpan<float>(dGi, k * gh), gh, new ReadOnlySpan<float>(xg, k * i), i,
                    new Span<float>(dwIh, gh * i), i, true);
                if (HasBias)
                {
                    if (dbIh != null) ColumnSums.Accumulate(dbIh, dGi, gh, k, 0, gh);
                    if (dbHh != null) ColumnSums.Accumulate(dbHh, dGh, gh, k, 0, gh);
                }
                // ∂L/∂x of these rows in one product (into the gathered X, read already), then onto ∂L/∂x by rows.
                Gemm.MultiplyPackedSerial(k, dGi, gh, WIhPacked, i, gh, xg, i, false);
                for (int s = 0; s < part; s++)
                {
                    var dIn = new Span<float>(DIn + ((nint)(ts + s) * b + r0) * i, rows * i);
                    TensorPrimitives.Add(dIn, new ReadOnlySpan<float>(xg + (nint)s * rows * i, rows * i), dIn);
                }
            }
        }
    }
}
