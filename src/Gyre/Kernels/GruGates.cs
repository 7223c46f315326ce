using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Gyre.Kernels;

/// <summary>
/// Fused pointwise GRU gate kernels (forward and backward of one time step); see
/// <see cref="Reference.GateReference.GruForward"/> for the equations and buffer layouts.
/// R rows (batch entries of one step), H hidden units; gi, gh [R, 3H] hold r | z | n,
/// saved [R, 4H] holds r | z | n | gh_n.
/// </summary>
/// <remarks>
/// Each row runs Vector512 → 256 → 128 steps, widest first, then single Vector128 lanes for the last
/// H mod 4 units, so every unit runs the same instruction sequence (same bits whatever H). Without
/// SIMD the scalar twin runs. Within one vector step all loads precede all stores, so an [R, H] output
/// may be the very same span as an [R, H] input: Forward allows hNext = hPrev; Backward allows
/// dhPrev = dhNext (both tested). Any other overlap is undefined.
/// </remarks>
public static class GruGates
{
    /// <summary>
    /// r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r ⊙ gh_n), h' = (1 − z) ⊙ n + z ⊙ h.
    /// hNext [R, H] (may be hPrev), saved [R, 4H] or empty (inference), gi, gh [R, 3H], hPrev [R, H].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(Span<float> hNext, Span<float> saved,
        ReadOnlySpan<float> gi, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        CheckForward(hNext.Length, saved.Length, gi.Length, gh.Length, hPrev.Length, rows, hidden);
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.GateReference.GruForward(hNext, saved, gi, gh, hPrev, rows, hidden);
            return;
        }
        ref float hn = ref MemoryMarshal.GetReference(hNext);
        ref float sv = ref MemoryMarshal.GetReference(saved);
        ref float xi = ref MemoryMarshal.GetReference(gi);
        ref float xh = ref MemoryMarshal.GetReference(gh);
        ref float hp = ref MemoryMarshal.GetReference(hPrev);
        bool save = !saved.IsEmpty;
        nuint h = (nuint)hidden;
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = ForwardRun<Simd512, Vector512<float>>(ref hn, ref sv, save, ref xi, ref xh, ref hp, b, h, j);
            if (Vector256.IsHardwareAccelerated) j = ForwardRun<Simd256, Vector256<float>>(ref hn, ref sv, save, ref xi, ref xh, ref hp, b, h, j);
            j = ForwardRun<Simd128, Vector128<float>>(ref hn, ref sv, save, ref xi, ref xh, ref hp, b, h, j);
            ForwardRun<Simd1, Vector128<float>>(ref hn, ref sv, save, ref xi, ref xh, ref hp, b, h, j);
        }
    }

    /// <summary>Units j, j + S.Count, ... of row b while a whole vector fits; returns the next unit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint ForwardRun<S, TV>(ref float hNext, ref float saved, bool save,
        ref float gi, ref float gh, ref float hPrev, nuint b, nuint h, nuint j)
        where S : struct, ISimd<TV> where TV : struct
    {
        nuint g = b * 3 * h, o = b * h, s = b * 4 * h, w = (nuint)S.Count;
        for (; j + w <= h; j += w)
        {
            TV r = Activations.Sigmoid<S, TV>(S.Add(S.Load(ref gi, g + j), S.Load(ref gh, g + j)));
            TV z = Activations.Sigmoid<S, TV>(S.Add(S.Load(ref gi, g + h + j), S.Load(ref gh, g + h + j)));
            TV ghn = S.Load(ref gh, g + 2 * h + j);
            TV n = Activations.Tanh<S, TV>(S.MulAdd(r, ghn, S.Load(ref gi, g + 2 * h + j)));
            TV hp = S.Load(ref hPrev, o + j);
            // n + z·(h − n) is (1 − z)·n + z·h with one rounding fewer.
            S.Store(S.MulAdd(z, S.Sub(hp, n), n), ref hNext, o + j);
            if (save)
            {
                S.Store(r, ref saved, s + j);
                S.Store(z, ref saved, s + h + j);
                S.Store(n, ref saved, s + 2 * h + j);
                S.Store(ghn, ref saved, s + 3 * h + j);
            }
        }
        return j;
    }

    /// <summary>
    /// Backward of <see cref="Forward"/>: with dn = dh' ⊙ (1 − z) ⊙ (1 − n²), dz = dh' ⊙ (h − n) ⊙ z(1 − z),
    /// dr = dn ⊙ gh_n ⊙ r(1 − r), writes (overwrites) dGi [R, 3H] = dr | dz | dn, dGh [R, 3H] = dr | dz | dn ⊙ r
    /// and dhPrev [R, H] = dh' ⊙ z (the direct part; the caller adds dGh·W_hh). dhPrev may be dhNext.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(Span<float> dGi, Span<float> dGh, Span<float> dhPrev,
        ReadOnlySpan<float> dhNext, ReadOnlySpan<float> saved, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        CheckBackward(dGi.Length, dGh.Length, dhPrev.Length, dhNext.Length, saved.Length, hPrev.Length, rows, hidden);
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.GateReference.GruBackward(dGi, dGh, dhPrev, dhNext, saved, hPrev, rows, hidden);
            return;
        }
        ref float gi = ref MemoryMarshal.GetReference(dGi);
        ref float gh = ref MemoryMarshal.GetReference(dGh);
        ref float dp = ref MemoryMarshal.GetReference(dhPrev);
        ref float dn = ref MemoryMarshal.GetReference(dhNext);
        ref float sv = ref MemoryMarshal.GetReference(saved);
        ref float hp = ref MemoryMarshal.GetReference(hPrev);
        nuint h = (nuint)hidden;
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = BackwardRun<Simd512, Vector512<float>>(ref gi, ref gh, ref dp, ref dn, ref sv, ref hp, b, h, j);
            if (Vector256.IsHardwareAccelerated) j = BackwardRun<Simd256, Vector256<float>>(ref gi, ref gh, ref dp, ref dn, ref sv, ref hp, b, h, j);
            j = BackwardRun<Simd128, Vector128<float>>(ref gi, ref gh, ref dp, ref dn, ref sv, ref hp, b, h, j);
            BackwardRun<Simd1, Vector128<float>>(ref gi, ref gh, ref dp, ref dn, ref sv, ref hp, b, h, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint BackwardRun<S, TV>(ref float dGi, ref float dGh, ref float dhPrev,
        ref float dhNext, ref float saved, ref float hPrev, nuint b, nuint h, nuint j)
        where S : struct, ISimd<TV> where TV : struct
    {
        nuint g = b * 3 * h, o = b * h, s = b * 4 * h, w = (nuint)S.Count;
        TV one = S.Splat(1f);
        for (; j + w <= h; j += w)
        {
            TV r = S.Load(ref saved, s + j), z = S.Load(ref saved, s + h + j);
            TV n = S.Load(ref saved, s + 2 * h + j), ghn = S.Load(ref saved, s + 3 * h + j);
            TV dh = S.Load(ref dhNext, o + j), hp = S.Load(ref hPrev, o + j);
            TV omz = S.Sub(one, z);
            // Same operation order as the scalar twin (no FMA): the results match it bit for bit.
            TV dn = S.Mul(S.Mul(dh, omz), S.Sub(one, S.Mul(n, n)));
            TV dz = S.Mul(S.Mul(S.Mul(dh, S.Sub(hp, n)), z), omz);
            TV dr = S.Mul(S.Mul(S.Mul(dn, ghn), r), S.Sub(one, r));
            S.Store(dr, ref dGi, g + j); S.Store(dz, ref dGi, g + h + j); S.Store(dn, ref dGi, g + 2 * h + j);
            S.Store(dr, ref dGh, g + j); S.Store(dz, ref dGh, g + h + j); S.Store(S.Mul(dn, r), ref dGh, g + 2 * h + j);
            S.Store(S.Mul(dh, z), ref dhPrev, o + j);
        }
        return j;
    }

    internal static void CheckForward(int hNext, int saved, int gi, int gh, int hPrev, int rows, int hidden)
    {
        CheckShape(rows, hidden);
        int n = rows * hidden;
        Need(nameof(hNext), hNext, n); Need(nameof(gi), gi, 3 * n); Need(nameof(gh), gh, 3 * n); Need(nameof(hPrev), hPrev, n);
        if (saved != 0) Need(nameof(saved), saved, 4 * n);
    }

    internal static void CheckBackward(int dGi, int dGh, int dhPrev, int dhNext, int saved, int hPrev, int rows, int hidden)
    {
        CheckShape(rows, hidden);
        int n = rows * hidden;
        Need(nameof(dGi), dGi, 3 * n); Need(nameof(dGh), dGh, 3 * n); Need(nameof(dhPrev), dhPrev, n);
        Need(nameof(dhNext), dhNext, n); Need(nameof(saved), saved, 4 * n); Need(nameof(hPrev), hPrev, n);
    }

    /// <summary>The SIMD kernels index without bounds checks, so shapes must be sane and fit an int.</summary>
    internal static void CheckShape(int rows, int hidden)
    {
        if (rows < 0 || hidden < 0 || (long)rows * hidden * 5 > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(rows), $"gate kernel shape rows={rows} hidden={hidden} is negative or too large");
    }

    internal static void Need(string name, int length, int need)
    {
        if (length < need) throw new ArgumentException($"span '{name}' holds {length} floats; {need} needed");
    }
}
