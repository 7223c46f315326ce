namespace Gyre.Data;

/// <summary>
/// Season length m for seasonal-naive baselines and MASE. From the time step: monthly → 12,
/// quarterly → 4, yearly → 1, weekly → 52, daily → 365 when the autocorrelation r(365) &gt; 0.3
/// (needs 2·365 values) and r(7) is not a local peak (no weekly cycle), else 7; hourly → 24, k-minute
/// steps dividing a day → steps per day. Otherwise (or without times) the lag of the highest local
/// maximum of the autocorrelation over 2..min(n/2, 1000) that exceeds 0.2, else 1 (plain naive).
/// </summary>
public static class Seasonality
{
    /// <summary>Season of <paramref name="column"/> of <paramref name="series"/>, using rows [0, end) (pass the training end).</summary>
    public static int Detect(TimeSeries series, int columnCount, int column, int end)
    {
        var x = series.Column(column, columnCount, 0, end);
        if (series.Times is null || series.Length < 2) return AutocorrelationPeak(x);
        return FromStep(TimeStep.Infer(series.Times), x);
    }

    public static int FromStep(TimeStep step, ReadOnlySpan<float> values)
    {
        if (step.Months == 1) return 12;
        if (step.Months == 3) return 4;
        if (step.Months == 12) return 1;
        double days = step.Span.TotalDays;
        if (Math.Abs(days - 7) < 1e-9) return 52;
        if (Math.Abs(days - 1) < 1e-9)
        {
            // A smooth annual cycle makes every short lag correlate, so compare shapes, not sizes:
            // weekly means r(7) is a local peak; annual means r(365) is clearly positive.
            bool weeklyPeak = Autocorrelation(values, 7) > Math.Max(Autocorrelation(values, 6), Autocorrelation(values, 8));
            bool annual = values.Length >= 2 * 365 && Autocorrelation(values, 365) > 0.3;
            return annual && !weeklyPeak ? 365 : 7;
        }
        double perDay = TimeSpan.FromDays(1).Ticks / (double)step.Span.Ticks;
        if (step.Span.Ticks > 0 && perDay >= 2 && Math.Abs(perDay - Math.Round(perDay)) < 1e-9) return (int)Math.Round(perDay);
        return AutocorrelationPeak(values);
    }

    /// <summary>r(k) = Σ(x_t − x̄)(x_{t+k} − x̄) / Σ(x_t − x̄)²; 0 for a constant series or k ≥ n.</summary>
    public static double Autocorrelation(ReadOnlySpan<float> x, int lag)
    {
        int n = x.Length;
        if (lag >= n || lag < 0) return 0;
        double mean = 0;
        for (int i = 0; i < n; i++) mean += x[i];
        mean /= n;
        double den = 0, num = 0;
        for (int i = 0; i < n; i++) den += (x[i] - mean) * (x[i] - mean);
        for (int i = 0; i + lag < n; i++) num += (x[i] - mean) * (x[i + lag] - mean);
        return den > 0 ? num / den : 0;
    }

    public static int AutocorrelationPeak(ReadOnlySpan<float> x, double threshold = 0.2)
    {
        int maxLag = Math.Min(x.Length / 2, 1000);
        if (maxLag < 3) return 1;
        var r = new double[maxLag + 2];
        for (int k = 1; k <= maxLag + 1; k++) r[k] = Autocorrelation(x, k);
        int best = 1;
        double bestR = threshold;
        for (int k = 2; k <= maxLag; k++)
            if (r[k] > r[k - 1] && r[k] >= r[k + 1] && r[k] > bestR) { best = k; bestR = r[k]; }
        return best;
    }
}
