namespace Gyre.Anomaly;

/// <summary>A generalized Pareto distribution of excesses y ≥ 0: F(y) = 1 − (1 + γ y / σ)^(−1/γ) (γ = 0: 1 − e^(−y/σ)).</summary>
public readonly record struct GeneralizedPareto(double Gamma, double Sigma);

/// <summary>
/// An alarm threshold from unlabelled calibration scores by extreme-value theory, as SPOT does
/// (Siffer et al., "Anomaly detection in streams with extreme value theory", KDD 2017):
/// the excesses over a high initial quantile t follow a generalized Pareto law (Pickands–Balkema–de Haan),
/// fitted by maximum likelihood; the threshold with exceedance probability q is
/// z_q = t + σ/γ · ((q·n / N_t)^(−γ) − 1)  (γ ≠ 0),  z_q = t − σ · ln(q·n / N_t)  (γ = 0),
/// where n is the number of calibration scores and N_t the number above t.
/// </summary>
public static class PeaksOverThreshold
{
    /// <summary>SPOT's initial level: the 98th percentile leaves 2 % of the scores as peaks.</summary>
    public const double DefaultInitialLevel = 0.98;

    /// <summary>Fewest peaks a fit is made from; below it the tail is the empirical one (threshold = largest score).</summary>
    public const int MinPeaks = 5;

    /// <summary>
    /// The threshold z_q for risk q (the probability that a normal score exceeds it). Dependent scores (smoothed,
    /// or from overlapping windows) exceed t in runs; with <paramref name="clusterGap"/> r > 0 the peaks are
    /// declustered (Coles 2001, §5.3.2): exceedances fewer than r rows apart form one cluster and only its largest
    /// excess is a peak, so N_t counts independent excursions and the tail is not fitted to one excursion many times.
    /// </summary>
    public static double Threshold(ReadOnlySpan<double> scores, double risk, double initialLevel = DefaultInitialLevel, int clusterGap = 0)
    {
        if (!(risk > 0 && risk < 1)) throw new ArgumentOutOfRangeException(nameof(risk), $"risk {risk} is not in (0, 1)");
        if (!(initialLevel > 0 && initialLevel < 1)) throw new ArgumentOutOfRangeException(nameof(initialLevel));
        if (scores.Length == 0) throw new ArgumentException("no calibration scores", nameof(scores));
        double t = Quantile(scores, initialLevel);
        var peaks = new List<double>();
        int last = int.MinValue / 2;
        for (int i = 0; i < scores.Length; i++)
        {
            if (!(scores[i] > t)) continue;
            if (clusterGap > 0 && peaks.Count > 0 && i - last < clusterGap) peaks[^1] = Math.Max(peaks[^1], scores[i] - t);
            else peaks.Add(scores[i] - t);
            last = i;
        }
        if (peaks.Count < MinPeaks || risk * scores.Length >= peaks.Count)
            return Max(scores);
        var gpd = Fit(peaks.ToArray());
        if (gpd.Sigma <= 0) return Max(scores);
        double r = risk * scores.Length / peaks.Count;
        double z = Math.Abs(gpd.Gamma) < 1e-9 ? t - gpd.Sigma * Math.Log(r) : t + gpd.Sigma / gpd.Gamma * (Math.Pow(r, -gpd.Gamma) - 1);
        // When q·n < 1 not one calibration score is expected above z_q: a fit whose bounded tail (γ < 0) ends
        // below the largest seen score is then corrected to that score.
        return risk * scores.Length < 1 ? Math.Max(z, Max(scores)) : z;
    }

