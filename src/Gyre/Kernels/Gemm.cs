using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Gyre.Kernels;

/// <summary>
/// Single-precision matrix multiply, row-major: C[M, N] = (accumulate ? C : 0) + op(A)[M, K] · op(B)[K, N].
/// op(A) is A stored [M, lda] or, when <c>transA</c>, Aᵀ with A stored [K, lda]; likewise B.
/// The scalar twin is <see cref="Reference.GemmReference"/>.
/// </summary>
/// <remarks>
/// Blocked and packed after Goto/BLIS: op(B) is packed once into panels of NR columns ([K, NR] each,
/// zero-padded), K is cut into blocks of at most KC, and a register tile of MR × NR outputs
/// (6 × 64 with AVX-512: 24 zmm accumulators) runs over one K block with one broadcast A element shared
/// by a row. M strips are outside, N panels inside (A is packed once per strip and K block and reused
/// for every panel). Work is split over M tiles or N panels, never over K, and the K blocking depends on
/// K alone, so every element is the same chain of FMAs whatever the team size: results are
/// bit-identical for 1 or many threads.
/// </remarks>
public static partial class Gemm
{
    /// <summary>Throws unless every operand holds the rows its shape and leading dimension demand.</summary>
    public static void Validate(bool transA, bool transB, int m, int n, int k,
        int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), $"negative GEMM size m={m} n={n} k={k}");
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        Check("A", aRows, aCols, aLength, lda);
        Check("B", bRows, bCols, bLength, ldb);
        Check("C", m, n, cLength, ldc);

        static void Check(string name, int rows, int cols, int length, int ld)
        {
            if (rows == 0 || cols == 0) return;
            if (ld < cols) throw new ArgumentException($"GEMM operand {name}: leading dimension {ld} < {cols} columns");
            long need = (long)(rows - 1) * ld + cols;
            if (length < need) throw new ArgumentException($"GEMM operand {name}: span of {length} floats is shorter than the {need} that [{rows}, {cols}] with ld {ld} needs");
        }
    }
}

public static unsafe partial class Gemm
{
    /// <summary>Rows of the register tile.</summary>
    internal const int MR = 6;
    /// <summary>Longest K block (<see cref="Blocking"/>).</summary>
    internal static int KC => Blocking.KC;
    /// <summary>Rows of A packed together, a multiple of MR (<see cref="Blocking"/>).</summary>
    internal static int MC => Blocking.MC;

    private static GemmBlocking? _blocking;

