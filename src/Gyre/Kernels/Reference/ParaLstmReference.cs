namespace Gyre.Kernels.Reference;

/// <summary>
/// Scalar twin of <see cref="ParaLstmGates"/>: one ParaLSTM step (Danieli et al. 2025), R rows, H units, gate blocks
/// f, g, o in gx = x·W_ihᵀ + b_ih + b_hh [R, 3H], diagonal recurrent weight a = weight_hh [3H] (a_f | a_g | a_o),
/// peepholes p [2H] (p_f on c, p_o on c'):
/// <code>
/// f  = σ(gx_f + p_f ⊙ c + a_f ⊙ h)       g = tanh(gx_g + a_g ⊙ h)
/// c' = g + f ⊙ (c − g)                  (coupled input gate 1 − f)
/// o  = σ(gx_o + p_o ⊙ c' + a_o ⊙ h)      h' = o ⊙ tanh c'
/// backward, from dh', dc':
/// δo = dh' ⊙ tanh c' ⊙ o(1 − o)        dc = dc' + dh' ⊙ o ⊙ (1 − tanh² c') + δo ⊙ p_o
/// δf = dc ⊙ (c − g) ⊙ f(1 − f)         δg = dc ⊙ (1 − f) ⊙ (1 − g²)
/// ∂L/∂c = dc ⊙ f + δf ⊙ p_f            ∂L/∂h = δf ⊙ a_f + δg ⊙ a_g + δo ⊙ a_o
/// </code>
/// Every product rounded on its own (no FMA). Saved per unit: f | g | o | c' | tanh c' | c.
/// </summary>
public static class ParaLstmReference
{
    /// <summary>hNext, cNext [R, H] from gx [R, 3H], hPrev, cPrev [R, H], a [3H], p [2H]; saved [R, 6H] written unless empty.</summary>
    public static void Forward(Span<float> hNext, Span<float> cNext, Span<float> saved, ReadOnlySpan<float> gx, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, ReadOnlySpan<float> a, ReadOnlySpan<float> p, int rows, int hidden)
    {
        ParaLstmGates.CheckForward(hNext.Length, cNext.Length, saved.Length, gx.Length, hPrev.Length, cPrev.Length, a.Length, p.Length, rows, hidden);
        int h = hidden;
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < h; j++)
            {
                int o = r * h + j, og = 3 * r * h, os = 6 * r * h;
                float hp = hPrev[o], cp = cPrev[o];
                float f = GateReference.Sigmoid(gx[og + j] + p[j] * cp + a[j] * hp);
                float g = GateReference.Tanh(gx[og + h + j] + a[h + j] * hp);
                float c = g + f * (cp - g);
                float ou = GateReference.Sigmoid(gx[og + 2 * h + j] + p[h + j] * c + a[2 * h + j] * hp);
                float tc = GateReference.Tanh(c);
                cNext[o] = c;
                hNext[o] = ou * tc;
                if (saved.IsEmpty) continue;
                saved[os + j] = f; saved[os + h + j] = g; saved[os + 2 * h + j] = ou;
                saved[os + 3 * h + j] = c; saved[os + 4 * h + j] = tc; saved[os + 5 * h + j] = cp;
            }
    }

    /// <summary>From dhNext, dcNext [R, H]: dGx [R, 3H], dhPrev, dcPrev [R, H] (all overwritten).</summary>
    public static void Backward(Span<float> dGx, Span<float> dhPrev, Span<float> dcPrev, ReadOnlySpan<float> dhNext, ReadOnlySpan<float> dcNext,
        ReadOnlySpan<float> saved, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> a, ReadOnlySpan<float> p, int rows, int hidden)
    {
        ParaLstmGates.CheckBackward(dGx.Length, dhPrev.Length, dcPrev.Length, dhNext.Length, dcNext.Length, saved.Length, hPrev.Length, a.Length, p.Length, rows, hidden);
        int h = hidden;
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < h; j++)
            {
                int o = r * h + j, og = 3 * r * h, os = 6 * r * h;
                float dh = dhNext[o], f = saved[os + j], g = saved[os + h + j], ou = saved[os + 2 * h + j];
                float tc = saved[os + 4 * h + j], cp = saved[os + 5 * h + j];
                float dO = dh * tc * (ou * (1f - ou));
                float dc = dcNext[o] + dh * ou * (1f - tc * tc) + dO * p[h + j];
                float dF = dc * (cp - g) * (f * (1f - f));
                float dG = dc * (1f - f) * (1f - g * g);
                dGx[og + j] = dF; dGx[og + h + j] = dG; dGx[og + 2 * h + j] = dO;
                dcPrev[o] = dc * f + dF * p[j];
                dhPrev[o] = dF * a[j] + dG * a[h + j] + dO * a[2 * h + j];
            }
    }
}
