using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Gyre.Kernels;

/// <summary>
/// Pointwise IndRNN step (<see cref="Cells.IndRnnCell{TAct}"/>): the recurrent product is per unit, so the whole
/// step after the input projection is one fused pass. Equations and layouts: <see cref="Reference.IndRnnReference"/>,
/// its scalar twin. R rows, H units; gx, hPrev, hNext [R, H]; u [H].
/// </summary>
/// <remarks>
/// Each row runs Vector512 → 256 → 128 steps, widest first, then single Vector128 lanes for the tail, so every
/// unit runs the same instruction sequence whatever H; without SIMD the twin runs. Forward with tanh uses the
/// vector tanh of <see cref="Activations"/> (close to the twin's); ReLU forward and all of backward match the
/// twin bit for bit where the hardware fuses gx + u·h as the twin does (backward has only products: always).
/// </remarks>
public static class IndRnnGates
{
    /// <inheritdoc cref="Reference.IndRnnReference.Forward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(Span<float> hNext, ReadOnlySpan<float> gx, ReadOnlySpan<float> u, ReadOnlySpan<float> hPrev,
        int rows, int hidden, bool relu, float bound)
    {
        Check(hNext.Length, gx.Length, u.Length, hPrev.Length, rows, hidden);
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.IndRnnReference.Forward(hNext, gx, u, hPrev, rows, hidden, relu, bound);
            return;
        }
        ref float hn = ref MemoryMarshal.GetReference(hNext);
        ref float g = ref MemoryMarshal.GetReference(gx);
        ref float w = ref MemoryMarshal.GetReference(u);
        ref float hp = ref MemoryMarshal.GetReference(hPrev);
        nuint h = (nuint)hidden;
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = ForwardRun<Simd512, Vector512<float>>(ref hn, ref g, ref w, ref hp, b, h, j, relu, bound);
            if (Vector256.IsHardwareAccelerated) j = ForwardRun<Simd256, Vector256<float>>(ref hn, ref g, ref w, ref hp, b, h, j, relu, bound);
            j = ForwardRun<Simd128, Vector128<float>>(ref hn, ref g, ref w, ref hp, b, h, j, relu, bound);
            ForwardRun<Simd1, Vector128<float>>(ref hn, ref g, ref w, ref hp, b, h, j, relu, bound);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint ForwardRun<S, TV>(ref float hNext, ref float gx, ref float u, ref float hPrev, nuint b, nuint h, nuint j,
        bool relu, float bound) where S : struct, ISimd<TV> where TV : struct
    {
        nuint o = b * h, w = (nuint)S.Count;
        bool bounded = !float.IsPositiveInfinity(bound);
        TV hi = S.Splat(bound), lo = S.Splat(-bound), zero = S.Splat(0f);
        for (; j + w <= h; j += w)
        {
            TV uj = S.Load(ref u, j);
            if (bounded) uj = Clamp<S, TV>(uj, lo, hi);
            TV pre = S.MulAdd(uj, S.Load(ref hPrev, o + j), S.Load(ref gx, o + j));
            // ReLU as a select on 0 ≥ pre, as the twin: NaN stays NaN, −0 becomes +0.
            S.Store(relu ? S.Select(S.GreaterThanOrEqual(zero, pre), zero, pre) : Activations.Tanh<S, TV>(pre),
                ref hNext, o + j);
        }
        return j;
    }

    /// <inheritdoc cref="Reference.IndRnnReference.Backward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(Span<float> dPre, Span<float> dhPrev, ReadOnlySpan<float> dhNext, ReadOnlySpan<float> hNext,
        ReadOnlySpan<float> u, int rows, int hidden, bool relu, float bound)
    {
        Check(dPre.Length, dhPrev.Length, u.Length, dhNext.Length, rows, hidden);
        Need(nameof(hNext), hNext.Length, rows * hidden);
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.IndRnnReference.Backward(dPre, dhPrev, dhNext, hNext, u, rows, hidden, relu, bound);
            return;
        }
        ref float dp = ref MemoryMarshal.GetReference(dPre);
        ref float dhp = ref MemoryMarshal.GetReference(dhPrev);
        ref float dhn = ref MemoryMarshal.GetReference(dhNext);
        ref float hn = ref MemoryMarshal.GetReference(hNext);
        ref float w = ref MemoryMarshal.GetReference(u);
        nuint h = (nuint)hidden;
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = BackwardRun<Simd512, Vector512<float>>(ref dp, ref dhp, ref dhn, ref hn, ref w, b, h, j, relu, bound);
            if (Vector256.IsHardwareAccelerated) j = BackwardRun<Simd256, Vector256<float>>(ref dp, ref dhp, ref dhn, ref hn, ref w, b, h, j, relu, bound);
            j = BackwardRun<Simd128, Vector128<float>>(ref dp, ref dhp, ref dhn, ref hn, ref w, b, h, j, relu, bound);
            BackwardRun<Simd1, Vector128<float>>(ref dp, ref dhp, ref dhn, ref hn, ref w, b, h, j, relu, bound);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint BackwardRun<S, TV>(ref float dPre, ref float dhPrev, ref float dhNext, ref float hNext, ref float u,
        nuint b, nuint h, nuint j, bool relu, float bound) where S : struct, ISimd<TV> where TV : struct
    {
        nuint o = b * h, w = (nuint)S.Count;
        bool bounded = !float.IsPositiveInfinity(bound);
        TV hi = S.Splat(bound), lo = S.Splat(-bound), zero = S.Splat(0f), one = S.Splat(1f);
        for (; j + w <= h; j += w)
        {
            TV hv = S.Load(ref hNext, o + j), dh = S.Load(ref dhNext, o + j);
            TV d = relu ? S.Select(S.GreaterThanOrEqual(zero, hv), zero, dh) : S.Mul(dh, S.Sub(one, S.Mul(hv, hv)));
            TV uj = S.Load(ref u, j);
            if (bounded) uj = Clamp<S, TV>(uj, lo, hi);
            S.Store(d, ref dPre, o + j);
            S.Store(S.Mul(d, uj), ref dhPrev, o + j);
        }
        return j;
    }

    /// <summary>clamp(u, lo, hi) keeping NaN as the twin's Math.Clamp does (x86 min / max would drop it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TV Clamp<S, TV>(TV u, TV lo, TV hi) where S : struct, ISimd<TV> where TV : struct =>
        S.Select(S.IsOrdered(u), S.Min(S.Max(u, lo), hi), u);

    internal static void Check(int a, int b, int u, int c, int rows, int hidden)
    {
        GruGates.CheckShape(rows, hidden);
        int n = rows * hidden;
        Need("hNext/dPre", a, n); Need("gx/dhPrev", b, n); Need("u", u, hidden); Need("hPrev/dhNext", c, n);
    }

    internal static void Need(string name, int length, int need)
    {
        if (length < need) throw new ArgumentException($"span '{name}' holds {length} floats; {need} needed");
    }
}
