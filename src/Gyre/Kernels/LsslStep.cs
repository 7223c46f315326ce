using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Gyre.Kernels;

/// <summary>
/// One row of the <see cref="Cells.LsslCell"/> step (H channels, N states each, [H, N] row-major): the state update,
/// the readout y = C·s' + D·u and their backward. Equations: <see cref="Reference.LsslStepReference"/>, the scalar twin.
/// </summary>
/// <remarks>
/// A channel's N states are contiguous, so each channel runs Vector256 → 128 steps over n, then single lanes, and
/// the readout's Σ_n is one lane-wise accumulator summed across lanes at the end of the channel (a different order
/// from the twin's, hence "to rounding" for y and ∂L/∂u). States and records are products and sums of two
/// products rounded exactly as the twin rounds them (no FMA): bit for bit. Without SIMD the twin runs.
/// </remarks>
public static class LsslStep
{
    /// <inheritdoc cref="Reference.LsslStepReference.Forward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(Span<float> y, Span<float> sNext, ReadOnlySpan<float> sPrev, ReadOnlySpan<float> u,
        ReadOnlySpan<float> aBar, ReadOnlySpan<float> bBar, ReadOnlySpan<float> c, ReadOnlySpan<float> d, int hidden, int n)
    {
        CheckForward(y.Length, sNext.Length, sPrev.Length, u.Length, aBar.Length, bBar.Length, c.Length, d.Length, hidden, n);
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.LsslStepReference.Forward(y, sNext, sPrev, u, aBar, bBar, c, d, hidden, n);
            return;
        }
        ref float sn = ref MemoryMarshal.GetReference(sNext);
        ref float sp = ref MemoryMarshal.GetReference(sPrev);
        ref float a = ref MemoryMarshal.GetReference(aBar);
        ref float b = ref MemoryMarshal.GetReference(bBar);
        ref float cc = ref MemoryMarshal.GetReference(c);
        nuint nn = (nuint)n;
        for (int j = 0; j < hidden; j++)
        {
            float uj = u[j];
            nuint o = (nuint)j * nn, k = 0;
            float acc = 0f;
            if (Vector256.IsHardwareAccelerated && nn >= 8)
            {
                Vector256<float> uv = Vector256.Create(uj), av = Vector256<float>.Zero;
                for (; k + 8 <= nn; k += 8)
                {
                    var v = Vector256.LoadUnsafe(ref a, o + k) * Vector256.LoadUnsafe(ref sp, o + k) + Vector256.LoadUnsafe(ref b, o + k) * uv;
                    v.StoreUnsafe(ref sn, o + k);
                    av += Vector256.LoadUnsafe(ref cc, o + k) * v;
                }
                acc += Vector256.Sum(av);
            }
            if (nn - k >= 4)
            {
                Vector128<float> uv = Vector128.Create(uj), av = Vector128<float>.Zero;
                for (; k + 4 <= nn; k += 4)
                {
                    var v = Vector128.LoadUnsafe(ref a, o + k) * Vector128.LoadUnsafe(ref sp, o + k) + Vector128.LoadUnsafe(ref b, o + k) * uv;
                    v.StoreUnsafe(ref sn, o + k);
                    av += Vector128.LoadUnsafe(ref cc, o + k) * v;
                }
                acc += Vector128.Sum(av);
            }
            for (; k < nn; k++)
            {
                float v = Unsafe.Add(ref a, o + k) * Unsafe.Add(ref sp, o + k) + Unsafe.Add(ref b, o + k) * uj;
                Unsafe.Add(ref sn, o + k) = v;
                acc += Unsafe.Add(ref cc, o + k) * v;
            }
            y[j] = acc + d[j] * uj;
        }
    }

    /// <inheritdoc cref="Reference.LsslStepReference.Backward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(Span<float> du, Span<float> dsPrev, Span<float> records, ReadOnlySpan<float> dy, ReadOnlySpan<float> dsNext,
        ReadOnlySpan<float> sPrev, ReadOnlySpan<float> sNext, ReadOnlySpan<float> u, ReadOnlySpan<float> aBar, ReadOnlySpan<float> bBar,
        ReadOnlySpan<float> c, ReadOnlySpan<float> d, int hidden, int n)
    {
        CheckBackward(du.Length, dsPrev.Length, records.Length, dy.Length, dsNext.Length, sPrev.Length, sNext.Length, u.Length,
            aBar.Length, bBar.Length, c.Length, d.Length, hidden, n);
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.LsslStepReference.Backward(du, dsPrev, records, dy, dsNext, sPrev, sNext, u, aBar, bBar, c, d, hidden, n);
            return;
        }
        ref float dsp = ref MemoryMarshal.GetReference(dsPrev);
        ref float dsn = ref MemoryMarshal.GetReference(dsNext);
        ref float sp = ref MemoryMarshal.GetReference(sPrev);
        ref float sn = ref MemoryMarshal.GetReference(sNext);
        ref float a = ref MemoryMarshal.GetReference(aBar);
        ref float b = ref MemoryMarshal.GetReference(bBar);
        ref float cc = ref MemoryMarshal.GetReference(c);
        ref float ga = ref MemoryMarshal.GetReference(records);
        nuint nn = (nuint)n, hn = (nuint)hidden * nn;
        ref float gb = ref Unsafe.Add(ref ga, hn);
        ref float gc = ref Unsafe.Add(ref ga, 2 * hn);
        for (int j = 0; j < hidden; j++)
        {
            float dyj = dy[j], uj = u[j], acc = 0f;
            nuint o = (nuint)j * nn, k = 0;
            if (Vector256.IsHardwareAccelerated && nn >= 8)
            {
                Vector256<float> dyv = Vector256.Create(dyj), uv = Vector256.Create(uj), av = Vector256<float>.Zero;
                for (; k + 8 <= nn; k += 8)
                {
                    var g = Vector256.LoadUnsafe(ref dsn, o + k) + Vector256.LoadUnsafe(ref cc, o + k) * dyv;
                    (Vector256.LoadUnsafe(ref a, o + k) * g).StoreUnsafe(ref dsp, o + k);
                    av += Vector256.LoadUnsafe(ref b, o + k) * g;
                    (g * Vector256.LoadUnsafe(ref sp, o + k)).StoreUnsafe(ref ga, o + k);
                    (g * uv).StoreUnsafe(ref gb, o + k);
                    (dyv * Vector256.LoadUnsafe(ref sn, o + k)).StoreUnsafe(ref gc, o + k);
                }
                acc += Vector256.Sum(av);
            }
            if (nn - k >= 4)
            {
                Vector128<float> dyv = Vector128.Create(dyj), uv = Vector128.Create(uj), av = Vector128<float>.Zero;
                for (; k + 4 <= nn; k += 4)
                {
                    var g = Vector128.LoadUnsafe(ref dsn, o + k) + Vector128.LoadUnsafe(ref cc, o + k) * dyv;
                    (Vector128.LoadUnsafe(ref a, o + k) * g).StoreUnsafe(ref dsp, o + k);
                    av += Vector128.LoadUnsafe(ref b, o + k) * g;
                    (g * Vector128.LoadUnsafe(ref sp, o + k)).StoreUnsafe(ref ga, o + k);
                    (g * uv).StoreUnsafe(ref gb, o + k);
                    (dyv * Vector128.LoadUnsafe(ref sn, o + k)).StoreUnsafe(ref gc, o + k);
                }
                acc += Vector128.Sum(av);
            }
            for (; k < nn; k++)
            {
                float g = Unsafe.Add(ref dsn, o + k) + Unsafe.Add(ref cc, o + k) * dyj;
                Unsafe.Add(ref dsp, o + k) = Unsafe.Add(ref a, o + k) * g;
                acc += Unsafe.Add(ref b, o + k) * g;
                Unsafe.Add(ref ga, o + k) = g * Unsafe.Add(ref sp, o + k);
                Unsafe.Add(ref gb, o + k) = g * uj;
                Unsafe.Add(ref gc, o + k) = dyj * Unsafe.Add(ref sn, o + k);
            }
            du[j] = acc + d[j] * dyj;
            records[(int)(3 * hn) + j] = dyj * uj;
        }
    }

    internal static void CheckForward(int y, int sNext, int sPrev, int u, int aBar, int bBar, int c, int d, int hidden, int n)
    {
        if (hidden < 0 || n < 1) throw new ArgumentOutOfRangeException(nameof(hidden), $"need H ≥ 0 and N ≥ 1, got H {hidden}, N {n}");
        int hn = hidden * n;
        MinGates.Need(nameof(y), y, hidden); MinGates.Need(nameof(sNext), sNext, hn); MinGates.Need(nameof(sPrev), sPrev, hn);
        MinGates.Need(nameof(u), u, hidden); MinGates.Need(nameof(aBar), aBar, hn); MinGates.Need(nameof(bBar), bBar, hn);
        MinGates.Need(nameof(c), c, hn); MinGates.Need(nameof(d), d, hidden);
    }

    internal static void CheckBackward(int du, int dsPrev, int records, int dy, int dsNext, int sPrev, int sNext, int u,
        int aBar, int bBar, int c, int d, int hidden, int n)
    {
        CheckForward(dy, dsNext, sPrev, u, aBar, bBar, c, d, hidden, n);
        int hn = hidden * n;
        MinGates.Need(nameof(du), du, hidden); MinGates.Need(nameof(dsPrev), dsPrev, hn); MinGates.Need(nameof(sNext), sNext, hn);
        MinGates.Need(nameof(records), records, 3 * hn + hidden);
    }
}
