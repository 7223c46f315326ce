namespace Gyre.Kernels.Reference;

/// <summary>
/// Scalar twins of the fused gate kernels in <see cref="GruGates"/>, <see cref="LstmGates"/> and
/// <see cref="Activations"/>: the definitions the SIMD kernels are tested against.
/// Dimension letters: R rows (batch entries of one time step), H hidden units.
/// </summary>
public static class GateReference
{
    // Computed in double and rounded once, so the twins are correctly rounded (up to rare double-rounding
    // ties): the oracle the SIMD approximations are measured against in ulp.

    /// <summary>σ(x) = 1 / (1 + e^(−x)).</summary>
    public static float Sigmoid(float x) => (float)(1.0 / (1.0 + Math.Exp(-(double)x)));

    /// <summary>tanh(x).</summary>
    public static float Tanh(float x) => (float)Math.Tanh(x);

    /// <summary>e^x.</summary>
    public static float Exp(float x) => (float)Math.Exp(x);

    /// <summary>dst[i] = σ(src[i]).</summary>
    public static void Sigmoid(Span<float> dst, ReadOnlySpan<float> src)
    {
        if (dst.Length < src.Length) throw new ArgumentException("destination too short", nameof(dst));
        for (int i = 0; i < src.Length; i++) dst[i] = Sigmoid(src[i]);
    }

    /// <summary>dst[i] = tanh(src[i]).</summary>
    public static void Tanh(Span<float> dst, ReadOnlySpan<float> src)
    {
        if (dst.Length < src.Length) throw new ArgumentException("destination too short", nameof(dst));
        for (int i = 0; i < src.Length; i++) dst[i] = Tanh(src[i]);
    }

    /// <summary>dst[i] = e^(src[i]).</summary>
    public static void Exp(Span<float> dst, ReadOnlySpan<float> src)
    {
        if (dst.Length < src.Length) throw new ArgumentException("destination too short", nameof(dst));
        for (int i = 0; i < src.Length; i++) dst[i] = Exp(src[i]);
    }

