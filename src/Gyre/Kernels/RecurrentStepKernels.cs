using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Gyre.Kernels;

/// <summary>
/// Fused recurrent steps for a single sequence (batch 1): h·W_hhᵀ as a register-blocked GEMV over blocks
/// of units, each block's gate math done right after its accumulation from an L1-resident tile, so the
/// G·H gate pre-activations never go through a [G·H] buffer and no separate gate kernel runs.
/// </summary>
/// <remarks>
/// Dimension letters: H hidden units, G gate blocks (3 GRU: r | z | n; 4 LSTM: i | f | g | o), K = H the
/// reduction depth, Hp = H rounded up to 16 (one Vector512 of units).
/// <para>
/// W_hh [G·H, H] is repacked by <see cref="PackUnitBlocks"/> into blocks of U units (64 while 64 fit,
/// then 16) that hold all G gate rows of those units: block at unit u0 is [K, G, U] at offset u0·G·K,
/// so one pass over K feeds G·U/16 accumulators (12 for a 64-unit GRU block, 16 for LSTM) from one
/// contiguous stream. At batch 1 a step is bound by streaming W_hh from L2 (196 KB at H = 128).
/// </para>
/// <para>
/// Every pre-activation is the chain acc = init; acc = fma(W[u, k], h[k], acc) for k = 0..K−1, and the
/// gate math is the same expression as <see cref="GruGates"/> / <see cref="LstmGates"/>: the result is
/// bit-identical to the GEMM + gate-kernel path, and to itself whatever the split of blocks over threads.
/// </para>
/// <para>
/// Two widths: Vector512, or Vector256 with FMA (AVX2 machines), where a 16-unit piece is two vectors and a block's
/// accumulators do not fit the 16 registers at once, so the K loop runs once per slice of the block (32 units of a GRU
/// block, 16 of an LSTM one) and the multi-row steps take the GEMM's 6×16 tile once per gate, over narrow blocks laid
/// gate-major (<see cref="GateMajorNarrowBlocks"/>). Every chain and every gate expression is the same, so the two
/// widths give the same bits. Callers take the GEMM path where neither is accelerated.
/// </para>
/// </remarks>
internal static unsafe class RecurrentStepKernels
{
    public const int Lanes = 16;
    public const int Wide = 64;

    /// <summary>
    /// Whether the narrow (16-unit) blocks are laid gate-major, [G, K, 16], instead of [K, G, 16]: where the multi-row
    /// steps take the 6×16 tile once per gate (no Vector512), each gate's [K, 16] slice is then one contiguous stream, as
    /// the GEMM's packed panels are; strided by G·16 floats it was read from L2 line by line once K·64 bytes outgrew L1
    /// (GRU H = 768 on one thread: 1.8× slower than the GEMM path).
    /// </summary>
    internal static bool GateMajorNarrowBlocks => !Vector512.IsHardwareAccelerated;

    public static bool IsSupported => Vector512.IsHardwareAccelerated || (Vector256.IsHardwareAccelerated && Fma.IsSupported);

    /// <summary>dst [16] ← src [16]: one Vector512, or two Vector256 where 512 bits are not accelerated.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy16(float* src, float* dst)
    {
        if (Vector512.IsHardwareAccelerated) Vector512.Store(Vector512.Load(src), dst);
        else { Vector256.Store(Vector256.Load(src), dst); Vector256.Store(Vector256.Load(src + 8), dst + 8); }
    }

    /// <summary>Hp: H rounded up to whole vectors.</summary>
    public static int PaddedUnits(int hidden) => (hidden + Lanes - 1) / Lanes * Lanes;

    /// <summary>Floats <see cref="PackUnitBlocks"/> writes: Hp·G·K.</summary>
    public static long PackedLength(int hidden, int gates) => PackedLength(hidden, gates, hidden);

    /// <summary>Floats <see cref="PackUnitBlocks"/> writes for a [G·H, K] matrix of depth K: Hp·G·K.</summary>
    public static long PackedLength(int hidden, int gates, int depth) => (long)PaddedUnits(hidden) * gates * depth;

    /// <summary>Width of the block that starts at unit u0: 64 while a whole wide block fits in Hp, else 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockWidth(int u0, int paddedUnits) => u0 + Wide <= paddedUnits / Wide * Wide ? Wide : Lanes;

    /// <summary>
    /// dst [Hp·G·K] ← W_hh [G·H, K] (row-major, row = gate·H + unit) in unit blocks; padded units are zero.
    /// <paramref name="narrow"/>: every block 16 units ([K, G, 16], the B panel of <see cref="LstmRowsStep"/>; gate-major
    /// [G, K, 16] where <see cref="GateMajorNarrowBlocks"/>).
    /// <paramref name="depth"/>: K when it is not H (W_ih [G·H, I] for the in-step projection); 0 means H.
    /// </summary>
    /// <remarks>
    /// A transpose, 16 units × 16 k at a time through an L1 tile: row-by-row reads of W_hh, then one contiguous
    /// 64-byte store per k. Writing each unit's K values straight to their strided places (one cache line per
    /// float) was 4× slower (H = 128: 81 vs 20 µs), and an inference call that packs pays it on one thread.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackUnitBlocks(float* dst, float* w, int hidden, int gates, bool narrow = false, int depth = 0)
    {
        int hp = PaddedUnits(hidden), k = depth > 0 ? depth : hidden;
        float* tile = stackalloc float[Lanes * Lanes];              // [16 k, 16 units]
        for (int u0 = 0; u0 < hp;)
        {
            int width = narrow ? Lanes : BlockWidth(u0, hp);
            float* block = dst + (nint)u0 * gates * k;
            bool gateMajor = narrow && GateMajorNarrowBlocks;
            nint rowStride = gateMajor ? width : (nint)gates * width;
            for (int g = 0; g < gates; g++)
                for (int v = 0; v < width; v += Lanes)
                {
                    int valid = Math.Min(Lanes, hidden - (u0 + v));
                    float* d = block + (gateMajor ? (nint)g * k * width : g * width) + v;
                    for (int p0 = 0; p0 < k; p0 += Lanes)
                    {
                        int kk = Math.Min(Lanes, k - p0);
                        for (int u = 0; u < Lanes; u++)
                            if (u < valid)
                            {
                                float* src = w + ((nint)g * hidden + u0 + v + u) * k + p0;   // row g·H + unit of [G·H, K]
                                for (int q = 0; q < kk; q++) tile[q * Lanes + u] = src[q];
                            }
                            else
                                for (int q = 0; q < kk; q++) tile[q * Lanes + u] = 0f;
                        for (int q = 0; q < kk; q++) Copy16(tile + q * Lanes, d + (nint)(p0 + q) * rowStride);
                    }
                }
            u0 += width;
        }
    }

    // The K loops and the gate math are separate small methods: one method holding both (12 to 16
    // accumulators plus a dozen inlined σ/tanh) exceeded the JIT's inlining budget, which then called
    // Vector512.Load out of line and kept the accumulators on the stack (3× slower). The accumulators
    // go to a 64-unit tile on the stack (L1) between the two, never to the [G·H] gate buffers.

    // ------------------------------------------------------------------ GRU

