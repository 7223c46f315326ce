namespace Gyre.Kernels.Reference;

/// <summary>
/// Scalar twin of <see cref="IndRnnGates"/>: one IndRNN step, R rows, H units, per-unit recurrent weight u [H]
/// bounded to |u| ≤ bound (bound = +∞: no bound):
/// <code>
/// forward:  u' = clamp(u, −bound, bound), h' = act(gx + u' ⊙ h)              act = ReLU or tanh
/// backward: dpre = dh' ⊙ act'(h') (ReLU' = [h' &gt; 0], tanh' = 1 − h'²), dh = dpre ⊙ u'
/// du = Σ_rows dpre ⊙ h ⊙ [|u| ≤ bound] (after the time loop; the clamp passes no gradient outside the bound)
/// </code>
/// </summary>
public static class IndRnnReference
{
    /// <summary>hNext [R, H] = act(gx + clamp(u) ⊙ hPrev); gx [R, H] = x·W_ihᵀ + b_ih + b_hh.</summary>
    public static void Forward(Span<float> hNext, ReadOnlySpan<float> gx, ReadOnlySpan<float> u, ReadOnlySpan<float> hPrev,
        int rows, int hidden, bool relu, float bound)
    {
        IndRnnGates.Check(hNext.Length, gx.Length, u.Length, hPrev.Length, rows, hidden);
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int o = b * hidden + j;
                float pre = MathF.FusedMultiplyAdd(Bounded(u[j], bound), hPrev[o], gx[o]);
                hNext[o] = relu ? (pre <= 0f ? 0f : pre) : GateReference.Tanh(pre);   // ReLU keeps NaN
            }
    }

    /// <summary>dPre [R, H] = dhNext ⊙ act'(hNext) (overwrites), dhPrev [R, H] = dPre ⊙ clamp(u) (overwrites).</summary>
    public static void Backward(Span<float> dPre, Span<float> dhPrev, ReadOnlySpan<float> dhNext, ReadOnlySpan<float> hNext,
        ReadOnlySpan<float> u, int rows, int hidden, bool relu, float bound)
    {
        IndRnnGates.Check(dPre.Length, dhPrev.Length, u.Length, dhNext.Length, rows, hidden);
        IndRnnGates.Need(nameof(hNext), hNext.Length, rows * hidden);
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int o = b * hidden + j;
                float h = hNext[o], dh = dhNext[o];
                float d = relu ? (h <= 0f ? 0f : dh) : dh * (1f - h * h);
                dPre[o] = d;
                dhPrev[o] = d * Bounded(u[j], bound);
            }
    }

    /// <summary>clamp(u, −bound, bound); u itself when bound is +∞ (so NaN stays NaN).</summary>
    public static float Bounded(float u, float bound) => float.IsPositiveInfinity(bound) ? u : Math.Clamp(u, -bound, bound);
}
