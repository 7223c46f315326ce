using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Gyre.Kernels;

/// <summary>
/// Pointwise kernels of the reset-before GRU (<see cref="Cells.GruResetBeforeCellMath"/>). A step is
/// split in two around the second GEMM (r ⊙ h)·W_hnᵀ, so each half is its own kernel. Scalar twins with
/// the same signatures, equations and buffer layouts: <see cref="Reference.GruResetBeforeReference"/>.
/// Letters: R rows (batch entries of one step), H hidden units.
/// </summary>
/// <remarks>
/// Same structure as <see cref="GruGates"/>: each row runs Vector512 → 256 → 128 steps, widest first, then
/// single Vector128 lanes for the last H mod 4 units (same bits whatever H); without SIMD the scalar twin
/// runs. Forward uses the vector σ / tanh of <see cref="Activations"/> (close to the twin's, not equal);
/// backward has no transcendental and keeps the twin's operation order without FMA, so it matches it bit
/// for bit. Outputs must not overlap inputs except where the twin allows it (none here).
/// </remarks>
public static class GruResetBeforeGates
{
    /// <inheritdoc cref="Reference.GruResetBeforeReference.ResetForward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ResetForward(Span<float> rh, Span<float> gates, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        int n = Size(rows, hidden);
        Need(nameof(rh), rh.Length, n); Need(nameof(gates), gates.Length, 3 * n); Need(nameof(hPrev), hPrev.Length, n);
        if (!Vector128.IsHardwareAccelerated) { Reference.GruResetBeforeReference.ResetForward(rh, gates, hPrev, rows, hidden); return; }
        ref float o = ref MemoryMarshal.GetReference(rh);
        ref float g = ref MemoryMarshal.GetReference(gates);
        ref float hp = ref MemoryMarshal.GetReference(hPrev);
        nuint h = (nuint)hidden;
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = ResetRun<Simd512, Vector512<float>>(ref o, ref g, ref hp, b, h, j);
            if (Vector256.IsHardwareAccelerated) j = ResetRun<Simd256, Vector256<float>>(ref o, ref g, ref hp, b, h, j);
            j = ResetRun<Simd128, Vector128<float>>(ref o, ref g, ref hp, b, h, j);
            ResetRun<Simd1, Vector128<float>>(ref o, ref g, ref hp, b, h, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint ResetRun<S, TV>(ref float rh, ref float gates, ref float hPrev, nuint b, nuint h, nuint j)
        where S : struct, ISimd<TV> where TV : struct
    {
        nuint g = b * 3 * h, o = b * h, w = (nuint)S.Count;
        for (; j + w <= h; j += w)
        {
            TV r = Activations.Sigmoid<S, TV>(S.Load(ref gates, g + j));
            TV z = Activations.Sigmoid<S, TV>(S.Load(ref gates, g + h + j));
            S.Store(r, ref gates, g + j);
            S.Store(z, ref gates, g + h + j);
            S.Store(S.Mul(r, S.Load(ref hPrev, o + j)), ref rh, o + j);
        }
        return j;
    }

    /// <inheritdoc cref="Reference.GruResetBeforeReference.CandidateForward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CandidateForward(Span<float> hNext, Span<float> saved,
        ReadOnlySpan<float> gates, ReadOnlySpan<float> rh, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        int n = Size(rows, hidden);
        Need(nameof(hNext), hNext.Length, n); Need(nameof(gates), gates.Length, 3 * n);
        Need(nameof(rh), rh.Length, n); Need(nameof(hPrev), hPrev.Length, n);
        if (!saved.IsEmpty) Need(nameof(saved), saved.Length, 4 * n);
        if (!Vector128.IsHardwareAccelerated) { Reference.GruResetBeforeReference.CandidateForward(hNext, saved, gates, rh, hPrev, rows, hidden); return; }
        ref float hn = ref MemoryMarshal.GetReference(hNext);
        ref float sv = ref MemoryMarshal.GetReference(saved);
        ref float g = ref MemoryMarshal.GetReference(gates);
        ref float r = ref MemoryMarshal.GetReference(rh);
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
    static nuint CandidateRun<S, TV>(ref float hNext, ref float saved, bool save, ref float gates, ref float rh, ref float hPrev,
        nuint b, nuint h, nuint j) where S : struct, ISimd<TV> where TV : struct
    {
        nuint g = b * 3 * h, o = b * h, s = b * 4 * h, w = (nuint)S.Count;
        for (; j + w <= h; j += w)
        {
            TV z = S.Load(ref gates, g + h + j);
            TV cand = Activations.Tanh<S, TV>(S.Load(ref gates, g + 2 * h + j));
            TV hp = S.Load(ref hPrev, o + j);
            // n + z·(h − n) is (1 − z)·n + z·h with one rounding fewer.
            S.Store(S.MulAdd(z, S.Sub(hp, cand), cand), ref hNext, o + j);
            if (save)
            {
                S.Store(S.Load(ref gates, g + j), ref saved, s + j);
                S.Store(z, ref saved, s + h + j);
                S.Store(cand, ref saved, s + 2 * h + j);
                S.Store(S.Load(ref rh, o + j), ref saved, s + 3 * h + j);
            }
        }
        return j;
    }

    /// <inheritdoc cref="Reference.GruResetBeforeReference.CandidateBackward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CandidateBackward(Span<float> dGates, Span<float> dhPrev,
        ReadOnlySpan<float> dhNext, ReadOnlySpan<float> saved, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        int n = Size(rows, hidden);
        Need(nameof(dGates), dGates.Length, 3 * n); Need(nameof(dhPrev), dhPrev.Length, n);
        Need(nameof(dhNext), dhNext.Length, n); Need(nameof(saved), saved.Length, 4 * n); Need(nameof(hPrev), hPrev.Length, n);
        if (!Vector128.IsHardwareAccelerated) { Reference.GruResetBeforeReference.CandidateBackward(dGates, dhPrev, dhNext, saved, hPrev, rows, hidden); return; }
        ref float dg = ref MemoryMarshal.GetReference(dGates);
        ref float dp = ref MemoryMarshal.GetReference(dhPrev);
        ref float dn = ref MemoryMarshal.GetReference(dhNext);
        ref float sv = ref MemoryMarshal.GetReference(saved);
        ref float hp = ref MemoryMarshal.GetReference(hPrev);
        nuint h = (nuint)hidden;
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = CandidateBackRun<Simd512, Vector512<float>>(ref dg, ref dp, ref dn, ref sv, ref hp, b, h, j);
            if (Vector256.IsHardwareAccelerated) j = CandidateBackRun<Simd256, Vector256<float>>(ref dg, ref dp, ref dn, ref sv, ref hp, b, h, j);
            j = CandidateBackRun<Simd128, Vector128<float>>(ref dg, ref dp, ref dn, ref sv, ref hp, b, h, j);
            CandidateBackRun<Simd1, Vector128<float>>(ref dg, ref dp, ref dn, ref sv, ref hp, b, h, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint CandidateBackRun<S, TV>(ref float dGates, ref float dhPrev, ref float dhNext, ref float saved, ref float hPrev,
        nuint b, nuint h, nuint j) where S : struct, ISimd<TV> where TV : struct
    {
        nuint g = b * 3 * h, o = b * h, s = b * 4 * h, w = (nuint)S.Count;
        TV one = S.Splat(1f);
        for (; j + w <= h; j += w)
        {
            TV z = S.Load(ref saved, s + h + j), cand = S.Load(ref saved, s + 2 * h + j);
            TV dh = S.Load(ref dhNext, o + j);
            // The twin's operation order, no FMA: the same bits.
            S.Store(S.Mul(S.Mul(S.Mul(dh, S.Sub(S.Load(ref hPrev, o + j), cand)), z), S.Sub(one, z)), ref dGates, g + h + j);
            S.Store(S.Mul(S.Mul(dh, S.Sub(one, z)), S.Sub(one, S.Mul(cand, cand))), ref dGates, g + 2 * h + j);
            S.Store(S.Mul(dh, z), ref dhPrev, o + j);
        }
        return j;
    }

    /// <inheritdoc cref="Reference.GruResetBeforeReference.ResetBackward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ResetBackward(Span<float> dGates, Span<float> dhPrev,
        ReadOnlySpan<float> dRh, ReadOnlySpan<float> saved, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        int n = Size(rows, hidden);
        Need(nameof(dGates), dGates.Length, 3 * n); Need(nameof(dhPrev), dhPrev.Length, n);
        Need(nameof(dRh), dRh.Length, n); Need(nameof(saved), saved.Length, 4 * n); Need(nameof(hPrev), hPrev.Length, n);
        if (!Vector128.IsHardwareAccelerated) { Reference.GruResetBeforeReference.ResetBackward(dGates, dhPrev, dRh, saved, hPrev, rows, hidden); return; }
        ref float dg = ref MemoryMarshal.GetReference(dGates);
        ref float dp = ref MemoryMarshal.GetReference(dhPrev);
        ref float d = ref MemoryMarshal.GetReference(dRh);
        ref float sv = ref MemoryMarshal.GetReference(saved);
        ref float hp = ref MemoryMarshal.GetReference(hPrev);
        nuint h = (nuint)hidden;
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = ResetBackRun<Simd512, Vector512<float>>(ref dg, ref dp, ref d, ref sv, ref hp, b, h, j);
            if (Vector256.IsHardwareAccelerated) j = ResetBackRun<Simd256, Vector256<float>>(ref dg, ref dp, ref d, ref sv, ref hp, b, h, j);
            j = ResetBackRun<Simd128, Vector128<float>>(ref dg, ref dp, ref d, ref sv, ref hp, b, h, j);
            ResetBackRun<Simd1, Vector128<float>>(ref dg, ref dp, ref d, ref sv, ref hp, b, h, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint ResetBackRun<S, TV>(ref float dGates, ref float dhPrev, ref float dRh, ref float saved, ref float hPrev,
        nuint b, nuint h, nuint j) where S : struct, ISimd<TV> where TV : struct
    {
        nuint g = b * 3 * h, o = b * h, s = b * 4 * h, w = (nuint)S.Count;
        TV one = S.Splat(1f);
        for (; j + w <= h; j += w)
        {
            TV r = S.Load(ref saved, s + j), d = S.Load(ref dRh, o + j);
            S.Store(S.Mul(S.Mul(S.Mul(d, S.Load(ref hPrev, o + j)), r), S.Sub(one, r)), ref dGates, g + j);
            S.Store(S.Add(S.Load(ref dhPrev, o + j), S.Mul(d, r)), ref dhPrev, o + j);
        }
        return j;
    }

    /// <summary>R·H, checked: the kernels index without bounds checks.</summary>
    private static int Size(int rows, int hidden)
    {
        GruGates.CheckShape(rows, hidden);
        return rows * hidden;
    }

    internal static void Need(string name, int length, int need)
    {
        if (length < need) throw new ArgumentException($"span '{name}' holds {length} floats; {need} needed");
    }
}
