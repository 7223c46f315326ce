namespace Gyre.Kernels.Reference;

/// <summary>
/// Scalar twin of <see cref="LsslStep"/>: one row of the <see cref="Cells.LsslCell"/> step, H channels of N states,
/// every [H, N] buffer row-major (channel j's N states together). The fast kernel must match it: states and
/// per-state records bit for bit (the same two roundings, no FMA), the sums over n (y, ∂L/∂u) to rounding.
/// </summary>
public static class LsslStepReference
{
    /// <summary>
    /// s'[j, n] = Ā[j, n]·s[j, n] + B̄[j, n]·u[j];  y[j] = Σ_n C[j, n]·s'[j, n] + D[j]·u[j].
    /// y, u, d [H]; sNext, sPrev, aBar, bBar, c [H·N].
    /// </summary>
    public static void Forward(Span<float> y, Span<float> sNext, ReadOnlySpan<float> sPrev, ReadOnlySpan<float> u,
        ReadOnlySpan<float> aBar, ReadOnlySpan<float> bBar, ReadOnlySpan<float> c, ReadOnlySpan<float> d, int hidden, int n)
    {
        LsslStep.CheckForward(y.Length, sNext.Length, sPrev.Length, u.Length, aBar.Length, bBar.Length, c.Length, d.Length, hidden, n);
        for (int j = 0; j < hidden; j++)
        {
            float uj = u[j], acc = 0f;
            int o = j * n;
            for (int k = 0; k < n; k++)
            {
                float v = aBar[o + k] * sPrev[o + k] + bBar[o + k] * uj;
                sNext[o + k] = v;
                acc += c[o + k] * v;
            }
            y[j] = acc + d[j] * uj;
        }
    }

    /// <summary>
    /// With g = ∂L/∂s'[j, n] + C[j, n]·∂L/∂y[j]: ∂L/∂s[j, n] = Ā·g; ∂L/∂u[j] = D[j]·∂L/∂y[j] + Σ_n B̄·g; and the records
    /// [3·H·N + H] the weight gradients sum: g·s | g·u | ∂L/∂y·s' | ∂L/∂y·u.
    /// </summary>
    public static void Backward(Span<float> du, Span<float> dsPrev, Span<float> records, ReadOnlySpan<float> dy, ReadOnlySpan<float> dsNext,
        ReadOnlySpan<float> sPrev, ReadOnlySpan<float> sNext, ReadOnlySpan<float> u, ReadOnlySpan<float> aBar, ReadOnlySpan<float> bBar,
        ReadOnlySpan<float> c, ReadOnlySpan<float> d, int hidden, int n)
    {
        LsslStep.CheckBackward(du.Length, dsPrev.Length, records.Length, dy.Length, dsNext.Length, sPrev.Length, sNext.Length, u.Length,
            aBar.Length, bBar.Length, c.Length, d.Length, hidden, n);
        int hn = hidden * n;
        for (int j = 0; j < hidden; j++)
        {
            float dyj = dy[j], uj = u[j], acc = 0f;
            int o = j * n;
            for (int k = 0; k < n; k++)
            {
                float g = dsNext[o + k] + c[o + k] * dyj;
                dsPrev[o + k] = aBar[o + k] * g;
                acc += bBar[o + k] * g;
                records[o + k] = g * sPrev[o + k];
                records[hn + o + k] = g * uj;
                records[2 * hn + o + k] = dyj * sNext[o + k];
            }
            du[j] = acc + d[j] * dyj;
            records[3 * hn + j] = dyj * uj;
        }
    }
}
