namespace Gyre.Kernels.Reference;

/// <summary>
/// Scalar twins of <see cref="SlstmGates"/> (same signatures): the definitions the SIMD kernels are tested
/// against. R rows, H hidden units; gates [R, 4H] = ĩ | f̃ | z̃ | õ; saved [R, 5H] = i' | f' | z | o | ∂log f/∂f̃.
/// </summary>
public static class SlstmReference
{
    /// <summary>log σ(x) = min(x, 0) − log(1 + e^(−|x|)), in double and rounded once.</summary>
    public static float LogSigmoid(float x) => (float)(Math.Min(x, 0.0) - Log1p(Math.Exp(-Math.Abs((double)x))));

    /// <summary>log(1 + e) for e ≥ 0 with full relative accuracy for tiny e (1 + e would round e away).</summary>
    public static double Log1p(double e) => e < 1e-4 ? e * (1 - e * (0.5 - e / 3)) : Math.Log(1 + e);

    /// <summary>
    /// log f = log σ(f̃) (or f̃ when <paramref name="expForget"/>), m' = max(log f + m, ĩ), i' = exp(ĩ − m'),
    /// f' = exp(log f + m − m'), z = tanh(z̃), o = σ(õ), c' = f'·c + i'·z, n' = f'·n + i', h' = o·c'/n'.
    /// </summary>
    public static void Forward(Span<float> hNext, Span<float> cNext, Span<float> nNext, Span<float> mNext, Span<float> saved,
        ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> nPrev, ReadOnlySpan<float> mPrev,
        int rows, int hidden, bool expForget)
    {
        SlstmGates.CheckForward(hNext.Length, cNext.Length, nNext.Length, mNext.Length, saved.Length, gates.Length,
            cPrev.Length, nPrev.Length, mPrev.Length, rows, hidden);
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int g = b * 4 * hidden + j, o = b * hidden + j;
                float ai = gates[g], af = gates[g + hidden];
                float logF = expForget ? af : LogSigmoid(af);
                float dLogF = expForget ? 1f : GateReference.Sigmoid(-af);
                float a = logF + mPrev[o];
                float m = Math.Max(a, ai);   // NaN when either is NaN
                float ig = GateReference.Exp(ai - m), fg = GateReference.Exp(a - m);
                float z = GateReference.Tanh(gates[g + 2 * hidden]), og = GateReference.Sigmoid(gates[g + 3 * hidden]);
                float c = fg * cPrev[o] + ig * z;
                float n = fg * nPrev[o] + ig;
                hNext[o] = og * c / n;
                cNext[o] = c; nNext[o] = n; mNext[o] = m;
                if (!saved.IsEmpty)
                {
                    int s = b * 5 * hidden + j;
                    saved[s] = ig; saved[s + hidden] = fg; saved[s + 2 * hidden] = z; saved[s + 3 * hidden] = og; saved[s + 4 * hidden] = dLogF;
                }
            }
    }

    /// <summary>Backward of <see cref="Forward"/> with m' held constant (formulas at <see cref="SlstmGates.Backward"/>).</summary>
    public static void Backward(Span<float> dGates, Span<float> dcPrev, Span<float> dnPrev, Span<float> dmPrev,
        ReadOnlySpan<float> dhNext, ReadOnlySpan<float> dcNext, ReadOnlySpan<float> dnNext, ReadOnlySpan<float> saved,
        ReadOnlySpan<float> cNext, ReadOnlySpan<float> nNext, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> nPrev,
        int rows, int hidden)
    {
        SlstmGates.CheckBackward(dGates.Length, dcPrev.Length, dnPrev.Length, dmPrev.Length, dhNext.Length, dcNext.Length, dnNext.Length,
            saved.Length, cNext.Length, nNext.Length, cPrev.Length, nPrev.Length, rows, hidden);
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int s = b * 5 * hidden + j, g = b * 4 * hidden + j, o = b * hidden + j;
                float ig = saved[s], fg = saved[s + hidden], z = saved[s + 2 * hidden], og = saved[s + 3 * hidden], dLogF = saved[s + 4 * hidden];
                float dh = dhNext[o], c = cNext[o], n = nNext[o];
                float q = c / n, dho = dh * og;
                float dc = dcNext[o] + dho / n;
                float dn = dnNext[o] - dho * q / n;
                float dF = dc * cPrev[o] + dn * nPrev[o];
                float dm = dF * fg;
                dGates[g] = (dc * z + dn) * ig;
                dGates[g + hidden] = dm * dLogF;
                dGates[g + 2 * hidden] = dc * ig * (1f - z * z);
                dGates[g + 3 * hidden] = dh * q * og * (1f - og);
                dcPrev[o] = dc * fg;
                dnPrev[o] = dn * fg;
                dmPrev[o] = dm;
            }
    }
}
