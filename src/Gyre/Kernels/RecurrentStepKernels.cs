using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Gyre.Kernels;

/// <summary>
/// Fused recurrent steps for a single sequence (batch 1): h·W_hhᵀ as a register-blocked GEMV with the
/// gate math done on the accumulators, so the G·H gate pre-activations never leave the registers.
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
/// Vector512 only; callers take the GEMM path where it is not accelerated.
/// </para>
/// </remarks>
internal static unsafe class RecurrentStepKernels
{
    public const int Lanes = 16;
    public const int Wide = 64;

    public static bool IsSupported => Vector512.IsHardwareAccelerated;

    /// <summary>Hp: H rounded up to whole vectors.</summary>
    public static int PaddedUnits(int hidden) => (hidden + Lanes - 1) / Lanes * Lanes;

    /// <summary>Floats <see cref="PackUnitBlocks"/> writes: Hp·G·K.</summary>
    public static long PackedLength(int hidden, int gates) => (long)PaddedUnits(hidden) * gates * hidden;

    /// <summary>Width of the block that starts at unit u0: 64 while a whole wide block fits in Hp, else 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BlockWidth(int u0, int paddedUnits) => u0 + Wide <= paddedUnits / Wide * Wide ? Wide : Lanes;

    /// <summary>dst [Hp·G·K] ← W_hh [G·H, K] (row-major, row = gate·H + unit) in unit blocks; padded units are zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackUnitBlocks(float* dst, float* w, int hidden, int gates)
    {
        int hp = PaddedUnits(hidden), k = hidden;
        for (int u0 = 0; u0 < hp;)
        {
            int width = BlockWidth(u0, hp);
            float* block = dst + (nint)u0 * gates * k;
            for (int g = 0; g < gates; g++)
                for (int u = 0; u < width; u++)
                {
                    int unit = u0 + u;
                    float* d = block + g * width + u;
                    if (unit < hidden)
                    {
                        float* src = w + ((nint)g * hidden + unit) * k;
                        for (int p = 0; p < k; p++) d[(nint)p * gates * width] = src[p];
                    }
                    else
                        for (int p = 0; p < k; p++) d[(nint)p * gates * width] = 0f;
                }
            u0 += width;
        }
    }

    // ------------------------------------------------------------------ GRU

