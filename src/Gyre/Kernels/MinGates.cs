using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Gyre.Kernels;

/// <summary>
/// Pointwise steps of minGRU and minLSTM (<see cref="Cells.MinGruCell"/>, <see cref="Cells.MinLstmCell"/>): the gates
/// come from x alone, so a step is h' = a ⊙ h + b with a, b from gx, and the whole step after the input projection
/// is one fused pass. Equations and layouts: <see cref="Reference.MinGatesReference"/>, the scalar twin.
/// R rows, H units; gx [R, G·H] (G = 2: z | h̃; G = 3: f | i | h̃), h, a, b [R, H], saved [R, S·H]
/// (minGRU S = 3: z | h̃ | g′; minLSTM S = 5: f′ | 1 − f | 1 − i | h̃ | g′).
/// </summary>
/// <remarks>
/// Each row runs Vector512 → 256 → 128 steps, widest first, then single lanes for the tail, so every unit
/// runs the same instruction sequence whatever H; without SIMD the twin runs. No FMA anywhere: h' = a·h + b is
/// rounded as <see cref="LinearRecurrence"/> rounds it, so the sequential step and the parallel scan with one
/// chunk give the same bits. Forward differs from the twin only through the vector σ of <see cref="Activations"/>;
/// backward (products only) matches it bit for bit.
/// </remarks>
public static class MinGates
{
    /// <summary>Gate blocks G of minGRU (false) / minLSTM (true).</summary>
    public static int Gates(bool lstm) => lstm ? 3 : 2;

    /// <summary>Saved floats per unit S of minGRU (false) / minLSTM (true).</summary>
    public static int SavedWidth(bool lstm) => lstm ? 5 : 3;

