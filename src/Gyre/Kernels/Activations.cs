using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Gyre.Kernels;

/// <summary>
/// Elementwise activations over spans, SIMD (Vector512 → 256 → 128, widest first) with scalar twins in
/// <see cref="Reference.GateReference"/>. Accuracy: within 4 ulp of the correctly rounded result over the
/// whole float range (measured maxima are in the tests); σ(−∞) = 0, σ(+∞) = 1, tanh(±∞) = ±1,
/// tanh(±0) = ±0, NaN in → NaN out. The register-level functions (<c>Sigmoid(Vector512&lt;float&gt;)</c>, ...)
/// are what the fused gate kernels call.
/// </summary>
/// <remarks>
/// <c>dst</c> may be the very same span as <c>src</c> (in place); a partial overlap throws, because a
/// vector store would then clobber inputs not yet read.
/// </remarks>
public static class Activations
{
    /// <summary>dst[i] = σ(src[i]) = 1 / (1 + e^(−src[i])).</summary>
    public static void Sigmoid(Span<float> dst, ReadOnlySpan<float> src) => Map<SigmoidOp>(dst, src);

    /// <summary>dst[i] = tanh(src[i]).</summary>
    public static void Tanh(Span<float> dst, ReadOnlySpan<float> src) => Map<TanhOp>(dst, src);

    /// <summary>dst[i] = e^(src[i]); +∞ above about 88.72, +0 below about −103.97 (subnormals in between).</summary>
    public static void Exp(Span<float> dst, ReadOnlySpan<float> src) => Map<ExpOp>(dst, src);

    /// <summary>Which vector width the span kernels use on this machine (for logs and test output).</summary>
    public static string SimdPath =>
        Vector512.IsHardwareAccelerated ? "Vector512" :
        Vector256.IsHardwareAccelerated ? "Vector256" :
        Vector128.IsHardwareAccelerated ? "Vector128" : "scalar";

    // ---- register-level functions for fused kernels -------------------------------------------------

    internal static Vector512<float> Sigmoid(Vector512<float> x) => Sigmoid<Simd512, Vector512<float>>(x);
    internal static Vector256<float> Sigmoid(Vector256<float> x) => Sigmoid<Simd256, Vector256<float>>(x);
    internal static Vector128<float> Sigmoid(Vector128<float> x) => Sigmoid<Simd128, Vector128<float>>(x);
    internal static Vector512<float> Tanh(Vector512<float> x) => Tanh<Simd512, Vector512<float>>(x);
    internal static Vector256<float> Tanh(Vector256<float> x) => Tanh<Simd256, Vector256<float>>(x);
    internal static Vector128<float> Tanh(Vector128<float> x) => Tanh<Simd128, Vector128<float>>(x);
    internal static Vector512<float> Exp(Vector512<float> x) => Exp<Simd512, Vector512<float>>(x);
    internal static Vector256<float> Exp(Vector256<float> x) => Exp<Simd256, Vector256<float>>(x);
    internal static Vector128<float> Exp(Vector128<float> x) => Exp<Simd128, Vector128<float>>(x);

    // 1.5·2²³: adding it rounds |v| < 2²² to an integer held in the low mantissa bits.
    internal const float Shifter = 12582912f;
    internal const int ShifterBits = 0x4B400000;
    const float Log2E = 1.44269504088896341f;
    // ln 2 split so that n·Ln2Hi is exact for |n| < 2⁹ (Ln2Hi has 15 significant bits): the reduction
    // r = x − n·ln 2 stays exact even without FMA.
    const float Ln2Hi = 0.693145751953125f;
    const float Ln2Lo = 1.42860682030941723212e-6f;

    /// <summary>
    /// e^x: n = round(x·log₂e), r = x − n·ln 2 ∈ [−ln2/2, ln2/2], e^r = 1 + r·g(r) with g a degree-5
    /// Chebyshev fit of (e^r − 1)/r (max error 1.1e-8, fitted with mpmath.chebyfit), then ·2ⁿ.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    internal static TV Exp<S, TV>(TV x) where S : struct, ISimd<TV> where TV : struct
    {
        // Clamp so that n stays in [−160, 130]: e^90 overflows to +∞ and e^−110 underflows to +0 in
        // ScaleByPow2 exactly as the true values would.
        TV xc = S.Max(S.Min(x, S.Splat(90f)), S.Splat(-110f));
        TV t = S.MulAdd(xc, S.Splat(Log2E), S.Splat(Shifter));
        TV n = S.Sub(t, S.Splat(Shifter));
        TV r = S.MulAdd(n, S.Splat(-Ln2Hi), xc);
        r = S.MulAdd(n, S.Splat(-Ln2Lo), r);
        TV g = S.Splat(0.0013933641031986701f);
        g = S.MulAdd(g, r, S.Splat(0.0083691484908563466f));
        g = S.MulAdd(g, r, S.Splat(0.041666465006040049f));
        g = S.MulAdd(g, r, S.Splat(0.16666505260408123f));
        g = S.MulAdd(g, r, S.Splat(0.50000000134577272f));
        g = S.MulAdd(g, r, S.Splat(1.0000000107715701f));
        TV p = S.MulAdd(g, r, S.Splat(1f));
        TV y = S.ScaleByPow2(p, t);
        // The clamp and the integer conversion lose NaN; put it back.
        return S.Select(S.IsOrdered(x), y, x);
    }

