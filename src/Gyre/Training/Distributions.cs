using Gyre.Tensors;

namespace Gyre.Training;

/// <summary>
/// Parametric output distributions for probabilistic forecasts trained by negative log-likelihood (the DeepAR
/// family). The network emits P unconstrained values per target; <see cref="ToNatural"/> maps them to the
/// distribution's parameters:
/// <list type="bullet">
/// <item>gaussian (P = 2): μ = u₀, σ = softplus(u₁) + ε; −log p(y) = ½log 2π + log σ + z²/2, z = (y − μ)/σ.</item>
/// <item>studentt (P = 3): μ = u₀, σ = softplus(u₁) + ε, ν = 2 + softplus(u₂) (finite variance);
/// −log p(y) = −lnΓ((ν+1)/2) + lnΓ(ν/2) + ½log(νπ) + log σ + (ν+1)/2 · log(1 + z²/ν).</item>
/// <item>negbinomial (P = 2, counts y ≥ 0): mean μ = softplus(u₀) + ε, dispersion α = softplus(u₁) + ε, r = 1/α;
/// −log p(y) = −lnΓ(y + r) + lnΓ(y + 1) + lnΓ(r) − r·log(r/(r + μ)) − y·log(μ/(r + μ)).</item>
/// </list>
/// Layout: values [..., P] per target element, as a quantile model lays out [..., Q].
/// </summary>
public static class Distributions
{
    /// <summary>ε added to every positive parameter so that σ, μ (counts) and α stay away from 0.</summary>
    public const float Epsilon = 1e-4f;

    /// <summary>Whether <paramref name="kind"/> is a distribution loss.</summary>
    public static bool IsDistribution(LossKind kind) => kind is LossKind.Gaussian or LossKind.StudentT or LossKind.NegBinomial;

    /// <summary>P: values per target element.</summary>
    public static int ParameterCount(LossKind kind) => kind switch
    {
        LossKind.Gaussian or LossKind.NegBinomial => 2,
        LossKind.StudentT => 3,
        _ => throw new ArgumentException($"{kind} is not a distribution"),
    };

    /// <summary>The loss name of a distribution, as --loss takes it.</summary>
    public static string Name(LossKind kind) => kind switch
    {
        LossKind.Gaussian => "gaussian", LossKind.StudentT => "studentt", LossKind.NegBinomial => "negbinomial",
        _ => throw new ArgumentException($"{kind} is not a distribution"),
    };

    /// <summary>log(1 + eˣ), stable for large |x|.</summary>
    public static double Softplus(double x) => x > 20 ? x : x < -20 ? Math.Exp(x) : Math.Log(1 + Math.Exp(x));

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>Raw network outputs u [n, P] → natural parameters [n, P], in place.</summary>
    public static void ToNatural(LossKind kind, Span<float> values)
    {
        int p = ParameterCount(kind);
        for (int i = 0; i + p <= values.Length; i += p)
        {
            switch (kind)
            {
                case LossKind.Gaussian:
                    values[i + 1] = (float)Softplus(values[i + 1]) + Epsilon;
                    break;
                case LossKind.StudentT:
                    values[i + 1] = (float)Softplus(values[i + 1]) + Epsilon;
                    values[i + 2] = 2f + (float)Softplus(values[i + 2]);
                    break;
                default:
                    values[i] = (float)Softplus(values[i]) + Epsilon;
                    values[i + 1] = (float)Softplus(values[i + 1]) + Epsilon;
                    break;
            }
        }
    }