    /// <inheritdoc cref="Reference.MinGatesReference.Forward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(Span<float> hNext, Span<float> saved, ReadOnlySpan<float> gx, ReadOnlySpan<float> hPrev,
        int rows, int hidden, bool lstm)
    {
        CheckForward(hNext.Length, saved.Length, gx.Length, hPrev.Length, rows, hidden, lstm, "hNext", "hPrev");
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.MinGatesReference.Forward(hNext, saved, gx, hPrev, rows, hidden, lstm);
            return;
        }
        Rows(ref MemoryMarshal.GetReference(hNext), ref MemoryMarshal.GetReference(hPrev), ref MemoryMarshal.GetReference(saved),
            ref MemoryMarshal.GetReference(gx), !saved.IsEmpty, rows, hidden, lstm, step: true);
    }

    /// <inheritdoc cref="Reference.MinGatesReference.Coefficients"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Coefficients(Span<float> a, Span<float> b, Span<float> saved, ReadOnlySpan<float> gx,
        int rows, int hidden, bool lstm)
    {
        CheckForward(a.Length, saved.Length, gx.Length, b.Length, rows, hidden, lstm, "a", "b");
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.MinGatesReference.Coefficients(a, b, saved, gx, rows, hidden, lstm);
            return;
        }
        Rows(ref MemoryMarshal.GetReference(a), ref MemoryMarshal.GetReference(b), ref MemoryMarshal.GetReference(saved),
            ref MemoryMarshal.GetReference(gx), !saved.IsEmpty, rows, hidden, lstm, step: false);
    }

    // Forward step (step: first = h', second = h) or coefficients (first = a, second = b), row by row.
    static void Rows(ref float first, ref float second, ref float saved, ref float gx, bool save, int rows, int hidden, bool lstm, bool step)
    {
        nuint h = (nuint)hidden;
        for (nuint r = 0; r < (nuint)rows; r++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = ForwardRun<Simd512, Vector512<float>>(ref first, ref second, ref saved, ref gx, save, r, h, j, lstm, step);
            if (Vector256.IsHardwareAccelerated) j = ForwardRun<Simd256, Vector256<float>>(ref first, ref second, ref saved, ref gx, save, r, h, j, lstm, step);
            j = ForwardRun<Simd128, Vector128<float>>(ref first, ref second, ref saved, ref gx, save, r, h, j, lstm, step);
            ForwardRun<Simd1, Vector128<float>>(ref first, ref second, ref saved, ref gx, save, r, h, j, lstm, step);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint ForwardRun<S, TV>(ref float first, ref float second, ref float saved, ref float gx, bool save,
        nuint r, nuint h, nuint j, bool lstm, bool step) where S : struct, ISimd<TV> where TV : struct
    {
        nuint w = (nuint)S.Count, g = lstm ? 3u : 2u, sw = lstm ? 5u : 3u, o = r * h, og = r * g * h, os = r * sw * h;
        TV one = S.Splat(1f), half = S.Splat(0.5f), zero = S.Splat(0f), tail = S.Splat(TailBelow);
        for (; j + w <= h; j += w)
        {
            TV a, z, ht, gp;
            TV p = S.Load(ref gx, og + (g - 1) * h + j);
            // g(x) = x + ½ (x ≥ 0), σ(x) (x < 0): continuous and positive; NaN takes σ, which keeps it.
            TV nonNeg = S.GreaterThanOrEqual(p, zero), sp = Activations.Sigmoid<S, TV>(p);
            ht = S.Select(nonNeg, S.Add(p, half), sp);
            gp = S.Select(nonNeg, one, S.Mul(sp, S.Sub(one, sp)));
            if (lstm)
            {
                TV kf = S.Load(ref gx, og + j), ki = S.Load(ref gx, og + h + j);
                TV f = Activations.Sigmoid<S, TV>(kf), i = Activations.Sigmoid<S, TV>(ki);
                // f′ = f/(f + i); with both gates below e^−80, f ≈ e^kf and i ≈ e^ki to float precision, so
                // f′ = σ(kf − ki) exactly there, where f + i would lose digits or vanish.
                TV deep = S.And(S.LessThan(kf, tail), S.LessThan(ki, tail));
                a = S.Select(deep, Activations.Sigmoid<S, TV>(S.Sub(kf, ki)), S.Div(f, S.Add(f, i)));
                z = S.Sub(one, a);
                if (save)
                {
                    S.Store(a, ref saved, os + j);
                    S.Store(S.Sub(one, f), ref saved, os + h + j);
                    S.Store(S.Sub(one, i), ref saved, os + 2 * h + j);
                    S.Store(ht, ref saved, os + 3 * h + j);
                    S.Store(gp, ref saved, os + 4 * h + j);
                }
            }
            else
            {
                z = Activations.Sigmoid<S, TV>(S.Load(ref gx, og + j));
                a = S.Sub(one, z);
                if (save)
                {
                    S.Store(z, ref saved, os + j);
                    S.Store(ht, ref saved, os + h + j);
                    S.Store(gp, ref saved, os + 2 * h + j);
                }
            }
            TV b = S.Mul(z, ht);
            if (step) S.Store(S.Add(S.Mul(a, S.Load(ref second, o + j)), b), ref first, o + j);
            else { S.Store(a, ref first, o + j); S.Store(b, ref second, o + j); }
        }
        return j;
    }

    /// <summary>Below this pre-activation both minLSTM gates are e^k to float precision (see the twin).</summary>
    internal const float TailBelow = -80f;

    /// <inheritdoc cref="Reference.MinGatesReference.Backward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(Span<float> dGx, Span<float> dhPrev, ReadOnlySpan<float> dhNext, ReadOnlySpan<float> saved,
        ReadOnlySpan<float> hPrev, int rows, int hidden, bool lstm)
    {
        CheckBackward(dGx.Length, dhPrev.Length, dhNext.Length, saved.Length, hPrev.Length, rows, hidden, lstm);
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.MinGatesReference.Backward(dGx, dhPrev, dhNext, saved, hPrev, rows, hidden, lstm);
            return;
        }
        ref float dg = ref MemoryMarshal.GetReference(dGx);
        ref float dp = ref MemoryMarshal.GetReference(dhPrev);
        ref float dn = ref MemoryMarshal.GetReference(dhNext);
        ref float sv = ref MemoryMarshal.GetReference(saved);
        ref float hp = ref MemoryMarshal.GetReference(hPrev);
        nuint h = (nuint)hidden;
        for (nuint r = 0; r < (nuint)rows; r++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = BackwardRun<Simd512, Vector512<float>>(ref dg, ref dp, ref dn, ref sv, ref hp, r, h, j, lstm);
            if (Vector256.IsHardwareAccelerated) j = BackwardRun<Simd256, Vector256<float>>(ref dg, ref dp, ref dn, ref sv, ref hp, r, h, j, lstm);
            j = BackwardRun<Simd128, Vector128<float>>(ref dg, ref dp, ref dn, ref sv, ref hp, r, h, j, lstm);
            BackwardRun<Simd1, Vector128<float>>(ref dg, ref dp, ref dn, ref sv, ref hp, r, h, j, lstm);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint BackwardRun<S, TV>(ref float dGx, ref float dhPrev, ref float dhNext, ref float saved, ref float hPrev,
        nuint r, nuint h, nuint j, bool lstm) where S : struct, ISimd<TV> where TV : struct
    {
        nuint w = (nuint)S.Count, g = lstm ? 3u : 2u, sw = lstm ? 5u : 3u, o = r * h, og = r * g * h, os = r * sw * h;
        TV one = S.Splat(1f), negZero = S.Splat(-0f);
        for (; j + w <= h; j += w)
        {
            TV dh = S.Load(ref dhNext, o + j), hv = S.Load(ref hPrev, o + j);
            TV ht = S.Load(ref saved, os + (sw - 2) * h + j), gp = S.Load(ref saved, os + (sw - 1) * h + j);
            TV a, z;
            if (lstm)
            {
                a = S.Load(ref saved, os + j);
                z = S.Sub(one, a);
                // h' = f′·h + (1 − f′)·h̃, f′ = σ(d) with ∂d/∂kf = 1 − f, ∂d/∂ki = −(1 − i).
                TV dd = S.Mul(S.Xor(S.Mul(dh, S.Sub(ht, hv)), negZero), S.Mul(a, z));
                S.Store(S.Mul(dd, S.Load(ref saved, os + h + j)), ref dGx, og + j);
                S.Store(S.Xor(S.Mul(dd, S.Load(ref saved, os + 2 * h + j)), negZero), ref dGx, og + h + j);
            }
            else
            {
                z = S.Load(ref saved, os + j);
                a = S.Sub(one, z);
                S.Store(S.Mul(S.Mul(dh, S.Sub(ht, hv)), S.Mul(z, a)), ref dGx, og + j);
            }
            S.Store(S.Mul(S.Mul(dh, z), gp), ref dGx, og + (g - 1) * h + j);
            S.Store(S.Mul(dh, a), ref dhPrev, o + j);
        }
        return j;
    }

    internal static void CheckForward(int first, int saved, int gx, int second, int rows, int hidden, bool lstm, string firstName, string secondName)
    {
        GruGates.CheckShape(rows, hidden);
        int n = rows * hidden;
        Need(firstName, first, n); Need("gx", gx, Gates(lstm) * n); Need(secondName, second, n);
        if (saved != 0) Need("saved", saved, SavedWidth(lstm) * n);
    }

    internal static void CheckBackward(int dGx, int dhPrev, int dhNext, int saved, int hPrev, int rows, int hidden, bool lstm)
    {
        GruGates.CheckShape(rows, hidden);
        int n = rows * hidden;
        Need(nameof(dGx), dGx, Gates(lstm) * n); Need(nameof(dhPrev), dhPrev, n); Need(nameof(dhNext), dhNext, n);
        Need(nameof(saved), saved, SavedWidth(lstm) * n); Need(nameof(hPrev), hPrev, n);
    }

    internal static void Need(string name, int length, int need)
    {
        if (length < need) throw new ArgumentException($"span '{name}' holds {length} floats; {need} needed");
    }
}
