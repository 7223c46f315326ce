using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static Gyre.Kernels.GruResetBeforeGates;

namespace Gyre.Kernels;

/// <summary>
/// The gate of the gated memory unit, g = σ(a), y = g ⊙ m, forward and backward, over N values.
/// Scalar twins with the same signatures and equations: <see cref="Reference.GmuReference"/>.
/// </summary>
/// <remarks>
/// The buffers are flat (the layer's rows are contiguous and every value is independent), so one pass runs
/// Vector512 → 256 → 128 over all N and single Vector128 lanes for the tail; without SIMD the twin runs. The
/// vector σ is close to the twin's exact one, not equal, so the tests hold the two within a tolerance.
/// </remarks>
public static class GmuGates
{
    /// <inheritdoc cref="Reference.GmuReference.Forward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(Span<float> y, Span<float> gate, ReadOnlySpan<float> a, ReadOnlySpan<float> m, int n)
    {
        Reference.GmuReference.Check(y.Length, gate.Length, a.Length, m.Length, n, "y", "gate", "a", "m");
        if (!Vector128.IsHardwareAccelerated) { Reference.GmuReference.Forward(y, gate, a, m, n); return; }
        ref float yy = ref MemoryMarshal.GetReference(y);
        ref float gg = ref MemoryMarshal.GetReference(gate);
        ref float aa = ref MemoryMarshal.GetReference(a);
        ref float mm = ref MemoryMarshal.GetReference(m);
        nuint j = 0, len = (nuint)n;
        if (Vector512.IsHardwareAccelerated) j = ForwardRun<Simd512, Vector512<float>>(ref yy, ref gg, ref aa, ref mm, len, j);
        if (Vector256.IsHardwareAccelerated) j = ForwardRun<Simd256, Vector256<float>>(ref yy, ref gg, ref aa, ref mm, len, j);
        j = ForwardRun<Simd128, Vector128<float>>(ref yy, ref gg, ref aa, ref mm, len, j);
        ForwardRun<Simd1, Vector128<float>>(ref yy, ref gg, ref aa, ref mm, len, j);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint ForwardRun<S, TV>(ref float y, ref float gate, ref float a, ref float m, nuint n, nuint j)
        where S : struct, ISimd<TV> where TV : struct
    {
        nuint w = (nuint)S.Count;
        for (; j + w <= n; j += w)
        {
            TV g = Activations.Sigmoid<S, TV>(S.Load(ref a, j));   // a is read before gate is written: in place is safe
            S.Store(g, ref gate, j);
            S.Store(S.Mul(g, S.Load(ref m, j)), ref y, j);
        }
        return j;
    }

    /// <inheritdoc cref="Reference.GmuReference.Backward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(Span<float> dA, Span<float> dM, ReadOnlySpan<float> dy, ReadOnlySpan<float> gate, ReadOnlySpan<float> m, int n)
    {
        Reference.GmuReference.Check(dA.Length, dM.Length, dy.Length, gate.Length, n, "dA", "dM", "dy", "gate");
        Need(nameof(m), m.Length, n);
        if (!Vector128.IsHardwareAccelerated) { Reference.GmuReference.Backward(dA, dM, dy, gate, m, n); return; }
        ref float da = ref MemoryMarshal.GetReference(dA);
        ref float dm = ref MemoryMarshal.GetReference(dM);
        ref float dd = ref MemoryMarshal.GetReference(dy);
        ref float gg = ref MemoryMarshal.GetReference(gate);
        ref float mm = ref MemoryMarshal.GetReference(m);
        nuint j = 0, len = (nuint)n;
        if (Vector512.IsHardwareAccelerated) j = BackwardRun<Simd512, Vector512<float>>(ref da, ref dm, ref dd, ref gg, ref mm, len, j);
        if (Vector256.IsHardwareAccelerated) j = BackwardRun<Simd256, Vector256<float>>(ref da, ref dm, ref dd, ref gg, ref mm, len, j);
        j = BackwardRun<Simd128, Vector128<float>>(ref da, ref dm, ref dd, ref gg, ref mm, len, j);
        BackwardRun<Simd1, Vector128<float>>(ref da, ref dm, ref dd, ref gg, ref mm, len, j);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint BackwardRun<S, TV>(ref float dA, ref float dM, ref float dy, ref float gate, ref float m, nuint n, nuint j)
        where S : struct, ISimd<TV> where TV : struct
    {
        nuint w = (nuint)S.Count;
        TV one = S.Splat(1f);
        for (; j + w <= n; j += w)
        {
            TV g = S.Load(ref gate, j), d = S.Load(ref dy, j);
            S.Store(S.Mul(d, g), ref dM, j);
            S.Store(S.Mul(S.Mul(d, S.Load(ref m, j)), S.Mul(g, S.Sub(one, g))), ref dA, j);   // dy read first: dA may alias it
        }
        return j;
    }
}