    /// <summary>
    /// Mean −log p(t[n]) over targets counted by <paramref name="mask"/> (0 = missing) of raw outputs u [n·P]; writes
    /// ∂/∂u into <paramref name="grad"/> (same layout). In double throughout.
    /// </summary>
    public static double NllRaw(LossKind kind, ReadOnlySpan<float> u, ReadOnlySpan<float> t, ReadOnlySpan<float> mask, Span<float> grad)
    {
        int p = ParameterCount(kind);
        if (u.Length != t.Length * p || grad.Length < u.Length) throw new ArgumentException($"{Name(kind)} loss: {u.Length} outputs for {t.Length} targets × {p} parameters");
        grad.Slice(0, u.Length).Clear();
        int count = 0;
        for (int n = 0; n < t.Length; n++) if (mask.IsEmpty || mask[n] != 0f) count++;
        if (count == 0) return 0;
        double total = 0, scale = 1.0 / count;
        Span<double> natural = stackalloc double[3];
        Span<double> dNatural = stackalloc double[3];
        for (int n = 0; n < t.Length; n++)
        {
            if (!mask.IsEmpty && mask[n] == 0f) continue;
            var un = u.Slice(n * p, p);
            switch (kind)
            {
                case LossKind.Gaussian:
                    natural[0] = un[0]; natural[1] = Softplus(un[1]) + Epsilon;
                    break;
                case LossKind.StudentT:
                    natural[0] = un[0]; natural[1] = Softplus(un[1]) + Epsilon; natural[2] = 2 + Softplus(un[2]);
                    break;
                default:
                    natural[0] = Softplus(un[0]) + Epsilon; natural[1] = Softplus(un[1]) + Epsilon;
                    break;
            }
            total += Nll(kind, natural, t[n], dNatural);
            // Chain rule through the parameter maps: d softplus(u)/du = sigmoid(u).
            var g = grad.Slice(n * p, p);
            switch (kind)
            {
                case LossKind.Gaussian:
                    g[0] = (float)(dNatural[0] * scale); g[1] = (float)(dNatural[1] * Sigmoid(un[1]) * scale);
                    break;
                case LossKind.StudentT:
                    g[0] = (float)(dNatural[0] * scale); g[1] = (float)(dNatural[1] * Sigmoid(un[1]) * scale);
                    g[2] = (float)(dNatural[2] * Sigmoid(un[2]) * scale);
                    break;
                default:
                    g[0] = (float)(dNatural[0] * Sigmoid(un[0]) * scale); g[1] = (float)(dNatural[1] * Sigmoid(un[1]) * scale);
                    break;
            }
        }
        return total * scale;
    }

    /// <summary>Mean −log p(t[n]) over counted targets of natural parameters θ [n·P] (no gradient).</summary>
    public static double NllNatural(LossKind kind, ReadOnlySpan<float> theta, ReadOnlySpan<float> t, ReadOnlySpan<float> mask)
    {
        int p = ParameterCount(kind);
        if (theta.Length != t.Length * p) throw new ArgumentException($"{Name(kind)} loss: {theta.Length} parameters for {t.Length} targets × {p}");
        Span<double> natural = stackalloc double[3];
        Span<double> ignored = stackalloc double[3];
        double total = 0; int count = 0;
        for (int n = 0; n < t.Length; n++)
        {
            if (!mask.IsEmpty && mask[n] == 0f) continue;
            for (int j = 0; j < p; j++) natural[j] = theta[n * p + j];
            total += Nll(kind, natural, t[n], ignored);
            count++;
        }
        return count == 0 ? 0 : total / count;
    }

    /// <summary>−log p(y | θ) and ∂/∂θ (natural parameters).</summary>
    public static double Nll(LossKind kind, ReadOnlySpan<double> theta, double y, Span<double> dTheta)
    {
        switch (kind)
        {
            case LossKind.Gaussian:
            {
                double mu = theta[0], sigma = theta[1], z = (y - mu) / sigma;
                dTheta[0] = -z / sigma;
                dTheta[1] = 1 / sigma - z * z / sigma;
                return 0.5 * Math.Log(2 * Math.PI) + Math.Log(sigma) + 0.5 * z * z;
            }
            case LossKind.StudentT:
            {
                double mu = theta[0], sigma = theta[1], nu = theta[2], z = (y - mu) / sigma, q = 1 + z * z / nu;
                dTheta[0] = -(nu + 1) / (nu * q) * z / sigma;
                dTheta[1] = 1 / sigma - (nu + 1) / (nu * q) * z * z / sigma;
                dTheta[2] = -0.5 * Digamma((nu + 1) / 2) + 0.5 * Digamma(nu / 2) + 0.5 / nu + 0.5 * Math.Log(q) - (nu + 1) / 2 * z * z / (nu * nu * q);
                return -LogGamma((nu + 1) / 2) + LogGamma(nu / 2) + 0.5 * Math.Log(nu * Math.PI) + Math.Log(sigma) + (nu + 1) / 2 * Math.Log(q);
            }
            case LossKind.NegBinomial:
            {
                double mu = theta[0], alpha = theta[1], r = 1 / alpha;
                // ∂/∂μ and ∂/∂r, then ∂/∂α = ∂/∂r · (−1/α²).
                dTheta[0] = -y / mu + (r + y) / (r + mu);
                double dr = -Digamma(y + r) + Digamma(r) - Math.Log(r / (r + mu)) - 1 + (r + y) / (r + mu);
                dTheta[1] = dr * (-r * r);
                return -LogGamma(y + r) + LogGamma(y + 1) + LogGamma(r) - r * Math.Log(r / (r + mu)) - y * Math.Log(mu / (r + mu));
            }
            default: throw new ArgumentException($"{kind} is not a distribution");
        }
    }

