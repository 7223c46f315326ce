namespace Gyre.Forecasting;

/// <summary>
/// Point and probabilistic forecast metrics as plain functions over flat, equally laid out spans
/// (e.g. [windows, N, C] of actual and predicted values in original units). The optional
/// <c>mask</c> has the same length; a point counts when mask ≠ 0 (an empty mask counts every
/// point). Averages over zero counted points are NaN.
/// </summary>
public static class Metrics
{
    private static bool On(ReadOnlySpan<float> mask, int i) => mask.IsEmpty || mask[i] != 0;

    private static void Check(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> mask, string name)
    {
        if (a.Length != b.Length || (!mask.IsEmpty && mask.Length != a.Length))
            throw new ArgumentException($"{name}: lengths differ (actual {a.Length}, other {b.Length}, mask {mask.Length})");
    }

    /// <summary>MSE = mean (a − p)².</summary>
    public static double Mse(ReadOnlySpan<float> actual, ReadOnlySpan<float> predicted, ReadOnlySpan<float> mask = default)
    {
        Check(actual, predicted, mask, "MSE");
        double s = 0; int n = 0;
        for (int i = 0; i < actual.Length; i++)
            if (On(mask, i)) { double d = (double)actual[i] - predicted[i]; s += d * d; n++; }
        return n > 0 ? s / n : double.NaN;
    }

    /// <summary>RMSE = √MSE.</summary>
    public static double Rmse(ReadOnlySpan<float> actual, ReadOnlySpan<float> predicted, ReadOnlySpan<float> mask = default) =>
        Math.Sqrt(Mse(actual, predicted, mask));

    /// <summary>MAE = mean |a − p|.</summary>
    public static double Mae(ReadOnlySpan<float> actual, ReadOnlySpan<float> predicted, ReadOnlySpan<float> mask = default)
    {
        Check(actual, predicted, mask, "MAE");
        double s = 0; int n = 0;
        for (int i = 0; i < actual.Length; i++)
            if (On(mask, i)) { s += Math.Abs((double)actual[i] - predicted[i]); n++; }
        return n > 0 ? s / n : double.NaN;
    }

    /// <summary>MAPE = 100 · mean |a − p| / |a| in percent, over points with a ≠ 0 (zero actuals are skipped: the ratio is undefined there).</summary>
    public static double Mape(ReadOnlySpan<float> actual, ReadOnlySpan<float> predicted, ReadOnlySpan<float> mask = default)
    {
        Check(actual, predicted, mask, "MAPE");
        double s = 0; int n = 0;
        for (int i = 0; i < actual.Length; i++)
            if (On(mask, i) && actual[i] != 0) { s += Math.Abs(((double)actual[i] - predicted[i]) / actual[i]); n++; }
        return n > 0 ? 100 * s / n : double.NaN;
    }

    /// <summary>sMAPE = 100 · mean 2|a − p| / (|a| + |p|) in percent (range 0–200); a point with a = p = 0 counts as 0 error.</summary>
    public static double Smape(ReadOnlySpan<float> actual, ReadOnlySpan<float> predicted, ReadOnlySpan<float> mask = default)
    {
        Check(actual, predicted, mask, "sMAPE");
        double s = 0; int n = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (!On(mask, i)) continue;
            double den = Math.Abs((double)actual[i]) + Math.Abs((double)predicted[i]);
            if (den > 0) s += 2 * Math.Abs((double)actual[i] - predicted[i]) / den;
            n++;
        }
        return n > 0 ? 100 * s / n : double.NaN;
    }

    /// <summary>
    /// In-sample seasonal-naive MAE: mean over t ≥ m of |y_t − y_{t−m}| for a univariate training series
    /// (m = 1: the naive forecast). NaN when the series has m or fewer points.
    /// </summary>
    public static double NaiveScale(ReadOnlySpan<float> inSample, int season = 1)
    {
        if (season < 1) throw new ArgumentOutOfRangeException(nameof(season), $"season must be >= 1 (got {season})");
        if (inSample.Length <= season) return double.NaN;
        double s = 0;
        for (int t = season; t < inSample.Length; t++) s += Math.Abs((double)inSample[t] - inSample[t - season]);
        return s / (inSample.Length - season);
    }

    /// <summary>
    /// MASE = MAE(a, p) / <see cref="NaiveScale"/>(training series, m) (Hyndman &amp; Koehler 2006).
    /// NaN when the scale is 0 (a constant training series) or undefined.
    /// </summary>
    public static double Mase(ReadOnlySpan<float> actual, ReadOnlySpan<float> predicted, ReadOnlySpan<float> inSample, int season = 1, ReadOnlySpan<float> mask = default)
    {
        double scale = NaiveScale(inSample, season);
        return scale > 0 ? Mae(actual, predicted, mask) / scale : double.NaN;
    }

    /// <summary>Pinball (quantile) loss at level q: mean of q·(a − p) when a ≥ p, else (1 − q)·(p − a).</summary>
    public static double Pinball(ReadOnlySpan<float> actual, ReadOnlySpan<float> quantile, double q, ReadOnlySpan<float> mask = default)
    {
        Check(actual, quantile, mask, "pinball");
        if (!(q > 0 && q < 1)) throw new ArgumentOutOfRangeException(nameof(q), $"quantile level must be in (0, 1) (got {q})");
        double s = 0; int n = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (!On(mask, i)) continue;
            double d = (double)actual[i] - quantile[i];
            s += d >= 0 ? q * d : (q - 1) * d;
            n++;
        }
        return n > 0 ? s / n : double.NaN;
    }

    /// <summary>Interval coverage: fraction of points with lower ≤ a ≤ upper.</summary>
    public static double Coverage(ReadOnlySpan<float> actual, ReadOnlySpan<float> lower, ReadOnlySpan<float> upper, ReadOnlySpan<float> mask = default)
    {
        Check(actual, lower, mask, "coverage");
        Check(actual, upper, mask, "coverage");
        int inside = 0, n = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (!On(mask, i)) continue;
            if (lower[i] <= actual[i] && actual[i] <= upper[i]) inside++;
            n++;
        }
        return n > 0 ? (double)inside / n : double.NaN;
    }

    /// <summary>
    /// CRPS approximated from Q quantile forecasts: CRPS = 2∫₀¹ pinball_q dq ≈ (2/Q)·Σ_k pinball_{q_k}
    /// (exact in the limit of dense, evenly spaced levels such as 0.05, 0.15, …, 0.95).
    /// <paramref name="quantiles"/> is [n, Q] (levels innermost), <paramref name="actual"/> and mask are [n].
    /// </summary>
    public static double Crps(ReadOnlySpan<float> actual, ReadOnlySpan<float> quantiles, ReadOnlySpan<double> levels, ReadOnlySpan<float> mask = default)
    {
        int n = actual.Length, Q = levels.Length;
        if (Q == 0 || quantiles.Length != n * Q || (!mask.IsEmpty && mask.Length != n))
            throw new ArgumentException($"CRPS: quantiles has {quantiles.Length} values for {n} points × {Q} levels");
        double s = 0; int count = 0;
        for (int i = 0; i < n; i++)
        {
            if (!On(mask, i)) continue;
            for (int k = 0; k < Q; k++)
            {
                double q = levels[k], d = (double)actual[i] - quantiles[i * Q + k];
                s += d >= 0 ? q * d : (q - 1) * d;
            }
            count++;
        }
        return count > 0 ? 2 * s / (Q * (double)count) : double.NaN;
    }
}
