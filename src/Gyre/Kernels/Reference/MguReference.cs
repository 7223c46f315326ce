using static Gyre.Kernels.GruResetBeforeGates;

namespace Gyre.Kernels.Reference;

/// <summary>
/// Scalar twins of <see cref="MguGates"/>: the definitions its fast versions are tested against. One minimal
/// gated unit step (<see cref="Cells.MguCellMath"/>), gate blocks f, h̃ in that order ([R, 2H] buffers):
/// <code>
/// forward:  gates[f] = gi[f] + h·U_fᵀ                 (caller's GEMM, accumulated onto gi)
///           GateForward:      f = σ(gates_f) (in place), fh = f ⊙ h
///           gates[h̃] = gi[h̃] + fh·U_hᵀ               (caller's GEMM)
///           CandidateForward: c = tanh(gates_h̃), h' = h + f ⊙ (c − h); saved [R, 3H] = f | c | fh
/// backward: CandidateBackward: dc = dh' ⊙ f ⊙ (1 − c²) (the h̃ block of dGates), dh = dh' ⊙ (1 − f)
///           d(fh) = dc·U_h                              (caller's GEMM)
///           GateBackward:     df = (dh' ⊙ (c − h) + d(fh) ⊙ h) ⊙ f(1 − f) (the f block), dh += d(fh) ⊙ f
///           dh += df·U_f                                (caller's GEMM)
/// </code>
/// The pre-activation gradient is the same for gi and for the recurrent products, so one dGates serves both.
/// </summary>
public static class MguReference
{
    /// <summary>First half of the forward step: gates [R, 2H] f block σ(·) in place; fh [R, H] = f ⊙ hPrev.</summary>
    public static void GateForward(Span<float> fh, Span<float> gates, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        int n = rows * hidden;
        Need(nameof(fh), fh.Length, n); Need(nameof(gates), gates.Length, 2 * n); Need(nameof(hPrev), hPrev.Length, n);
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int g = b * 2 * hidden + j, o = b * hidden + j;
                float f = GateReference.Sigmoid(gates[g]);
                gates[g] = f;
                fh[o] = f * hPrev[o];
            }
    }

    /// <summary>Second half: gates [R, 2H] holds f | the full candidate pre-activation. Writes hNext [R, H] =
    /// hPrev + f ⊙ (c − hPrev) with c = tanh(gates_h̃), and saved [R, 3H] = f | c | fh (empty span to skip).</summary>
    public static void CandidateForward(Span<float> hNext, Span<float> saved,
        ReadOnlySpan<float> gates, ReadOnlySpan<float> fh, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        int n = rows * hidden;
        Need(nameof(hNext), hNext.Length, n); Need(nameof(gates), gates.Length, 2 * n);
        Need(nameof(fh), fh.Length, n); Need(nameof(hPrev), hPrev.Length, n);
        if (!saved.IsEmpty) Need(nameof(saved), saved.Length, 3 * n);
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int g = b * 2 * hidden + j, o = b * hidden + j;
                float f = gates[g], c = GateReference.Tanh(gates[g + hidden]);
                hNext[o] = hPrev[o] + f * (c - hPrev[o]);
                if (saved.IsEmpty) continue;
                int s = b * 3 * hidden + j;
                saved[s] = f;
                saved[s + hidden] = c;
                saved[s + 2 * hidden] = fh[o];
            }
    }

    /// <summary>Backward of <see cref="CandidateForward"/>: writes (overwrites) the h̃ block of dGates [R, 2H],
    /// dc = dhNext ⊙ f ⊙ (1 − c²), and dhPrev [R, H] = dhNext ⊙ (1 − f), the direct part.</summary>
    public static void CandidateBackward(Span<float> dGates, Span<float> dhPrev,
        ReadOnlySpan<float> dhNext, ReadOnlySpan<float> saved, int rows, int hidden)
    {
        int n = rows * hidden;
        Need(nameof(dGates), dGates.Length, 2 * n); Need(nameof(dhPrev), dhPrev.Length, n);
        Need(nameof(dhNext), dhNext.Length, n); Need(nameof(saved), saved.Length, 3 * n);
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int s = b * 3 * hidden + j, g = b * 2 * hidden + j, o = b * hidden + j;
                float f = saved[s], c = saved[s + hidden], dh = dhNext[o];
                dGates[g + hidden] = dh * f * (1f - c * c);
                dhPrev[o] = dh * (1f - f);
            }
    }

    /// <summary>Backward of the gate: from dFh [R, H] = ∂L/∂(f ⊙ h) (= dc·U_h), dhNext, saved and hPrev writes
    /// (overwrites) the f block of dGates, df = (dhNext ⊙ (c − hPrev) + dFh ⊙ hPrev) ⊙ f(1 − f), and accumulates
    /// dhPrev [R, H] += dFh ⊙ f.</summary>
    public static void GateBackward(Span<float> dGates, Span<float> dhPrev,
        ReadOnlySpan<float> dFh, ReadOnlySpan<float> dhNext, ReadOnlySpan<float> saved, ReadOnlySpan<float> hPrev, int rows, int hidden)
    {
        int n = rows * hidden;
        Need(nameof(dGates), dGates.Length, 2 * n); Need(nameof(dhPrev), dhPrev.Length, n); Need(nameof(dFh), dFh.Length, n);
        Need(nameof(dhNext), dhNext.Length, n); Need(nameof(saved), saved.Length, 3 * n); Need(nameof(hPrev), hPrev.Length, n);
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int s = b * 3 * hidden + j, g = b * 2 * hidden + j, o = b * hidden + j;
                float f = saved[s], c = saved[s + hidden], d = dFh[o], hp = hPrev[o];
                dGates[g] = (dhNext[o] * (c - hp) + d * hp) * f * (1f - f);
                dhPrev[o] += d * f;
            }
    }
}