    /// <summary>Draws one value from the distribution with natural parameters θ.</summary>
    public static double Sample(LossKind kind, ReadOnlySpan<float> theta, Rng rng)
    {
        switch (kind)
        {
            case LossKind.Gaussian: return theta[0] + theta[1] * rng.NextGaussianDouble();
            case LossKind.StudentT:
            {
                double nu = theta[2], chi2 = 2 * Gamma(nu / 2, rng);
                return theta[0] + theta[1] * rng.NextGaussianDouble() / Math.Sqrt(chi2 / nu);
            }
            case LossKind.NegBinomial:
            {
                // A Poisson whose rate is Gamma(r, μ/r): mean μ, variance μ + αμ².
                double r = 1 / (double)theta[1], rate = Gamma(r, rng) * theta[0] / r;
                return Poisson(rate, rng);
            }
            default: throw new ArgumentException($"{kind} is not a distribution");
        }
    }

    /// <summary>
    /// F(y) = P(Y ≤ y) of the distribution with natural parameters θ: Φ(z) (gaussian), the Student-t CDF
    /// ½ ± ½(1 − I_{ν/(ν+z²)}(ν/2, ½)) (studentt), Σ_{k ≤ y} p(k) (negbinomial, y rounded down).
    /// </summary>
    public static double Cdf(LossKind kind, ReadOnlySpan<float> theta, double y)
    {
        switch (kind)
        {
            case LossKind.Gaussian: return NormalCdf((y - theta[0]) / theta[1]);
            case LossKind.StudentT: return StudentTCdf((y - theta[0]) / theta[1], theta[2]);
            case LossKind.NegBinomial:
            {
                if (y < 0) return 0;
                double sum = 0;
                long top = (long)Math.Floor(y);
                var pmf = new NegBinomialPmf(theta[0], theta[1]);
                for (long k = 0; k <= top; k++) { sum += pmf.P; pmf.Next(); if (sum >= 1) return 1; }
                return Math.Min(sum, 1);
            }
            default: throw new ArgumentException($"{kind} is not a distribution");
        }
    }

    /// <summary>
    /// F⁻¹(u) for u in (0, 1): μ + σΦ⁻¹(u) (gaussian), μ + σT⁻¹_ν(u) by safeguarded Newton steps on the Student-t CDF
    /// (studentt), the smallest count k with F(k) ≥ u (negbinomial).
    /// </summary>
    public static double Quantile(LossKind kind, ReadOnlySpan<float> theta, double u)
    {
        switch (kind)
        {
            case LossKind.Gaussian: return theta[0] + theta[1] * NormalQuantile(u);
            case LossKind.StudentT: return theta[0] + theta[1] * StudentTQuantile(u, theta[2]);
            case LossKind.NegBinomial:
            {
                var pmf = new NegBinomialPmf(theta[0], theta[1]);
                double sum = 0;
                for (long k = 0; ; k++)
                {
                    sum += pmf.P;
                    // Past the mode a vanishing p(k) adds nothing more: the rest of the tail is below double's reach.
                    if (sum >= u || (k > pmf.Mean && pmf.P < 1e-300)) return k;
                    pmf.Next();
                }
            }
            default: throw new ArgumentException($"{kind} is not a distribution");
        }
    }