    /// <summary>
    /// Maximum-likelihood GPD fit of positive excesses by Grimshaw's reduction to one variable x = γ/σ:
    /// for fixed x the likelihood is maximised by γ(x) = mean(ln(1 + x·y)), σ = γ/x, giving the profile
    /// log-likelihood ℓ(x) = −N·ln σ(x) − N·γ(x) − N (and ℓ(0) = −N·ln mean(y) − N, the exponential).
    /// ℓ is maximised over x ∈ (−1/max y, ∞) on a log-spaced grid refined by golden-section search.
    /// </summary>
    public static GeneralizedPareto Fit(ReadOnlySpan<double> excesses)
    {
        int n = excesses.Length;
        if (n == 0) throw new ArgumentException("no excesses", nameof(excesses));
        double max = 0, mean = 0;
        foreach (double y in excesses)
        {
            if (!(y >= 0) || !double.IsFinite(y)) throw new ArgumentException($"excess {y} is not a finite non-negative number", nameof(excesses));
            max = Math.Max(max, y);
            mean += y;
        }
        mean /= n;
        if (max == 0) return new GeneralizedPareto(0, 0);
        var ys = excesses.ToArray();
        double best = Profile(ys, 0, mean), bestX = 0;
        // x < 0 (bounded tail) down to just above −1/max y, x > 0 (heavy tail) up to 1000/mean y; both log-spaced.
        const int Grid = 120;
        double lo = 1e-6 / max, hiNeg = (1 - 1e-9) / max, hiPos = 1e3 / mean;
        for (int side = -1; side <= 1; side += 2)
        {
            double a = Math.Log(lo), b = Math.Log(side < 0 ? hiNeg : hiPos);
            for (int i = 0; i <= Grid; i++)
            {
                double x = side * Math.Exp(a + (b - a) * i / Grid);
                double l = Profile(ys, x, mean);
                if (l > best) { best = l; bestX = x; }
            }
        }
        if (bestX != 0)
        {
            // Refine between the grid neighbours of the best point (same sign).
            double s = Math.Sign(bestX), step = Math.Pow((s < 0 ? hiNeg : hiPos) / lo, 1.0 / Grid);
            double left = Math.Abs(bestX) / step, right = Math.Min(Math.Abs(bestX) * step, s < 0 ? hiNeg : hiPos);
            const double Phi = 0.6180339887498949;
            for (int it = 0; it < 80; it++)
            {
                double m1 = right - Phi * (right - left), m2 = left + Phi * (right - left);
                if (Profile(ys, s * m1, mean) >= Profile(ys, s * m2, mean)) right = m2; else left = m1;
            }
            double x = s * 0.5 * (left + right), l = Profile(ys, x, mean);
            if (l > best) { best = l; bestX = x; }
        }
        if (bestX == 0) return new GeneralizedPareto(0, mean);
        double gamma = 0;
        foreach (double y in ys) gamma += Math.Log(1 + bestX * y);
        gamma /= n;
        return new GeneralizedPareto(gamma, gamma / bestX);
    }

    /// <summary>The profile log-likelihood ℓ(x) per the Fit summary.</summary>
    private static double Profile(double[] ys, double x, double mean)
    {
        int n = ys.Length;
        if (x == 0) return -n * Math.Log(mean) - n;
        double gamma = 0;
        foreach (double y in ys)
        {
            double u = 1 + x * y;
            if (u <= 0) return double.NegativeInfinity;
            gamma += Math.Log(u);
        }
        gamma /= n;
        double sigma = gamma / x;
        if (!(sigma > 0)) return double.NegativeInfinity;
        return -n * Math.Log(sigma) - n * gamma - n;
    }

    /// <summary>The empirical quantile at level p (linear interpolation between order statistics, as numpy's default).</summary>
    public static double Quantile(ReadOnlySpan<double> values, double p)
    {
        if (values.Length == 0) throw new ArgumentException("no values", nameof(values));
        var sorted = values.ToArray();
        Array.Sort(sorted);
        double pos = p * (sorted.Length - 1);
        int i = (int)Math.Floor(pos);
        if (i >= sorted.Length - 1) return sorted[^1];
        return sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]);
    }

    private static double Max(ReadOnlySpan<double> values)
    {
        double m = double.NegativeInfinity;
        foreach (double v in values) m = Math.Max(m, v);
        return m;
    }
}
