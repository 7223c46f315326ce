using Gyre.Kernels;
using Gyre.Tensors;

namespace Gyre.Forecasting;

/// <summary>
/// A Gaussian copula over the N horizon steps of a forecast distribution (as GPVar and DeepVAR couple their
/// marginals): a path draws ε ~ N(0, I_N), sets z = L·ε with R = L·Lᵀ a correlation matrix, and maps step h through
/// its own marginal, y_h = F_h⁻¹(Φ(z_h)). Every z_h is N(0, 1), so each step keeps exactly the marginal the network
/// forecasts; R only couples the steps, so a path that starts high stays high as far as the data say it does.
/// <para>
/// R is estimated from normal scores z = Φ⁻¹(F_h(y_h)) of the validation windows (the probability integral transform
/// of what happened under what was forecast): their sample correlation, shrunk toward the identity by the
/// Ledoit–Wolf intensity δ = min(1, b̄²/d²) with b̄² = (Σ_k ‖x_k‖⁴/W − ‖S‖²_F)/W and d² = ‖S − I‖²_F (Ledoit and Wolf
/// 2004), so that few windows or a long horizon still give a well-conditioned R and no hand-set constant.
/// </para>
/// </summary>
public sealed class HorizonCopula
{
    /// <summary>N: horizon steps.</summary>
    public int Horizon { get; }

    /// <summary>L [N, N], lower triangular, R = L·Lᵀ.</summary>
    public float[] Cholesky { get; }

    /// <summary>W: normal-score vectors R was estimated from.</summary>
    public int Windows { get; }

    /// <summary>δ: the shrinkage toward the identity (0: the sample correlation, 1: independent steps).</summary>
    public double Shrinkage { get; }

    public HorizonCopula(int horizon, float[] cholesky, int windows, double shrinkage)
    {
        if (horizon <= 0 || cholesky.Length != horizon * horizon)
            throw new ArgumentException($"a copula over {horizon} steps needs an [{horizon}, {horizon}] factor, got {cholesky.Length} values");
        Horizon = horizon; Cholesky = cholesky; Windows = windows; Shrinkage = shrinkage;
    }

    /// <summary>R[a, b] = Σ_k L[a, k]·L[b, k].</summary>
    public double Correlation(int a, int b)
    {
        double s = 0;
        for (int k = 0; k <= Math.Min(a, b); k++) s += (double)Cholesky[a * Horizon + k] * Cholesky[b * Horizon + k];
        return s;
    }

    /// <summary>The mean correlation of neighbouring steps, (1/(N − 1))·Σ_h R[h, h + 1] (0 for N = 1).</summary>
    public double MeanLagOneCorrelation()
    {
        if (Horizon < 2) return 0;
        double s = 0;
        for (int h = 0; h + 1 < Horizon; h++) s += Correlation(h, h + 1);
        return s / (Horizon - 1);
    }

    /// <summary>One path's normal scores z [N] = L·ε with ε [N] standard normal draws from <paramref name="rng"/> (ε is scratch).</summary>
    public void Draw(Rng rng, Span<double> eps, Span<double> z)
    {
        int n = Horizon;
        for (int h = 0; h < n; h++) eps[h] = rng.NextGaussianDouble();
        for (int a = 0; a < n; a++)
        {
            double s = 0;
            var row = Cholesky.AsSpan(a * n, a + 1);
            for (int k = 0; k <= a; k++) s += row[k] * eps[k];
            z[a] = s;
        }
    }

    /// <summary>
    /// Estimates the copula from normal scores z [W, N] (rows of finite values): the sample correlation of the columns,
    /// Ledoit–Wolf shrinkage toward I, then its Cholesky factor. Null when W &lt; 2 (nothing to estimate from).
    /// </summary>
    public static HorizonCopula? Estimate(float[] z, int rows, int n)
    {
        if (rows < 2) return null;
        var x = new float[rows * n];                                     // [W, N] standardised columns
        for (int h = 0; h < n; h++)
        {
            double mean = 0, sq = 0;
            for (int k = 0; k < rows; k++) mean += z[k * n + h];
            mean /= rows;
            for (int k = 0; k < rows; k++) { double d = z[k * n + h] - mean; sq += d * d; }
            // A constant column (no spread at all) carries no dependence: it stays 0 and gets R[h, h] = 1 alone.
            double inv = sq > 0 ? 1 / Math.Sqrt(sq / rows) : 0;
            for (int k = 0; k < rows; k++) x[k * n + h] = (float)((z[k * n + h] - mean) * inv);
        }
        var s = new float[n * n];                                        // [N, N] S = XᵀX / W
        Gemm.Multiply(true, false, n, n, rows, x, n, x, n, s, n, false);
        double sumS2 = 0, offDiag2 = 0;
        var r = new double[n * n];
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
            {
                double v = a == b ? 1 : s[a * n + b] / rows;
                r[a * n + b] = v;
                sumS2 += v * v;
                if (a != b) offDiag2 += v * v;
            }
        double sum4 = 0;
        for (int k = 0; k < rows; k++)
        {
            double norm2 = 0;
            for (int h = 0; h < n; h++) { double v = x[k * n + h]; norm2 += v * v; }
            sum4 += norm2 * norm2;
        }
        double b2 = Math.Max((sum4 / rows - sumS2) / rows, 0);
        double delta = offDiag2 > 0 ? Math.Min(b2 / offDiag2, 1) : 1;
        // Shrink; if rounding still leaves R short of positive definite, move a little further toward I.
        for (int attempt = 0; ; attempt++)
        {
            var l = TryCholesky(r, n, delta);
            if (l != null) return new HorizonCopula(n, l, rows, delta);
            delta = Math.Min(1, delta + Math.Pow(10, attempt - 8));
        }
    }

    private static float[]? TryCholesky(double[] r, int n, double delta)
    {
        var l = new double[n * n];
        for (int a = 0; a < n; a++)
            for (int b = 0; b <= a; b++)
            {
                double v = a == b ? 1 : (1 - delta) * r[a * n + b];
                for (int k = 0; k < b; k++) v -= l[a * n + k] * l[b * n + k];
                if (a == b)
                {
                    if (!(v > 1e-12)) return null;
                    l[a * n + a] = Math.Sqrt(v);
                }
                else l[a * n + b] = v / l[b * n + b];
            }
        return [.. l.Select(v => (float)v)];
    }
}
