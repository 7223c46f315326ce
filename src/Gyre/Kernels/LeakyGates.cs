using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static Gyre.Kernels.GruResetBeforeGates;

namespace Gyre.Kernels;

/// <summary>
/// The leaky blend h' = h + α ⊙ (u − h), α = σ(−ρ) = 1/τ with τ = 1 + e^ρ, of the leaky-integrator cells, forward
/// and backward. Scalar twins with the same signatures and equations: <see cref="Reference.LeakyReference"/>.
/// Letters: R rows, H hidden units.
/// </summary>
/// <remarks>
/// Same structure as <see cref="GruGates"/>: Vector512 → 256 → 128 steps per row, then single Vector128 lanes for the
/// tail; without SIMD the twin runs. Both directions use the vector σ for α (close to the twin's, not equal), so
/// both are held to the twin within a tolerance. <see cref="RhoGradient"/> (once per chunk of the backward loop) sums the
/// record by <see cref="ColumnSums"/>, the twin's chain per unit, so it gives the twin's bits.
/// </remarks>
public static class LeakyGates
{
    /// <inheritdoc cref="Reference.LeakyReference.RhoGradient"/>
    /// <remarks>The sums over the rows are <see cref="ColumnSums"/> (rows streamed once, a register block of units at a
    /// time) where the twin walks each unit's column down all the rows (one cache line per row per unit: 9 % of a
    /// leaky_rnn training profile); each unit's chain, 0 + rec[0] + rec[1] + …, is the twin's.</remarks>
    public static unsafe void RhoGradient(Span<float> dRho, ReadOnlySpan<float> record, nint ld, int rows, ReadOnlySpan<float> rho, int hidden)
    {
        Need(nameof(dRho), dRho.Length, hidden); Need(nameof(rho), rho.Length, hidden);
        if (rows <= 0 || hidden <= 0) return;
        Need(nameof(record), record.Length, checked((int)((rows - 1) * ld + hidden)));
        float[]? rented = null;
        Span<float> sums = hidden <= 1024 ? stackalloc float[hidden] : (rented = ArrayPool<float>.Shared.Rent(hidden)).AsSpan(0, hidden);
        sums.Clear();
        fixed (float* s = sums) fixed (float* r = record) ColumnSums.Accumulate(s, r, ld, rows, 0, hidden);
        for (int j = 0; j < hidden; j++)
        {
            float a = Reference.GateReference.Sigmoid(-rho[j]);
            dRho[j] -= a * (1f - a) * sums[j];
        }
        if (rented != null) ArrayPool<float>.Shared.Return(rented);
    }

