using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Gyre.Kernels;

/// <summary>
/// Fused pointwise LSTM gate kernels (forward and backward of one time step); see
/// <see cref="Reference.GateReference.LstmForward"/> for the equations and buffer layouts.
/// R rows, H hidden units; gates [R, 4H] hold i | f | g | o, saved [R, 5H] holds i | f | g | o | tanh(c').
/// </summary>
/// <remarks>
/// Same structure as <see cref="GruGates"/> (widest vector first, single Vector128 lanes for the row
/// tail, scalar twin without SIMD). Within one vector step all loads precede all stores, so Forward
/// allows cNext = cPrev and Backward allows dcPrev = dcNext (both tested). hNext and cNext must be
/// distinct; any other overlap is undefined.
/// </remarks>
public static class LstmGates
{
    /// <summary>
    /// i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').
    /// hNext, cNext [R, H] (cNext may be cPrev), saved [R, 5H] or empty (inference), gates [R, 4H], cPrev [R, H].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(Span<float> hNext, Span<float> cNext, Span<float> saved,
        ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, int rows, int hidden)
    {
        CheckForward(hNext.Length, cNext.Length, saved.Length, gates.Length, cPrev.Length, rows, hidden);
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.GateReference.LstmForward(hNext, cNext, saved, gates, cPrev, rows, hidden);
            return;
        }
        ref float hn = ref MemoryMarshal.GetReference(hNext);
        ref float cn = ref MemoryMarshal.GetReference(cNext);
        ref float sv = ref MemoryMarshal.GetReference(saved);
        ref float a = ref MemoryMarshal.GetReference(gates);
        ref float cp = ref MemoryMarshal.GetReference(cPrev);
        bool save = !saved.IsEmpty;
        nuint h = (nuint)hidden;
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = ForwardRun<Simd512, Vector512<float>>(ref hn, ref cn, ref sv, save, ref a, ref cp, b, h, j);
            if (Vector256.IsHardwareAccelerated) j = ForwardRun<Simd256, Vector256<float>>(ref hn, ref cn, ref sv, save, ref a, ref cp, b, h, j);
            j = ForwardRun<Simd128, Vector128<float>>(ref hn, ref cn, ref sv, save, ref a, ref cp, b, h, j);
            ForwardRun<Simd1, Vector128<float>>(ref hn, ref cn, ref sv, save, ref a, ref cp, b, h, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint ForwardRun<S, TV>(ref float hNext, ref float cNext, ref float saved, bool save,
        ref float gates, ref float cPrev, nuint b, nuint h, nuint j)
        where S : struct, ISimd<TV> where TV : struct
    {
        nuint g = b * 4 * h, o = b * h, s = b * 5 * h, w = (nuint)S.Count;
        for (; j + w <= h; j += w)
        {
            TV i = Activations.Sigmoid<S, TV>(S.Load(ref gates, g + j));
            TV f = Activations.Sigmoid<S, TV>(S.Load(ref gates, g + h + j));
            TV gg = Activations.Tanh<S, TV>(S.Load(ref gates, g + 2 * h + j));
            TV og = Activations.Sigmoid<S, TV>(S.Load(ref gates, g + 3 * h + j));
            TV c = S.MulAdd(f, S.Load(ref cPrev, o + j), S.Mul(i, gg));
            TV tc = Activations.Tanh<S, TV>(c);
            S.Store(c, ref cNext, o + j);
            S.Store(S.Mul(og, tc), ref hNext, o + j);
            if (save)
            {
                S.Store(i, ref saved, s + j);
                S.Store(f, ref saved, s + h + j);
                S.Store(gg, ref saved, s + 2 * h + j);
                S.Store(og, ref saved, s + 3 * h + j);
                S.Store(tc, ref saved, s + 4 * h + j);
            }
        }
        return j;
    }

    /// <summary>
    /// Backward of <see cref="Forward"/>: dc = dc' + dh' ⊙ o ⊙ (1 − tanh²(c')); writes (overwrites)
    /// dGates [R, 4H] = dc⊙g⊙i(1−i) | dc⊙c⊙f(1−f) | dc⊙i⊙(1−g²) | dh'⊙tanh(c')⊙o(1−o) and dcPrev [R, H] = dc ⊙ f
    /// (dcPrev may be dcNext). ∂L/∂hPrev = dGates·W_hh is the caller's GEMM.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(Span<float> dGates, Span<float> dcPrev,
        ReadOnlySpan<float> dhNext, ReadOnlySpan<float> dcNext, ReadOnlySpan<float> saved, ReadOnlySpan<float> cPrev,
        int rows, int hidden)
    {
        CheckBackward(dGates.Length, dcPrev.Length, dhNext.Length, dcNext.Length, saved.Length, cPrev.Length, rows, hidden);
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.GateReference.LstmBackward(dGates, dcPrev, dhNext, dcNext, saved, cPrev, rows, hidden);
            return;
        }
        ref float da = ref MemoryMarshal.GetReference(dGates);
        ref float dcp = ref MemoryMarshal.GetReference(dcPrev);
        ref float dhn = ref MemoryMarshal.GetReference(dhNext);
        ref float dcn = ref MemoryMarshal.GetReference(dcNext);
        ref float sv = ref MemoryMarshal.GetReference(saved);
        ref float cp = ref MemoryMarshal.GetReference(cPrev);
        nuint h = (nuint)hidden;
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = BackwardRun<Simd512, Vector512<float>>(ref da, ref dcp, ref dhn, ref dcn, ref sv, ref cp, b, h, j);
            if (Vector256.IsHardwareAccelerated) j = BackwardRun<Simd256, Vector256<float>>(ref da, ref dcp, ref dhn, ref dcn, ref sv, ref cp, b, h, j);
            j = BackwardRun<Simd128, Vector128<float>>(ref da, ref dcp, ref dhn, ref dcn, ref sv, ref cp, b, h, j);
            BackwardRun<Simd1, Vector128<float>>(ref da, ref dcp, ref dhn, ref dcn, ref sv, ref cp, b, h, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint BackwardRun<S, TV>(ref float dGates, ref float dcPrev,
        ref float dhNext, ref float dcNext, ref float saved, ref float cPrev, nuint b, nuint h, nuint j)
        where S : struct, ISimd<TV> where TV : struct
    {
        nuint g = b * 4 * h, o = b * h, s = b * 5 * h, w = (nuint)S.Count;
        TV one = S.Splat(1f);
        for (; j + w <= h; j += w)
        {
            TV i = S.Load(ref saved, s + j), f = S.Load(ref saved, s + h + j), gg = S.Load(ref saved, s + 2 * h + j);
            TV og = S.Load(ref saved, s + 3 * h + j), tc = S.Load(ref saved, s + 4 * h + j);
            TV dh = S.Load(ref dhNext, o + j), cp = S.Load(ref cPrev, o + j);
            // Same operation order as the scalar twin (no FMA): the results match it bit for bit.
            TV dc = S.Add(S.Load(ref dcNext, o + j), S.Mul(S.Mul(dh, og), S.Sub(one, S.Mul(tc, tc))));
            S.Store(S.Mul(S.Mul(S.Mul(dc, gg), i), S.Sub(one, i)), ref dGates, g + j);
            S.Store(S.Mul(S.Mul(S.Mul(dc, cp), f), S.Sub(one, f)), ref dGates, g + h + j);
            S.Store(S.Mul(S.Mul(dc, i), S.Sub(one, S.Mul(gg, gg))), ref dGates, g + 2 * h + j);
            S.Store(S.Mul(S.Mul(S.Mul(dh, tc), og), S.Sub(one, og)), ref dGates, g + 3 * h + j);
            S.Store(S.Mul(dc, f), ref dcPrev, o + j);
        }
        return j;
    }

    internal static void CheckForward(int hNext, int cNext, int saved, int gates, int cPrev, int rows, int hidden)
    {
        GruGates.CheckShape(rows, hidden);
        int n = rows * hidden;
        GruGates.Need(nameof(hNext), hNext, n); GruGates.Need(nameof(cNext), cNext, n);
        GruGates.Need(nameof(gates), gates, 4 * n); GruGates.Need(nameof(cPrev), cPrev, n);
        if (saved != 0) GruGates.Need(nameof(saved), saved, 5 * n);
    }

    internal static void CheckBackward(int dGates, int dcPrev, int dhNext, int dcNext, int saved, int cPrev, int rows, int hidden)
    {
        GruGates.CheckShape(rows, hidden);
        int n = rows * hidden;
        GruGates.Need(nameof(dGates), dGates, 4 * n); GruGates.Need(nameof(dcPrev), dcPrev, n);
        GruGates.Need(nameof(dhNext), dhNext, n); GruGates.Need(nameof(dcNext), dcNext, n);
        GruGates.Need(nameof(saved), saved, 5 * n); GruGates.Need(nameof(cPrev), cPrev, n);
    }
}