    /// <summary>
    /// σ(x) from e = e^(−|x|) ∈ (0, 1]: σ = 1/(1 + e) for x ≥ 0 and e/(1 + e) for x &lt; 0. Never
    /// forms 1 − (small), so relative accuracy holds far into the tail (σ(−100) is a subnormal).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    internal static TV Sigmoid<S, TV>(TV x) where S : struct, ISimd<TV> where TV : struct
    {
        TV negAbs = S.Or(x, S.Splat(-0f));
        TV e = Exp<S, TV>(negAbs);
        // One division either way; NaN fails the comparison and takes e, which is NaN.
        TV numerator = S.Select(S.GreaterThanOrEqual(x, S.Splat(0f)), S.Splat(1f), e);
        return S.Div(numerator, S.Add(S.Splat(1f), e));
    }

    /// <summary>
    /// tanh(x): for |x| &lt; 0.625, x + x·y·q(y) with y = x² and q a degree-5 Chebyshev fit of
    /// (tanh(√y)/√y − 1)/y (relative error 6e-10), which keeps full relative accuracy near 0 and ±0 exact;
    /// otherwise sign(x)·(1 − e)/(1 + e) with e = e^(−2|x|), which saturates to ±1 without overflow.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    internal static TV Tanh<S, TV>(TV x) where S : struct, ISimd<TV> where TV : struct
    {
        TV sign = S.And(x, S.Splat(-0f));
        TV a = S.Xor(x, sign);
        TV e = Exp<S, TV>(S.Mul(a, S.Splat(-2f)));
        TV one = S.Splat(1f);
        TV big = S.Or(S.Div(S.Sub(one, e), S.Add(one, e)), sign);

        TV y = S.Mul(x, x);
        TV q = S.Splat(0.0022927448161781423f);
        q = S.MulAdd(q, y, S.Splat(-0.008343945515839152f));
        q = S.MulAdd(q, y, S.Splat(0.02176891865102821f));
        q = S.MulAdd(q, y, S.Splat(-0.053959259577204543f));
        q = S.MulAdd(q, y, S.Splat(0.13333303556915742f));
        q = S.MulAdd(q, y, S.Splat(-0.33333333172140362f));
        // x·(y·q) is +0 for x = −0 (q < 0), and +0 + −0 = +0: OR the sign back in (a no-op elsewhere,
        // since tanh keeps the sign of x).
        TV small = S.Or(S.MulAdd(x, S.Mul(y, q), x), sign);
        // NaN fails a < 0.625 and takes the exp branch, which propagates it.
        return S.Select(S.LessThan(a, S.Splat(0.625f)), small, big);
    }

    // ---- span skeleton --------------------------------------------------------------------------------

    /// <summary>An elementwise float → float function: scalar twin plus one overload per width.</summary>
    internal interface IUnaryOp
    {
        static abstract float Invoke(float x);
        static abstract Vector128<float> Invoke(Vector128<float> x);
        static abstract Vector256<float> Invoke(Vector256<float> x);
        static abstract Vector512<float> Invoke(Vector512<float> x);
    }

    internal readonly struct SigmoidOp : IUnaryOp
    {
        public static float Invoke(float x) => Reference.GateReference.Sigmoid(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x) => Sigmoid<Simd128, Vector128<float>>(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x) => Sigmoid<Simd256, Vector256<float>>(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x) => Sigmoid<Simd512, Vector512<float>>(x);
    }

    internal readonly struct TanhOp : IUnaryOp
    {
        public static float Invoke(float x) => Reference.GateReference.Tanh(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x) => Tanh<Simd128, Vector128<float>>(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x) => Tanh<Simd256, Vector256<float>>(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x) => Tanh<Simd512, Vector512<float>>(x);
    }

    internal readonly struct ExpOp : IUnaryOp
    {
        public static float Invoke(float x) => Reference.GateReference.Exp(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Invoke(Vector128<float> x) => Exp<Simd128, Vector128<float>>(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Invoke(Vector256<float> x) => Exp<Simd256, Vector256<float>>(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Invoke(Vector512<float> x) => Exp<Simd512, Vector512<float>>(x);
    }

    /// <summary>
    /// dst[i] = TOp(src[i]). Widest vector first, then at most one step of each narrower width, then
    /// single lanes of a Vector128, so every element runs the same instruction sequence whatever the
    /// length (same bits in the tail as in the body). The scalar twin runs only without SIMD.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Map<TOp>(Span<float> dst, ReadOnlySpan<float> src) where TOp : struct, IUnaryOp
    {
        if (dst.Length < src.Length)
            throw new ArgumentException($"destination span holds {dst.Length} floats; source has {src.Length}", nameof(dst));
        if (src.Overlaps(dst, out int offset) && offset != 0)
            throw new ArgumentException($"destination overlaps the source at offset {offset}; use the same span (in place) or disjoint spans", nameof(dst));

        ref float s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetReference(dst);
        nuint n = (nuint)src.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16) TOp.Invoke(Vector512.LoadUnsafe(ref s, i)).StoreUnsafe(ref d, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) TOp.Invoke(Vector256.LoadUnsafe(ref s, i)).StoreUnsafe(ref d, i);
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i + 4 <= n; i += 4) TOp.Invoke(Vector128.LoadUnsafe(ref s, i)).StoreUnsafe(ref d, i);
            for (; i < n; i++) Unsafe.Add(ref d, i) = TOp.Invoke(Vector128.CreateScalarUnsafe(Unsafe.Add(ref s, i))).ToScalar();
        }
        else
        {
            for (; i < n; i++) Unsafe.Add(ref d, i) = TOp.Invoke(Unsafe.Add(ref s, i));
        }
    }
}
