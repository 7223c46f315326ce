namespace Gyre.Trajectories;

/// <summary>
/// Negative log-likelihood of displacements under per-step Gaussian heads, as Social-LSTM (Alahi et al., CVPR 2016):
/// in the plane a bivariate Gaussian with parameters (μx, μy, a = log σx, b = log σy, r), ρ = tanh r;
/// for 3-D tracks an independent Gaussian (μz, c = log σz) for z. Per step, with u = (x − μx)/σx, v = (y − μy)/σy,
/// q = 1 − ρ², Z = u² + v² − 2ρuv:
/// ℓ = log 2π + a + b + ½ log q + Z/(2q)  [+ c + (z − μz)²/(2σz²) + ½ log 2π].
/// Gradients: ∂ℓ/∂μx = −(u − ρv)/(qσx), ∂ℓ/∂μy = −(v − ρu)/(qσy), ∂ℓ/∂a = 1 − (u² − ρuv)/q,
/// ∂ℓ/∂b = 1 − (v² − ρuv)/q, ∂ℓ/∂ρ = −ρ/q − uv/q + ρZ/q², ∂ρ/∂r = q. The loss is the mean over all steps.
/// </summary>
public static class BivariateGaussianNll
{
    /// <summary>Parameters per step: 5 in the plane, 7 in space.</summary>
    public static int Parameters(int dims) => dims == 2 ? 5 : 7;

    /// <summary>log σ bound (σ in [e⁻⁶, e⁴] of the scaled displacement) and ρ bound keep q and 1/σ² finite.</summary>
    public const double LogSigmaMin = -6, LogSigmaMax = 4, RhoMax = 0.99;

    /// <summary>ρ = RhoMax·tanh r.</summary>
    public static double Rho(float r) => RhoMax * Math.Tanh(r);

    /// <summary>Mean ℓ over the steps of params [N, P] against truth [N, D]; writes ∂L/∂params into dParams [N, P].</summary>
    public static double Loss(ReadOnlySpan<float> prms, ReadOnlySpan<float> truth, int dims, Span<float> dParams)
    {
        int p = Parameters(dims), n = truth.Length / dims;
        if (prms.Length != n * p || dParams.Length < prms.Length) throw new ArgumentException($"{prms.Length} parameters for {n} steps of {dims} coordinates");
        double total = 0, scale = 1.0 / n;
        for (int k = 0; k < n; k++)
        {
            var g = prms.Slice(k * p, p);
            var dg = dParams.Slice(k * p, p);
            double a = Math.Clamp(g[2], LogSigmaMin, LogSigmaMax), b = Math.Clamp(g[3], LogSigmaMin, LogSigmaMax);
            double sx = Math.Exp(a), sy = Math.Exp(b), th = Math.Tanh(g[4]), rho = RhoMax * th, q = 1 - rho * rho;
            double u = (truth[k * dims] - g[0]) / sx, v = (truth[k * dims + 1] - g[1]) / sy;
            double z = u * u + v * v - 2 * rho * u * v;
            total += Math.Log(2 * Math.PI) + a + b + 0.5 * Math.Log(q) + z / (2 * q);
            dg[0] = (float)(-(u - rho * v) / (q * sx) * scale);
            dg[1] = (float)(-(v - rho * u) / (q * sy) * scale);
            dg[2] = InRange(g[2]) ? (float)((1 - (u * u - rho * u * v) / q) * scale) : 0f;
            dg[3] = InRange(g[3]) ? (float)((1 - (v * v - rho * u * v) / q) * scale) : 0f;
            double dRho = -rho / q - u * v / q + rho * z / (q * q);
            dg[4] = (float)(dRho * RhoMax * (1 - th * th) * scale);
            if (dims == 3)
            {
                double c = Math.Clamp(g[6], LogSigmaMin, LogSigmaMax), sz = Math.Exp(c), w = (truth[k * dims + 2] - g[5]) / sz;
                total += c + 0.5 * w * w + 0.5 * Math.Log(2 * Math.PI);
                dg[5] = (float)(-w / sz * scale);
                dg[6] = InRange(g[6]) ? (float)((1 - w * w) * scale) : 0f;
            }
        }
        return total * scale;
    }

    private static bool InRange(float s) => s > LogSigmaMin && s < LogSigmaMax;
}