    /// <inheritdoc cref="Reference.LeakyReference.Forward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(Span<float> hNext, ReadOnlySpan<float> u, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> rho, int rows, int hidden)
    {
        GruGates.CheckShape(rows, hidden);
        int n = rows * hidden;
        Need(nameof(hNext), hNext.Length, n); Need(nameof(u), u.Length, n); Need(nameof(hPrev), hPrev.Length, n); Need(nameof(rho), rho.Length, hidden);
        if (!Vector128.IsHardwareAccelerated) { Reference.LeakyReference.Forward(hNext, u, hPrev, rho, rows, hidden); return; }
        ref float hn = ref MemoryMarshal.GetReference(hNext);
        ref float uu = ref MemoryMarshal.GetReference(u);
        ref float hp = ref MemoryMarshal.GetReference(hPrev);
        ref float rr = ref MemoryMarshal.GetReference(rho);
        nuint h = (nuint)hidden;
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = ForwardRun<Simd512, Vector512<float>>(ref hn, ref uu, ref hp, ref rr, b, h, j);
            if (Vector256.IsHardwareAccelerated) j = ForwardRun<Simd256, Vector256<float>>(ref hn, ref uu, ref hp, ref rr, b, h, j);
            j = ForwardRun<Simd128, Vector128<float>>(ref hn, ref uu, ref hp, ref rr, b, h, j);
            ForwardRun<Simd1, Vector128<float>>(ref hn, ref uu, ref hp, ref rr, b, h, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint ForwardRun<S, TV>(ref float hNext, ref float u, ref float hPrev, ref float rho, nuint b, nuint h, nuint j)
        where S : struct, ISimd<TV> where TV : struct
    {
        nuint o = b * h, w = (nuint)S.Count;
        TV zero = S.Splat(0f);
        for (; j + w <= h; j += w)
        {
            TV a = Activations.Sigmoid<S, TV>(S.Sub(zero, S.Load(ref rho, j)));
            TV hp = S.Load(ref hPrev, o + j);
            S.Store(S.MulAdd(a, S.Sub(S.Load(ref u, o + j), hp), hp), ref hNext, o + j);
        }
        return j;
    }

    /// <inheritdoc cref="Reference.LeakyReference.Backward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(Span<float> dU, Span<float> dhPrev, Span<float> record,
        ReadOnlySpan<float> dhNext, ReadOnlySpan<float> u, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> rho, int rows, int hidden)
    {
        GruGates.CheckShape(rows, hidden);
        int n = rows * hidden;
        Need(nameof(dU), dU.Length, n); Need(nameof(dhPrev), dhPrev.Length, n); Need(nameof(record), record.Length, n);
        Need(nameof(dhNext), dhNext.Length, n); Need(nameof(u), u.Length, n); Need(nameof(hPrev), hPrev.Length, n); Need(nameof(rho), rho.Length, hidden);
        if (!Vector128.IsHardwareAccelerated) { Reference.LeakyReference.Backward(dU, dhPrev, record, dhNext, u, hPrev, rho, rows, hidden); return; }
        ref float du = ref MemoryMarshal.GetReference(dU);
        ref float dp = ref MemoryMarshal.GetReference(dhPrev);
        ref float rc = ref MemoryMarshal.GetReference(record);
        ref float dn = ref MemoryMarshal.GetReference(dhNext);
        ref float uu = ref MemoryMarshal.GetReference(u);
        ref float hp = ref MemoryMarshal.GetReference(hPrev);
        ref float rr = ref MemoryMarshal.GetReference(rho);
        nuint h = (nuint)hidden;
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = BackwardRun<Simd512, Vector512<float>>(ref du, ref dp, ref rc, ref dn, ref uu, ref hp, ref rr, b, h, j);
            if (Vector256.IsHardwareAccelerated) j = BackwardRun<Simd256, Vector256<float>>(ref du, ref dp, ref rc, ref dn, ref uu, ref hp, ref rr, b, h, j);
            j = BackwardRun<Simd128, Vector128<float>>(ref du, ref dp, ref rc, ref dn, ref uu, ref hp, ref rr, b, h, j);
            BackwardRun<Simd1, Vector128<float>>(ref du, ref dp, ref rc, ref dn, ref uu, ref hp, ref rr, b, h, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint BackwardRun<S, TV>(ref float dU, ref float dhPrev, ref float record, ref float dhNext, ref float u, ref float hPrev,
        ref float rho, nuint b, nuint h, nuint j) where S : struct, ISimd<TV> where TV : struct
    {
        nuint o = b * h, w = (nuint)S.Count;
        TV zero = S.Splat(0f), one = S.Splat(1f);
        for (; j + w <= h; j += w)
        {
            TV a = Activations.Sigmoid<S, TV>(S.Sub(zero, S.Load(ref rho, j)));
            TV dh = S.Load(ref dhNext, o + j);
            S.Store(S.Mul(dh, a), ref dU, o + j);
            S.Store(S.Mul(dh, S.Sub(one, a)), ref dhPrev, o + j);
            S.Store(S.Mul(dh, S.Sub(S.Load(ref u, o + j), S.Load(ref hPrev, o + j))), ref record, o + j);
        }
        return j;
    }
}
