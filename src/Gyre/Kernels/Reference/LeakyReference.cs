using static Gyre.Kernels.GruResetBeforeGates;

namespace Gyre.Kernels.Reference;

/// <summary>
/// Scalar twins of <see cref="LeakyGates"/>: the leaky blend of a leaky-integrator cell (<see cref="Cells.LeakyRnnCell"/>,
/// <see cref="Cells.LeakyGruCell"/>) with a learnable per-unit time constant τ = 1 + e^ρ ≥ 1, so its rate is
/// α = 1/τ = σ(−ρ) ∈ (0, 1):
/// <code>
/// forward:  h' = h + α ⊙ (u − h)                 (u: the inner cell's update f(x, h))
/// backward: du = dh' ⊙ α, dh = dh' ⊙ (1 − α), rec = dh' ⊙ (u − h)
///           dρ = −Σ_steps α(1 − α) ⊙ rec          (after the time loop, <see cref="RhoGradient"/>)
/// </code>
/// Buffers [R, H] (R rows, H units); ρ [H].
/// </summary>
public static class LeakyReference
{
    /// <summary>hNext [R, H] = hPrev + σ(−ρ) ⊙ (u − hPrev).</summary>
    public static void Forward(Span<float> hNext, ReadOnlySpan<float> u, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> rho, int rows, int hidden)
    {
        int n = rows * hidden;
        Need(nameof(hNext), hNext.Length, n); Need(nameof(u), u.Length, n); Need(nameof(hPrev), hPrev.Length, n); Need(nameof(rho), rho.Length, hidden);
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int o = b * hidden + j;
                float a = GateReference.Sigmoid(-rho[j]);
                hNext[o] = hPrev[o] + a * (u[o] - hPrev[o]);
            }
    }

    /// <summary>Backward of <see cref="Forward"/>: writes (overwrites) dU = dhNext ⊙ α, dhPrev = dhNext ⊙ (1 − α) and the
    /// record rec = dhNext ⊙ (u − hPrev) that <see cref="RhoGradient"/> sums.</summary>
    public static void Backward(Span<float> dU, Span<float> dhPrev, Span<float> record,
        ReadOnlySpan<float> dhNext, ReadOnlySpan<float> u, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> rho, int rows, int hidden)
    {
        int n = rows * hidden;
        Need(nameof(dU), dU.Length, n); Need(nameof(dhPrev), dhPrev.Length, n); Need(nameof(record), record.Length, n);
        Need(nameof(dhNext), dhNext.Length, n); Need(nameof(u), u.Length, n); Need(nameof(hPrev), hPrev.Length, n); Need(nameof(rho), rho.Length, hidden);
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < hidden; j++)
            {
                int o = b * hidden + j;
                float a = GateReference.Sigmoid(-rho[j]), dh = dhNext[o];
                dU[o] = dh * a;
                dhPrev[o] = dh * (1f - a);
                record[o] = dh * (u[o] - hPrev[o]);
            }
    }

    /// <summary>dρ [H] += −α(1 − α) ⊙ Σ_rows rec[row, ·] over N rows <paramref name="ld"/> floats apart, rows summed in
    /// order (a fixed reduction order).</summary>
    public static void RhoGradient(Span<float> dRho, ReadOnlySpan<float> record, nint ld, int rows, ReadOnlySpan<float> rho, int hidden)
    {
        Need(nameof(dRho), dRho.Length, hidden); Need(nameof(rho), rho.Length, hidden);
        if (rows > 0) Need(nameof(record), record.Length, checked((int)((rows - 1) * ld + hidden)));
        for (int j = 0; j < hidden; j++)
        {
            float sum = 0f;
            for (int r = 0; r < rows; r++) sum += record[(int)(r * ld) + j];
            float a = GateReference.Sigmoid(-rho[j]);
            dRho[j] -= a * (1f - a) * sum;
        }
    }
}
