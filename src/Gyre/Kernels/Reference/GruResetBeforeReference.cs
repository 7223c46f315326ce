using static Gyre.Kernels.GruResetBeforeGates;

namespace Gyre.Kernels.Reference;

/// <summary>
/// Scalar twins of <see cref="GruResetBeforeGates"/>: the definitions its fast versions are tested against.
/// One reset-before GRU step, gate blocks r, z, n in that order ([R, 3H] buffers):
/// <code>
/// forward:  gates[r|z] = gi[r|z] + h·W_h[r|z]ᵀ          (caller's GEMM, accumulated onto gi)
///           ResetForward:     r = σ(gates_r), z = σ(gates_z), rh = r ⊙ h
///           gates[n] = gi[n] + rh·W_hnᵀ                  (caller's GEMM)
///           CandidateForward: n = tanh(gates_n), h' = n + z ⊙ (h − n)
/// backward: CandidateBackward: dn = dh' ⊙ (1 − z) ⊙ (1 − n²), dz = dh' ⊙ (h − n) ⊙ z(1 − z), dh = dh' ⊙ z
///           d(rh) = dn·W_hn                              (caller's GEMM)
///           ResetBackward:    dr = d(rh) ⊙ h ⊙ r(1 − r), dh += d(rh) ⊙ r
///           dh += d[r|z]·W_h[r|z]                        (caller's GEMM)
/// </code>
/// The pre-activation gradient is the same for gi and for the recurrent products, so one dGates serves both.
/// </summary>
public static class GruResetBeforeReference
{
    /// <summary>
    /// First half of the forward step. gates [R, 3H]: on entry the r and z blocks hold the full
    /// pre-activations; on exit they hold r = σ(·) and z = σ(·) (the n block is untouched).
    /// Writes rh [R, H] = r ⊙ hPrev, the input of the second GEMM.
    /// </summary>
    public static void ResetForward(Span<float> rh, Span<float> gates, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        int n = rows * hidden;
        Need(nameof(rh), rh.Length, n); Need(nameof(gates), gates.Length, 3 * n); Need(nameof(hPrev), hPrev.Length, n);
        int h3 = 3 * hidden;
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int g = b * h3 + j, o = b * hidden + j;
                float r = GateReference.Sigmoid(gates[g]);
                gates[g] = r;
                gates[g + hidden] = GateReference.Sigmoid(gates[g + hidden]);
                rh[o] = r * hPrev[o];
            }
    }

    /// <summary>
    /// Second half of the forward step. gates [R, 3H] holds r | z (from <see cref="ResetForward"/>) | the full
    /// candidate pre-activation gi_n + rh·W_hnᵀ + b_hn. Writes hNext [R, H] = n + z ⊙ (hPrev − n) with
    /// n = tanh(gates_n), and saved [R, 4H] = r | z | n | rh for the backward pass (empty span to skip).
    /// </summary>
    public static void CandidateForward(Span<float> hNext, Span<float> saved,
        ReadOnlySpan<float> gates, ReadOnlySpan<float> rh, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        int n = rows * hidden;
        Need(nameof(hNext), hNext.Length, n); Need(nameof(gates), gates.Length, 3 * n);
        Need(nameof(rh), rh.Length, n); Need(nameof(hPrev), hPrev.Length, n);
        if (!saved.IsEmpty) Need(nameof(saved), saved.Length, 4 * n);
        int h3 = 3 * hidden;
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int g = b * h3 + j, o = b * hidden + j;
                float z = gates[g + hidden];
                float cand = GateReference.Tanh(gates[g + 2 * hidden]);
                hNext[o] = cand + z * (hPrev[o] - cand);
                if (saved.IsEmpty) continue;
                int s = b * 4 * hidden + j;
                saved[s] = gates[g];
                saved[s + hidden] = z;
                saved[s + 2 * hidden] = cand;
                saved[s + 3 * hidden] = rh[o];
            }
    }

    /// <summary>
    /// Backward of <see cref="CandidateForward"/>. From dhNext [R, H], saved [R, 4H] and hPrev [R, H], writes
    /// (overwrites) the z and n blocks of dGates [R, 3H] (dz = dhNext ⊙ (hPrev − n) ⊙ z(1 − z),
    /// dn = dhNext ⊙ (1 − z) ⊙ (1 − n²)) and dhPrev [R, H] = dhNext ⊙ z, the direct part.
    /// </summary>
    public static void CandidateBackward(Span<float> dGates, Span<float> dhPrev,
        ReadOnlySpan<float> dhNext, ReadOnlySpan<float> saved, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        int n = rows * hidden;
        Need(nameof(dGates), dGates.Length, 3 * n); Need(nameof(dhPrev), dhPrev.Length, n);
        Need(nameof(dhNext), dhNext.Length, n); Need(nameof(saved), saved.Length, 4 * n); Need(nameof(hPrev), hPrev.Length, n);
        int h3 = 3 * hidden;
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int s = b * 4 * hidden + j, g = b * h3 + j, o = b * hidden + j;
                float z = saved[s + hidden], cand = saved[s + 2 * hidden];
                float dh = dhNext[o];
                dGates[g + hidden] = dh * (hPrev[o] - cand) * z * (1f - z);
                dGates[g + 2 * hidden] = dh * (1f - z) * (1f - cand * cand);
                dhPrev[o] = dh * z;
            }
    }

    /// <summary>
    /// Backward of <see cref="ResetForward"/>. From dRh [R, H] = ∂L/∂(r ⊙ h) (= dn·W_hn), saved and hPrev,
    /// writes (overwrites) the r block of dGates [R, 3H], dr = dRh ⊙ hPrev ⊙ r(1 − r), and accumulates
    /// dhPrev [R, H] += dRh ⊙ r.
    /// </summary>
    public static void ResetBackward(Span<float> dGates, Span<float> dhPrev,
        ReadOnlySpan<float> dRh, ReadOnlySpan<float> saved, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        int n = rows * hidden;
        Need(nameof(dGates), dGates.Length, 3 * n); Need(nameof(dhPrev), dhPrev.Length, n);
        Need(nameof(dRh), dRh.Length, n); Need(nameof(saved), saved.Length, 4 * n); Need(nameof(hPrev), hPrev.Length, n);
        int h3 = 3 * hidden;
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int s = b * 4 * hidden + j, g = b * h3 + j, o = b * hidden + j;
                float r = saved[s], d = dRh[o];
                dGates[g] = d * hPrev[o] * r * (1f - r);
                dhPrev[o] += d * r;
            }
    }
}