    /// <summary>
    /// One GRU step of units [u0, u1) (multiples of 16, block-aligned): gh = b_hh + W_hh·h, then
    /// r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r ⊙ gh_n), h' = n + z ⊙ (h − n).
    /// w: packed blocks; biasHh [G, Hp] zero-padded (null: no bias); gi [3H] = x·W_ihᵀ + b_ih;
    /// hPrev, hNext [H]; saved [4H] (r | z | n | gh_n) or null.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GruStep(float* hNext, float* saved, float* gi, float* hPrev, float* w, float* biasHh,
        int hidden, int u0, int u1)
    {
        int hp = PaddedUnits(hidden), k = hidden;
        nint hs = hidden;
        float* tile = stackalloc float[9 * Lanes];
        for (int u = u0; u < u1;)
        {
            int width = BlockWidth(u, hp);
            float* block = w + (nint)u * 3 * k;
            if (width == Wide)
            {
                Vector512<float> r0, r1, r2, r3, z0, z1, z2, z3, n0, n1, n2, n3;
                if (biasHh != null)
                {
                    float* br = biasHh + u, bz = br + hp, bn = bz + hp;
                    r0 = Vector512.Load(br); r1 = Vector512.Load(br + 16); r2 = Vector512.Load(br + 32); r3 = Vector512.Load(br + 48);
                    z0 = Vector512.Load(bz); z1 = Vector512.Load(bz + 16); z2 = Vector512.Load(bz + 32); z3 = Vector512.Load(bz + 48);
                    n0 = Vector512.Load(bn); n1 = Vector512.Load(bn + 16); n2 = Vector512.Load(bn + 32); n3 = Vector512.Load(bn + 48);
                }
                else
                {
                    r0 = r1 = r2 = r3 = z0 = z1 = z2 = z3 = n0 = n1 = n2 = n3 = Vector512<float>.Zero;
                }
                float* row = block;
                for (int p = 0; p < k; p++, row += 3 * Wide)
                {
                    var x = Vector512.Create(hPrev[p]);
                    r0 = Vector512.FusedMultiplyAdd(Vector512.Load(row), x, r0);
                    r1 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 16), x, r1);
                    r2 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 32), x, r2);
                    r3 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 48), x, r3);
                    z0 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 64), x, z0);
                    z1 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 80), x, z1);
                    z2 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 96), x, z2);
                    z3 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 112), x, z3);
                    n0 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 128), x, n0);
                    n1 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 144), x, n1);
                    n2 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 160), x, n2);
                    n3 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 176), x, n3);
                }
                GruLanes(r0, z0, n0, gi + u, hs, hPrev + u, hNext + u, saved == null ? null : saved + u, hs);
                GruLanes(r1, z1, n1, gi + u + 16, hs, hPrev + u + 16, hNext + u + 16, saved == null ? null : saved + u + 16, hs);
                GruLanes(r2, z2, n2, gi + u + 32, hs, hPrev + u + 32, hNext + u + 32, saved == null ? null : saved + u + 32, hs);
                GruLanes(r3, z3, n3, gi + u + 48, hs, hPrev + u + 48, hNext + u + 48, saved == null ? null : saved + u + 48, hs);
            }
            else
            {
                Vector512<float> r, z, n;
                if (biasHh != null) { r = Vector512.Load(biasHh + u); z = Vector512.Load(biasHh + hp + u); n = Vector512.Load(biasHh + 2 * hp + u); }
                else r = z = n = Vector512<float>.Zero;
                float* row = block;
                for (int p = 0; p < k; p++, row += 3 * Lanes)
                {
                    var x = Vector512.Create(hPrev[p]);
                    r = Vector512.FusedMultiplyAdd(Vector512.Load(row), x, r);
                    z = Vector512.FusedMultiplyAdd(Vector512.Load(row + 16), x, z);
                    n = Vector512.FusedMultiplyAdd(Vector512.Load(row + 32), x, n);
                }
                if (u + Lanes <= hidden)
                    GruLanes(r, z, n, gi + u, hs, hPrev + u, hNext + u, saved == null ? null : saved + u, hs);
                else
                {
                    // The last, partial vector of units: stage through a tile so no load or store leaves [0, H).
                    int valid = hidden - u;
                    new Span<float>(tile, 9 * Lanes).Clear();
                    float* tGi = tile, tHp = tile + 3 * Lanes, tOut = tile + 4 * Lanes, tSaved = tile + 5 * Lanes;
                    for (int g = 0; g < 3; g++) new ReadOnlySpan<float>(gi + g * hs + u, valid).CopyTo(new Span<float>(tGi + g * Lanes, valid));
                    new ReadOnlySpan<float>(hPrev + u, valid).CopyTo(new Span<float>(tHp, valid));
                    GruLanes(r, z, n, tGi, Lanes, tHp, tOut, saved == null ? null : tSaved, Lanes);
                    new ReadOnlySpan<float>(tOut, valid).CopyTo(new Span<float>(hNext + u, valid));
                    if (saved != null)
                        for (int g = 0; g < 4; g++) new ReadOnlySpan<float>(tSaved + g * Lanes, valid).CopyTo(new Span<float>(saved + g * hs + u, valid));
                }
            }
            u += width;
        }
    }

    /// <summary>Gate math of 16 units; gate g of gi at gi + g·gs, of saved at saved + g·ss. Same expression as GruGates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GruLanes(Vector512<float> ghR, Vector512<float> ghZ, Vector512<float> ghN,
        float* gi, nint gs, float* hPrev, float* hNext, float* saved, nint ss)
    {
        var r = Activations.Sigmoid<Simd512, Vector512<float>>(Vector512.Load(gi) + ghR);
        var z = Activations.Sigmoid<Simd512, Vector512<float>>(Vector512.Load(gi + gs) + ghZ);
        var n = Activations.Tanh<Simd512, Vector512<float>>(Simd512.MulAdd(r, ghN, Vector512.Load(gi + 2 * gs)));
        var hp = Vector512.Load(hPrev);
        Vector512.Store(Simd512.MulAdd(z, hp - n, n), hNext);
        if (saved != null)
        {
            Vector512.Store(r, saved);
            Vector512.Store(z, saved + ss);
            Vector512.Store(n, saved + 2 * ss);
            Vector512.Store(ghN, saved + 3 * ss);
        }
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
        float* tile = stackalloc float[12 * Lanes];
        for (int u = u0; u < u1;)
        {
            int width = BlockWidth(u, hp);
            float* block = w + (nint)u * 4 * k;
            if (width == Wide)
            {
                float* ai = gates + u, af = ai + hs, ag = af + hs, ao = ag + hs;
                Vector512<float> i0 = Vector512.Load(ai), i1 = Vector512.Load(ai + 16), i2 = Vector512.Load(ai + 32), i3 = Vector512.Load(ai + 48);
                Vector512<float> f0 = Vector512.Load(af), f1 = Vector512.Load(af + 16), f2 = Vector512.Load(af + 32), f3 = Vector512.Load(af + 48);
                Vector512<float> g0 = Vector512.Load(ag), g1 = Vector512.Load(ag + 16), g2 = Vector512.Load(ag + 32), g3 = Vector512.Load(ag + 48);
                Vector512<float> o0 = Vector512.Load(ao), o1 = Vector512.Load(ao + 16), o2 = Vector512.Load(ao + 32), o3 = Vector512.Load(ao + 48);
                float* row = block;
                for (int p = 0; p < k; p++, row += 4 * Wide)
                {
                    var x = Vector512.Create(hPrev[p]);
                    i0 = Vector512.FusedMultiplyAdd(Vector512.Load(row), x, i0);
                    i1 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 16), x, i1);
                    i2 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 32), x, i2);
                    i3 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 48), x, i3);
                    f0 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 64), x, f0);
                    f1 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 80), x, f1);
                    f2 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 96), x, f2);
                    f3 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 112), x, f3);
                    g0 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 128), x, g0);
                    g1 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 144), x, g1);
                    g2 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 160), x, g2);
                    g3 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 176), x, g3);
                    o0 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 192), x, o0);
                    o1 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 208), x, o1);
                    o2 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 224), x, o2);
                    o3 = Vector512.FusedMultiplyAdd(Vector512.Load(row + 240), x, o3);
                }
                LstmLanes(i0, f0, g0, o0, cPrev + u, hNext + u, cNext + u, saved == null ? null : saved + u, hs);
                LstmLanes(i1, f1, g1, o1, cPrev + u + 16, hNext + u + 16, cNext + u + 16, saved == null ? null : saved + u + 16, hs);
                LstmLanes(i2, f2, g2, o2, cPrev + u + 32, hNext + u + 32, cNext + u + 32, saved == null ? null : saved + u + 32, hs);
                LstmLanes(i3, f3, g3, o3, cPrev + u + 48, hNext + u + 48, cNext + u + 48, saved == null ? null : saved + u + 48, hs);
            }
            else
            {
                bool partial = u + Lanes > hidden;
                int valid = Math.Min(Lanes, hidden - u);
                float* a = gates + u; nint gs = hs;
                if (partial)
                {
                    // Stage the partial vector of units so no load or store leaves [0, H).
                    new Span<float>(tile, 12 * Lanes).Clear();
                    for (int g = 0; g < 4; g++) new ReadOnlySpan<float>(gates + g * hs + u, valid).CopyTo(new Span<float>(tile + g * Lanes, valid));
                    new ReadOnlySpan<float>(cPrev + u, valid).CopyTo(new Span<float>(tile + 4 * Lanes, valid));
                    a = tile; gs = Lanes;
                }
                Vector512<float> vi = Vector512.Load(a), vf = Vector512.Load(a + gs), vg = Vector512.Load(a + 2 * gs), vo = Vector512.Load(a + 3 * gs);
                float* row = block;
                for (int p = 0; p < k; p++, row += 4 * Lanes)
                {
                    var x = Vector512.Create(hPrev[p]);
                    vi = Vector512.FusedMultiplyAdd(Vector512.Load(row), x, vi);
                    vf = Vector512.FusedMultiplyAdd(Vector512.Load(row + 16), x, vf);
                    vg = Vector512.FusedMultiplyAdd(Vector512.Load(row + 32), x, vg);
                    vo = Vector512.FusedMultiplyAdd(Vector512.Load(row + 48), x, vo);
                }
                if (!partial)
                    LstmLanes(vi, vf, vg, vo, cPrev + u, hNext + u, cNext + u, saved == null ? null : saved + u, hs);
                else
                {
                    float* tH = tile + 5 * Lanes, tC = tile + 6 * Lanes, tSaved = tile + 7 * Lanes;
                    LstmLanes(vi, vf, vg, vo, tile + 4 * Lanes, tH, tC, saved == null ? null : tSaved, Lanes);
                    new ReadOnlySpan<float>(tH, valid).CopyTo(new Span<float>(hNext + u, valid));
                    new ReadOnlySpan<float>(tC, valid).CopyTo(new Span<float>(cNext + u, valid));
                    if (saved != null)
                        for (int g = 0; g < 5; g++) new ReadOnlySpan<float>(tSaved + g * Lanes, valid).CopyTo(new Span<float>(saved + g * hs + u, valid));
                }
            }
            u += width;
        }
    }

    /// <summary>Gate math of 16 units from their pre-activations; same expression as LstmGates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LstmLanes(Vector512<float> ai, Vector512<float> af, Vector512<float> ag, Vector512<float> ao,
        float* cPrev, float* hNext, float* cNext, float* saved, nint ss)
    {
        var i = Activations.Sigmoid<Simd512, Vector512<float>>(ai);
        var f = Activations.Sigmoid<Simd512, Vector512<float>>(af);
        var g = Activations.Tanh<Simd512, Vector512<float>>(ag);
        var o = Activations.Sigmoid<Simd512, Vector512<float>>(ao);
        var c = Simd512.MulAdd(f, Vector512.Load(cPrev), i * g);
        var tc = Activations.Tanh<Simd512, Vector512<float>>(c);
        Vector512.Store(c, cNext);
        Vector512.Store(o * tc, hNext);
        if (saved != null)
        {
            Vector512.Store(i, saved);
            Vector512.Store(f, saved + ss);
            Vector512.Store(g, saved + 2 * ss);
            Vector512.Store(o, saved + 3 * ss);
            Vector512.Store(tc, saved + 4 * ss);
        }
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

    /// <summary>Sense-free generation barrier: the last arrival resets the count and bumps the generation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Barrier(int* count, int* generation, int workers)
    {
        if (workers == 1) return;
        int g = Volatile.Read(ref *generation);
        if (Interlocked.Increment(ref *count) == workers)
        {
            Volatile.Write(ref *count, 0);
            Interlocked.Increment(ref *generation);
            return;
        }
        var spin = new SpinWait();
        // With two cores shared by other processes the peer may be descheduled: SpinWait yields after a
        // short spin instead of burning the whole time slice.
        while (Volatile.Read(ref *generation) == g) spin.SpinOnce(sleep1Threshold: -1);
    }
}

