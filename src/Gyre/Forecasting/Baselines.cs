using Gyre.Data;

namespace Gyre.Forecasting;

/// <summary>
/// Reference forecasts for the same evaluation windows as the model (<see cref="WindowSet"/>):
/// naive ŷ_{t+h} = y_{t−1}, and seasonal naive ŷ_{t+h} = y_{t−m+(h mod m)} (the last observed
/// season repeated; m = 1 is naive). They read the series itself, so m may exceed the lookback; a
/// window with fewer than m rows of history falls back to naive. Values are in the units of the
/// series given (scaling commutes with both, so scaled-then-inverted equals raw).
/// </summary>
public static class Baselines
{
    /// <summary>Writes the seasonal-naive forecast [N, C] for targets of <paramref name="series"/> at <paramref name="origin"/>.</summary>
    public static void SeasonalNaive(TimeSeries series, int columnCount, int targetCount, int origin, int horizon, int season, Span<float> dst)
    {
        if (season < 1) throw new ArgumentOutOfRangeException(nameof(season), $"season must be >= 1 (got {season})");
        if (origin < 1 || origin > series.Length) throw new ArgumentOutOfRangeException(nameof(origin), $"origin {origin} outside 1..{series.Length}");
        int m = origin >= season ? season : 1;
        for (int h = 0; h < horizon; h++)
        {
            int row = origin - m + h % m;
            series.Values.AsSpan(row * columnCount, targetCount).CopyTo(dst.Slice(h * targetCount, targetCount));
        }
    }

    /// <summary>Naive forecast [N, C]: the last value before <paramref name="origin"/> repeated.</summary>
    public static void Naive(TimeSeries series, int columnCount, int targetCount, int origin, int horizon, Span<float> dst) =>
        SeasonalNaive(series, columnCount, targetCount, origin, horizon, 1, dst);

    /// <summary>Seasonal-naive forecast [N, C] for window <paramref name="window"/> of <paramref name="windows"/>.</summary>
    public static void Forecast(WindowSet windows, int window, int season, Span<float> dst)
    {
        var (s, origin) = windows[window];
        SeasonalNaive(windows.Set.Series[s], windows.Set.ColumnCount, windows.Set.TargetCount, origin, windows.Horizon, season, dst);
    }
}
