using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static Gyre.Kernels.GruResetBeforeGates;

namespace Gyre.Kernels;

/// <summary>
/// Pointwise kernels of the minimal gated unit (<see cref="Cells.MguCellMath"/>). As for the reset-before GRU a
/// step is split in two around the second GEMM (f ⊙ h)·U_hᵀ. Scalar twins with the same signatures, equations
/// and buffer layouts: <see cref="Reference.MguReference"/>. Letters: R rows, H hidden units.
/// </summary>
/// <remarks>
/// Same structure as <see cref="GruResetBeforeGates"/>: Vector512 → 256 → 128 steps per row, then single
/// Vector128 lanes for the tail; without SIMD the twin runs. Forward uses the vector σ / tanh (close to the
/// twin's); backward keeps the twin's operation order without FMA, so it matches it bit for bit.
/// </remarks>
public static class MguGates
{
    /// <inheritdoc cref="Reference.MguReference.GateForward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GateForward(Span<float> fh, Span<float> gates, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        int n = Size(rows, hidden);
        Need(nameof(fh), fh.Length, n); Need(nameof(gates), gates.Length, 2 * n); Need(nameof(hPrev), hPrev.Length, n);
        if (!Vector128.IsHardwareAccelerated) { Reference.MguReference.GateForward(fh, gates, hPrev, rows, hidden); return; }
        ref float o = ref MemoryMarshal.GetReference(fh);
        ref float g = ref MemoryMarshal.GetReference(gates);
        ref float hp = ref MemoryMarshal.GetReference(hPrev);
        nuint h = (nuint)hidden;
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = GateRun<Simd512, Vector512<float>>(ref o, ref g, ref hp, b, h, j);
            if (Vector256.IsHardwareAccelerated) j = GateRun<Simd256, Vector256<float>>(ref o, ref g, ref hp, b, h, j);
            j = GateRun<Simd128, Vector128<float>>(ref o, ref g, ref hp, b, h, j);
            GateRun<Simd1, Vector128<float>>(ref o, ref g, ref hp, b, h, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint GateRun<S, TV>(ref float fh, ref float gates, ref float hPrev, nuint b, nuint h, nuint j)
        where S : struct, ISimd<TV> where TV : struct
    {
        nuint g = b * 2 * h, o = b * h, w = (nuint)S.Count;
        for (; j + w <= h; j += w)
        {
            TV f = Activations.Sigmoid<S, TV>(S.Load(ref gates, g + j));
            S.Store(f, ref gates, g + j);
            S.Store(S.Mul(f, S.Load(ref hPrev, o + j)), ref fh, o + j);
        }
        return j;
    }

    /// <inheritdoc cref="Reference.MguReference.CandidateForward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CandidateForward(Span<float> hNext, Span<float> saved,
        ReadOnlySpan<float> gates, ReadOnlySpan<float> fh, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        int n = Size(rows, hidden);
        Need(nameof(hNext), hNext.Length, n); Need(nameof(gates), gates.Length, 2 * n);
        Need(nameof(fh), fh.Length, n); Need(nameof(hPrev), hPrev.Length, n);
        if (!saved.IsEmpty) Need(nameof(saved), saved.Length, 3 * n);
        if (!Vector128.IsHardwareAccelerated) { Reference.MguReference.CandidateForward(hNext, saved, gates, fh, hPrev, rows, hidden); return; }
        ref float hn = ref MemoryMarshal.GetReference(hNext);
        ref float sv = ref MemoryMarshal.GetReference(saved);
        ref float g = ref MemoryMarshal.GetReference(gates);
        ref float r = ref MemoryMarshal.GetReference(fh);
        ref float hp = ref MemoryMarshal.GetReference(hPrev);
        bool save = !saved.IsEmpty;
        nuint h = (nuint)hidden;
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = CandidateRun<Simd512, Vector512<float>>(ref hn, ref sv, save, ref g, ref r, ref hp, b, h, j);
            if (Vector256.IsHardwareAccelerated) j = CandidateRun<Simd256, Vector256<float>>(ref hn, ref sv, save, ref g, ref r, ref hp, b, h, j);
            j = CandidateRun<Simd128, Vector128<float>>(ref hn, ref sv, save, ref g, ref r, ref hp, b, h, j);
            CandidateRun<Simd1, Vector128<float>>(ref hn, ref sv, save, ref g, ref r, ref hp, b, h, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint CandidateRun<S, TV>(ref float hNext, ref float saved, bool save, ref float gates, ref float fh, ref float hPrev,
        nuint b, nuint h, nuint j) where S : struct, ISimd<TV> where TV : struct
    {
        nuint g = b * 2 * h, o = b * h, s = b * 3 * h, w = (nuint)S.Count;
        for (; j + w <= h; j += w)
        {
            TV f = S.Load(ref gates, g + j);
            TV c = Activations.Tanh<S, TV>(S.Load(ref gates, g + h + j));
            TV hp = S.Load(ref hPrev, o + j);
            // h + f·(c − h) is (1 − f)·h + f·c with one rounding fewer.
            S.Store(S.MulAdd(f, S.Sub(c, hp), hp), ref hNext, o + j);
            if (save)
            {
                S.Store(f, ref saved, s + j);
                S.Store(c, ref saved, s + h + j);
                S.Store(S.Load(ref fh, o + j), ref saved, s + 2 * h + j);
            }
        }
        return j;
    }

    /// <inheritdoc cref="Reference.MguReference.CandidateBackward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CandidateBackward(Span<float> dGates, Span<float> dhPrev,
        ReadOnlySpan<float> dhNext, ReadOnlySpan<float> saved, int rows, int hidden)
    {
        int n = Size(rows, hidden);
        Need(nameof(dGates), dGates.Length, 2 * n); Need(nameof(dhPrev), dhPrev.Length, n);
        Need(nameof(dhNext), dhNext.Length, n); Need(nameof(saved), saved.Length, 3 * n);
        if (!Vector128.IsHardwareAccelerated) { Reference.MguReference.CandidateBackward(dGates, dhPrev, dhNext, saved, rows, hidden); return; }
        ref float dg = ref MemoryMarshal.GetReference(dGates);
        ref float dp = ref MemoryMarshal.GetReference(dhPrev);
        ref float dn = ref MemoryMarshal.GetReference(dhNext);
        ref float sv = ref MemoryMarshal.GetReference(saved);
        nuint h = (nuint)hidden;
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = CandidateBackRun<Simd512, Vector512<float>>(ref dg, ref dp, ref dn, ref sv, b, h, j);
            if (Vector256.IsHardwareAccelerated) j = CandidateBackRun<Simd256, Vector256<float>>(ref dg, ref dp, ref dn, ref sv, b, h, j);
            j = CandidateBackRun<Simd128, Vector128<float>>(ref dg, ref dp, ref dn, ref sv, b, h, j);
            CandidateBackRun<Simd1, Vector128<float>>(ref dg, ref dp, ref dn, ref sv, b, h, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint CandidateBackRun<S, TV>(ref float dGates, ref float dhPrev, ref float dhNext, ref float saved,
        nuint b, nuint h, nuint j) where S : struct, ISimd<TV> where TV : struct
    {
        nuint g = b * 2 * h, o = b * h, s = b * 3 * h, w = (nuint)S.Count;
        TV one = S.Splat(1f);
        for (; j + w <= h; j += w)
        {
            TV f = S.Load(ref saved, s + j), c = S.Load(ref saved, s + h + j), dh = S.Load(ref dhNext, o + j);
            // The twin's operation order, no FMA: the same bits.
            S.Store(S.Mul(S.Mul(dh, f), S.Sub(one, S.Mul(c, c))), ref dGates, g + h + j);
            S.Store(S.Mul(dh, S.Sub(one, f)), ref dhPrev, o + j);
        }
        return j;
    }

    /// <inheritdoc cref="Reference.MguReference.GateBackward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GateBackward(Span<float> dGates, Span<float> dhPrev,
        ReadOnlySpan<float> dFh, ReadOnlySpan<float> dhNext, ReadOnlySpan<float> saved, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        int n = Size(rows, hidden);
        Need(nameof(dGates), dGates.Length, 2 * n); Need(nameof(dhPrev), dhPrev.Length, n); Need(nameof(dFh), dFh.Length, n);
        Need(nameof(dhNext), dhNext.Length, n); Need(nameof(saved), saved.Length, 3 * n); Need(nameof(hPrev), hPrev.Length, n);
        if (!Vector128.IsHardwareAccelerated) { Reference.MguReference.GateBackward(dGates, dhPrev, dFh, dhNext, saved, hPrev, rows, hidden); return; }
        ref float dg = ref MemoryMarshal.GetReference(dGates);
        ref float dp = ref MemoryMarshal.GetReference(dhPrev);
        ref float d = ref MemoryMarshal.GetReference(dFh);
        ref float dn = ref MemoryMarshal.GetReference(dhNext);
        ref float sv = ref MemoryMarshal.GetReference(saved);
        ref float hp = ref MemoryMarshal.GetReference(hPrev);
        nuint h = (nuint)hidden;
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = GateBackRun<Simd512, Vector512<float>>(ref dg, ref dp, ref d, ref dn, ref sv, ref hp, b, h, j);
            if (Vector256.IsHardwareAccelerated) j = GateBackRun<Simd256, Vector256<float>>(ref dg, ref dp, ref d, ref dn, ref sv, ref hp, b, h, j);
            j = GateBackRun<Simd128, Vector128<float>>(ref dg, ref dp, ref d, ref dn, ref sv, ref hp, b, h, j);
            GateBackRun<Simd1, Vector128<float>>(ref dg, ref dp, ref d, ref dn, ref sv, ref hp, b, h, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint GateBackRun<S, TV>(ref float dGates, ref float dhPrev, ref float dFh, ref float dhNext, ref float saved, ref float hPrev,
        nuint b, nuint h, nuint j) where S : struct, ISimd<TV> where TV : struct
    {
        nuint g = b * 2 * h, o = b * h, s = b * 3 * h, w = (nuint)S.Count;
        TV one = S.Splat(1f);
        for (; j + w <= h; j += w)
        {
            TV f = S.Load(ref saved, s + j), c = S.Load(ref saved, s + h + j), d = S.Load(ref dFh, o + j), hp = S.Load(ref hPrev, o + j);
            TV df = S.Add(S.Mul(S.Load(ref dhNext, o + j), S.Sub(c, hp)), S.Mul(d, hp));
            S.Store(S.Mul(S.Mul(df, f), S.Sub(one, f)), ref dGates, g + j);
            S.Store(S.Add(S.Load(ref dhPrev, o + j), S.Mul(d, f)), ref dhPrev, o + j);
        }
        return j;
    }

    private static int Size(int rows, int hidden)
    {
        GruGates.CheckShape(rows, hidden);
        return rows * hidden;
    }
}
