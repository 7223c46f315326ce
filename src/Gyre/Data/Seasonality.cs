namespace Gyre.Data;

/// <summary>A season length and why it was chosen (printed beside the baselines).</summary>
public readonly record struct SeasonChoice(int Season, string Reason);

/// <summary>
/// Season length m for seasonal-naive baselines and MASE, taken only where the data show one. From the time
/// step: monthly → 12, quarterly → 4, yearly → 1, weekly → 52 (calendar periods); daily → 365 when the
/// autocorrelation r(365) &gt; 0.3 (needs 2·365 values) and r(7) is not a local peak, 7 when r(7) is one;
/// k-minute or hourly steps dividing a day → the steps per day when the data confirm the daily cycle (r at that
/// lag a local peak of the autocorrelation, or the differenced series' r there above 3/√n) or are too short to
/// tell (fewer than 3 days). Otherwise (no times, an irregular step, or a daily/sub-daily series without its
/// cycle — a random walk, say) the lag of the highest local maximum of the autocorrelation of the first
/// differences over 2..min(n/2, 1000) above max(0.2, 3/√n) (levels of a random walk correlate at every lag, so
/// peaks are looked for after differencing), else 1 (plain naive).
/// </summary>
public static class Seasonality
{
    /// <summary>Season of <paramref name="column"/> of <paramref name="series"/>, using rows [0, end) (pass the training end).</summary>
    public static int Detect(TimeSeries series, int columnCount, int column, int end) => Choose(series, columnCount, column, end).Season;

    /// <summary>The season of <paramref name="column"/> over rows [0, end) and the reason for it.</summary>
    public static SeasonChoice Choose(TimeSeries series, int columnCount, int column, int end)
    {
        var x = series.Column(column, columnCount, 0, end);
        if (series.Times is null || series.Length < 2) return FromAutocorrelation(x, "no time column");
        return ChooseFromStep(TimeStep.Infer(series.Times), x);
    }

    public static int FromStep(TimeStep step, ReadOnlySpan<float> values) => ChooseFromStep(step, values).Season;

    /// <summary>The season for data of time step <paramref name="step"/> with values <paramref name="values"/>, and why.</summary>
    public static SeasonChoice ChooseFromStep(TimeStep step, ReadOnlySpan<float> values)
    {
        if (step.Months == 1) return new(12, "monthly data: the calendar period, 12");
        if (step.Months == 3) return new(4, "quarterly data: the calendar period, 4");
        if (step.Months == 12) return new(1, "yearly data: no season (seasonal naive is naive)");
        double days = step.Span.TotalDays;
        if (Math.Abs(days - 7) < 1e-9) return new(52, "weekly data: the calendar period, 52");
        if (Math.Abs(days - 1) < 1e-9)
        {
            // A smooth annual cycle makes every short lag correlate, so compare shapes, not sizes:
            // weekly means r(7) is a local peak; annual means r(365) is clearly positive.
            bool weeklyPeak = Autocorrelation(values, 7) > Math.Max(Autocorrelation(values, 6), Autocorrelation(values, 8));
            bool annual = values.Length >= 2 * 365 && Autocorrelation(values, 365) > 0.3;
            if (annual && !weeklyPeak) return new(365, $"daily data with an annual cycle (r(365) = {Autocorrelation(values, 365):F2})");
            if (weeklyPeak) return new(7, "daily data with a weekly cycle (r(7) a local autocorrelation peak)");
            if (values.Length < 3 * 7) return new(7, "daily data: the calendar period, 7 (too few values to check it)");
            return FromAutocorrelation(values, "daily data without a weekly or annual cycle");
        }
        double perDay = TimeSpan.FromDays(1).Ticks / (double)step.Span.Ticks;
        if (step.Span.Ticks > 0 && perDay >= 2 && Math.Abs(perDay - Math.Round(perDay)) < 1e-9)
        {
            int m = (int)Math.Round(perDay);
            if (values.Length < 3 * m) return new(m, $"{m} steps a day: the daily period (too few values to check it)");
            if (ShowsPeriod(values, m)) return new(m, $"{m} steps a day with a daily cycle (r({m}) = {Autocorrelation(values, m):F2})");
            return FromAutocorrelation(values, $"{m} steps a day without a daily cycle");
        }
        return FromAutocorrelation(values, "irregular time step");
    }

    /// <summary>Whether lag <paramref name="m"/> is a period of <paramref name="x"/>: a local autocorrelation peak of the levels, or a significant one of the differences.</summary>
    private static bool ShowsPeriod(ReadOnlySpan<float> x, int m)
    {
        double r = Autocorrelation(x, m);
        if (r > Autocorrelation(x, m - 1) && r >= Autocorrelation(x, m + 1) && r > 0) return true;
        var d = Differences(x);
        return Autocorrelation(d, m) > 3 / Math.Sqrt(Math.Max(d.Length, 1));
    }

    private static float[] Differences(ReadOnlySpan<float> x)
    {
        var d = new float[Math.Max(x.Length - 1, 0)];
        for (int i = 0; i < d.Length; i++) d[i] = x[i + 1] - x[i];
        return d;
    }

    /// <summary>The highest significant autocorrelation peak of the first differences of <paramref name="x"/>, or 1.</summary>
    private static SeasonChoice FromAutocorrelation(ReadOnlySpan<float> x, string context)
    {
        var d = Differences(x);
        double threshold = Math.Max(0.2, 3 / Math.Sqrt(Math.Max(d.Length, 1)));
        int k = AutocorrelationPeak(d, threshold);
        return k > 1
            ? new(k, $"{context}: autocorrelation peak of the differenced series at lag {k} (r = {Autocorrelation(d, k):F2})")
            : new(1, $"{context}: no significant autocorrelation peak, so no season (seasonal naive is naive)");
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

    /// <summary>
    /// The lag of the highest local maximum of r over 2..min(n/2, 1000) above <paramref name="threshold"/>, or the
    /// shortest lag whose peak comes within 10 % of it (the fundamental period rather than one of its multiples,
    /// which noise can lift a little higher); 1 when no peak clears the threshold.
    /// </summary>
    public static int AutocorrelationPeak(ReadOnlySpan<float> x, double threshold = 0.2)
    {
        int maxLag = Math.Min(x.Length / 2, 1000);
        if (maxLag < 3) return 1;
        var r = new double[maxLag + 2];
        for (int k = 1; k <= maxLag + 1; k++) r[k] = Autocorrelation(x, k);
        bool Peak(int k) => r[k] > r[k - 1] && r[k] >= r[k + 1] && r[k] > threshold;
        double highest = threshold;
        for (int k = 2; k <= maxLag; k++)
            if (Peak(k) && r[k] > highest) highest = r[k];
        for (int k = 2; k <= maxLag; k++)
            if (Peak(k) && r[k] >= 0.9 * highest) return k;
        return 1;
    }
}
