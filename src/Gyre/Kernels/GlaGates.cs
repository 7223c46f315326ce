using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Gyre.Kernels;

/// <summary>
/// The pointwise gate math of gated linear attention (<see cref="Cells.GlaCell"/>), in place over one row's q and
/// gate blocks: q ← q·scale, a ← α = σ(a)^(1/τ) with τ = 16, slope ← ∂α/∂a = α·(1 − σ(a))/τ. Equations:
/// <see cref="Reference.GlaGatesReference"/>, the scalar twin.
/// </summary>
/// <remarks>
/// α is formed as e^(min(a, 0)/16) / (1 + e^(−|a|))^(1/16), the 16th root as four square roots (τ = 2⁴): no logarithm,
/// and no σ(a) that underflows to 0 deep in the negative tail (α there is e^(a/16), still far from 0).
/// Vector512 → 256 → 128 steps, widest first, then single lanes for the tail, so every element runs the same
/// instruction sequence whatever its position; without SIMD the twin runs.
/// </remarks>
public static class GlaGates
{
    /// <inheritdoc cref="Reference.GlaGatesReference.Forward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(Span<float> q, Span<float> a, Span<float> slope, float scale)
    {
        Reference.GlaGatesReference.Check(q.Length, a.Length, slope.Length);
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.GlaGatesReference.Forward(q, a, slope, scale);
            return;
        }
        ref float pq = ref MemoryMarshal.GetReference(q);
        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float ps = ref MemoryMarshal.GetReference(slope);
        nuint n = (nuint)q.Length, j = 0;
        bool save = !slope.IsEmpty;
        if (Vector512.IsHardwareAccelerated) j = Run<Simd512, Vector512<float>>(ref pq, ref pa, ref ps, save, scale, n, j);
        if (Vector256.IsHardwareAccelerated) j = Run<Simd256, Vector256<float>>(ref pq, ref pa, ref ps, save, scale, n, j);
        j = Run<Simd128, Vector128<float>>(ref pq, ref pa, ref ps, save, scale, n, j);
        Run<Simd1, Vector128<float>>(ref pq, ref pa, ref ps, save, scale, n, j);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint Run<S, TV>(ref float q, ref float a, ref float slope, bool save, float scale, nuint n, nuint j)
        where S : struct, ISimd<TV> where TV : struct
    {
        nuint w = (nuint)S.Count;
        TV one = S.Splat(1f), zero = S.Splat(0f), inv = S.Splat(1f / Cells.GlaCell.Tau), sc = S.Splat(scale);
        for (; j + w <= n; j += w)
        {
            S.Store(S.Mul(S.Load(ref q, j), sc), ref q, j);
            TV x = S.Load(ref a, j);
            TV e = Activations.Exp<S, TV>(S.Or(x, S.Splat(-0f)));                     // e^(−|x|)
            TV onePlus = S.Add(one, e);
            TV root = S.Sqrt(S.Sqrt(S.Sqrt(S.Sqrt(onePlus))));                          // (1 + e^(−|x|))^(1/16)
            TV alpha = S.Div(Activations.Exp<S, TV>(S.Mul(S.Min(x, zero), inv)), root);
            S.Store(alpha, ref a, j);
            if (save)
            {
                // 1 − σ(x) = σ(−x): e/(1 + e) for x ≥ 0, 1/(1 + e) below; NaN takes the second and stays NaN.
                TV oneMinusSigma = S.Div(S.Select(S.GreaterThanOrEqual(x, zero), e, one), onePlus);
                S.Store(S.Mul(S.Mul(alpha, oneMinusSigma), inv), ref slope, j);
            }
        }
        return j;
    }
}