    /// <summary>p(k) of the negative binomial with mean μ and dispersion α, k = 0, 1, …: p(0) = (r/(r + μ))^r, r = 1/α,
    /// p(k + 1) = p(k)·(k + r)/(k + 1)·μ/(r + μ).</summary>
    private struct NegBinomialPmf(double mu, double alpha)
    {
        private readonly double _r = 1 / alpha, _ratio = mu / (1 / alpha + mu);
        private long _k;
        public readonly double Mean = mu;
        public double P = Math.Exp(1 / alpha * Math.Log(1 / alpha / (1 / alpha + mu)));
        public void Next() { P *= (_k + _r) / (_k + 1) * _ratio; _k++; }
    }

    /// <summary>Φ(x), the standard normal CDF, as ½·erfc(−x/√2) (relative error near double rounding).</summary>
    public static double NormalCdf(double x) => 0.5 * Erfc(-x / Math.Sqrt(2));

    /// <summary>
    /// Φ⁻¹(u): Acklam's rational approximation (relative error 1.2e-9), then one Halley step on Φ, which brings it
    /// to double precision; ±∞ at 0 and 1.
    /// </summary>
    public static double NormalQuantile(double u)
    {
        if (!(u > 0)) return u == 0 ? double.NegativeInfinity : double.NaN;
        if (!(u < 1)) return u == 1 ? double.PositiveInfinity : double.NaN;
        const double low = 0.02425;
        double x;
        if (u < low)
        {
            double q = Math.Sqrt(-2 * Math.Log(u));
            x = (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
        }
        else if (u <= 1 - low)
        {
            double q = u - 0.5, r = q * q;
            x = (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
        }
        else
        {
            double q = Math.Sqrt(-2 * Math.Log(1 - u));
            x = -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
        }
        // Halley on e = Φ(x) − u, taken from the nearer tail (erfc of the tail) so that tiny u keep their digits.
        double e = u < 0.5 ? 0.5 * Erfc(-x / Math.Sqrt(2)) - u : (1 - u) - 0.5 * Erfc(x / Math.Sqrt(2));
        double t = e * Math.Sqrt(2 * Math.PI) * Math.Exp(x * x / 2);
        return x - t / (1 + x * t / 2);
    }

    private static readonly double[] A = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
    private static readonly double[] B = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
    private static readonly double[] C = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
    private static readonly double[] D = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];

    /// <summary>erfc(x): the Maclaurin series of erf below |x| = 2.5 (no cancellation worth a digit there), else the
    /// continued fraction erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + 3/2/(x + …)))) (Lentz), for x &gt; 0.</summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x < 0) return 2 - Erfc(-x);
        if (x < 2.5)
        {
            double sum = 0, term = x, x2 = x * x;
            for (int n = 0; n < 200; n++)
            {
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
                term *= -x2 / (n + 1);
            }
            return 1 - 2 / Math.Sqrt(Math.PI) * sum;
        }
        if (x > 27) return 0;
        // Modified Lentz on x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …)))): partial numerators k/2.
        const double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int k = 1; k < 500; k++)
        {
            double a = k / 2.0;
            d = x + a * d; if (d == 0) d = tiny; d = 1 / d;
            c = x + a / c; if (c == 0) c = tiny;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / f;
    }

    /// <summary>The Student-t CDF with ν degrees of freedom at t: 1 − ½I_x(ν/2, ½) for t ≥ 0 with x = ν/(ν + t²), by symmetry below.</summary>
    public static double StudentTCdf(double t, double nu)
    {
        double tail = 0.5 * RegularizedBeta(nu / (nu + t * t), nu / 2, 0.5);
        return t >= 0 ? 1 - tail : tail;
    }