    /// <summary>
    /// One GRU step of units [u0, u1) (block-aligned): gh = b_hh + W_hh·h, then r = σ(gi_r + gh_r),
    /// z = σ(gi_z + gh_z), n = tanh(gi_n + r ⊙ gh_n), h' = n + z ⊙ (h − n).
    /// w: packed blocks; biasHh [3, Hp] zero-padded (null: no bias); gi [3H] = x·W_ihᵀ + b_ih;
    /// hPrev, hNext [H]; saved [4H] (r | z | n | gh_n) or null.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GruStep(float* hNext, float* saved, float* gi, float* hPrev, float* w, float* biasHh,
        int hidden, int u0, int u1)
    {
        int hp = PaddedUnits(hidden), k = hidden;
        nint hs = hidden;
        float* tile = stackalloc float[3 * Wide + 9 * Lanes + Lanes];
        float* acc = (float*)(((nuint)tile + 63) & ~(nuint)63);   // [3, width] pre-activations gh
        float* stage = acc + 3 * Wide;                             // partial-vector staging
        for (int u = u0; u < u1;)
        {
            int width = BlockWidth(u, hp);
            float* block = w + (nint)u * 3 * k;
            for (int g = 0; g < 3; g++)
                if (biasHh != null) new ReadOnlySpan<float>(biasHh + g * hp + u, width).CopyTo(new Span<float>(acc + g * width, width));
                else new Span<float>(acc + g * width, width).Clear();
            if (!Vector512.IsHardwareAccelerated)
            {
                if (width == Wide) { Accumulate256x12(acc, block, hPrev, k, 192, 64); Accumulate256x12(acc + 32, block + 32, hPrev, k, 192, 64); }
                else Accumulate256x6(acc, block, hPrev, k);
            }
            else if (width == Wide) Accumulate12(acc, block, hPrev, k); else Accumulate3(acc, block, hPrev, k);
            if (u + width <= hidden)
                GruMath(hNext + u, saved == null ? null : saved + u, hs, gi + u, hs, hPrev + u, acc, width);
            else
            {
                // The last, partial vector of units: stage it so no load or store leaves [0, H).
                int valid = hidden - u;
                new Span<float>(stage, 9 * Lanes).Clear();
                float* tGi = stage, tHp = stage + 3 * Lanes, tOut = stage + 4 * Lanes, tSaved = stage + 5 * Lanes;
                for (int g = 0; g < 3; g++) new ReadOnlySpan<float>(gi + g * hs + u, valid).CopyTo(new Span<float>(tGi + g * Lanes, valid));
                new ReadOnlySpan<float>(hPrev + u, valid).CopyTo(new Span<float>(tHp, valid));
                GruMath(tOut, saved == null ? null : tSaved, Lanes, tGi, Lanes, tHp, acc, Lanes);
                new ReadOnlySpan<float>(tOut, valid).CopyTo(new Span<float>(hNext + u, valid));
                if (saved != null)
                    for (int g = 0; g < 4; g++) new ReadOnlySpan<float>(tSaved + g * Lanes, valid).CopyTo(new Span<float>(saved + g * hs + u, valid));
            }
            u += width;
        }
    }

    /// <summary>
    /// Gate math of <paramref name="units"/> (a multiple of 16) units of <paramref name="rows"/> rows from gh = acc
    /// [3, units] (row i at acc + i·accRow); gate g of gi at gi + g·gs, of saved at saved + g·ss; row i of hNext and
    /// hPrev at + i·stateRow, of gi at + i·giRow, of saved at + i·savedRow. Same expression as <see cref="GruGates"/>.
    /// A multi-row step passes its whole register tile (up to 6 rows) in one call: the activations' constants are set
    /// up once for all of it, and a call per row of 16 units cost as much again as the math (measured with AVX2).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GruMath(float* hNext, float* saved, nint ss, float* gi, nint gs, float* hPrev, float* acc, int units,
        int rows = 1, nint stateRow = 0, nint giRow = 0, nint savedRow = 0, nint accRow = 0)
    {
        if (Vector512.IsHardwareAccelerated)
            GruMath<Simd512, Vector512<float>>(hNext, saved, ss, gi, gs, hPrev, acc, units, rows, stateRow, giRow, savedRow, accRow);
        else
        {
            // 16 ymm registers cannot hold three activations' constants and chains at once (the one-pass loop spilled
            // both to the stack): r and z first, in place on the L1 tile, one loop each, then the rest.
            SigmoidOfSumInPlace<Simd256, Vector256<float>>(acc, gi, units, rows, accRow, giRow);
            SigmoidOfSumInPlace<Simd256, Vector256<float>>(acc + units, gi + gs, units, rows, accRow, giRow);
            GruCandidateUpdate<Simd256, Vector256<float>>(hNext, saved, ss, gi, gs, hPrev, acc, units, rows, stateRow, giRow, savedRow, accRow);
        }
    }

    /// <summary>p[0..n) ← σ(x[0..n) + p[0..n)) in each of <paramref name="rows"/> rows (pRow, xRow apart), n a multiple of the vector width.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void SigmoidOfSumInPlace<TS, TV>(float* p, float* x, int n, int rows, nint pRow, nint xRow)
        where TS : struct, ISimd<TV> where TV : struct
    {
        for (int i = 0; i < rows; i++, p += pRow, x += xRow)
            for (int j = 0; j < n; j += TS.Count) Store<TS, TV>(Activations.Sigmoid<TS, TV>(TS.Add(Load<TS, TV>(x + j), Load<TS, TV>(p + j))), p + j);
    }

    /// <summary>The rest of <see cref="GruMath"/> from acc [3, units] holding r | z (activated) | gh_n.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void GruCandidateUpdate<TS, TV>(float* hNext, float* saved, nint ss, float* gi, nint gs, float* hPrev, float* acc,
        int units, int rows, nint stateRow, nint giRow, nint savedRow, nint accRow)
        where TS : struct, ISimd<TV> where TV : struct
    {
        for (int row = 0; row < rows; row++, hNext += stateRow, hPrev += stateRow, gi += giRow, acc += accRow, saved += saved == null ? 0 : savedRow)
            for (int j = 0; j < units; j += TS.Count)
                GruFinish<TS, TV>(hNext + j, saved == null ? null : saved + j, ss, gi + 2 * gs + j, hPrev + j,
                    Load<TS, TV>(acc + j), Load<TS, TV>(acc + units + j), Load<TS, TV>(acc + 2 * units + j));
    }

    /// <summary>n = tanh(gi_n + r ⊙ gh_n), h' = n + z ⊙ (h − n) and the saved r | z | n | gh_n of one vector of units.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GruFinish<TS, TV>(float* hNext, float* saved, nint ss, float* giN, float* hPrev, TV r, TV z, TV ghN)
        where TS : struct, ISimd<TV> where TV : struct
    {
        var n = Activations.Tanh<TS, TV>(TS.MulAdd(r, ghN, Load<TS, TV>(giN)));
        var hp = Load<TS, TV>(hPrev);
        Store<TS, TV>(TS.MulAdd(z, TS.Sub(hp, n), n), hNext);
        if (saved != null)
        {
            Store<TS, TV>(r, saved);
            Store<TS, TV>(z, saved + ss);
            Store<TS, TV>(n, saved + 2 * ss);
            Store<TS, TV>(ghN, saved + 3 * ss);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void GruMath<TS, TV>(float* hNext, float* saved, nint ss, float* gi, nint gs, float* hPrev, float* acc, int units,
        int rows, nint stateRow, nint giRow, nint savedRow, nint accRow)
        where TS : struct, ISimd<TV> where TV : struct
    {
        for (int row = 0; row < rows; row++, hNext += stateRow, hPrev += stateRow, gi += giRow, acc += accRow, saved += saved == null ? 0 : savedRow)
            for (int j = 0; j < units; j += TS.Count)
            {
                var r = Activations.Sigmoid<TS, TV>(TS.Add(Load<TS, TV>(gi + j), Load<TS, TV>(acc + j)));
                var z = Activations.Sigmoid<TS, TV>(TS.Add(Load<TS, TV>(gi + gs + j), Load<TS, TV>(acc + units + j)));
                GruFinish<TS, TV>(hNext + j, saved == null ? null : saved + j, ss, gi + 2 * gs + j, hPrev + j, r, z, Load<TS, TV>(acc + 2 * units + j));
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Load<TS, TV>(float* p) where TS : struct, ISimd<TV> where TV : struct => TS.Load(ref *p, 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TS, TV>(TV v, float* p) where TS : struct, ISimd<TV> where TV : struct => TS.Store(v, ref *p, 0);

    /// <summary>acc [3, 64] += block [K, 3, 64] · h [K]: 12 accumulators, one broadcast per k.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Accumulate12(float* acc, float* row, float* h, int k)
    {
        Vector512<float> a0 = Vector512.Load(acc), a1 = Vector512.Load(acc + 16), a2 = Vector512.Load(acc + 32), a3 = Vector512.Load(acc + 48);
        Vector512<float> a4 = Vector512.Load(acc + 64), a5 = Vector512.Load(acc + 80), a6 = Vector512.Load(acc + 96), a7 = Vector512.Load(acc + 112);
        Vector512<float> a8 = Vector512.Load(acc + 128), a9 = Vector512.Load(acc + 144), a10 = Vector512.Load(acc + 160), a11 = Vector512.Load(acc + 176);
        for (int p = 0; p < k; p++, row += 192)
        {
            var x = Vector512.Create(h[p]);
            a0 = Vector512.FusedMultiplyAdd(Vector512.Load(row), x, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 16), x, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 32), x, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 48), x, a3);
            a4 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 64), x, a4);
            a5 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 80), x, a5);
            a6 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 96), x, a6);
            a7 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 112), x, a7);
            a8 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 128), x, a8);
            a9 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 144), x, a9);
            a10 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 160), x, a10);
            a11 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 176), x, a11);
        }
        Vector512.Store(a0, acc); Vector512.Store(a1, acc + 16); Vector512.Store(a2, acc + 32); Vector512.Store(a3, acc + 48);
        Vector512.Store(a4, acc + 64); Vector512.Store(a5, acc + 80); Vector512.Store(a6, acc + 96); Vector512.Store(a7, acc + 112);
        Vector512.Store(a8, acc + 128); Vector512.Store(a9, acc + 144); Vector512.Store(a10, acc + 160); Vector512.Store(a11, acc + 176);
    }

    /// <summary>acc [3, 16] += block [K, 3, 16] · h [K].</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Accumulate3(float* acc, float* row, float* h, int k)
    {
        Vector512<float> a0 = Vector512.Load(acc), a1 = Vector512.Load(acc + 16), a2 = Vector512.Load(acc + 32);
        for (int p = 0; p < k; p++, row += 48)
        {
            var x = Vector512.Create(h[p]);
            a0 = Vector512.FusedMultiplyAdd(Vector512.Load(row), x, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 16), x, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 32), x, a2);
        }
        Vector512.Store(a0, acc); Vector512.Store(a1, acc + 16); Vector512.Store(a2, acc + 32);
    }

    /// <summary>
    /// Vector256, 32 units of three gates: acc[g·as + 0..32) += Σ_k row[k·rs + g·as + 0..32) · h[k] for g = 0..2, 12
    /// accumulators (a 64-unit GRU block in two calls: rs 192, as 64, starting at unit 0 and at unit 32).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Accumulate256x12(float* acc, float* row, float* h, int k, nint rs, nint gs)
    {
        float* c1 = acc + gs, c2 = acc + 2 * gs;
        Vector256<float> a0 = Vector256.Load(acc), a1 = Vector256.Load(acc + 8), a2 = Vector256.Load(acc + 16), a3 = Vector256.Load(acc + 24);
        Vector256<float> a4 = Vector256.Load(c1), a5 = Vector256.Load(c1 + 8), a6 = Vector256.Load(c1 + 16), a7 = Vector256.Load(c1 + 24);
        Vector256<float> a8 = Vector256.Load(c2), a9 = Vector256.Load(c2 + 8), a10 = Vector256.Load(c2 + 16), a11 = Vector256.Load(c2 + 24);
        nint g1 = gs, g2 = 2 * gs;
        for (int p = 0; p < k; p++, row += rs)
        {
            var x = Vector256.Create(h[p]);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(row), x, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 8), x, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 16), x, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 24), x, a3);
            a4 = Vector256.FusedMultiplyAdd(Vector256.Load(row + g1), x, a4);
            a5 = Vector256.FusedMultiplyAdd(Vector256.Load(row + g1 + 8), x, a5);
            a6 = Vector256.FusedMultiplyAdd(Vector256.Load(row + g1 + 16), x, a6);
            a7 = Vector256.FusedMultiplyAdd(Vector256.Load(row + g1 + 24), x, a7);
            a8 = Vector256.FusedMultiplyAdd(Vector256.Load(row + g2), x, a8);
            a9 = Vector256.FusedMultiplyAdd(Vector256.Load(row + g2 + 8), x, a9);
            a10 = Vector256.FusedMultiplyAdd(Vector256.Load(row + g2 + 16), x, a10);
            a11 = Vector256.FusedMultiplyAdd(Vector256.Load(row + g2 + 24), x, a11);
        }
        Vector256.Store(a0, acc); Vector256.Store(a1, acc + 8); Vector256.Store(a2, acc + 16); Vector256.Store(a3, acc + 24);
        Vector256.Store(a4, c1); Vector256.Store(a5, c1 + 8); Vector256.Store(a6, c1 + 16); Vector256.Store(a7, c1 + 24);
        Vector256.Store(a8, c2); Vector256.Store(a9, c2 + 8); Vector256.Store(a10, c2 + 16); Vector256.Store(a11, c2 + 24);
    }

    /// <summary>Vector256: acc [3, 16] += block [K, 3, 16] · h [K], 6 accumulators.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Accumulate256x6(float* acc, float* row, float* h, int k)
    {
        Vector256<float> a0 = Vector256.Load(acc), a1 = Vector256.Load(acc + 8), a2 = Vector256.Load(acc + 16);
        Vector256<float> a3 = Vector256.Load(acc + 24), a4 = Vector256.Load(acc + 32), a5 = Vector256.Load(acc + 40);
        for (int p = 0; p < k; p++, row += 48)
        {
            var x = Vector256.Create(h[p]);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(row), x, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 8), x, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 16), x, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 24), x, a3);
            a4 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 32), x, a4);
            a5 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 40), x, a5);
        }
        Vector256.Store(a0, acc); Vector256.Store(a1, acc + 8); Vector256.Store(a2, acc + 16);
        Vector256.Store(a3, acc + 24); Vector256.Store(a4, acc + 32); Vector256.Store(a5, acc + 40);
    }

    // ------------------------------------------------------------------ LSTM

    /// <summary>
    /// One LSTM step of units [u0, u1): a = gates + W_hh·h (gates [4H] = x·W_ihᵀ + b_ih + b_hh, read only),
    /// i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').
    /// hNext, cNext, cPrev [H]; saved [5H] (i | f | g | o | tanh c') or null.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LstmStep(float* hNext, float* cNext, float* saved, float* gates, float* hPrev, float* cPrev,
        float* w, int hidden, int u0, int u1)
    {
        int hp = PaddedUnits(hidden), k = hidden;
        nint hs = hidden;
        float* tile = stackalloc float[4 * Wide + 8 * Lanes + Lanes];
        float* acc = (float*)(((nuint)tile + 63) & ~(nuint)63);   // [4, width] pre-activations
        float* stage = acc + 4 * Wide;                             // partial-vector staging
        for (int u = u0; u < u1;)
        {
            int width = BlockWidth(u, hp);
            float* block = w + (nint)u * 4 * k;
            bool partial = u + width > hidden;
            int valid = Math.Min(width, hidden - u);
            for (int g = 0; g < 4; g++)
            {
                new ReadOnlySpan<float>(gates + g * hs + u, valid).CopyTo(new Span<float>(acc + g * width, valid));
                if (partial) new Span<float>(acc + g * width + valid, width - valid).Clear();
            }
            if (!Vector512.IsHardwareAccelerated)
                for (int q = 0; q < width; q += Lanes) Accumulate256x8(acc + q, block + q, hPrev, k, 4 * width, width);
            else if (width == Wide) Accumulate16(acc, block, hPrev, k); else Accumulate4(acc, block, hPrev, k);
            if (!partial)
                LstmMath(hNext + u, cNext + u, saved == null ? null : saved + u, hs, cPrev + u, acc, width);
            else
            {
                // Stage the partial vector of units so no load or store leaves [0, H).
                new Span<float>(stage, 8 * Lanes).Clear();
                new ReadOnlySpan<float>(cPrev + u, valid).CopyTo(new Span<float>(stage, valid));
                float* tH = stage + Lanes, tC = stage + 2 * Lanes, tSaved = stage + 3 * Lanes;
                LstmMath(tH, tC, saved == null ? null : tSaved, Lanes, stage, acc, Lanes);
                new ReadOnlySpan<float>(tH, valid).CopyTo(new Span<float>(hNext + u, valid));
                new ReadOnlySpan<float>(tC, valid).CopyTo(new Span<float>(cNext + u, valid));
                if (saved != null)
                    for (int g = 0; g < 5; g++) new ReadOnlySpan<float>(tSaved + g * Lanes, valid).CopyTo(new Span<float>(saved + g * hs + u, valid));
            }
            u += width;
        }
    }

    /// <summary>
    /// Gate math of <paramref name="units"/> units of <paramref name="rows"/> rows from a = acc [4, units] (row i at acc +
    /// i·accRow; of hNext, cNext and cPrev at + i·stateRow, of saved at + i·savedRow); same expression as
    /// <see cref="LstmGates"/>. One call for a whole register tile, as <see cref="GruMath"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LstmMath(float* hNext, float* cNext, float* saved, nint ss, float* cPrev, float* acc, int units,
        int rows = 1, nint stateRow = 0, nint savedRow = 0, nint accRow = 0)
    {
        if (Vector512.IsHardwareAccelerated)
            LstmMath<Simd512, Vector512<float>>(hNext, cNext, saved, ss, cPrev, acc, units, rows, stateRow, savedRow, accRow);
        else
        {
            // 16 ymm registers cannot hold five activations' constants and chains at once (the one-pass loop spilled
            // both to the stack): the four gate activations first, in place on the L1 tile, one function a loop.
            SigmoidInPlace<Simd256, Vector256<float>>(acc, 2 * units, rows, accRow);
            TanhInPlace<Simd256, Vector256<float>>(acc + 2 * units, units, rows, accRow);
            SigmoidInPlace<Simd256, Vector256<float>>(acc + 3 * units, units, rows, accRow);
            LstmCellUpdate<Simd256, Vector256<float>>(hNext, cNext, saved, ss, cPrev, acc, units, rows, stateRow, savedRow, accRow);
        }
    }

    /// <summary>p[0..n) ← σ(p[0..n)) in each of <paramref name="rows"/> rows (pRow apart), n a multiple of the vector width.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void SigmoidInPlace<TS, TV>(float* p, int n, int rows, nint pRow) where TS : struct, ISimd<TV> where TV : struct
    {
        for (int i = 0; i < rows; i++, p += pRow)
            for (int j = 0; j < n; j += TS.Count) Store<TS, TV>(Activations.Sigmoid<TS, TV>(Load<TS, TV>(p + j)), p + j);
    }

    /// <summary>p[0..n) ← tanh(p[0..n)) in each of <paramref name="rows"/> rows (pRow apart), n a multiple of the vector width.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void TanhInPlace<TS, TV>(float* p, int n, int rows, nint pRow) where TS : struct, ISimd<TV> where TV : struct
    {
        for (int i = 0; i < rows; i++, p += pRow)
            for (int j = 0; j < n; j += TS.Count) Store<TS, TV>(Activations.Tanh<TS, TV>(Load<TS, TV>(p + j)), p + j);
    }

    /// <summary>The rest of <see cref="LstmMath"/> from activated gates acc [4, units] (i | f | g | o).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void LstmCellUpdate<TS, TV>(float* hNext, float* cNext, float* saved, nint ss, float* cPrev, float* acc, int units,
        int rows, nint stateRow, nint savedRow, nint accRow)
        where TS : struct, ISimd<TV> where TV : struct
    {
        for (int row = 0; row < rows; row++, hNext += stateRow, cNext += stateRow, cPrev += stateRow, acc += accRow, saved += saved == null ? 0 : savedRow)
            for (int j = 0; j < units; j += TS.Count)
                LstmFinish<TS, TV>(hNext + j, cNext + j, saved == null ? null : saved + j, ss, cPrev + j,
                    Load<TS, TV>(acc + j), Load<TS, TV>(acc + units + j), Load<TS, TV>(acc + 2 * units + j), Load<TS, TV>(acc + 3 * units + j));
    }

    /// <summary>c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c') and the saved i | f | g | o | tanh(c') of one vector of units.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LstmFinish<TS, TV>(float* hNext, float* cNext, float* saved, nint ss, float* cPrev, TV i, TV f, TV g, TV o)
        where TS : struct, ISimd<TV> where TV : struct
    {
        var c = TS.MulAdd(f, Load<TS, TV>(cPrev), TS.Mul(i, g));
        var tc = Activations.Tanh<TS, TV>(c);
        Store<TS, TV>(c, cNext);
        Store<TS, TV>(TS.Mul(o, tc), hNext);
        if (saved != null)
        {
            Store<TS, TV>(i, saved);
            Store<TS, TV>(f, saved + ss);
            Store<TS, TV>(g, saved + 2 * ss);
            Store<TS, TV>(o, saved + 3 * ss);
            Store<TS, TV>(tc, saved + 4 * ss);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void LstmMath<TS, TV>(float* hNext, float* cNext, float* saved, nint ss, float* cPrev, float* acc, int units,
        int rows, nint stateRow, nint savedRow, nint accRow)
        where TS : struct, ISimd<TV> where TV : struct
    {
        for (int row = 0; row < rows; row++, hNext += stateRow, cNext += stateRow, cPrev += stateRow, acc += accRow, saved += saved == null ? 0 : savedRow)
            for (int j = 0; j < units; j += TS.Count)
                LstmFinish<TS, TV>(hNext + j, cNext + j, saved == null ? null : saved + j, ss, cPrev + j,
                    Activations.Sigmoid<TS, TV>(Load<TS, TV>(acc + j)), Activations.Sigmoid<TS, TV>(Load<TS, TV>(acc + units + j)),
                    Activations.Tanh<TS, TV>(Load<TS, TV>(acc + 2 * units + j)), Activations.Sigmoid<TS, TV>(Load<TS, TV>(acc + 3 * units + j)));
    }

    /// <summary>acc [4, 64] += block [K, 4, 64] · h [K]: 16 accumulators, one broadcast per k.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Accumulate16(float* acc, float* row, float* h, int k)
    {
        Vector512<float> a0 = Vector512.Load(acc), a1 = Vector512.Load(acc + 16), a2 = Vector512.Load(acc + 32), a3 = Vector512.Load(acc + 48);
        Vector512<float> a4 = Vector512.Load(acc + 64), a5 = Vector512.Load(acc + 80), a6 = Vector512.Load(acc + 96), a7 = Vector512.Load(acc + 112);
        Vector512<float> a8 = Vector512.Load(acc + 128), a9 = Vector512.Load(acc + 144), a10 = Vector512.Load(acc + 160), a11 = Vector512.Load(acc + 176);
        Vector512<float> a12 = Vector512.Load(acc + 192), a13 = Vector512.Load(acc + 208), a14 = Vector512.Load(acc + 224), a15 = Vector512.Load(acc + 240);
        for (int p = 0; p < k; p++, row += 256)
        {
            var x = Vector512.Create(h[p]);
            a0 = Vector512.FusedMultiplyAdd(Vector512.Load(row), x, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 16), x, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 32), x, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 48), x, a3);
            a4 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 64), x, a4);
            a5 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 80), x, a5);
            a6 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 96), x, a6);
            a7 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 112), x, a7);
            a8 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 128), x, a8);
            a9 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 144), x, a9);
            a10 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 160), x, a10);
            a11 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 176), x, a11);
            a12 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 192), x, a12);
            a13 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 208), x, a13);
            a14 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 224), x, a14);
            a15 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 240), x, a15);
        }
        Vector512.Store(a0, acc); Vector512.Store(a1, acc + 16); Vector512.Store(a2, acc + 32); Vector512.Store(a3, acc + 48);
        Vector512.Store(a4, acc + 64); Vector512.Store(a5, acc + 80); Vector512.Store(a6, acc + 96); Vector512.Store(a7, acc + 112);
        Vector512.Store(a8, acc + 128); Vector512.Store(a9, acc + 144); Vector512.Store(a10, acc + 160); Vector512.Store(a11, acc + 176);
        Vector512.Store(a12, acc + 192); Vector512.Store(a13, acc + 208); Vector512.Store(a14, acc + 224); Vector512.Store(a15, acc + 240);
    }

    /// <summary>acc [4, 16] += block [K, 4, 16] · h [K].</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Accumulate4(float* acc, float* row, float* h, int k)
    {
        Vector512<float> a0 = Vector512.Load(acc), a1 = Vector512.Load(acc + 16), a2 = Vector512.Load(acc + 32), a3 = Vector512.Load(acc + 48);
        for (int p = 0; p < k; p++, row += 64)
        {
            var x = Vector512.Create(h[p]);
            a0 = Vector512.FusedMultiplyAdd(Vector512.Load(row), x, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 16), x, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 32), x, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 48), x, a3);
        }
        Vector512.Store(a0, acc); Vector512.Store(a1, acc + 16); Vector512.Store(a2, acc + 32); Vector512.Store(a3, acc + 48);
    }

    /// <summary>
    /// Vector256, 16 units of four gates: acc[g·gs + 0..16) += Σ_k row[k·rs + g·gs + 0..16) · h[k] for g = 0..3, 8
    /// accumulators (a 64-unit LSTM block in four calls, rs 256 and gs 64; a 16-unit one in one, rs 64 and gs 16).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Accumulate256x8(float* acc, float* row, float* h, int k, nint rs, nint gs)
    {
        float* c1 = acc + gs, c2 = acc + 2 * gs, c3 = acc + 3 * gs;
        Vector256<float> a0 = Vector256.Load(acc), a1 = Vector256.Load(acc + 8), a2 = Vector256.Load(c1), a3 = Vector256.Load(c1 + 8);
        Vector256<float> a4 = Vector256.Load(c2), a5 = Vector256.Load(c2 + 8), a6 = Vector256.Load(c3), a7 = Vector256.Load(c3 + 8);
        nint g1 = gs, g2 = 2 * gs, g3 = 3 * gs;
        for (int p = 0; p < k; p++, row += rs)
        {
            var x = Vector256.Create(h[p]);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(row), x, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 8), x, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(row + g1), x, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(row + g1 + 8), x, a3);
            a4 = Vector256.FusedMultiplyAdd(Vector256.Load(row + g2), x, a4);
            a5 = Vector256.FusedMultiplyAdd(Vector256.Load(row + g2 + 8), x, a5);
            a6 = Vector256.FusedMultiplyAdd(Vector256.Load(row + g3), x, a6);
            a7 = Vector256.FusedMultiplyAdd(Vector256.Load(row + g3 + 8), x, a7);
        }
        Vector256.Store(a0, acc); Vector256.Store(a1, acc + 8); Vector256.Store(a2, c1); Vector256.Store(a3, c1 + 8);
        Vector256.Store(a4, c2); Vector256.Store(a5, c2 + 8); Vector256.Store(a6, c3); Vector256.Store(a7, c3 + 8);
    }

    // ------------------------------------------------------------------ two-stage cells (MGU, reset-before GRU), batch 1

    /// <summary>
    /// One batch-1 step of a cell whose last gate's recurrent product reads a gated h (MGU: U_h·(f ⊙ h); reset-before GRU:
    /// W_hn·(r ⊙ h)), all H units: stage 1 accumulates the first G − 1 gates' pre-activations gates_g + W_g·h, the cell's
    /// first pointwise kernel gates them and writes the gated h; stage 2 accumulates gates_last + W_last·(gated h) and the
    /// second kernel finishes the step. The products are the GEMM path's (<see cref="Cells.MguCellMath"/>,
    /// <see cref="Cells.GruResetBeforeCellMath"/>) as GEMVs over unit blocks, the same chains (gates, then k = 0..K−1), and
    /// the pointwise kernels are the GEMM path's own, run on Hp-wide rows (their expressions per lane do not depend on the
    /// width), so the same bits. Stage 2 reads every unit of the gated h, so the units do not split over a team.
    /// hNext, hPrev [H]; gates [G·H] (x·W_ihᵀ + both biases, read only); saved [S·H] or null; w: each gate's [H, H] rows
    /// packed apart as a one-gate matrix (<see cref="PackUnitBlocks"/> with G = 1, Hp·K floats each).
    /// </summary>
    /// <summary>Floats of <see cref="TwoStageStep{TMath}"/>'s rows kept on the stack (32 KB); more go to <see cref="_twoStageScratch"/>.</summary>
    private const int TwoStageStackFloats = 8192;

    /// <summary>The rows of <see cref="TwoStageStep{TMath}"/> at large H, one pinned buffer per thread.</summary>
    [ThreadStatic] private static float[]? _twoStageScratch;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TwoStageStep<TMath>(float* hNext, float* saved, float* gates, float* hPrev, float* w, int hidden)
        where TMath : struct, ITwoStageGates
    {
        int hp = PaddedUnits(hidden), k = hidden, g = TMath.Gates, sw = TMath.SavedWidth;
        nint hs = hidden;
        long packed = PackedLength(hidden, 1);
        // On the stack, 64-byte aligned, every row Hp wide: h; the G gates' pre-activations (gated in place); the gated h
        // (stage 2's input, K of it read); h'; the saved rows. Padded units compute from zero weights and a zero h and are
        // never copied out.
        int floats = (2 + g + 1 + sw) * hp;
        // On the stack up to 32 KB; beyond (H over ~800), a per-thread pinned buffer, grown once: a stack frame of
        // (3 + G + S)·4·Hp bytes would overflow a thread's stack at large H.
        float* raw = stackalloc float[floats <= TwoStageStackFloats ? floats + Lanes : 0];
        if (floats > TwoStageStackFloats)
        {
            if (_twoStageScratch is not { } buffer || buffer.Length < floats + Lanes)
                _twoStageScratch = buffer = GC.AllocateUninitializedArray<float>(floats + Lanes, pinned: true);
            raw = (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref buffer[0]);
        }
        float* h = (float*)(((nuint)raw + 63) & ~(nuint)63), pre = h + hp, gated = pre + g * hp, next = gated + hp, rows = next + hp;
        new Span<float>(h, floats).Clear();
        new ReadOnlySpan<float>(hPrev, hidden).CopyTo(new Span<float>(h, hidden));
        for (int gate = 0; gate < g; gate++)
            new ReadOnlySpan<float>(gates + gate * hs, hidden).CopyTo(new Span<float>(pre + gate * hp, hidden));
        for (int gate = 0; gate < g - 1; gate++) AccumulateOneGate(pre + gate * hp, w + gate * packed, h, k, hp);
        TMath.Gate(new Span<float>(gated, hp), new Span<float>(pre, g * hp), new ReadOnlySpan<float>(h, hp), hp);
        AccumulateOneGate(pre + (g - 1) * hp, w + (g - 1) * packed, gated, k, hp);
        TMath.Candidate(new Span<float>(next, hp), saved == null ? default : new Span<float>(rows, sw * hp),
            new ReadOnlySpan<float>(pre, g * hp), new ReadOnlySpan<float>(gated, hp), new ReadOnlySpan<float>(h, hp), hp);
        new ReadOnlySpan<float>(next, hidden).CopyTo(new Span<float>(hNext, hidden));
        if (saved != null)
            for (int q = 0; q < sw; q++) new ReadOnlySpan<float>(rows + q * hp, hidden).CopyTo(new Span<float>(saved + q * hs, hidden));
    }

    /// <summary>acc [Hp] += W [Hp, K] (a one-gate matrix in unit blocks: [K, 64] while 64 fit, then [K, 16]) · x [K].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateOneGate(float* acc, float* w, float* x, int k, int hp)
    {
        for (int u = 0; u < hp;)
        {
            int width = BlockWidth(u, hp);
            float* block = w + (nint)u * k;
            if (Vector512.IsHardwareAccelerated)
            {
                if (width == Wide) Accumulate4(acc + u, block, x, k); else Accumulate1(acc + u, block, x, k);
            }
            else if (width == Wide) Accumulate256x8(acc + u, block, x, k, Wide, Lanes);
            else Accumulate256x2(acc + u, block, x, k);
            u += width;
        }
    }

    /// <summary>acc [16] += block [K, 16] · h [K].</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Accumulate1(float* acc, float* row, float* h, int k)
    {
        Vector512<float> a0 = Vector512.Load(acc);
        for (int p = 0; p < k; p++, row += 16) a0 = Vector512.FusedMultiplyAdd(Vector512.Load(row), Vector512.Create(h[p]), a0);
        Vector512.Store(a0, acc);
    }

    /// <summary>Vector256: acc [16] += block [K, 16] · h [K], two accumulators.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Accumulate256x2(float* acc, float* row, float* h, int k)
    {
        Vector256<float> a0 = Vector256.Load(acc), a1 = Vector256.Load(acc + 8);
        for (int p = 0; p < k; p++, row += 16)
        {
            var x = Vector256.Create(h[p]);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(row), x, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 8), x, a1);
        }
        Vector256.Store(a0, acc); Vector256.Store(a1, acc + 8);
    }

    // ------------------------------------------------------------------ GRU, several rows

    /// <summary>
    /// One GRU step of rows [0, R) and units [u0, u1) (multiples of 16; H a multiple of 16): for each 16-unit block and
    /// 6-row tile, a 6×48 register tile computes gh = b_hh + h·W_hhᵀ of the three gates from the narrow unit block
    /// [K, 3, 16], then <see cref="GruMath"/> runs on that L1 tile with the rows' gx, so [R, 3H] of gh never goes to
    /// memory and no separate gate pass runs. Same FMA chains (b_hh, k = 0..K−1) and gate expression as the GEMM +
    /// <see cref="GruGates"/> path: bit-identical to it, whatever the split of rows or units.
    /// hNext, hPrev [R, H]; saved [R, 4H] (r | z | n | gh_n) or null; w narrow unit blocks [H/16][K, 3, 16] followed by
    /// b_hh [3, H] (<paramref name="biasHh"/>, or null: none); gx [R, 3H] = x·W_ihᵀ + b_ih.
    /// With <paramref name="input"/> (X not null) gx is not read: gi and gh stay apart (n = tanh(gi_n + r ⊙ gh_n)), so a
    /// second tile computes gi = b_ih + x·W_ihᵀ of the tile's rows beside gh (the chain of the projection GEMM: bias,
    /// k = 0..I−1), and no [R, 3H] block of gx goes to memory and back (same bits as projecting first).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GruRowsStep(float* hNext, float* saved, float* gx, float* hPrev, float* w, float* biasHh,
        int rows, int hidden, int u0, int u1, float* nextGx = null, in StepInput input = default)
    {
        int k = hidden;
        nint hs = hidden, gs = 3 * hs;
        const int width = 3 * Lanes;
        float* raw = stackalloc float[2 * Gemm.MR * width + Lanes];
        float* tile = (float*)(((nuint)raw + 63) & ~(nuint)63);   // [6, 3, 16] gh of the tile's rows
        float* tileI = tile + Gemm.MR * width;                     // [6, 3, 16] gi of the tile's rows (with input)
        float* x = input.X;
        for (int u = u0; u < u1; u += Lanes)
        {
            float* block = w + (nint)u * 3 * k;                    // [K, 3, 16]
            float* inBlock = x == null ? null : input.W + (nint)u * 3 * input.Size;   // [I, 3, 16]
            for (int r = 0; r < rows; r += Gemm.MR)
            {
                int mr = Math.Min(Gemm.MR, rows - r);
                InitTileRows(tile, width, biasHh, hs, u, mr, 3);
                // h rows in place: A(i, p) = hPrev[(r + i)·H + p].
                Tile48(mr, k, hPrev + r * hs, hs, block, tile);
                // gi: gate g of row i at gi + i·giRow + g·giGate.
                float* gi;
                nint giRow, giGate;
                if (x == null)
                {
                    gi = gx + r * gs + u; giRow = gs; giGate = hs;
                    if (nextGx != null) PrefetchGates(nextGx + r * gs + u, mr, gs, hs, 3);
                }
                else
                {
                    InitTileRows(tileI, width, input.Bias, hs, u, mr, 3);
                    // x rows in place: A(i, p) = x[(r + i)·ldx + p].
                    Tile48(mr, input.Size, x + r * input.Ldx, input.Ldx, inBlock, tileI);
                    gi = tileI; giRow = width; giGate = Lanes;
                }
                GruMath(hNext + r * hs + u, saved == null ? null : saved + r * 4 * hs + u, hs, gi, giGate, hPrev + r * hs + u,
                    tile, Lanes, mr, stateRow: hs, giRow: giRow, savedRow: 4 * hs, accRow: width);
            }
        }
    }

    /// <summary>Rows [0, mr) of a [mr, G, 16] tile (rowWidth = G·16 apart) ← the bias's units [u, u + 16) of each gate
    /// (gate g at bias + g·hs), or zeros without a bias: where each tile element's chain starts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InitTileRows(float* tile, int rowWidth, float* bias, nint hs, int u, int mr, int gates)
    {
        for (int i = 0; i < mr; i++)
        {
            float* dst = tile + i * rowWidth;
            if (bias == null) { new Span<float>(dst, rowWidth).Clear(); continue; }
            for (int g = 0; g < gates; g++) Copy16(bias + g * hs + u, dst + g * Lanes);
        }
    }

    /// <summary>
    /// The next step's pre-activations of <paramref name="rows"/> rows (gs apart) and one 16-unit block, one 64-byte
    /// piece per gate (hs apart): scattered pieces of a [R, G·H] block the hardware prefetcher does not follow, so the
    /// multi-row steps fetch them a step ahead.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchGates(float* next, int rows, nint gs, nint hs, int gates)
    {
        if (!Sse.IsSupported) return;
        for (int i = 0; i < rows; i++, next += gs)
            for (int g = 0; g < gates; g++) Sse.Prefetch0(next + g * hs);
    }

    /// <summary>tile [mr, 48] += a [mr, K] (rows lda apart) · panel [K, 48].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile48(int mr, int k, float* a, nint lda, float* panel, float* tile)
    {
        const int w = 3 * Lanes;
        if (!Vector512.IsHardwareAccelerated) { TileGates256(mr, k, a, lda, panel, tile, 3); return; }
        switch (mr)
        {
            case 6: GemmMicro.Kernel512x48<R6>(k, a, lda, 1, panel, tile, w); break;
            case 5: GemmMicro.Kernel512x48<R5>(k, a, lda, 1, panel, tile, w); break;
            case 4: GemmMicro.Kernel512x48<R4>(k, a, lda, 1, panel, tile, w); break;
            case 3: GemmMicro.Kernel512x48<R3>(k, a, lda, 1, panel, tile, w); break;
            case 2: GemmMicro.Kernel512x48<R2>(k, a, lda, 1, panel, tile, w); break;
            default: GemmMicro.Kernel512x48<R1>(k, a, lda, 1, panel, tile, w); break;
        }
    }

    // ------------------------------------------------------------------ LSTM, several rows

    /// <summary>
    /// One LSTM step of rows [0, R) and units [u0, u1) (multiples of 16; H a multiple of 16): for each
    /// 16-unit block and 6-row tile, the GEMM register tile computes a [6, 4·16] block of all four gates'
    /// pre-activations a = gates + h·W_hhᵀ from the narrow unit block [K, 4, 16] (the 64-column B panel of
    /// <see cref="GemmMicro.Kernel512{TR}"/>), then the gate math of <see cref="LstmMath"/> runs on that
    /// L1 tile, so the [R, 4H] pre-activations are never written back and no separate gate pass runs.
    /// Same FMA chains (init gates, k = 0..K−1) and gate expression as the GEMM + <see cref="LstmGates"/>
    /// path: bit-identical to it, whatever the split of rows or units.
    /// hNext, cNext, hPrev, cPrev [R, H]; gates [R, 4H] (x·W_ihᵀ + b_ih + b_hh, read only);
    /// saved [R, 5H] or null; w narrow unit blocks [H/16][K, 4, 16].
    /// With <paramref name="input"/> (X not null) gates is not read: the tile starts from the bias and accumulates
    /// x·W_ihᵀ first, the chain of the projection GEMM (bias, k = 0..I−1), then h·W_hhᵀ, so no [R, 4H] block of gx
    /// goes to memory and back (same bits as projecting first).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LstmRowsStep(float* hNext, float* cNext, float* saved, float* gates, float* hPrev, float* cPrev,
        float* w, int rows, int hidden, int u0, int u1, float* nextGates = null, in StepInput input = default)
    {
        // c is state 1: cNext − hNext, the same distance as cPrev − hPrev (states [NS, ·] one stride apart).
        RowsStep4(hNext, hPrev, (nint)(cNext - hNext), saved, 5, gates, w, rows, hidden, u0, u1, nextGates, input, new LstmTile());
    }

    /// <summary>
    /// One sLSTM step (<see cref="SlstmGates"/>) of rows [0, R) and units [u0, u1), exactly as <see cref="LstmRowsStep"/>
    /// with the stabilised exponential gating on the tile: the same FMA chains as the GEMM path and the expression of
    /// <see cref="SlstmGates.Forward"/>, so the same bits. States h, c, n, m at next / prev + j·stateStride ([R, H] each);
    /// saved [R, 5H] or null; <paramref name="expForget"/>: log f = f̃ instead of log σ(f̃).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SlstmRowsStep(float* next, float* prev, nint stateStride, float* saved, float* gates, float* w,
        int rows, int hidden, int u0, int u1, bool expForget, float* nextGates = null, in StepInput input = default) =>
        RowsStep4(next, prev, stateStride, saved, 5, gates, w, rows, hidden, u0, u1, nextGates, input, new SlstmTile { ExpForget = expForget });

    /// <summary>The gate math a four-gate multi-row step runs on its register tile: rows [0, mr) of one 16-unit block,
    /// pre-activations tile [mr, 4, 16]; state j of row i at next / prev + j·stateStride + i·hs; saved [mr, S·H] or null.
    /// A struct, so each cell's step is its own specialisation with the math inlined.</summary>
    private interface ITileGates
    {
        void Apply(float* next, float* prev, nint stateStride, float* saved, float* tile, int mr, nint hs);
    }

    private readonly struct LstmTile : ITileGates
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply(float* next, float* prev, nint stateStride, float* saved, float* tile, int mr, nint hs) =>
            LstmMath(next, next + stateStride, saved, hs, prev + stateStride, tile, Lanes, mr, stateRow: hs, savedRow: 5 * hs, accRow: Wide);
    }

    private readonly struct SlstmTile : ITileGates
    {
        public bool ExpForget { get; init; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply(float* next, float* prev, nint stateStride, float* saved, float* tile, int mr, nint hs) =>
            SlstmGates.TileForward(next, prev, stateStride, saved, tile, mr, hs, ExpForget);
    }

    /// <summary>
    /// The multi-row step of a four-gate cell: for each 16-unit block and 6-row tile, the register tile starts from the
    /// step's gates (or from the bias and x·W_ihᵀ with <paramref name="input"/>), accumulates h·W_hhᵀ from the narrow
    /// unit block [K, 4, 16], and <paramref name="math"/> runs on it. State 0 (h) of row i at next / prev + i·H;
    /// saved rows <paramref name="savedWidth"/>·H floats apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowsStep4<TGates>(float* next, float* prev, nint stateStride, float* saved, int savedWidth, float* gates,
        float* w, int rows, int hidden, int u0, int u1, float* nextGates, in StepInput input, TGates math) where TGates : struct, ITileGates
    {
        int k = hidden;
        nint hs = hidden, gs = 4 * hs, ss = savedWidth * hs;
        float* raw = stackalloc float[Gemm.MR * Wide + Lanes];
        float* tile = (float*)(((nuint)raw + 63) & ~(nuint)63);   // [6, 4, 16] pre-activations
        float* x = input.X;
        for (int u = u0; u < u1; u += Lanes)
        {
            float* block = w + (nint)u * 4 * k;                    // [K, 4, 16], stays in L1 over the row tiles
            float* inBlock = x == null ? null : input.W + (nint)u * 4 * input.Size;   // [I, 4, 16]
            for (int r = 0; r < rows; r += Gemm.MR)
            {
                int mr = Math.Min(Gemm.MR, rows - r);
                if (x == null)
                    for (int i = 0; i < mr; i++)
                    {
                        float* src = gates + (r + i) * gs + u;
                        float* dst = tile + i * Wide;
                        Copy16(src, dst);
                        Copy16(src + hs, dst + Lanes);
                        Copy16(src + 2 * hs, dst + 2 * Lanes);
                        Copy16(src + 3 * hs, dst + 3 * Lanes);
                    }
                else
                {
                    InitTileRows(tile, Wide, input.Bias, hs, u, mr, 4);
                    // x rows in place: A(i, p) = x[(r + i)·ldx + p].
                    Tile(mr, input.Size, x + r * input.Ldx, input.Ldx, inBlock, tile);
                }
                // h rows in place: A(i, p) = hPrev[(r + i)·H + p].
                Tile(mr, k, prev + r * hs, hs, block, tile);
                if (nextGates != null) PrefetchGates(nextGates + r * gs + u, mr, gs, hs, 4);
                math.Apply(next + r * hs + u, prev + r * hs + u, stateStride, saved == null ? null : saved + r * ss + u, tile, mr, hs);
            }
        }
    }

    /// <summary>tile [mr, 64] += a [mr, K] (rows lda apart) · panel [K, 64]: the GEMM's 6×64 register tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(int mr, int k, float* a, nint lda, float* panel, float* tile)
    {
        if (!Vector512.IsHardwareAccelerated) { TileGates256(mr, k, a, lda, panel, tile, 4); return; }
        switch (mr)
        {
            case 6: GemmMicro.Kernel512<R6>(k, a, lda, 1, panel, tile, Wide, true); break;
            case 5: GemmMicro.Kernel512<R5>(k, a, lda, 1, panel, tile, Wide, true); break;
            case 4: GemmMicro.Kernel512<R4>(k, a, lda, 1, panel, tile, Wide, true); break;
            case 3: GemmMicro.Kernel512<R3>(k, a, lda, 1, panel, tile, Wide, true); break;
            case 2: GemmMicro.Kernel512<R2>(k, a, lda, 1, panel, tile, Wide, true); break;
            default: GemmMicro.Kernel512<R1>(k, a, lda, 1, panel, tile, Wide, true); break;
        }
    }

    /// <summary>
    /// Vector256: tile [mr, G·16] += a [mr, K] (rows lda apart) · panel [G, K, 16] (gate-major), as G passes of the
    /// GEMM's 6×16 tile over each gate's contiguous [K, 16] slice (the whole panel row is more accumulators than AVX2
    /// has registers).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TileGates256(int mr, int k, float* a, nint lda, float* panel, float* tile, int gates)
    {
        nint w = gates * Lanes;
        for (int g = 0; g < gates; g++)
        {
            float* b = panel + (nint)g * k * Lanes, c = tile + g * Lanes;
            switch (mr)
            {
                case 6: GemmMicro.Kernel256<R6>(k, a, lda, 1, b, c, w, true); break;
                case 5: GemmMicro.Kernel256<R5>(k, a, lda, 1, b, c, w, true); break;
                case 4: GemmMicro.Kernel256<R4>(k, a, lda, 1, b, c, w, true); break;
                case 3: GemmMicro.Kernel256<R3>(k, a, lda, 1, b, c, w, true); break;
                case 2: GemmMicro.Kernel256<R2>(k, a, lda, 1, b, c, w, true); break;
                default: GemmMicro.Kernel256<R1>(k, a, lda, 1, b, c, w, true); break;
            }
        }
    }

    /// <summary>The pointwise halves of a two-stage cell's step (<see cref="TwoStageStep{TMath}"/>), one row of
    /// <c>hidden</c> units: <see cref="Gate"/> gates the first G − 1 pre-activations in place and writes the gated h;
    /// <see cref="Candidate"/> writes h' and (when not empty) the saved row [S·hidden].</summary>
    public interface ITwoStageGates
    {
        static abstract int Gates { get; }
        static abstract int SavedWidth { get; }
        static abstract void Gate(Span<float> gated, Span<float> gates, ReadOnlySpan<float> hPrev, int hidden);
        static abstract void Candidate(Span<float> hNext, Span<float> saved, ReadOnlySpan<float> gates, ReadOnlySpan<float> gated,
            ReadOnlySpan<float> hPrev, int hidden);
    }

    /// <summary>MGU: f, then h̃ from U_h·(f ⊙ h) (<see cref="MguGates"/>).</summary>
    public readonly struct MguTwoStage : ITwoStageGates
    {
        public static int Gates => 2;
        public static int SavedWidth => 3;
        public static void Gate(Span<float> gated, Span<float> gates, ReadOnlySpan<float> hPrev, int hidden) =>
            MguGates.GateForward(gated, gates, hPrev, 1, hidden);
        public static void Candidate(Span<float> hNext, Span<float> saved, ReadOnlySpan<float> gates, ReadOnlySpan<float> gated,
            ReadOnlySpan<float> hPrev, int hidden) => MguGates.CandidateForward(hNext, saved, gates, gated, hPrev, 1, hidden);
    }

    /// <summary>Reset-before GRU: r and z, then n from W_hn·(r ⊙ h) (<see cref="GruResetBeforeGates"/>).</summary>
    public readonly struct GruResetBeforeTwoStage : ITwoStageGates
    {
        public static int Gates => 3;
        public static int SavedWidth => 4;
        public static void Gate(Span<float> gated, Span<float> gates, ReadOnlySpan<float> hPrev, int hidden) =>
            GruResetBeforeGates.ResetForward(gated, gates, hPrev, 1, hidden);
        public static void Candidate(Span<float> hNext, Span<float> saved, ReadOnlySpan<float> gates, ReadOnlySpan<float> gated,
            ReadOnlySpan<float> hPrev, int hidden) => GruResetBeforeGates.CandidateForward(hNext, saved, gates, gated, hPrev, 1, hidden);
    }

    // ------------------------------------------------------------------ sequence driver

    /// <summary>
    /// Units [start, end) of worker <paramref name="worker"/> of <paramref name="workers"/>: near-equal
    /// shares cut at block boundaries (a block is never split, so its layout does not depend on the team).
    /// </summary>
    public static (int Start, int End) Share(int hidden, int worker, int workers)
    {
        int hp = PaddedUnits(hidden);
        int Cut(int w)
        {
            if (w >= workers) return hp;
            long target = (long)hp * w / workers;
            int u = 0;
            while (u < hp && u < target) u += BlockWidth(u, hp);
            return u;
        }
        return (Cut(worker), Cut(worker + 1));
    }
}

/// <summary>
/// The input projection a fused multi-row step does itself: gates = Bias + x·W_ihᵀ for its rows, with x [R, I] rows
/// <see cref="Ldx"/> floats apart and W_ih [G·H, I] in narrow unit blocks ([H/16][I, G, 16]); X null: none (the step
/// reads a projected gx).
/// </summary>
public readonly unsafe struct StepInput
{
    /// <summary>x of the step's first row.</summary>
    public float* X { get; init; }
    public nint Ldx { get; init; }
    public float* W { get; init; }
    public int Size { get; init; }
    /// <summary>[G·H] or null (no bias: the tile starts from 0).</summary>
    public float* Bias { get; init; }
}
