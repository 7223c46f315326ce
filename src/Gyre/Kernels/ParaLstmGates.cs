using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Gyre.Kernels;

/// <summary>
/// Pointwise ParaLSTM step (<see cref="Cells.ParaLstmCell"/>): diagonal recurrent weights and peepholes make the
/// whole step after the input projection one fused pass per unit. Equations and layouts:
/// <see cref="Reference.ParaLstmReference"/>, the scalar twin. R rows, H units; gx [R, 3H] (f | g | o),
/// h, c [R, H], a = weight_hh [3H], p = peephole [2H] (p_f | p_o), saved [R, 6H] (f | g | o | c' | tanh c' | c).
/// </summary>
/// <remarks>
/// Each row runs Vector512 → 256 → 128 steps, widest first, then single lanes for the tail; without SIMD the twin
/// runs. No FMA (the twin rounds every product), so forward differs from the twin only through the vector σ and
/// tanh of <see cref="Activations"/>, and backward (products only) matches it bit for bit.
/// </remarks>
public static class ParaLstmGates
{
    /// <inheritdoc cref="Reference.ParaLstmReference.Forward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(Span<float> hNext, Span<float> cNext, Span<float> saved, ReadOnlySpan<float> gx, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, ReadOnlySpan<float> a, ReadOnlySpan<float> p, int rows, int hidden)
    {
        CheckForward(hNext.Length, cNext.Length, saved.Length, gx.Length, hPrev.Length, cPrev.Length, a.Length, p.Length, rows, hidden);
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.ParaLstmReference.Forward(hNext, cNext, saved, gx, hPrev, cPrev, a, p, rows, hidden);
            return;
        }
        var s = new Args
        {
            H0 = ref MemoryMarshal.GetReference(hNext), C0 = ref MemoryMarshal.GetReference(cNext), Saved = ref MemoryMarshal.GetReference(saved),
            Gx = ref MemoryMarshal.GetReference(gx), H1 = ref MemoryMarshal.GetReference(hPrev), C1 = ref MemoryMarshal.GetReference(cPrev),
            A = ref MemoryMarshal.GetReference(a), P = ref MemoryMarshal.GetReference(p), Save = !saved.IsEmpty, Hidden = (nuint)hidden,
        };
        for (nuint r = 0; r < (nuint)rows; r++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = ForwardRun<Simd512, Vector512<float>>(ref s, r, j);
            if (Vector256.IsHardwareAccelerated) j = ForwardRun<Simd256, Vector256<float>>(ref s, r, j);
            j = ForwardRun<Simd128, Vector128<float>>(ref s, r, j);
            ForwardRun<Simd1, Vector128<float>>(ref s, r, j);
        }
    }

    // Forward: H0, C0 next states, H1, C1 previous. Backward: H0, C0 ∂L/∂next, H1, C1 ∂L/∂prev (written), Gx ∂L/∂gx (written), HPrev.
    ref struct Args
    {
        public ref float H0, C0, Saved, Gx, H1, C1, A, P, HPrev;
        public bool Save;
        public nuint Hidden;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint ForwardRun<S, TV>(ref Args s, nuint r, nuint j) where S : struct, ISimd<TV> where TV : struct
    {
        nuint w = (nuint)S.Count, h = s.Hidden, o = r * h, og = 3 * o, os = 6 * o;
        for (; j + w <= h; j += w)
        {
            TV hp = S.Load(ref s.H1, o + j), cp = S.Load(ref s.C1, o + j);
            TV f = Activations.Sigmoid<S, TV>(S.Add(S.Add(S.Load(ref s.Gx, og + j), S.Mul(S.Load(ref s.P, j), cp)), S.Mul(S.Load(ref s.A, j), hp)));
            TV g = Activations.Tanh<S, TV>(S.Add(S.Load(ref s.Gx, og + h + j), S.Mul(S.Load(ref s.A, h + j), hp)));
            TV c = S.Add(g, S.Mul(f, S.Sub(cp, g)));
            TV og2 = S.Add(S.Add(S.Load(ref s.Gx, og + 2 * h + j), S.Mul(S.Load(ref s.P, h + j), c)), S.Mul(S.Load(ref s.A, 2 * h + j), hp));
            TV out_ = Activations.Sigmoid<S, TV>(og2);
            TV tc = Activations.Tanh<S, TV>(c);
            S.Store(c, ref s.C0, o + j);
            S.Store(S.Mul(out_, tc), ref s.H0, o + j);
            if (!s.Save) continue;
            S.Store(f, ref s.Saved, os + j);
            S.Store(g, ref s.Saved, os + h + j);
            S.Store(out_, ref s.Saved, os + 2 * h + j);
            S.Store(c, ref s.Saved, os + 3 * h + j);
            S.Store(tc, ref s.Saved, os + 4 * h + j);
            S.Store(cp, ref s.Saved, os + 5 * h + j);
        }
        return j;
    }

    /// <inheritdoc cref="Reference.ParaLstmReference.Backward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(Span<float> dGx, Span<float> dhPrev, Span<float> dcPrev, ReadOnlySpan<float> dhNext, ReadOnlySpan<float> dcNext,
        ReadOnlySpan<float> saved, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> a, ReadOnlySpan<float> p, int rows, int hidden)
    {
        CheckBackward(dGx.Length, dhPrev.Length, dcPrev.Length, dhNext.Length, dcNext.Length, saved.Length, hPrev.Length, a.Length, p.Length, rows, hidden);
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.ParaLstmReference.Backward(dGx, dhPrev, dcPrev, dhNext, dcNext, saved, hPrev, a, p, rows, hidden);
            return;
        }
        var s = new Args
        {
            H0 = ref MemoryMarshal.GetReference(dhNext), C0 = ref MemoryMarshal.GetReference(dcNext), Saved = ref MemoryMarshal.GetReference(saved),
            Gx = ref MemoryMarshal.GetReference(dGx), H1 = ref MemoryMarshal.GetReference(dhPrev), C1 = ref MemoryMarshal.GetReference(dcPrev),
            A = ref MemoryMarshal.GetReference(a), P = ref MemoryMarshal.GetReference(p), HPrev = ref MemoryMarshal.GetReference(hPrev), Hidden = (nuint)hidden,
        };
        for (nuint r = 0; r < (nuint)rows; r++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = BackwardRun<Simd512, Vector512<float>>(ref s, r, j);
            if (Vector256.IsHardwareAccelerated) j = BackwardRun<Simd256, Vector256<float>>(ref s, r, j);
            j = BackwardRun<Simd128, Vector128<float>>(ref s, r, j);
            BackwardRun<Simd1, Vector128<float>>(ref s, r, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint BackwardRun<S, TV>(ref Args s, nuint r, nuint j) where S : struct, ISimd<TV> where TV : struct
    {
        nuint w = (nuint)S.Count, h = s.Hidden, o = r * h, og = 3 * o, os = 6 * o;
        TV one = S.Splat(1f);
        for (; j + w <= h; j += w)
        {
            TV dh = S.Load(ref s.H0, o + j), dcn = S.Load(ref s.C0, o + j);
            TV f = S.Load(ref s.Saved, os + j), g = S.Load(ref s.Saved, os + h + j), ou = S.Load(ref s.Saved, os + 2 * h + j);
            TV tc = S.Load(ref s.Saved, os + 4 * h + j), cp = S.Load(ref s.Saved, os + 5 * h + j);
            TV dO = S.Mul(S.Mul(dh, tc), S.Mul(ou, S.Sub(one, ou)));
            TV dc = S.Add(S.Add(dcn, S.Mul(S.Mul(dh, ou), S.Sub(one, S.Mul(tc, tc)))), S.Mul(dO, S.Load(ref s.P, h + j)));
            TV dF = S.Mul(S.Mul(dc, S.Sub(cp, g)), S.Mul(f, S.Sub(one, f)));
            TV dG = S.Mul(S.Mul(dc, S.Sub(one, f)), S.Sub(one, S.Mul(g, g)));
            S.Store(dF, ref s.Gx, og + j);
            S.Store(dG, ref s.Gx, og + h + j);
            S.Store(dO, ref s.Gx, og + 2 * h + j);
            S.Store(S.Add(S.Mul(dc, f), S.Mul(dF, S.Load(ref s.P, j))), ref s.C1, o + j);
            S.Store(S.Add(S.Add(S.Mul(dF, S.Load(ref s.A, j)), S.Mul(dG, S.Load(ref s.A, h + j))), S.Mul(dO, S.Load(ref s.A, 2 * h + j))), ref s.H1, o + j);
        }
        return j;
    }

    internal static void CheckForward(int hNext, int cNext, int saved, int gx, int hPrev, int cPrev, int a, int p, int rows, int hidden)
    {
        GruGates.CheckShape(rows, hidden);
        int n = rows * hidden;
        Need(nameof(hNext), hNext, n); Need(nameof(cNext), cNext, n); Need(nameof(gx), gx, 3 * n);
        Need(nameof(hPrev), hPrev, n); Need(nameof(cPrev), cPrev, n); Need("a", a, 3 * hidden); Need("p", p, 2 * hidden);
        if (saved != 0) Need(nameof(saved), saved, 6 * n);
    }

    internal static void CheckBackward(int dGx, int dhPrev, int dcPrev, int dhNext, int dcNext, int saved, int hPrev, int a, int p, int rows, int hidden)
    {
        GruGates.CheckShape(rows, hidden);
        int n = rows * hidden;
        Need(nameof(dGx), dGx, 3 * n); Need(nameof(dhPrev), dhPrev, n); Need(nameof(dcPrev), dcPrev, n);
        Need(nameof(dhNext), dhNext, n); Need(nameof(dcNext), dcNext, n); Need(nameof(saved), saved, 6 * n);
        Need(nameof(hPrev), hPrev, n); Need("a", a, 3 * hidden); Need("p", p, 2 * hidden);
    }

    static void Need(string name, int length, int need)
    {
        if (length < need) throw new ArgumentException($"span '{name}' holds {length} floats; {need} needed");
    }
}
