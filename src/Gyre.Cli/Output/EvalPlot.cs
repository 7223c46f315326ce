using Gyre.Data;
using Gyre.Forecasting;

namespace Gyre.Cli.Output;

/// <summary>
/// The data behind `eval --plot`: forecasts from origins stepping through the test part (every N steps, at
/// most <see cref="MaxOrigins"/> per series), each made by <see cref="Forecaster.Predict"/> on the series cut at
/// its origin — the same path as a real forecast, so instance norm, calendar and future covariates apply.
/// </summary>
internal static class EvalPlot
{
    public const int MaxOrigins = 40;

    public static PlotSummary Write(string path, Forecaster f, SeriesSet raw, PlotSelection select)
    {
        var splits = SplitSpec.Parse(f.Options.Split).For(raw);
        int n = f.Options.Horizon, l = f.Options.Lookback;
        int userFuture = f.DataInfo.FutureCount - f.DataInfo.CalendarCount;
        var forecasts = new Dictionary<string, IReadOnlyList<ForecastPlot.Forecast>>();
        string[] targets = raw.Columns.Take(raw.TargetCount).ToArray();
        for (int i = 0; i < raw.Series.Count; i++)
        {
            var s = raw.Series[i];
            var sp = splits[i];
            int first = Math.Max(sp.ValEnd, l), count = (sp.TestEnd - first) / n;
            int stride = n * Math.Max(1, (count + MaxOrigins - 1) / MaxOrigins);
            var list = new List<ForecastPlot.Forecast>();
            for (int origin = first; origin + n <= sp.TestEnd; origin += stride)
            {
                var history = Cut(raw, s, origin);
                var future = userFuture > 0 ? FutureColumns(raw, s, userFuture, origin) : null;
                var table = f.Predict(history, future);
                list.Add(new ForecastPlot.Forecast(table.Rows, origin));
            }
            forecasts[s.Id] = list;
        }
        return ForecastPlot.WriteEval(path, raw, targets, f.Options.Quantiles, forecasts, splits, select);
    }

    /// <summary>Rows [0, end) of series <paramref name="s"/> as a one-series set with the layout of <paramref name="raw"/>.</summary>
    private static SeriesSet Cut(SeriesSet raw, TimeSeries s, int end)
    {
        int k = raw.ColumnCount, c = raw.TargetCount;
        var cut = new TimeSeries(s.Id, s.Times?[..end], s.Values[..(end * k)], k, s.Observed?[..(end * c)], s.SourceRows[..end], s.SourceTarget);
        return new SeriesSet(raw.Source, raw.TimeColumn, raw.IdColumn, raw.Columns, raw.TargetCount, raw.PastCount, raw.FutureCount, [cut]);
    }

    /// <summary>
    /// The user's known-future columns of series <paramref name="s"/> from row <paramref name="origin"/> on, as a set
    /// of their own (what --future-data would hold for a forecast made at that origin).
    /// </summary>
    private static SeriesSet FutureColumns(SeriesSet raw, TimeSeries s, int userFuture, int origin)
    {
        int k = raw.ColumnCount, from = raw.TargetCount + raw.PastCount, T = s.Length - origin;
        var v = new float[T * userFuture];
        for (int t = 0; t < T; t++)
            for (int j = 0; j < userFuture; j++) v[t * userFuture + j] = s.Values[(origin + t) * k + from + j];
        var fs = new TimeSeries(s.Id, s.Times?[origin..], v, userFuture, null, s.SourceRows[origin..]);
        return new SeriesSet(raw.Source, raw.TimeColumn, raw.IdColumn, raw.Columns.Skip(from).Take(userFuture).ToArray(), userFuture, 0, 0, [fs]);
    }
}