    /// <summary>T⁻¹_ν(u): Newton steps on the Student-t CDF from the normal quantile, halving a step that leaves the
    /// bracket the CDF values keep; stops at a relative step below 1e-12.</summary>
    public static double StudentTQuantile(double u, double nu)
    {
        if (!(u > 0 && u < 1)) return u == 0 ? double.NegativeInfinity : u == 1 ? double.PositiveInfinity : double.NaN;
        if (u == 0.5) return 0;
        // Solve for the upper tail and mirror: the lower half is −T⁻¹(1 − u).
        if (u < 0.5) return -StudentTQuantile(1 - u, nu);
        double lo = 0, hi = double.PositiveInfinity, x = Math.Max(NormalQuantile(u), 1e-3);
        double logNorm = LogGamma((nu + 1) / 2) - LogGamma(nu / 2) - 0.5 * Math.Log(nu * Math.PI);
        for (int it = 0; it < 100; it++)
        {
            double f = StudentTCdf(x, nu) - u;
            if (f < 0) lo = x; else hi = x;
            double pdf = Math.Exp(logNorm - (nu + 1) / 2 * Math.Log(1 + x * x / nu));
            double next = x - f / pdf;
            if (!(next > lo && next < hi)) next = double.IsPositiveInfinity(hi) ? 2 * Math.Max(x, 1) : (lo + hi) / 2;
            if (Math.Abs(next - x) <= 1e-12 * Math.Abs(next)) return next;
            x = next;
        }
        return x;
    }

    /// <summary>I_x(a, b), the regularized incomplete beta function, by its continued fraction (modified Lentz),
    /// using the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly.</summary>
    public static double RegularizedBeta(double x, double a, double b)
    {
        if (x <= 0) return 0;
        if (x >= 1) return 1;
        double front = Math.Exp(LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(1 - x));
        if (x > (a + 1) / (a + b + 2)) return 1 - front * BetaFraction(1 - x, b, a) / b;
        return front * BetaFraction(x, a, b) / a;
    }

    private static double BetaFraction(double x, double a, double b)
    {
        const double tiny = 1e-300;
        double c = 1, d = 1 - (a + b) * x / (a + 1);
        if (Math.Abs(d) < tiny) d = tiny;
        d = 1 / d;
        double h = d;
        for (int m = 1; m <= 1000; m++)
        {
            int m2 = 2 * m;
            double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
            d = 1 + num * d; if (Math.Abs(d) < tiny) d = tiny; d = 1 / d;
            c = 1 + num / c; if (Math.Abs(c) < tiny) c = tiny;
            h *= d * c;
            num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
            d = 1 + num * d; if (Math.Abs(d) < tiny) d = tiny; d = 1 / d;
            c = 1 + num / c; if (Math.Abs(c) < tiny) c = tiny;
            double delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-15) break;
        }
        return h;
    }

    /// <summary>Gamma(shape, 1) by Marsaglia and Tsang (2000); shape &lt; 1 through the U^(1/shape) boost.</summary>
    private static double Gamma(double shape, Rng rng)
    {
        if (shape < 1) return Gamma(shape + 1, rng) * Math.Pow(Math.Max(rng.NextDouble(), 1e-300), 1 / shape);
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x = rng.NextGaussianDouble(), v = 1 + c * x;
            if (v <= 0) continue;
            v = v * v * v;
            double u = rng.NextDouble();
            if (u < 1 - 0.0331 * x * x * x * x || Math.Log(Math.Max(u, 1e-300)) < 0.5 * x * x + d * (1 - v + Math.Log(v))) return d * v;
        }
    }

    /// <summary>Poisson(λ): Knuth's product of uniforms below λ = 30, the rounded normal approximation N(λ, λ) above.</summary>
    private static double Poisson(double lambda, Rng rng)
    {
        if (lambda < 30)
        {
            double l = Math.Exp(-lambda), prod = rng.NextDouble();
            int k = 0;
            while (prod > l) { k++; prod *= rng.NextDouble(); }
            return k;
        }
        return Math.Max(0, Math.Round(lambda + Math.Sqrt(lambda) * rng.NextGaussianDouble()));
    }

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos, g = 7, n = 9; relative error below 1e-13).</summary>
    public static double LogGamma(double x)
    {
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        x -= 1;
        double a = Lanczos[0], t = x + 7.5;
        for (int i = 1; i < 9; i++) a += Lanczos[i] / (x + i);
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(a);
    }

    private static readonly double[] Lanczos =
    [
        0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
        12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
    ];

    /// <summary>ψ(x) = d/dx ln Γ(x) for x &gt; 0: the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 6, then the asymptotic series.</summary>
    public static double Digamma(double x)
    {
        double result = 0;
        while (x < 6) { result -= 1 / x; x += 1; }
        double f = 1 / (x * x);
        return result + Math.Log(x) - 0.5 / x - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
    }
}
