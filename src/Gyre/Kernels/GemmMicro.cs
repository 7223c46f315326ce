using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Gyre.Kernels;

/// <summary>Row count of a register tile as a type, so the JIT compiles one kernel per count with the
/// unused rows (their accumulators, loads and FMAs) removed.</summary>
internal interface IRowCount { static abstract int Rows { get; } }
internal struct R1 : IRowCount { public static int Rows => 1; }
internal struct R2 : IRowCount { public static int Rows => 2; }
internal struct R3 : IRowCount { public static int Rows => 3; }
internal struct R4 : IRowCount { public static int Rows => 4; }
internal struct R5 : IRowCount { public static int Rows => 5; }
internal struct R6 : IRowCount { public static int Rows => 6; }

/// <summary>
/// GEMM register tiles: C[r, 0..NR) = (load ? C : 0) + Σ_p A(r, p) · Bpanel[p, 0..NR) for r &lt; TR.Rows,
/// as one FMA chain per element in p order. A(r, p) = a[r·rs + p·ps] (packed tile: rs = 1, ps = 6; in
/// place: the strides of A); Bpanel is [kc, NR] contiguous. NoInlining so the JIT compiles each whole
/// and fully optimised, never mid-loop (measured 69 vs 117 GFLOP/s when inlined into a run-once caller).
/// The three vector kernels differ only in vector width and are kept textually parallel.
/// </summary>
internal static unsafe class GemmMicro
{
    /// <summary>6×64 tile with Vector512: 24 accumulators, one B row of 4 vectors shared by every row.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Kernel512<TR>(int kc, float* a, nint rs, nint ps, float* b, float* c, nint ldc, bool load) where TR : struct, IRowCount
    {
        int rows = TR.Rows;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default, c43 = default;
        Vector512<float> c50 = default, c51 = default, c52 = default, c53 = default;
        nint o1 = 1 * rs, o2 = 2 * rs, o3 = 3 * rs, o4 = 4 * rs, o5 = 5 * rs;
        nint l1 = 1 * ldc, l2 = 2 * ldc, l3 = 3 * ldc, l4 = 4 * ldc, l5 = 5 * ldc;
        if (load)
        {
            { c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16); c02 = Vector512.Load(c + 32); c03 = Vector512.Load(c + 48); }
            if (rows > 1) { c10 = Vector512.Load(c + l1); c11 = Vector512.Load(c + l1 + 16); c12 = Vector512.Load(c + l1 + 32); c13 = Vector512.Load(c + l1 + 48); }
            if (rows > 2) { c20 = Vector512.Load(c + l2); c21 = Vector512.Load(c + l2 + 16); c22 = Vector512.Load(c + l2 + 32); c23 = Vector512.Load(c + l2 + 48); }
            if (rows > 3) { c30 = Vector512.Load(c + l3); c31 = Vector512.Load(c + l3 + 16); c32 = Vector512.Load(c + l3 + 32); c33 = Vector512.Load(c + l3 + 48); }
            if (rows > 4) { c40 = Vector512.Load(c + l4); c41 = Vector512.Load(c + l4 + 16); c42 = Vector512.Load(c + l4 + 32); c43 = Vector512.Load(c + l4 + 48); }
            if (rows > 5) { c50 = Vector512.Load(c + l5); c51 = Vector512.Load(c + l5 + 16); c52 = Vector512.Load(c + l5 + 32); c53 = Vector512.Load(c + l5 + 48); }
        }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32); var b3 = Vector512.Load(b + 48);
            Vector512<float> av;
            { av = Vector512.Create(*a); c00 = Vector512.FusedMultiplyAdd(av, b0, c00); c01 = Vector512.FusedMultiplyAdd(av, b1, c01); c02 = Vector512.FusedMultiplyAdd(av, b2, c02); c03 = Vector512.FusedMultiplyAdd(av, b3, c03); }
            if (rows > 1) { av = Vector512.Create(a[o1]); c10 = Vector512.FusedMultiplyAdd(av, b0, c10); c11 = Vector512.FusedMultiplyAdd(av, b1, c11); c12 = Vector512.FusedMultiplyAdd(av, b2, c12); c13 = Vector512.FusedMultiplyAdd(av, b3, c13); }
            if (rows > 2) { av = Vector512.Create(a[o2]); c20 = Vector512.FusedMultiplyAdd(av, b0, c20); c21 = Vector512.FusedMultiplyAdd(av, b1, c21); c22 = Vector512.FusedMultiplyAdd(av, b2, c22); c23 = Vector512.FusedMultiplyAdd(av, b3, c23); }
            if (rows > 3) { av = Vector512.Create(a[o3]); c30 = Vector512.FusedMultiplyAdd(av, b0, c30); c31 = Vector512.FusedMultiplyAdd(av, b1, c31); c32 = Vector512.FusedMultiplyAdd(av, b2, c32); c33 = Vector512.FusedMultiplyAdd(av, b3, c33); }
            if (rows > 4) { av = Vector512.Create(a[o4]); c40 = Vector512.FusedMultiplyAdd(av, b0, c40); c41 = Vector512.FusedMultiplyAdd(av, b1, c41); c42 = Vector512.FusedMultiplyAdd(av, b2, c42); c43 = Vector512.FusedMultiplyAdd(av, b3, c43); }
            if (rows > 5) { av = Vector512.Create(a[o5]); c50 = Vector512.FusedMultiplyAdd(av, b0, c50); c51 = Vector512.FusedMultiplyAdd(av, b1, c51); c52 = Vector512.FusedMultiplyAdd(av, b2, c52); c53 = Vector512.FusedMultiplyAdd(av, b3, c53); }
            a += ps; b += 64;
        }
        { c00.Store(c); c01.Store(c + 16); c02.Store(c + 32); c03.Store(c + 48); }
        if (rows > 1) { c10.Store(c + l1); c11.Store(c + l1 + 16); c12.Store(c + l1 + 32); c13.Store(c + l1 + 48); }
        if (rows > 2) { c20.Store(c + l2); c21.Store(c + l2 + 16); c22.Store(c + l2 + 32); c23.Store(c + l2 + 48); }
        if (rows > 3) { c30.Store(c + l3); c31.Store(c + l3 + 16); c32.Store(c + l3 + 32); c33.Store(c + l3 + 48); }
        if (rows > 4) { c40.Store(c + l4); c41.Store(c + l4 + 16); c42.Store(c + l4 + 32); c43.Store(c + l4 + 48); }
        if (rows > 5) { c50.Store(c + l5); c51.Store(c + l5 + 16); c52.Store(c + l5 + 32); c53.Store(c + l5 + 48); }
    }

    /// <summary>
    /// 12×32 tile with Vector512 for a B panel at most 32 columns wide (an input size of 32 in dX = dG·W_ih or
    /// dW_ih = dGᵀ·X): the 6×64 tile would spend half its FMAs on the panel's zero padding, this one spends none,
    /// with the same 24 accumulators. Rows 0–5 read the A tile at <paramref name="a0"/>, rows 6–11 the one at
    /// <paramref name="a1"/> (same strides); B is the usual [kc, NR = 64] panel, of which columns 0–31 are read.
    /// Same FMA chain per element as <see cref="Kernel512{TR}"/>, so the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Kernel512Narrow(int kc, float* a0, float* a1, nint rs, nint ps, float* b, float* c, nint ldc, bool load)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default;
        Vector512<float> c90 = default, c91 = default, cA0 = default, cA1 = default, cB0 = default, cB1 = default;
        nint o1 = 1 * rs, o2 = 2 * rs, o3 = 3 * rs, o4 = 4 * rs, o5 = 5 * rs;
        float* c6 = c + 6 * ldc;
        nint l1 = 1 * ldc, l2 = 2 * ldc, l3 = 3 * ldc, l4 = 4 * ldc, l5 = 5 * ldc;
        if (load)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16); c10 = Vector512.Load(c + l1); c11 = Vector512.Load(c + l1 + 16);
            c20 = Vector512.Load(c + l2); c21 = Vector512.Load(c + l2 + 16); c30 = Vector512.Load(c + l3); c31 = Vector512.Load(c + l3 + 16);
            c40 = Vector512.Load(c + l4); c41 = Vector512.Load(c + l4 + 16); c50 = Vector512.Load(c + l5); c51 = Vector512.Load(c + l5 + 16);
            c60 = Vector512.Load(c6); c61 = Vector512.Load(c6 + 16); c70 = Vector512.Load(c6 + l1); c71 = Vector512.Load(c6 + l1 + 16);
            c80 = Vector512.Load(c6 + l2); c81 = Vector512.Load(c6 + l2 + 16); c90 = Vector512.Load(c6 + l3); c91 = Vector512.Load(c6 + l3 + 16);
            cA0 = Vector512.Load(c6 + l4); cA1 = Vector512.Load(c6 + l4 + 16); cB0 = Vector512.Load(c6 + l5); cB1 = Vector512.Load(c6 + l5 + 16);
        }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16);
            Vector512<float> av;
            av = Vector512.Create(*a0); c00 = Vector512.FusedMultiplyAdd(av, b0, c00); c01 = Vector512.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a0[o1]); c10 = Vector512.FusedMultiplyAdd(av, b0, c10); c11 = Vector512.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a0[o2]); c20 = Vector512.FusedMultiplyAdd(av, b0, c20); c21 = Vector512.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a0[o3]); c30 = Vector512.FusedMultiplyAdd(av, b0, c30); c31 = Vector512.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a0[o4]); c40 = Vector512.FusedMultiplyAdd(av, b0, c40); c41 = Vector512.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a0[o5]); c50 = Vector512.FusedMultiplyAdd(av, b0, c50); c51 = Vector512.FusedMultiplyAdd(av, b1, c51);
            av = Vector512.Create(*a1); c60 = Vector512.FusedMultiplyAdd(av, b0, c60); c61 = Vector512.FusedMultiplyAdd(av, b1, c61);
            av = Vector512.Create(a1[o1]); c70 = Vector512.FusedMultiplyAdd(av, b0, c70); c71 = Vector512.FusedMultiplyAdd(av, b1, c71);
            av = Vector512.Create(a1[o2]); c80 = Vector512.FusedMultiplyAdd(av, b0, c80); c81 = Vector512.FusedMultiplyAdd(av, b1, c81);
            av = Vector512.Create(a1[o3]); c90 = Vector512.FusedMultiplyAdd(av, b0, c90); c91 = Vector512.FusedMultiplyAdd(av, b1, c91);
            av = Vector512.Create(a1[o4]); cA0 = Vector512.FusedMultiplyAdd(av, b0, cA0); cA1 = Vector512.FusedMultiplyAdd(av, b1, cA1);
            av = Vector512.Create(a1[o5]); cB0 = Vector512.FusedMultiplyAdd(av, b0, cB0); cB1 = Vector512.FusedMultiplyAdd(av, b1, cB1);
            a0 += ps; a1 += ps; b += 64;
        }
        c00.Store(c); c01.Store(c + 16); c10.Store(c + l1); c11.Store(c + l1 + 16);
        c20.Store(c + l2); c21.Store(c + l2 + 16); c30.Store(c + l3); c31.Store(c + l3 + 16);
        c40.Store(c + l4); c41.Store(c + l4 + 16); c50.Store(c + l5); c51.Store(c + l5 + 16);
        c60.Store(c6); c61.Store(c6 + 16); c70.Store(c6 + l1); c71.Store(c6 + l1 + 16);
        c80.Store(c6 + l2); c81.Store(c6 + l2 + 16); c90.Store(c6 + l3); c91.Store(c6 + l3 + 16);
        cA0.Store(c6 + l4); cA1.Store(c6 + l4 + 16); cB0.Store(c6 + l5); cB1.Store(c6 + l5 + 16);
    }

    /// <summary>
    /// 6×48 tile with Vector512 over a [kc, 48] B panel (b += 48 per k): 18 accumulators, for three gates of 16 units
    /// ([K, 3, 16] GRU unit blocks, <see cref="RecurrentStepKernels.GruRowsStep"/>), where the 6×64 tile would spend a
    /// quarter of its FMAs on a zero fourth gate. Same FMA chain per element as <see cref="Kernel512{TR}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Kernel512x48<TR>(int kc, float* a, nint rs, nint ps, float* b, float* c, nint ldc) where TR : struct, IRowCount
    {
        int rows = TR.Rows;
        Vector512<float> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default;
        nint o1 = 1 * rs, o2 = 2 * rs, o3 = 3 * rs, o4 = 4 * rs, o5 = 5 * rs;
        nint l1 = 1 * ldc, l2 = 2 * ldc, l3 = 3 * ldc, l4 = 4 * ldc, l5 = 5 * ldc;
        { c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16); c02 = Vector512.Load(c + 32); }
        if (rows > 1) { c10 = Vector512.Load(c + l1); c11 = Vector512.Load(c + l1 + 16); c12 = Vector512.Load(c + l1 + 32); }
        if (rows > 2) { c20 = Vector512.Load(c + l2); c21 = Vector512.Load(c + l2 + 16); c22 = Vector512.Load(c + l2 + 32); }
        if (rows > 3) { c30 = Vector512.Load(c + l3); c31 = Vector512.Load(c + l3 + 16); c32 = Vector512.Load(c + l3 + 32); }
        if (rows > 4) { c40 = Vector512.Load(c + l4); c41 = Vector512.Load(c + l4 + 16); c42 = Vector512.Load(c + l4 + 32); }
        if (rows > 5) { c50 = Vector512.Load(c + l5); c51 = Vector512.Load(c + l5 + 16); c52 = Vector512.Load(c + l5 + 32); }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32);
            Vector512<float> av;
            { av = Vector512.Create(*a); c00 = Vector512.FusedMultiplyAdd(av, b0, c00); c01 = Vector512.FusedMultiplyAdd(av, b1, c01); c02 = Vector512.FusedMultiplyAdd(av, b2, c02); }
            if (rows > 1) { av = Vector512.Create(a[o1]); c10 = Vector512.FusedMultiplyAdd(av, b0, c10); c11 = Vector512.FusedMultiplyAdd(av, b1, c11); c12 = Vector512.FusedMultiplyAdd(av, b2, c12); }
            if (rows > 2) { av = Vector512.Create(a[o2]); c20 = Vector512.FusedMultiplyAdd(av, b0, c20); c21 = Vector512.FusedMultiplyAdd(av, b1, c21); c22 = Vector512.FusedMultiplyAdd(av, b2, c22); }
            if (rows > 3) { av = Vector512.Create(a[o3]); c30 = Vector512.FusedMultiplyAdd(av, b0, c30); c31 = Vector512.FusedMultiplyAdd(av, b1, c31); c32 = Vector512.FusedMultiplyAdd(av, b2, c32); }
            if (rows > 4) { av = Vector512.Create(a[o4]); c40 = Vector512.FusedMultiplyAdd(av, b0, c40); c41 = Vector512.FusedMultiplyAdd(av, b1, c41); c42 = Vector512.FusedMultiplyAdd(av, b2, c42); }
            if (rows > 5) { av = Vector512.Create(a[o5]); c50 = Vector512.FusedMultiplyAdd(av, b0, c50); c51 = Vector512.FusedMultiplyAdd(av, b1, c51); c52 = Vector512.FusedMultiplyAdd(av, b2, c52); }
            a += ps; b += 48;
        }
        { c00.Store(c); c01.Store(c + 16); c02.Store(c + 32); }
        if (rows > 1) { c10.Store(c + l1); c11.Store(c + l1 + 16); c12.Store(c + l1 + 32); }
        if (rows > 2) { c20.Store(c + l2); c21.Store(c + l2 + 16); c22.Store(c + l2 + 32); }
        if (rows > 3) { c30.Store(c + l3); c31.Store(c + l3 + 16); c32.Store(c + l3 + 32); }
        if (rows > 4) { c40.Store(c + l4); c41.Store(c + l4 + 16); c42.Store(c + l4 + 32); }
        if (rows > 5) { c50.Store(c + l5); c51.Store(c + l5 + 16); c52.Store(c + l5 + 32); }
    }

    /// <summary>6×16 tile with Vector256: 12 accumulators, one B row of 2 vectors shared by every row (also one gate's
    /// [K, 16] slice of a gate-major unit block in the fused recurrent steps on AVX2, <see cref="RecurrentStepKernels"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Kernel256<TR>(int kc, float* a, nint rs, nint ps, float* b, float* c, nint ldc, bool load) where TR : struct, IRowCount
    {
        int rows = TR.Rows;
        Vector256<float> c00 = default, c01 = default;
        Vector256<float> c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default;
        Vector256<float> c40 = default, c41 = default;
        Vector256<float> c50 = default, c51 = default;
        nint o1 = 1 * rs, o2 = 2 * rs, o3 = 3 * rs, o4 = 4 * rs, o5 = 5 * rs;
        nint l1 = 1 * ldc, l2 = 2 * ldc, l3 = 3 * ldc, l4 = 4 * ldc, l5 = 5 * ldc;
        if (load)
        {
            { c00 = Vector256.Load(c); c01 = Vector256.Load(c + 8); }
            if (rows > 1) { c10 = Vector256.Load(c + l1); c11 = Vector256.Load(c + l1 + 8); }
            if (rows > 2) { c20 = Vector256.Load(c + l2); c21 = Vector256.Load(c + l2 + 8); }
            if (rows > 3) { c30 = Vector256.Load(c + l3); c31 = Vector256.Load(c + l3 + 8); }
            if (rows > 4) { c40 = Vector256.Load(c + l4); c41 = Vector256.Load(c + l4 + 8); }
            if (rows > 5) { c50 = Vector256.Load(c + l5); c51 = Vector256.Load(c + l5 + 8); }
        }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b); var b1 = Vector256.Load(b + 8);
            Vector256<float> av;
            { av = Vector256.Create(*a); c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01); }
            if (rows > 1) { av = Vector256.Create(a[o1]); c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11); }
            if (rows > 2) { av = Vector256.Create(a[o2]); c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21); }
            if (rows > 3) { av = Vector256.Create(a[o3]); c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31); }
            if (rows > 4) { av = Vector256.Create(a[o4]); c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41); }
            if (rows > 5) { av = Vector256.Create(a[o5]); c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51); }
            a += ps; b += 16;
        }
        { c00.Store(c); c01.Store(c + 8); }
        if (rows > 1) { c10.Store(c + l1); c11.Store(c + l1 + 8); }
        if (rows > 2) { c20.Store(c + l2); c21.Store(c + l2 + 8); }
        if (rows > 3) { c30.Store(c + l3); c31.Store(c + l3 + 8); }
        if (rows > 4) { c40.Store(c + l4); c41.Store(c + l4 + 8); }
        if (rows > 5) { c50.Store(c + l5); c51.Store(c + l5 + 8); }
    }

    /// <summary>6×8 tile with Vector128: 12 accumulators, one B row of 2 vectors shared by every row.</summary>
    // MultiplyAddEstimate: one FMA where the CPU has it, multiply + add where it does not (AVX2 off),
    // rather than the exact software emulation FusedMultiplyAdd would fall back to.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Kernel128<TR>(int kc, float* a, nint rs, nint ps, float* b, float* c, nint ldc, bool load) where TR : struct, IRowCount
    {
        int rows = TR.Rows;
        Vector128<float> c00 = default, c01 = default;
        Vector128<float> c10 = default, c11 = default;
        Vector128<float> c20 = default, c21 = default;
        Vector128<float> c30 = default, c31 = default;
        Vector128<float> c40 = default, c41 = default;
        Vector128<float> c50 = default, c51 = default;
        nint o1 = 1 * rs, o2 = 2 * rs, o3 = 3 * rs, o4 = 4 * rs, o5 = 5 * rs;
        nint l1 = 1 * ldc, l2 = 2 * ldc, l3 = 3 * ldc, l4 = 4 * ldc, l5 = 5 * ldc;
        if (load)
        {
            { c00 = Vector128.Load(c); c01 = Vector128.Load(c + 4); }
            if (rows > 1) { c10 = Vector128.Load(c + l1); c11 = Vector128.Load(c + l1 + 4); }
            if (rows > 2) { c20 = Vector128.Load(c + l2); c21 = Vector128.Load(c + l2 + 4); }
            if (rows > 3) { c30 = Vector128.Load(c + l3); c31 = Vector128.Load(c + l3 + 4); }
            if (rows > 4) { c40 = Vector128.Load(c + l4); c41 = Vector128.Load(c + l4 + 4); }
            if (rows > 5) { c50 = Vector128.Load(c + l5); c51 = Vector128.Load(c + l5 + 4); }
        }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector128.Load(b); var b1 = Vector128.Load(b + 4);
            Vector128<float> av;
            { av = Vector128.Create(*a); c00 = Vector128.MultiplyAddEstimate(av, b0, c00); c01 = Vector128.MultiplyAddEstimate(av, b1, c01); }
            if (rows > 1) { av = Vector128.Create(a[o1]); c10 = Vector128.MultiplyAddEstimate(av, b0, c10); c11 = Vector128.MultiplyAddEstimate(av, b1, c11); }
            if (rows > 2) { av = Vector128.Create(a[o2]); c20 = Vector128.MultiplyAddEstimate(av, b0, c20); c21 = Vector128.MultiplyAddEstimate(av, b1, c21); }
            if (rows > 3) { av = Vector128.Create(a[o3]); c30 = Vector128.MultiplyAddEstimate(av, b0, c30); c31 = Vector128.MultiplyAddEstimate(av, b1, c31); }
            if (rows > 4) { av = Vector128.Create(a[o4]); c40 = Vector128.MultiplyAddEstimate(av, b0, c40); c41 = Vector128.MultiplyAddEstimate(av, b1, c41); }
            if (rows > 5) { av = Vector128.Create(a[o5]); c50 = Vector128.MultiplyAddEstimate(av, b0, c50); c51 = Vector128.MultiplyAddEstimate(av, b1, c51); }
            a += ps; b += 8;
        }
        { c00.Store(c); c01.Store(c + 4); }
        if (rows > 1) { c10.Store(c + l1); c11.Store(c + l1 + 4); }
        if (rows > 2) { c20.Store(c + l2); c21.Store(c + l2 + 4); }
        if (rows > 3) { c30.Store(c + l3); c31.Store(c + l3 + 4); }
        if (rows > 4) { c40.Store(c + l4); c41.Store(c + l4 + 4); }
        if (rows > 5) { c50.Store(c + l5); c51.Store(c + l5 + 4); }
    }

    /// <summary>Whether <see cref="RowStream"/> runs: with a Vector512 or Vector256 tile (the same
    /// <c>FusedMultiplyAdd</c> chain as <see cref="Kernel512{TR}"/> / <see cref="Kernel256{TR}"/>).</summary>
    public static bool RowStreamSupported => Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated;

    /// <summary>
    /// c[N] = (accumulate ? c : 0) + a[K] · B[K, N] (B row-major, rows ldb apart), streaming B's rows: for each k the
    /// broadcast a[k] times row k into up to four vectors of accumulators. Each element is the tile's chain,
    /// acc = FusedMultiplyAdd(a[k], b[k, j], acc) for k = 0, 1, …, from c or 0, so the bits are the packed path's
    /// (tested over every tail and special value). The scalar tail is that chain one element at a time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowStream(int n, int k, float* a, float* b, nint ldb, float* c, bool accumulate)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j + 64 <= n; j += 64)
            {
                Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
                if (accumulate) { c0 = Vector512.Load(c + j); c1 = Vector512.Load(c + j + 16); c2 = Vector512.Load(c + j + 32); c3 = Vector512.Load(c + j + 48); }
                float* bp = b + j;
                for (int p = 0; p < k; p++, bp += ldb)
                {
                    var av = Vector512.Create(a[p]);
                    c0 = Vector512.FusedMultiplyAdd(av, Vector512.Load(bp), c0);
                    c1 = Vector512.FusedMultiplyAdd(av, Vector512.Load(bp + 16), c1);
                    c2 = Vector512.FusedMultiplyAdd(av, Vector512.Load(bp + 32), c2);
                    c3 = Vector512.FusedMultiplyAdd(av, Vector512.Load(bp + 48), c3);
                }
                c0.Store(c + j); c1.Store(c + j + 16); c2.Store(c + j + 32); c3.Store(c + j + 48);
            }
            for (; j + 16 <= n; j += 16)
            {
                Vector512<float> c0 = accumulate ? Vector512.Load(c + j) : default;
                float* bp = b + j;
                for (int p = 0; p < k; p++, bp += ldb) c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a[p]), Vector512.Load(bp), c0);
                c0.Store(c + j);
            }
        }
        else
        {
            for (; j + 32 <= n; j += 32)
            {
                Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
                if (accumulate) { c0 = Vector256.Load(c + j); c1 = Vector256.Load(c + j + 8); c2 = Vector256.Load(c + j + 16); c3 = Vector256.Load(c + j + 24); }
                float* bp = b + j;
                for (int p = 0; p < k; p++, bp += ldb)
                {
                    var av = Vector256.Create(a[p]);
                    c0 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp), c0);
                    c1 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp + 8), c1);
                    c2 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp + 16), c2);
                    c3 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp + 24), c3);
                }
                c0.Store(c + j); c1.Store(c + j + 8); c2.Store(c + j + 16); c3.Store(c + j + 24);
            }
        }
        for (; j + 8 <= n; j += 8)
        {
            Vector256<float> c0 = accumulate ? Vector256.Load(c + j) : default;
            float* bp = b + j;
            for (int p = 0; p < k; p++, bp += ldb) c0 = Vector256.FusedMultiplyAdd(Vector256.Create(a[p]), Vector256.Load(bp), c0);
            c0.Store(c + j);
        }
        for (; j < n; j++)
        {
            float acc = accumulate ? c[j] : 0f;
            float* bp = b + j;
            for (int p = 0; p < k; p++, bp += ldb) acc = MathF.FusedMultiplyAdd(a[p], *bp, acc);
            c[j] = acc;
        }
    }

    /// <summary>
    /// One step c + a·b of an element's chain, rounded as the tile <see cref="Gemm"/> uses on this machine rounds it:
    /// fused with the Vector512, Vector256 and scalar tiles; with the Vector128 tile (no AVX2) MultiplyAddEstimate,
    /// which is fused only where the CPU has FMA. The plain loop for tiny products takes it, so a product gives the same
    /// bits whether it is small enough for the loop or not (a row split makes a step's product smaller).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ChainStep(float a, float b, float c) =>
        Vector128.IsHardwareAccelerated && !Vector256.IsHardwareAccelerated ? float.MultiplyAddEstimate(a, b, c) : MathF.FusedMultiplyAdd(a, b, c);

    /// <summary>Scalar tile (no SIMD hardware): NR = 8 columns, one row at a time in eight locals.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void KernelScalar(int mr, int kc, float* a, nint rs, nint ps, float* b, float* c, nint ldc, bool load)
    {
        for (int r = 0; r < mr; r++, a += rs, c += ldc)
        {
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
            if (load) { s0 = c[0]; s1 = c[1]; s2 = c[2]; s3 = c[3]; s4 = c[4]; s5 = c[5]; s6 = c[6]; s7 = c[7]; }
            float* ap = a, bp = b;
            for (int p = 0; p < kc; p++, ap += ps, bp += 8)
            {
                float av = *ap;
                s0 = MathF.FusedMultiplyAdd(av, bp[0], s0); s1 = MathF.FusedMultiplyAdd(av, bp[1], s1);
                s2 = MathF.FusedMultiplyAdd(av, bp[2], s2); s3 = MathF.FusedMultiplyAdd(av, bp[3], s3);
                s4 = MathF.FusedMultiplyAdd(av, bp[4], s4); s5 = MathF.FusedMultiplyAdd(av, bp[5], s5);
                s6 = MathF.FusedMultiplyAdd(av, bp[6], s6); s7 = MathF.FusedMultiplyAdd(av, bp[7], s7);
            }
            c[0] = s0; c[1] = s1; c[2] = s2; c[3] = s3; c[4] = s4; c[5] = s5; c[6] = s6; c[7] = s7;
        }
    }
}
