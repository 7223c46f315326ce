using System.Globalization;

namespace Gyre.Data;

/// <summary>
/// The regular step of a series: whole months (monthly, quarterly, yearly data, whose day counts
/// vary) or a fixed <see cref="TimeSpan"/>. Inferred as the median gap, so a few missing rows (co2's
/// absent 1958-06) do not change it.
/// </summary>
public readonly record struct TimeStep(int Months, TimeSpan Span)
{
    public bool IsMonthly => Months > 0;

    /// <summary>t advanced by k steps (k may be negative).</summary>
    public DateTime Advance(DateTime t, int k) => Months > 0 ? t.AddMonths(Months * k) : t + Span * k;

    /// <summary>Median gap of <paramref name="times"/> (at least 2); 28–31 days → 1 month, 89–92 → 3, 365–366 → 12.</summary>
    public static TimeStep Infer(ReadOnlySpan<DateTime> times)
    {
        if (times.Length < 2) throw new ArgumentException("need at least two timestamps to infer a step");
        var gaps = new long[times.Length - 1];
        for (int i = 1; i < times.Length; i++) gaps[i - 1] = (times[i] - times[i - 1]).Ticks;
        Array.Sort(gaps);
        var median = new TimeSpan(gaps[gaps.Length / 2]);
        double days = median.TotalDays;
        if (days >= 28 && days <= 31) return new TimeStep(1, median);
        if (days >= 89 && days <= 92) return new TimeStep(3, median);
        if (days >= 365 && days <= 366) return new TimeStep(12, median);
        return new TimeStep(0, median);
    }

    /// <summary>
    /// Whole steps from <paramref name="from"/> to <paramref name="to"/> (k with Advance(from, k) = to, compared by
    /// calendar month for monthly steps so month-end dates count as regular), or -1 when the distance is not a
    /// whole number of steps.
    /// </summary>
    public long StepsBetween(DateTime from, DateTime to)
    {
        if (Months > 0)
        {
            int months = (to.Year - from.Year) * 12 + to.Month - from.Month;
            return months % Months == 0 && to.TimeOfDay == from.TimeOfDay ? months / Months : -1;
        }
        if (Span <= TimeSpan.Zero) return -1;
        long d = (to - from).Ticks;
        return d % Span.Ticks == 0 ? d / Span.Ticks : -1;
    }

    /// <summary>A word for the step: hourly, daily, weekly, monthly, quarterly, yearly, else "every …".</summary>
    public string Describe()
    {
        if (Months == 1) return "monthly";
        if (Months == 3) return "quarterly";
        if (Months == 12) return "yearly";
        if (Months > 0) return $"every {Months} months";
        if (Span == TimeSpan.FromHours(1)) return "hourly";
        if (Span == TimeSpan.FromDays(1)) return "daily";
        if (Span == TimeSpan.FromDays(7)) return "weekly";
        if (Span.TotalDays >= 1 && Span.Ticks % TimeSpan.TicksPerDay == 0) return $"every {Span.TotalDays:0} days";
        if (Span.TotalHours >= 1 && Span.Ticks % TimeSpan.TicksPerHour == 0) return $"every {Span.TotalHours:0} hours";
        if (Span.TotalMinutes >= 1 && Span.Ticks % TimeSpan.TicksPerMinute == 0) return $"every {Span.TotalMinutes:0} minutes";
        return $"every {Span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s";
    }

    public override string ToString() => Months switch
    {
        1 => "1 month",
        > 0 => $"{Months} months",
        _ => Span.ToString("c", CultureInfo.InvariantCulture),
    };
}

/// <summary>Calendar covariates, each encoded as a (sin, cos) pair of its phase.</summary>
[Flags]
public enum CalendarFeatures
{
    None = 0,
    /// <summary>Hour of day + minute/60, period 24.</summary>
    Hour = 1,
    /// <summary>Day of week (Monday = 0), period 7.</summary>
    DayOfWeek = 2,
    /// <summary>Day of month − 1, period = days in that month.</summary>
    DayOfMonth = 4,
    /// <summary>Month − 1, period 12.</summary>
    Month = 8,
    /// <summary>Day of year − 1, period = days in that year.</summary>
    DayOfYear = 16,
}

