using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Gyre.Kernels;

/// <summary>
/// Fused pointwise sLSTM kernels (forward and backward of one time step, stabilised exponential gating);
/// see <see cref="Reference.SlstmReference"/> for the scalar twins and <see cref="Cells.SlstmCell{TRec}"/> for the
/// cell. R rows, H hidden units; gates [R, 4H] hold the pre-activations ĩ | f̃ | z̃ | õ, saved [R, 5H] holds
/// i' | f' | z | o | ∂log f/∂f̃.
/// </summary>
/// <remarks>
/// Same structure as <see cref="LstmGates"/>: widest vector first, single Vector128 lanes for the row tail,
/// the scalar twin without SIMD. The forward fuses c = f'·c + i'·z into an FMA and approximates exp, σ,
/// tanh and log1p (a few ulp); the backward uses no FMA and matches its twin bit for bit. Within one
/// vector step all loads precede all stores, but states and their gradients must not overlap other buffers.
/// </remarks>
public static class SlstmGates
{
    /// <summary>
    /// One step: log f = log σ(f̃) (or f̃ when <paramref name="expForget"/>), m' = max(log f + m, ĩ),
    /// i' = exp(ĩ − m'), f' = exp(log f + m − m'), z = tanh(z̃), o = σ(õ), c' = f' ⊙ c + i' ⊙ z,
    /// n' = f' ⊙ n + i', h' = o ⊙ c' / n'. hNext, cNext, nNext, mNext [R, H]; saved [R, 5H] or empty (inference);
    /// gates [R, 4H]; cPrev, nPrev, mPrev [R, H].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(Span<float> hNext, Span<float> cNext, Span<float> nNext, Span<float> mNext, Span<float> saved,
        ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> nPrev, ReadOnlySpan<float> mPrev,
        int rows, int hidden, bool expForget)
    {
        CheckForward(hNext.Length, cNext.Length, nNext.Length, mNext.Length, saved.Length, gates.Length,
            cPrev.Length, nPrev.Length, mPrev.Length, rows, hidden);
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.SlstmReference.Forward(hNext, cNext, nNext, mNext, saved, gates, cPrev, nPrev, mPrev, rows, hidden, expForget);
            return;
        }
        var p = new ForwardRefs
        {
            Save = !saved.IsEmpty, ExpForget = expForget, H = (nuint)hidden,
        };
        ref float hn = ref MemoryMarshal.GetReference(hNext);
        ref float cn = ref MemoryMarshal.GetReference(cNext);
        ref float nn = ref MemoryMarshal.GetReference(nNext);
        ref float mn = ref MemoryMarshal.GetReference(mNext);
        ref float sv = ref MemoryMarshal.GetReference(saved);
        ref float a = ref MemoryMarshal.GetReference(gates);
        ref float cp = ref MemoryMarshal.GetReference(cPrev);
        ref float np = ref MemoryMarshal.GetReference(nPrev);
        ref float mp = ref MemoryMarshal.GetReference(mPrev);
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = ForwardRun<Simd512, Vector512<float>>(p, ref hn, ref cn, ref nn, ref mn, ref sv, ref a, ref cp, ref np, ref mp, b, j);
            if (Vector256.IsHardwareAccelerated) j = ForwardRun<Simd256, Vector256<float>>(p, ref hn, ref cn, ref nn, ref mn, ref sv, ref a, ref cp, ref np, ref mp, b, j);
            j = ForwardRun<Simd128, Vector128<float>>(p, ref hn, ref cn, ref nn, ref mn, ref sv, ref a, ref cp, ref np, ref mp, b, j);
            ForwardRun<Simd1, Vector128<float>>(p, ref hn, ref cn, ref nn, ref mn, ref sv, ref a, ref cp, ref np, ref mp, b, j);
        }
    }

    private struct ForwardRefs
    {
        public bool Save, ExpForget;
        public nuint H;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint ForwardRun<S, TV>(in ForwardRefs p, ref float hNext, ref float cNext, ref float nNext, ref float mNext,
        ref float saved, ref float gates, ref float cPrev, ref float nPrev, ref float mPrev, nuint b, nuint j)
        where S : struct, ISimd<TV> where TV : struct
    {
        nuint h = p.H, g = b * 4 * h, o = b * h, s = b * 5 * h, w = (nuint)S.Count;
        for (; j + w <= h; j += w)
            StepVector<S, TV>(p.ExpForget, ref gates, g + j, h, ref cPrev, ref nPrev, ref mPrev, ref hNext, ref cNext, ref nNext, ref mNext,
                o + j, p.Save, ref saved, s + j, h);
        return j;
    }

    /// <summary>
    /// The step of one vector of units: pre-activations ĩ, f̃, z̃, õ at <paramref name="gates"/>[<paramref name="gi"/> + k·gateStride]
    /// (k = 0..3); states at [<paramref name="si"/>] of each; when <paramref name="save"/>, i' | f' | z | o | ∂log f/∂f̃ at
    /// <paramref name="saved"/>[<paramref name="sv"/> + k·savedStride]. The one expression of the forward: the span kernel
    /// above and the fused multi-row step (<see cref="TileForward"/>, on the GEMM's register tile) both run it, so they
    /// give the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StepVector<S, TV>(bool expForget, ref float gates, nuint gi, nuint gateStride,
        ref float cPrev, ref float nPrev, ref float mPrev, ref float hNext, ref float cNext, ref float nNext, ref float mNext, nuint si,
        bool save, ref float saved, nuint sv, nuint savedStride)
        where S : struct, ISimd<TV> where TV : struct
    {
        TV one = S.Splat(1f), zero = S.Splat(0f);
        TV ai = S.Load(ref gates, gi), af = S.Load(ref gates, gi + gateStride);
        TV logF, dLogF;
        if (expForget) { logF = af; dLogF = one; }
        else
        {
            // log σ(f̃) = min(f̃, 0) − log1p(e^(−|f̃|)), never forming 1 + e^(−f̃) (overflows for f̃ ≪ 0);
            // ∂/∂f̃ = σ(−f̃) from the same e.
            TV e = Activations.Exp<S, TV>(S.Or(af, S.Splat(-0f)));
            logF = S.Sub(S.Min(af, zero), Log1pUnit<S, TV>(e));
            dLogF = S.Div(S.Select(S.GreaterThanOrEqual(af, zero), e, one), S.Add(one, e));
        }
        TV a = S.Add(logF, S.Load(ref mPrev, si));
        TV m = MaxNaN<S, TV>(a, ai);
        TV ig = Activations.Exp<S, TV>(S.Sub(ai, m));
        TV fg = Activations.Exp<S, TV>(S.Sub(a, m));
        TV z = Activations.Tanh<S, TV>(S.Load(ref gates, gi + 2 * gateStride));
        TV og = Activations.Sigmoid<S, TV>(S.Load(ref gates, gi + 3 * gateStride));
        TV c = S.MulAdd(fg, S.Load(ref cPrev, si), S.Mul(ig, z));
        TV n = S.MulAdd(fg, S.Load(ref nPrev, si), ig);
        S.Store(S.Div(S.Mul(og, c), n), ref hNext, si);
        S.Store(c, ref cNext, si);
        S.Store(n, ref nNext, si);
        S.Store(m, ref mNext, si);
        if (save)
        {
            S.Store(ig, ref saved, sv);
            S.Store(fg, ref saved, sv + savedStride);
            S.Store(z, ref saved, sv + 2 * savedStride);
            S.Store(og, ref saved, sv + 3 * savedStride);
            S.Store(dLogF, ref saved, sv + 4 * savedStride);
        }
    }

    /// <summary>
    /// The forward of one 16-unit block of <paramref name="rows"/> rows from a GEMM register tile: pre-activations
    /// tile [rows, 4, 16] (row i at tile + i·64, gate k at + k·16); state j of row i at next / prev + j·stateStride + i·hs;
    /// saved [rows, 5H] (gate k of row i at saved + i·5·hs + k·hs) or null. Same expression as <see cref="Forward"/>
    /// (<see cref="StepVector"/>), in vectors of 16 (two of 8 without Vector512), so the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void TileForward(float* next, float* prev, nint stateStride, float* saved, float* tile, int rows, nint hs, bool expForget)
    {
        if (Vector512.IsHardwareAccelerated) TileForward<Simd512, Vector512<float>>(next, prev, stateStride, saved, tile, rows, hs, expForget);
        else TileForward<Simd256, Vector256<float>>(next, prev, stateStride, saved, tile, rows, hs, expForget);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void TileForward<S, TV>(float* next, float* prev, nint stateStride, float* saved, float* tile, int rows, nint hs, bool expForget)
        where S : struct, ISimd<TV> where TV : struct
    {
        const int lanes = 16;
        for (int i = 0; i < rows; i++)
        {
            float* nx = next + i * hs, pv = prev + i * hs, acc = tile + i * 4 * lanes;
            // Without saved rows the reference is never read (save is false): any valid address will do.
            float* sv = saved == null ? acc : saved + i * 5 * hs;
            for (int j = 0; j < lanes; j += S.Count)
                StepVector<S, TV>(expForget, ref *acc, (nuint)j, lanes, ref *(pv + stateStride), ref *(pv + 2 * stateStride), ref *(pv + 3 * stateStride),
                    ref *nx, ref *(nx + stateStride), ref *(nx + 2 * stateStride), ref *(nx + 3 * stateStride), (nuint)j,
                    saved != null, ref *sv, (nuint)j, (nuint)hs);
        }
    }

    /// <summary>max(a, b), NaN when either is (the native max returns one operand for NaN, which depends on the order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TV MaxNaN<S, TV>(TV a, TV b) where S : struct, ISimd<TV> where TV : struct
    {
        TV m = S.Max(a, b);
        m = S.Select(S.IsOrdered(a), m, a);
        return S.Select(S.IsOrdered(b), m, b);
    }

    /// <summary>
    /// log(1 + e) for e ∈ [0, 1]: 2·atanh(s) with s = e/(2 + e) ∈ [0, 1/3], the odd series to s¹⁵
    /// (truncation below 1.5e-8 relative), so log1p(0) = 0 exactly and tiny e keep full relative accuracy.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV Log1pUnit<S, TV>(TV e) where S : struct, ISimd<TV> where TV : struct
    {
        TV s = S.Div(e, S.Add(S.Splat(2f), e));
        TV y = S.Mul(s, s);
        TV q = S.Splat(2f / 15f);
        q = S.MulAdd(q, y, S.Splat(2f / 13f));
        q = S.MulAdd(q, y, S.Splat(2f / 11f));
        q = S.MulAdd(q, y, S.Splat(2f / 9f));
        q = S.MulAdd(q, y, S.Splat(2f / 7f));
        q = S.MulAdd(q, y, S.Splat(2f / 5f));
        q = S.MulAdd(q, y, S.Splat(2f / 3f));
        return S.MulAdd(S.Mul(s, y), q, S.Add(s, s));
    }

    /// <summary>
    /// Backward of <see cref="Forward"/> with the stabiliser m' held constant (see <see cref="Cells.SlstmCell{TRec}"/>):
    /// with q = c'/n', dc = dc' + dh'·o/n', dn = dn' − dh'·o·q/n', dF = dc·c + dn·n,
    /// dGates [R, 4H] = (dc·z + dn)·i' | dF·f'·∂log f/∂f̃ | dc·i'·(1 − z²) | dh'·q·o·(1 − o),
    /// dcPrev = dc·f', dnPrev = dn·f', dmPrev = dF·f' (m enters f' = exp(log f + m − m')). All written (overwritten);
    /// ∂L/∂hPrev = dGates·W_hh is the caller's product. cNext, nNext: the step's outputs; cPrev, nPrev its inputs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(Span<float> dGates, Span<float> dcPrev, Span<float> dnPrev, Span<float> dmPrev,
        ReadOnlySpan<float> dhNext, ReadOnlySpan<float> dcNext, ReadOnlySpan<float> dnNext, ReadOnlySpan<float> saved,
        ReadOnlySpan<float> cNext, ReadOnlySpan<float> nNext, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> nPrev,
        int rows, int hidden)
    {
        CheckBackward(dGates.Length, dcPrev.Length, dnPrev.Length, dmPrev.Length, dhNext.Length, dcNext.Length, dnNext.Length,
            saved.Length, cNext.Length, nNext.Length, cPrev.Length, nPrev.Length, rows, hidden);
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.SlstmReference.Backward(dGates, dcPrev, dnPrev, dmPrev, dhNext, dcNext, dnNext, saved, cNext, nNext, cPrev, nPrev, rows, hidden);
            return;
        }
        var r = new BackwardRefs
        {
            DGates = ref MemoryMarshal.GetReference(dGates), DcPrev = ref MemoryMarshal.GetReference(dcPrev),
            DnPrev = ref MemoryMarshal.GetReference(dnPrev), DmPrev = ref MemoryMarshal.GetReference(dmPrev),
            DhNext = ref MemoryMarshal.GetReference(dhNext), DcNext = ref MemoryMarshal.GetReference(dcNext),
            DnNext = ref MemoryMarshal.GetReference(dnNext), Saved = ref MemoryMarshal.GetReference(saved),
            CNext = ref MemoryMarshal.GetReference(cNext), NNext = ref MemoryMarshal.GetReference(nNext),
            CPrev = ref MemoryMarshal.GetReference(cPrev), NPrev = ref MemoryMarshal.GetReference(nPrev),
            H = (nuint)hidden,
        };
        for (nuint b = 0; b < (nuint)rows; b++)
        {
            nuint j = 0;
            if (Vector512.IsHardwareAccelerated) j = BackwardRun<Simd512, Vector512<float>>(ref r, b, j);
            if (Vector256.IsHardwareAccelerated) j = BackwardRun<Simd256, Vector256<float>>(ref r, b, j);
            j = BackwardRun<Simd128, Vector128<float>>(ref r, b, j);
            BackwardRun<Simd1, Vector128<float>>(ref r, b, j);
        }
    }

    private ref struct BackwardRefs
    {
        public ref float DGates, DcPrev, DnPrev, DmPrev, DhNext, DcNext, DnNext, Saved, CNext, NNext, CPrev, NPrev;
        public nuint H;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint BackwardRun<S, TV>(ref BackwardRefs r, nuint b, nuint j) where S : struct, ISimd<TV> where TV : struct
    {
        nuint h = r.H, g = b * 4 * h, o = b * h, s = b * 5 * h, w = (nuint)S.Count;
        TV one = S.Splat(1f);
        for (; j + w <= h; j += w)
        {
            TV ig = S.Load(ref r.Saved, s + j), fg = S.Load(ref r.Saved, s + h + j), z = S.Load(ref r.Saved, s + 2 * h + j);
            TV og = S.Load(ref r.Saved, s + 3 * h + j), dLogF = S.Load(ref r.Saved, s + 4 * h + j);
            TV dh = S.Load(ref r.DhNext, o + j), c = S.Load(ref r.CNext, o + j), n = S.Load(ref r.NNext, o + j);
            // Same operation order as the scalar twin (no FMA): the results match it bit for bit.
            TV q = S.Div(c, n), dho = S.Mul(dh, og);
            TV dc = S.Add(S.Load(ref r.DcNext, o + j), S.Div(dho, n));
            TV dn = S.Sub(S.Load(ref r.DnNext, o + j), S.Div(S.Mul(dho, q), n));
            TV dF = S.Add(S.Mul(dc, S.Load(ref r.CPrev, o + j)), S.Mul(dn, S.Load(ref r.NPrev, o + j)));
            TV dm = S.Mul(dF, fg);
            S.Store(S.Mul(S.Add(S.Mul(dc, z), dn), ig), ref r.DGates, g + j);
            S.Store(S.Mul(dm, dLogF), ref r.DGates, g + h + j);
            S.Store(S.Mul(S.Mul(dc, ig), S.Sub(one, S.Mul(z, z))), ref r.DGates, g + 2 * h + j);
            S.Store(S.Mul(S.Mul(S.Mul(dh, q), og), S.Sub(one, og)), ref r.DGates, g + 3 * h + j);
            S.Store(S.Mul(dc, fg), ref r.DcPrev, o + j);
            S.Store(S.Mul(dn, fg), ref r.DnPrev, o + j);
            S.Store(dm, ref r.DmPrev, o + j);
        }
        return j;
    }

    internal static void CheckForward(int hNext, int cNext, int nNext, int mNext, int saved, int gates, int cPrev, int nPrev,
        int mPrev, int rows, int hidden)
    {
        GruGates.CheckShape(rows, hidden);
        int n = rows * hidden;
        GruGates.Need(nameof(hNext), hNext, n); GruGates.Need(nameof(cNext), cNext, n);
        GruGates.Need(nameof(nNext), nNext, n); GruGates.Need(nameof(mNext), mNext, n);
        GruGates.Need(nameof(gates), gates, 4 * n); GruGates.Need(nameof(cPrev), cPrev, n);
        GruGates.Need(nameof(nPrev), nPrev, n); GruGates.Need(nameof(mPrev), mPrev, n);
        if (saved != 0) GruGates.Need(nameof(saved), saved, 5 * n);
    }

    internal static void CheckBackward(int dGates, int dcPrev, int dnPrev, int dmPrev, int dhNext, int dcNext, int dnNext,
        int saved, int cNext, int nNext, int cPrev, int nPrev, int rows, int hidden)
    {
        GruGates.CheckShape(rows, hidden);
        int n = rows * hidden;
        GruGates.Need(nameof(dGates), dGates, 4 * n); GruGates.Need(nameof(dcPrev), dcPrev, n);
        GruGates.Need(nameof(dnPrev), dnPrev, n); GruGates.Need(nameof(dmPrev), dmPrev, n);
        GruGates.Need(nameof(dhNext), dhNext, n); GruGates.Need(nameof(dcNext), dcNext, n);
        GruGates.Need(nameof(dnNext), dnNext, n); GruGates.Need(nameof(saved), saved, 5 * n);
        GruGates.Need(nameof(cNext), cNext, n); GruGates.Need(nameof(nNext), nNext, n);
        GruGates.Need(nameof(cPrev), cPrev, n); GruGates.Need(nameof(nPrev), nPrev, n);
    }
}