/// <summary>
/// A whole batch-1 sequence of fused steps on a team: each worker owns a fixed share of the hidden units
/// for every step, and a barrier between steps publishes h. Pointers are into pinned buffers.
/// </summary>
internal unsafe struct FusedSequenceJob : IWorkerJob
{
    public bool Lstm, Reverse;
    public int Hidden, Steps;
    public float* W, BiasHh;         // packed W_hh blocks; GRU b_hh [3, Hp] or null
    public float* Gx;                // [T, G·H] input projections
    public float* Hs, Cs;            // [T+1, H] states (processing convention of RecurrentLayer)
    public float* Saved;             // [T, S·H] or null (inference)
    public int* Barrier;             // count at [0], generation at [16]

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int worker, int workers)
    {
        var (u0, u1) = RecurrentStepKernels.Share(Hidden, worker, workers);
        nint h = Hidden, g = Lstm ? 4 : 3, sw = Lstm ? 5 : 4;
        for (int s = 0; s < Steps; s++)
        {
            int step = Reverse ? Steps - 1 - s : s;
            nint prev = Reverse ? step + 1 : step, next = Reverse ? step : step + 1;
            float* saved = Saved == null ? null : Saved + step * sw * h;
            if (u0 < u1)
            {
                if (Lstm)
                    RecurrentStepKernels.LstmStep(Hs + next * h, Cs + next * h, saved, Gx + step * g * h,
                        Hs + prev * h, Cs + prev * h, W, Hidden, u0, u1);
                else
                    RecurrentStepKernels.GruStep(Hs + next * h, saved, Gx + step * g * h, Hs + prev * h, W, BiasHh, Hidden, u0, u1);
            }
            RecurrentStepKernels.Barrier(Barrier, Barrier + 16, workers);
        }
    }
}