/// <summary>
/// Future-known calendar features: for each selected feature with phase p ∈ [0, 1), the pair
/// (sin 2πp, cos 2πp), so December sits next to January. Values lie in [−1, 1]; they are appended
/// to the future-feature block and should be scaled with <see cref="ScalerKind.None"/> semantics
/// (standard scaling is harmless too).
/// </summary>
public static class Calendar
{
    private static readonly (CalendarFeatures Flag, string Name)[] All =
    [
        (CalendarFeatures.Hour, "hour"), (CalendarFeatures.DayOfWeek, "dow"), (CalendarFeatures.DayOfMonth, "dom"),
        (CalendarFeatures.Month, "month"), (CalendarFeatures.DayOfYear, "doy"),
    ];

    /// <summary>Parses "hour,dow,month" (also dom, doy, dayofweek, none).</summary>
    public static CalendarFeatures Parse(string text)
    {
        var f = CalendarFeatures.None;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            f |= part.ToLowerInvariant() switch
            {
                "hour" => CalendarFeatures.Hour,
                "dow" or "dayofweek" => CalendarFeatures.DayOfWeek,
                "dom" or "dayofmonth" => CalendarFeatures.DayOfMonth,
                "month" => CalendarFeatures.Month,
                "doy" or "dayofyear" => CalendarFeatures.DayOfYear,
                "none" => CalendarFeatures.None,
                _ => throw new GyreDataException($"unknown calendar feature '{part}' (expected hour, dow, dom, month, doy)"),
            };
        }
        return f;
    }

    /// <summary>Number of columns: 2 per selected feature.</summary>
    public static int Width(CalendarFeatures f) => 2 * System.Numerics.BitOperations.PopCount((uint)f);

    /// <summary>Column names, e.g. "month_sin", "month_cos".</summary>
    public static string[] Names(CalendarFeatures f) =>
        All.Where(a => f.HasFlag(a.Flag)).SelectMany(a => new[] { a.Name + "_sin", a.Name + "_cos" }).ToArray();

    /// <summary>Writes the <see cref="Width"/> values for time <paramref name="t"/> into <paramref name="dst"/>.</summary>
    public static void Encode(DateTime t, CalendarFeatures f, Span<float> dst)
    {
        int j = 0;
        foreach (var (flag, _) in All)
        {
            if (!f.HasFlag(flag)) continue;
            double p = flag switch
            {
                CalendarFeatures.Hour => (t.Hour + t.Minute / 60.0) / 24.0,
                CalendarFeatures.DayOfWeek => ((int)t.DayOfWeek + 6) % 7 / 7.0,
                CalendarFeatures.DayOfMonth => (t.Day - 1) / (double)DateTime.DaysInMonth(t.Year, t.Month),
                CalendarFeatures.Month => (t.Month - 1) / 12.0,
                _ => (t.DayOfYear - 1) / (DateTime.IsLeapYear(t.Year) ? 366.0 : 365.0),
            };
            dst[j++] = (float)Math.Sin(2 * Math.PI * p);
            dst[j++] = (float)Math.Cos(2 * Math.PI * p);
        }
    }

    /// <summary>
    /// A copy of <paramref name="set"/> with the calendar columns appended to its future-known block.
    /// Needs a time column. For forecasting past the end, encode <see cref="TimeStep.Advance"/>d times.
    /// </summary>
    public static SeriesSet AddFutureFeatures(SeriesSet set, CalendarFeatures f)
    {
        if (f == CalendarFeatures.None) return set;
        if (set.TimeColumn is null) throw new GyreDataException("calendar features need a time column", set.Source);
        int K = set.ColumnCount, W = Width(f), K2 = K + W;
        var list = new List<TimeSeries>(set.Series.Count);
        foreach (var s in set.Series)
        {
            var v = new float[s.Length * K2];
            for (int t = 0; t < s.Length; t++)
            {
                s.Values.AsSpan(t * K, K).CopyTo(v.AsSpan(t * K2, K));
                Encode(s.Times![t], f, v.AsSpan(t * K2 + K, W));
            }
            list.Add(new TimeSeries(s.Id, s.Times, v, K2, s.Observed, s.SourceRows, s.SourceTarget));
        }
        return new SeriesSet(set.Source, set.TimeColumn, set.IdColumn, [.. set.Columns, .. Names(f)],
            set.TargetCount, set.PastCount, set.FutureCount + W, list) { ReadInfo = set.ReadInfo };
    }
}