    /// <summary>
    /// The cache blocking in use: <see cref="GemmBlocking.Derive"/> from this machine's caches
    /// (<see cref="CacheSizes.Detect"/>) on first use. Setting it changes speed only, never a result.
    /// </summary>
    public static GemmBlocking Blocking
    {
        get => _blocking ??= GemmBlocking.Derive(CacheSizes.Detect(), NR, MR);
        set => _blocking = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>Columns of the register tile: four vectors wide with AVX-512, two below that, 8 scalar.</summary>
    internal static readonly int NR =
        Vector512.IsHardwareAccelerated ? 4 * Vector512<float>.Count :
        Vector256.IsHardwareAccelerated ? 2 * Vector256<float>.Count :
        Vector128.IsHardwareAccelerated ? 2 * Vector128<float>.Count : 8;

    /// <summary>Problems with m·n·k at most this go to a plain loop (packing would cost more). Tests lower it.</summary>
    internal static long SmallWork = 4096;
    /// <summary>Problems with m·n·k below this stay on the calling thread (a dispatch costs microseconds).</summary>
    internal static long ParallelWork = 1L << 18;
    /// <summary>Products of A (not transposed) with at most this many rows and a row-major B, small enough for one thread,
    /// stream B's rows (<see cref="GemmMicro.RowStream"/>) instead of packing B. Tests set 0 to reach the tile.</summary>
    internal static int RowStreamMaxRows = 2;
    /// <summary>With K at most this, A tiles are read in place through row pointers instead of being packed.</summary>
    internal static int InPlaceMaxK = 128;
    /// <summary>Whether panels at most 32 wide take the 12×32 tile (<see cref="GemmMicro.Kernel512Narrow"/>); tests
    /// turn it off to check it against the 6×64 tile bit for bit.</summary>
    internal static bool NarrowTiles = true;

    /// <summary>Team used when a call passes none; null means <see cref="WorkerTeam.Shared"/>.
    /// Set <c>Gemm.Team = new WorkerTeam(1)</c> to keep every multiply on the calling thread.</summary>
    public static WorkerTeam? Team { get; set; }

    /// <summary>C[M, N] = (accumulate ? C : 0) + op(A)[M, K] · op(B)[K, N], on <see cref="Team"/>.</summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate)
        => Multiply(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, null);

    /// <summary>
    /// C[M, N] = (accumulate ? C : 0) + op(A)[M, K] · op(B)[K, N], splitting large problems over
    /// <paramref name="team"/> (null: <see cref="Team"/>, else <see cref="WorkerTeam.Shared"/>).
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate, WorkerTeam? team)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
        {
            if (k == 0) { if (!accumulate) ZeroC(pc, m, n, ldc); return; }
            if ((long)m * n * k <= SmallWork) { SmallMultiply(transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate); return; }

            WorkerTeam? t = ChooseTeam(team, m, n, k);
            if (t is null && !transA && !transB && m <= RowStreamMaxRows && GemmMicro.RowStreamSupported)
            {
                // A row or two times a row-major B (a batch-1 step's ∂L/∂g·W_hh block): packing B would copy all of it
                // for one pass; streaming its rows reads it once, with the tile's FMA chain per element (same bits).
                for (int i = 0; i < m; i++) GemmMicro.RowStream(n, k, pa + i * lda, pb, ldb, pc + i * ldc, accumulate);
                return;
            }
            int panels = (n + NR - 1) / NR;
            float[] scratch = ThreadScratch.PackedB((long)panels * k * NR);
            fixed (float* raw = scratch)
            {
                float* pack = ThreadScratch.Align(raw);
                int workers = t?.Size ?? 1;
                fixed (int* cursors = ThreadScratch.Cursors(workers))
                {
                    var packJob = new PackBJob { B = pb, Ldb = ldb, TransB = transB, N = n, K = k, Dst = pack, Cursors = cursors };
                    Chunks.Init(cursors, workers, panels);
                    // One panel cannot be shared: a dispatch would only wake a worker with nothing to do.
                    if (t is null || panels == 1) packJob.Execute(0, 1); else t.RunClaimed(ref packJob);
                }
                Compute(t, transA, m, n, k, pa, lda, pack, pc, ldc, accumulate);
            }
        }
    }

    /// <summary>
    /// C[M, N] = 1·rowInit + op(A)[M, K] · op(B)[K, N] (rowInit [N] added to every row, e.g. a bias): each
    /// tile of C starts from rowInit as it is computed, instead of a separate pass writing rowInit into
    /// every row before an accumulating multiply. Bit-identical to that two-pass form (same FMA chains).
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, ReadOnlySpan<float> rowInit, WorkerTeam? team = null)
    {
        if (rowInit.Length != n) throw new ArgumentException($"rowInit has {rowInit.Length} elements, expected N = {n}", nameof(rowInit));
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0 || (long)m * n * k <= SmallWork)
        {
            for (int r = 0; r < m; r++) rowInit.CopyTo(c.Slice(r * ldc, n));
            Multiply(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, true, team);
            return;
        }
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c) fixed (float* pInit = rowInit)
        {
            WorkerTeam? t = ChooseTeam(team, m, n, k);
            int panels = (n + NR - 1) / NR;
            float[] scratch = ThreadScratch.PackedB((long)panels * k * NR);
            fixed (float* raw = scratch)
            {
                float* pack = ThreadScratch.Align(raw);
                int workers = t?.Size ?? 1;
                fixed (int* cursors = ThreadScratch.Cursors(workers))
                {
                    var packJob = new PackBJob { B = pb, Ldb = ldb, TransB = transB, N = n, K = k, Dst = pack, Cursors = cursors };
                    Chunks.Init(cursors, workers, panels);
                    if (t is null || panels == 1) packJob.Execute(0, 1); else t.RunClaimed(ref packJob);
                }
                Compute(t, transA, m, n, k, pa, lda, pack, pc, ldc, false, pInit);
            }
        }
    }

    /// <summary>
    /// Packs op(B)[K, N] (B stored [N, ldb] when <paramref name="transB"/>, else [K, ldb]) for
    /// <see cref="Multiply(bool, int, ReadOnlySpan{float}, int, PackedMatrix, Span{float}, int, bool, WorkerTeam?)"/>,
    /// e.g. a recurrent weight W_hh [G·H, H] packed once per sequence and used at every time step.
    /// </summary>
    public static PackedMatrix PackB(bool transB, int n, int k, ReadOnlySpan<float> b, int ldb)
    {
        var packed = new PackedMatrix();
        packed.Pack(transB, n, k, b, ldb);
        return packed;
    }

    /// <summary>
    /// C[M, N] = (accumulate ? C : 0) + op(A)[M, K] · B[K, N] with B pre-packed by <see cref="PackB"/>
    /// (N = <see cref="PackedMatrix.Columns"/>, K = <see cref="PackedMatrix.Depth"/>). Bit-identical to the
    /// unpacked <c>Multiply</c> whenever that one takes the blocked path.
    /// </summary>
    public static void Multiply(bool transA, int m, ReadOnlySpan<float> a, int lda, PackedMatrix b,
        Span<float> c, int ldc, bool accumulate, WorkerTeam? team = null)
    {
        ArgumentNullException.ThrowIfNull(b);
        int n = b.Columns, k = b.Depth;
        Validate(transA, false, m, n, k, a.Length, lda, n * k, n, c.Length, ldc);
        if (m == 0 || n == 0) return;
        fixed (float* pa = a) fixed (float* pc = c) fixed (float* raw = b.Buffer)
        {
            if (k == 0) { if (!accumulate) ZeroC(pc, m, n, ldc); return; }
            Compute(ChooseTeam(team, m, n, k), transA, m, n, k, pa, lda, raw + b.Start, pc, ldc, accumulate);
        }
    }

    /// <summary>
    /// C[M, N] = 1·rowInit + op(A)[M, K] · B[K, N] with B pre-packed by <see cref="PackB"/> (rowInit [N]
    /// added to every row); bit-identical to writing rowInit into every row and accumulating.
    /// </summary>
    public static void Multiply(bool transA, int m, ReadOnlySpan<float> a, int lda, PackedMatrix b,
        Span<float> c, int ldc, ReadOnlySpan<float> rowInit, WorkerTeam? team = null)
    {
        ArgumentNullException.ThrowIfNull(b);
        int n = b.Columns, k = b.Depth;
        if (rowInit.Length != n) throw new ArgumentException($"rowInit has {rowInit.Length} elements, expected N = {n}", nameof(rowInit));
        Validate(transA, false, m, n, k, a.Length, lda, n * k, n, c.Length, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            for (int r = 0; r < m; r++) rowInit.CopyTo(c.Slice(r * ldc, n));
            return;
        }
        fixed (float* pa = a) fixed (float* pc = c) fixed (float* raw = b.Buffer) fixed (float* pInit = rowInit)
            Compute(ChooseTeam(team, m, n, k), transA, m, n, k, pa, lda, raw + b.Start, pc, ldc, false, pInit);
    }

    private static WorkerTeam? ChooseTeam(WorkerTeam? team, int m, int n, int k)
    {
        if ((long)m * n * k < ParallelWork || WorkerTeam.InJob) return null;
        team ??= Team ?? WorkerTeam.Shared;
        return team.Size > 1 ? team : null;
    }

    private static void ZeroC(float* c, int m, int n, nint ldc)
    {
        for (int i = 0; i < m; i++) new Span<float>(c + i * ldc, n).Clear();
    }

    /// <summary>K blocks of near-equal length, at most KC: k = 600 runs 300 + 300, not 512 + 88.</summary>
    internal static int BlockDepth(int k) => (k + (k + KC - 1) / KC - 1) / ((k + KC - 1) / KC);

    private static void Compute(WorkerTeam? team, bool transA, int m, int n, int k,
        float* a, nint lda, float* packedB, float* c, nint ldc, bool accumulate, float* rowInit = null)
    {
        int workers = team?.Size ?? 1;
        int tiles = (m + MR - 1) / MR, panels = (n + NR - 1) / NR;
        // Split M when every worker gets a few tiles, else N panels (small batch, wide output: each
        // worker then streams only its share of B, which suits a recurrent step at batch 1). About four
        // chunks per worker let a worker that finishes early take over the tail of a descheduled one.
        bool splitN = workers > 1 && tiles < 2 * workers && panels >= workers;
        int chunkRows = MR * Math.Clamp((tiles + 4 * workers - 1) / (4 * workers), 1, MC / MR);
        int chunkPanels = Math.Max(1, panels / (4 * workers));
        int chunks = splitN ? (panels + chunkPanels - 1) / chunkPanels : (m + chunkRows - 1) / chunkRows;
        fixed (int* cursors = ThreadScratch.Cursors(workers))
        {
            var job = new ComputeJob
            {
                A = a, Lda = lda, TransA = transA, M = m, N = n, K = k, B = packedB, C = c, Ldc = ldc,
                Accumulate = accumulate, RowInit = rowInit, SplitN = splitN, ChunkRows = chunkRows, ChunkPanels = chunkPanels,
                Chunks = chunks, Cursors = cursors,
            };
            Chunks.Init(cursors, workers, chunks);
            if (team is null) job.Execute(0, 1); else team.RunClaimed(ref job);
        }
    }

    private struct PackBJob : IWorkerJob
    {
        public float* B; public nint Ldb; public bool TransB; public int N, K; public float* Dst; public int* Cursors;

        public void Execute(int worker, int workers)
        {
            int panels = (N + NR - 1) / NR;
            for (int v = 0, jp; (jp = Chunks.Claim(Cursors, worker, workers, panels, ref v)) >= 0;)
                PackBPanels(Dst, B, Ldb, TransB, N, K, jp, jp + 1);
        }
    }

    private struct ComputeJob : IWorkerJob
    {
        public float* A; public nint Lda; public bool TransA; public int M, N, K;
        public float* B; public float* C; public nint Ldc; public bool Accumulate, SplitN;
        public float* RowInit;       // [N] start value of every row (first K block), or null
        public int ChunkRows, ChunkPanels, Chunks; public int* Cursors;

        public void Execute(int worker, int workers)
        {
            int panels = (N + NR - 1) / NR;
            for (int v = 0, chunk; (chunk = Gemm.Chunks.Claim(Cursors, worker, workers, Chunks, ref v)) >= 0;)
            {
                if (SplitN)
                    ComputeRange(this, 0, M, chunk * ChunkPanels, Math.Min(panels, (chunk + 1) * ChunkPanels));
                else
                    ComputeRange(this, chunk * ChunkRows, Math.Min(M, (chunk + 1) * ChunkRows), 0, panels);
            }
        }
    }

    /// <summary>
    /// Chunk scheduling: worker w owns chunks [w·C/W, (w+1)·C/W) and takes them in order (so a
    /// recurrent layer's worker keeps touching the same weights, warm in its own cache); once its own
    /// range is done it takes the remaining chunks of the others. Which worker computes a chunk never
    /// changes what is computed, so results stay bit-identical.
    /// </summary>
    internal static class Chunks
    {
        /// <summary>Ints per cursor: one cache line each, so workers do not share lines.</summary>
        public const int Stride = 16;

        public static void Init(int* cursors, int workers, int chunks)
        {
            for (int w = 0; w < workers; w++) cursors[w * Stride] = (int)((long)chunks * w / workers);
        }

        /// <summary>Next chunk for <paramref name="worker"/>, or −1 when none is left; v is the claim state (start at 0).</summary>
        public static int Claim(int* cursors, int worker, int workers, int chunks, ref int v)
        {
            for (; v < workers; v++)
            {
                int owner = worker + v;
                if (owner >= workers) owner -= workers;
                int end = (int)((long)chunks * (owner + 1) / workers);
                ref int cursor = ref cursors[owner * Stride];
                if (Volatile.Read(ref cursor) >= end) continue;
                int chunk = Interlocked.Increment(ref cursor) - 1;
                if (chunk < end) return chunk;
            }
            return -1;
        }
    }

    // The packing loops, the drivers and the tile dispatch are AggressiveOptimization as well as the
    // micro-kernels: a recurrent layer calls them a few hundred times in its first 100 ms, all of which
    // would otherwise run unoptimised tier-0 code (measured 100× slower packing).

    /// <summary>Rows [i0, i1) × panels [jp0, jp1) of C: M strips, K blocks, N panels, MR-row tiles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ComputeRange(in ComputeJob g, int i0, int i1, int jp0, int jp1)
    {
        int n = g.N, k = g.K, nr = NR;
        int kcMax = BlockDepth(k);
        // Small K: packing A costs more than it saves (measured ~10 % at K = 32); a single panel
        // reads each A tile once, so packing is pure overhead there too, and with two panels a row-major A
        // (six unit-stride streams) is still cheaper read twice than copied once (the backward step
        // dG [B, 3H]·W_hh at H = 128: 12 % less CPU time in the time loop).
        bool inPlace = k <= InPlaceMaxK || n <= nr || (!g.TransA && jp1 - jp0 <= 2);
        float[] scratch = ThreadScratch.Worker(MC * kcMax + MR * nr);
        fixed (float* raw = scratch)
        {
            float* aPack = ThreadScratch.Align(raw);
            float* tile = aPack + MC * kcMax; // MR × NR staging tile for the ragged right edge
            for (int ib = i0; ib < i1; ib += MC)
            {
                int mc = Math.Min(MC, i1 - ib);
                for (int k0 = 0; k0 < k; k0 += kcMax)
                {
                    int kc = Math.Min(kcMax, k - k0);
                    bool init = k0 == 0 && g.RowInit != null;
                    bool load = g.Accumulate || k0 > 0 || init;
                    if (!inPlace) PackA(aPack, g.A, g.Lda, g.TransA, ib, mc, k0, kc);
                    for (int jp = jp0; jp < jp1; jp++)
                    {
                        int j0 = jp * nr, ncols = Math.Min(nr, n - j0);
                        float* bPanel = g.B + (nint)jp * k * nr + (nint)k0 * nr;
                        bool narrow = ncols <= 32 && NarrowTiles && Vector512.IsHardwareAccelerated;
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int mr = Math.Min(MR, mc - ir), i = ib + ir;
                            float* aTile; nint rs, ps;
                            if (!inPlace) { aTile = aPack + ir * kc; rs = 1; ps = MR; }
                            else if (g.TransA) { aTile = g.A + k0 * g.Lda + i; rs = 1; ps = g.Lda; }
                            else { aTile = g.A + i * g.Lda + k0; rs = g.Lda; ps = 1; }
                            float* cTile = g.C + i * g.Ldc + j0;
                            if (narrow && ir + 2 * MR <= mc)
                            {
                                // Two full tiles of rows at once; the second tile sits MR rows on (packed: MR·kc floats).
                                float* aNext = !inPlace ? aTile + MR * kc : aTile + MR * rs;
                                if (init) InitRows(cTile, g.Ldc, g.RowInit + j0, 2 * MR, ncols);
                                NarrowPair(kc, aTile, aNext, rs, ps, bPanel, cTile, g.Ldc, ncols, load, tile);
                                ir += MR;
                                continue;
                            }
                            if (init) InitRows(cTile, g.Ldc, g.RowInit + j0, mr, ncols);
                            if (ncols == nr)
                                Tile(mr, kc, aTile, rs, ps, bPanel, cTile, g.Ldc, load);
                            else
                            {
                                if (load)
                                    for (int r = 0; r < mr; r++)
                                        new ReadOnlySpan<float>(cTile + r * g.Ldc, ncols).CopyTo(new Span<float>(tile + r * nr, ncols));
                                Tile(mr, kc, aTile, rs, ps, bPanel, tile, nr, load);
                                for (int r = 0; r < mr; r++)
                                    new ReadOnlySpan<float>(tile + r * nr, ncols).CopyTo(new Span<float>(cTile + r * g.Ldc, ncols));
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>12 rows × ncols (≤ 32) of C through the 12×32 tile, staged in <paramref name="tile"/> ([12, 32]) when
    /// ncols &lt; 32 so that no column past N is written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void NarrowPair(int kc, float* a0, float* a1, nint rs, nint ps, float* b, float* c, nint ldc, int ncols, bool load, float* tile)
    {
        if (ncols == 32) { GemmMicro.Kernel512Narrow(kc, a0, a1, rs, ps, b, c, ldc, load); return; }
        const int rows = 2 * MR, w = 32;
        if (load)
            for (int r = 0; r < rows; r++)
                new ReadOnlySpan<float>(c + r * ldc, ncols).CopyTo(new Span<float>(tile + r * w, ncols));
        GemmMicro.Kernel512Narrow(kc, a0, a1, rs, ps, b, tile, w, load);
        for (int r = 0; r < rows; r++)
            new ReadOnlySpan<float>(tile + r * w, ncols).CopyTo(new Span<float>(c + r * ldc, ncols));
    }

    /// <summary>
    /// C rows [0, mr) × [0, ncols) ← init [ncols]: a full 64-wide Vector512 panel with the init row held in
    /// four registers (a memmove call per 256-byte row cost 5 % of a K = 32 projection), else row copies.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InitRows(float* c, nint ldc, float* init, int mr, int ncols)
    {
        if (Vector512.IsHardwareAccelerated && ncols == 64)
        {
            var v0 = Vector512.Load(init); var v1 = Vector512.Load(init + 16);
            var v2 = Vector512.Load(init + 32); var v3 = Vector512.Load(init + 48);
            for (int r = 0; r < mr; r++, c += ldc) { v0.Store(c); v1.Store(c + 16); v2.Store(c + 32); v3.Store(c + 48); }
        }
        else
            for (int r = 0; r < mr; r++)
                new ReadOnlySpan<float>(init, ncols).CopyTo(new Span<float>(c + r * ldc, ncols));
    }

    /// <summary>A rows [i0, i0 + mc) × K block [k0, k0 + kc) into MR-row tiles, each [kc, MR].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(float* dst, float* a, nint lda, bool transA, int i0, int mc, int k0, int kc)
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int mr = Math.Min(MR, mc - ir);
            float* t = dst + ir * kc;
            if (transA)
            {
                float* src = a + (nint)k0 * lda + i0 + ir;
                if (mr == MR)
                    // Six floats a step as one 16-byte and one 8-byte move (a float at a time was a tenth of the
                    // weight-gradient GEMMs, whose A is the transposed ∂L/∂g).
                    for (int p = 0; p < kc; p++, src += lda, t += MR)
                    {
                        Unsafe.WriteUnaligned(t, Unsafe.ReadUnaligned<Vector128<float>>(src));
                        Unsafe.WriteUnaligned(t + 4, Unsafe.ReadUnaligned<long>(src + 4));
                    }
                else
                    for (int p = 0; p < kc; p++, src += lda, t += MR)
                        for (int r = 0; r < mr; r++) t[r] = src[r];
            }
            else
            {
                int p0 = 0;
                if (mr == MR && Sse.IsSupported)
                    p0 = PackRowsTransposed(t, a + (i0 + ir) * lda + k0, lda, kc);
                for (int r = 0; r < mr; r++)
                {
                    float* src = a + (i0 + ir + r) * lda + k0;
                    float* d = t + p0 * MR + r;
                    for (int p = p0; p < kc; p++, d += MR) *d = src[p];
                }
            }
        }
    }

    /// <summary>
    /// t[p·6 + r] = src[r·lda + p] for the six rows r and p &lt; kc rounded down to 4, four steps at a time: a 4×4 transpose
    /// of rows 0–3 (one 16-byte store per step) and rows 4–5 interleaved (one 8-byte store per step), instead of a float
    /// at a time with six strided stores per step. Returns the steps done; the caller packs the rest.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PackRowsTransposed(float* t, float* src, nint lda, int kc)
    {
        float* s0 = src, s1 = src + lda, s2 = src + 2 * lda, s3 = src + 3 * lda, s4 = src + 4 * lda, s5 = src + 5 * lda;
        int p = 0;
        for (; p + 4 <= kc; p += 4, t += 4 * MR)
        {
            Vector128<float> a0 = Vector128.Load(s0 + p), a1 = Vector128.Load(s1 + p), a2 = Vector128.Load(s2 + p), a3 = Vector128.Load(s3 + p);
            Vector128<float> a4 = Vector128.Load(s4 + p), a5 = Vector128.Load(s5 + p);
            var t0 = Sse.UnpackLow(a0, a1);    // a0p0 a1p0 a0p1 a1p1
            var t1 = Sse.UnpackLow(a2, a3);    // a2p0 a3p0 a2p1 a3p1
            var t2 = Sse.UnpackHigh(a0, a1);   // a0p2 a1p2 a0p3 a1p3
            var t3 = Sse.UnpackHigh(a2, a3);   // a2p2 a3p2 a2p3 a3p3
            var lo = Sse.UnpackLow(a4, a5).AsUInt64();    // (a4p0 a5p0) (a4p1 a5p1)
            var hi = Sse.UnpackHigh(a4, a5).AsUInt64();   // (a4p2 a5p2) (a4p3 a5p3)
            Vector128.Store(Sse.MoveLowToHigh(t0, t1), t);
            *(ulong*)(t + 4) = lo.GetElement(0);
            Vector128.Store(Sse.MoveHighToLow(t1, t0), t + MR);
            *(ulong*)(t + MR + 4) = lo.GetElement(1);
            Vector128.Store(Sse.MoveLowToHigh(t2, t3), t + 2 * MR);
            *(ulong*)(t + 2 * MR + 4) = hi.GetElement(0);
            Vector128.Store(Sse.MoveHighToLow(t3, t2), t + 3 * MR);
            *(ulong*)(t + 3 * MR + 4) = hi.GetElement(1);
        }
        return p;
    }

    /// <summary>Panels [p0, p1) of op(B)[K, N], each [K, NR] with columns past N zeroed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackBPanels(float* dst, float* b, nint ldb, bool transB, int n, int k, int p0, int p1)
    {
        int nr = NR;
        for (int jp = p0; jp < p1; jp++)
        {
            int j0 = jp * nr, ncols = Math.Min(nr, n - j0);
            float* panel = dst + (nint)jp * k * nr;
            if (!transB)
            {
                for (int p = 0; p < k; p++)
                {
                    new ReadOnlySpan<float>(b + p * ldb + j0, ncols).CopyTo(new Span<float>(panel + p * nr, ncols));
                    if (ncols < nr) new Span<float>(panel + p * nr + ncols, nr - ncols).Clear();
                }
            }
            else
            {
                // Walk K in slices so the strided writes of one slice stay in L1 across the NR columns.
                const int slice = 64;
                for (int ps = 0; ps < k; ps += slice)
                {
                    int pe = Math.Min(k, ps + slice);
                    for (int j = 0; j < ncols; j++)
                    {
                        float* src = b + (j0 + j) * ldb;
                        float* d = panel + j;
                        for (int p = ps; p < pe; p++) d[p * nr] = src[p];
                    }
                    for (int p = ps; p < pe; p++)
                        if (ncols < nr) new Span<float>(panel + p * nr + ncols, nr - ncols).Clear();
                }
            }
        }
    }

    /// <summary>Plain loop for tiny problems; the same FMA chain per element as the blocked kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SmallMultiply(bool transA, bool transB, int m, int n, int k,
        float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate)
    {
        nint ars = transA ? 1 : lda, aps = transA ? lda : 1;
        nint bcs = transB ? ldb : 1, bps = transB ? 1 : ldb;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float* ap = a + i * ars, bp = b + j * bcs;
                float sum = accumulate ? c[i * ldc + j] : 0f;
                for (int p = 0; p < k; p++, ap += aps, bp += bps) sum = GemmMicro.ChainStep(*ap, *bp, sum);
                c[i * ldc + j] = sum;
            }
    }

    /// <summary>One MR × NR tile (mr ≤ MR rows) over one K block: widest ISA first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(int mr, int kc, float* a, nint rs, nint ps, float* b, float* c, nint ldc, bool load)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            switch (mr)
            {
                case 6: GemmMicro.Kernel512<R6>(kc, a, rs, ps, b, c, ldc, load); break;
                case 5: GemmMicro.Kernel512<R5>(kc, a, rs, ps, b, c, ldc, load); break;
                case 4: GemmMicro.Kernel512<R4>(kc, a, rs, ps, b, c, ldc, load); break;
                case 3: GemmMicro.Kernel512<R3>(kc, a, rs, ps, b, c, ldc, load); break;
                case 2: GemmMicro.Kernel512<R2>(kc, a, rs, ps, b, c, ldc, load); break;
                default: GemmMicro.Kernel512<R1>(kc, a, rs, ps, b, c, ldc, load); break;
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            switch (mr)
            {
                case 6: GemmMicro.Kernel256<R6>(kc, a, rs, ps, b, c, ldc, load); break;
                case 5: GemmMicro.Kernel256<R5>(kc, a, rs, ps, b, c, ldc, load); break;
                case 4: GemmMicro.Kernel256<R4>(kc, a, rs, ps, b, c, ldc, load); break;
                case 3: GemmMicro.Kernel256<R3>(kc, a, rs, ps, b, c, ldc, load); break;
                case 2: GemmMicro.Kernel256<R2>(kc, a, rs, ps, b, c, ldc, load); break;
                default: GemmMicro.Kernel256<R1>(kc, a, rs, ps, b, c, ldc, load); break;
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            switch (mr)
            {
                case 6: GemmMicro.Kernel128<R6>(kc, a, rs, ps, b, c, ldc, load); break;
                case 5: GemmMicro.Kernel128<R5>(kc, a, rs, ps, b, c, ldc, load); break;
                case 4: GemmMicro.Kernel128<R4>(kc, a, rs, ps, b, c, ldc, load); break;
                case 3: GemmMicro.Kernel128<R3>(kc, a, rs, ps, b, c, ldc, load); break;
                case 2: GemmMicro.Kernel128<R2>(kc, a, rs, ps, b, c, ldc, load); break;
                default: GemmMicro.Kernel128<R1>(kc, a, rs, ps, b, c, ldc, load); break;
            }
        }
        else GemmMicro.KernelScalar(mr, kc, a, rs, ps, b, c, ldc, load);
    }
}

/// <summary>
/// op(B) packed into panels of <c>Gemm.NR</c> columns for
/// <see cref="Gemm.Multiply(bool, int, ReadOnlySpan{float}, int, PackedMatrix, Span{float}, int, bool, WorkerTeam?)"/>.
/// <see cref="Pack"/> refills it in place (no allocation once it is large enough), so a layer can keep one
/// per weight and repack after every optimiser step.
/// </summary>
public sealed unsafe class PackedMatrix
{
    internal float[] Buffer = [];
    internal int Start;

    /// <summary>First packed float; the buffer is pinned, so the address stays valid until the next larger <see cref="Pack"/>.</summary>
    internal float* Pointer => (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref Buffer[Start]);

    /// <summary>N: columns of op(B) (rows of B when it was packed transposed).</summary>
    public int Columns { get; private set; }
    /// <summary>K: rows of op(B), the reduction depth.</summary>
    public int Depth { get; private set; }

    /// <summary>Packs op(B)[K = k, N = n]: B stored [n, ldb] when <paramref name="transB"/>, else [k, ldb].</summary>
    public void Pack(bool transB, int n, int k, ReadOnlySpan<float> b, int ldb)
    {
        Gemm.Validate(false, transB, 0, n, k, 0, Math.Max(k, 1), b.Length, ldb, 0, Math.Max(n, 1));
        int nr = Gemm.NR, panels = (n + nr - 1) / nr;
        long need = (long)panels * k * nr;
        if (need > Array.MaxLength - 16) throw new ArgumentException($"packed B of [{k}, {n}] is too large");
        if (Buffer.Length < need + 16) Buffer = GC.AllocateUninitializedArray<float>((int)need + 16, pinned: true);
        fixed (float* raw = Buffer) fixed (float* pb = b)
        {
            float* dst = ThreadScratch.Align(raw);
            Start = (int)(dst - raw);
            if (need > 0) Gemm.PackBPanels(dst, pb, ldb, transB, n, k, 0, panels);
        }
        Columns = n; Depth = k;
    }
}

/// <summary>Per-thread packing buffers, pinned (so aligned offsets stay valid) and grown, never shrunk.</summary>
internal static unsafe class ThreadScratch
{
    [ThreadStatic] private static float[]? _worker;
    [ThreadStatic] private static float[]? _packedB;
    [ThreadStatic] private static int[]? _cursors;

    /// <summary>Chunk cursors for a team of <paramref name="workers"/>, one cache line each.</summary>
    public static int[] Cursors(int workers)
    {
        int need = workers * Gemm.Chunks.Stride + 16;
        if (_cursors is null || _cursors.Length < need) _cursors = GC.AllocateArray<int>(need, pinned: true);
        return _cursors;
    }

    public static float[] Worker(long floats) => Get(ref _worker, floats);
    public static float[] PackedB(long floats) => Get(ref _packedB, floats);

    /// <summary>First 64-byte boundary in the buffer: whole-vector loads of packed panels never split a line.</summary>
    public static float* Align(float* p) => (float*)(((nuint)p + 63) & ~(nuint)63);

    private static float[] Get(ref float[]? slot, long floats)
    {
        if (slot is null || slot.Length < floats + 16)
        {
            if (floats > Array.MaxLength - 16) throw new ArgumentException($"GEMM packing buffer of {floats} floats is too large");
            slot = GC.AllocateUninitializedArray<float>((int)Math.Max(floats + 16, 1024), pinned: true);
        }
        return slot;
    }
}