    /// <summary>
    /// GRU step, PyTorch convention (gates r, z, n; reset applied after the recurrent product):
    /// r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r ⊙ gh_n), h' = (1 − z) ⊙ n + z ⊙ h.
    /// gi [R, 3H] = x·W_ihᵀ + b_ih, gh [R, 3H] = h·W_hhᵀ + b_hh, hPrev [R, H] → hNext [R, H].
    /// saved [R, 4H] receives r | z | n | gh_n for the backward pass (pass an empty span to skip).
    /// </summary>
    public static void GruForward(Span<float> hNext, Span<float> saved,
        ReadOnlySpan<float> gi, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        GruGates.CheckForward(hNext.Length, saved.Length, gi.Length, gh.Length, hPrev.Length, rows, hidden);
        int h3 = 3 * hidden;
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int g = b * h3 + j;
                float r = Sigmoid(gi[g] + gh[g]);
                float z = Sigmoid(gi[g + hidden] + gh[g + hidden]);
                float ghn = gh[g + 2 * hidden];
                float n = Tanh(gi[g + 2 * hidden] + r * ghn);
                float hp = hPrev[b * hidden + j];
                hNext[b * hidden + j] = n + z * (hp - n);
                if (!saved.IsEmpty)
                {
                    int s = b * 4 * hidden + j;
                    saved[s] = r;
                    saved[s + hidden] = z;
                    saved[s + 2 * hidden] = n;
                    saved[s + 3 * hidden] = ghn;
                }
            }
    }

    /// <summary>
    /// Backward of <see cref="GruForward"/> for one step. From dhNext [R, H], saved [R, 4H] and hPrev [R, H],
    /// writes (overwrites) dGi [R, 3H] = ∂L/∂gi, dGh [R, 3H] = ∂L/∂gh and dhPrev [R, H] = the direct part
    /// dhNext ⊙ z (the caller adds dGh·W_hh).
    /// </summary>
    public static void GruBackward(Span<float> dGi, Span<float> dGh, Span<float> dhPrev,
        ReadOnlySpan<float> dhNext, ReadOnlySpan<float> saved, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        GruGates.CheckBackward(dGi.Length, dGh.Length, dhPrev.Length, dhNext.Length, saved.Length, hPrev.Length, rows, hidden);
        int h3 = 3 * hidden;
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int s = b * 4 * hidden + j, g = b * h3 + j, o = b * hidden + j;
                float r = saved[s], z = saved[s + hidden], n = saved[s + 2 * hidden], ghn = saved[s + 3 * hidden];
                float dh = dhNext[o], hp = hPrev[o];
                float dn = dh * (1f - z) * (1f - n * n);
                float dz = dh * (hp - n) * z * (1f - z);
                float dr = dn * ghn * r * (1f - r);
                dGi[g] = dr; dGi[g + hidden] = dz; dGi[g + 2 * hidden] = dn;
                dGh[g] = dr; dGh[g + hidden] = dz; dGh[g + 2 * hidden] = dn * r;
                dhPrev[o] = dh * z;
            }
    }

    /// <summary>
    /// LSTM step, PyTorch convention (gates i, f, g, o): with a = gates [R, 4H] = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh,
    /// i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').
    /// saved [R, 5H] receives i | f | g | o | tanh(c') (empty span to skip).
    /// </summary>
    public static void LstmForward(Span<float> hNext, Span<float> cNext, Span<float> saved,
        ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, int rows, int hidden)
    {
        LstmGates.CheckForward(hNext.Length, cNext.Length, saved.Length, gates.Length, cPrev.Length, rows, hidden);
        int h4 = 4 * hidden;
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int g = b * h4 + j, o = b * hidden + j;
                float i = Sigmoid(gates[g]);
                float f = Sigmoid(gates[g + hidden]);
                float gg = Tanh(gates[g + 2 * hidden]);
                float og = Sigmoid(gates[g + 3 * hidden]);
                float c = f * cPrev[o] + i * gg;
                float tc = Tanh(c);
                cNext[o] = c;
                hNext[o] = og * tc;
                if (!saved.IsEmpty)
                {
                    int s = b * 5 * hidden + j;
                    saved[s] = i; saved[s + hidden] = f; saved[s + 2 * hidden] = gg;
                    saved[s + 3 * hidden] = og; saved[s + 4 * hidden] = tc;
                }
            }
    }

    /// <summary>
    /// Backward of <see cref="LstmForward"/> for one step. From dhNext, dcNext [R, H], saved [R, 5H] and cPrev [R, H],
    /// writes (overwrites) dGates [R, 4H] and dcPrev [R, H]. (∂L/∂hPrev = dGates·W_hh is the caller's GEMM.)
    /// </summary>
    public static void LstmBackward(Span<float> dGates, Span<float> dcPrev,
        ReadOnlySpan<float> dhNext, ReadOnlySpan<float> dcNext, ReadOnlySpan<float> saved, ReadOnlySpan<float> cPrev,
        int rows, int hidden)
    {
        LstmGates.CheckBackward(dGates.Length, dcPrev.Length, dhNext.Length, dcNext.Length, saved.Length, cPrev.Length, rows, hidden);
        int h4 = 4 * hidden;
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int s = b * 5 * hidden + j, g = b * h4 + j, o = b * hidden + j;
                float i = saved[s], f = saved[s + hidden], gg = saved[s + 2 * hidden], og = saved[s + 3 * hidden], tc = saved[s + 4 * hidden];
                float dh = dhNext[o];
                float dc = dcNext[o] + dh * og * (1f - tc * tc);
                dGates[g] = dc * gg * i * (1f - i);
                dGates[g + hidden] = dc * cPrev[o] * f * (1f - f);
                dGates[g + 2 * hidden] = dc * i * (1f - gg * gg);
                dGates[g + 3 * hidden] = dh * tc * og * (1f - og);
                dcPrev[o] = dc * f;
            }
    }
}
