using System.Globalization;
using Gyre.Data;
using Gyre.Forecasting;
using ScottPlot;

namespace Gyre.Cli.Output;

/// <summary>Which panels to draw: series ids and target names (null = all).</summary>
internal sealed record PlotSelection(IReadOnlyList<string>? Series = null, IReadOnlyList<string>? Targets = null);

/// <summary>What a plot holds: panels drawn out of those selected, and what was left out (null when nothing).</summary>
internal sealed record PlotSummary(int Drawn, int Total, string? LeftOut)
{
    public string Describe(string path) => LeftOut is null ? $"wrote {path} ({Drawn} panel(s))" : $"wrote {path} ({Drawn} of {Total} panels; {LeftOut})";
}

/// <summary>
/// PNGs (ScottPlot) of history, forecast and every quantile band: one panel per (series, target) in a grid,
/// the legend outside the data, history, forecast and bands in distinct colours. The eval plot also shades
/// the validation and test parts and marks the split boundaries.
/// </summary>
internal static class ForecastPlot
{
    /// <summary>More panels than this become unreadable in one image; the rest are named in the summary.</summary>
    public const int MaxPanels = 24;

    private static readonly Color HistoryColor = Color.FromHex("#1f77b4");   // blue
    private static readonly Color ForecastColor = Color.FromHex("#d62728");  // red
    private static readonly Color BandColor = Color.FromHex("#ff7f0e");      // orange, lighter for wider bands
    private static readonly Color TrainColor = Color.FromHex("#9467bd");
    private static readonly Color ValColor = Color.FromHex("#7f7f7f");
    private static readonly Color TestColor = Color.FromHex("#2ca02c");

    /// <summary>One forecast drawn in a panel: its rows (one series) and, for eval plots, the origin row.</summary>
    internal sealed record Forecast(IReadOnlyList<ForecastRow> Rows, int Origin);

    /// <summary>The predict plot: the last <paramref name="historyRows"/> rows of each series, then its forecast.</summary>
    public static PlotSummary Write(string path, SeriesSet data, ForecastTable table, int historyRows, PlotSelection? select = null)
    {
        var forecasts = data.Series.ToDictionary(s => s.Id, s => (IReadOnlyList<Forecast>)[new Forecast(table.Rows.Where(r => r.SeriesId == s.Id).ToList(), s.Length)]);
        return Render(path, data, table.Targets, table.QuantileLevels, forecasts, s => Math.Max(0, s.Length - historyRows), null, select ?? new());
    }

    /// <summary>
    /// The eval plot: each whole series, forecasts from the given origins (e.g. every N steps over the test part),
    /// the validation and test parts shaded and their boundaries marked.
    /// </summary>
    public static PlotSummary WriteEval(string path, SeriesSet data, string[] targets, float[] quantileLevels,
        IReadOnlyDictionary<string, IReadOnlyList<Forecast>> forecasts, SeriesSplit[] splits, PlotSelection? select = null) =>
        Render(path, data, targets, quantileLevels, forecasts, _ => 0, splits, select ?? new());

    private static PlotSummary Render(string path, SeriesSet data, string[] targets, float[] levels,
        IReadOnlyDictionary<string, IReadOnlyList<Forecast>> forecasts, Func<TimeSeries, int> historyStart, SeriesSplit[]? splits, PlotSelection select)
    {
        var seriesIndex = Select(data.Series.Select(s => s.Id).ToArray(), select.Series, "series", "--plot-series");
        var targetIndex = Select(targets, select.Targets, "target", "--plot-targets");
        var panels = seriesIndex.SelectMany(i => targetIndex.Select(c => (Series: i, Target: c))).ToList();
        int total = panels.Count;
        string? leftOut = null;
        if (total > MaxPanels)
        {
            var dropped = panels.Skip(MaxPanels).ToList();
            panels = panels.Take(MaxPanels).ToList();
            leftOut = $"left out {dropped.Count}: {string.Join(", ", dropped.Take(4).Select(p => $"{data.Series[p.Series].Id}/{targets[p.Target]}"))}{(dropped.Count > 4 ? ", …" : "")}; choose with --plot-series/--plot-targets";
        }

        int columns = panels.Count <= 3 ? 1 : panels.Count <= 8 ? 2 : 3;
        int rows = (panels.Count + columns - 1) / columns;
        var multiplot = new Multiplot();
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns);
        multiplot.RemovePlot(multiplot.GetPlot(0));
        foreach (var (si, c) in panels)
        {
            var s = data.Series[si];
            var plot = new Plot();
            Panel(plot, s, data.ColumnCount, c, targets[c], levels, forecasts.TryGetValue(s.Id, out var f) ? f : [], historyStart(s), splits?[si]);
            multiplot.AddPlot(plot);
        }
        int width = columns == 1 ? 1100 : 800 * columns, height = Math.Max(500, rows * (columns == 1 && rows == 1 ? 500 : 330));
        OutputPlan.WriteOne(path, tmp => multiplot.SavePng(tmp, width, height));
        return new PlotSummary(panels.Count, total, leftOut);
    }

    /// <summary>Throws for a selected series or target that does not exist, before any output is written.</summary>
    public static void CheckSelection(SeriesSet data, PlotSelection select)
    {
        Select(data.Series.Select(s => s.Id).ToArray(), select.Series, "series", "--plot-series");
        Select(data.Columns.Take(data.TargetCount).ToArray(), select.Targets, "target", "--plot-targets");
    }

    private static int[] Select(string[] names, IReadOnlyList<string>? wanted, string role, string option)
    {
        if (wanted is null || wanted.Count == 0) return Enumerable.Range(0, names.Length).ToArray();
        return wanted.Select(w =>
        {
            int i = Array.IndexOf(names, w);
            return i >= 0 ? i : throw new GyreDataException($"{option}: unknown {role} '{w}' ({role}: {string.Join(", ", names.Take(10))}{(names.Length > 10 ? ", …" : "")})");
        }).ToArray();
    }

    private static void Panel(Plot plt, TimeSeries s, int columnCount, int c, string target, float[] levels, IReadOnlyList<Forecast> forecasts, int from, SeriesSplit? split)
    {
        bool dates = s.Times != null && forecasts.All(f => f.Rows.All(r => r.Time != null));
        double X(int i) => dates ? s.Times![i].ToOADate() : i;
        double FX(Forecast f, ForecastRow r) => dates ? r.Time!.Value.ToOADate() : f.Origin - 1 + r.Step;

        if (split is { } sp)
        {
            // Shade train, validation and test, and mark where validation and test begin.
            void Part(int start, int end, Color color, string name)
            {
                if (end <= start || start >= s.Length) return;
                double x0 = X(start), x1 = X(Math.Min(end, s.Length) - 1);
                var span = plt.Add.HorizontalSpan(x0, x1);
                span.FillStyle.Color = color.WithAlpha(0.12);
                span.LineStyle.Width = 0;
                span.LegendText = name;
                if (start == 0) return;
                var line = plt.Add.VerticalLine(x0);
                line.Color = color;
                line.LinePattern = LinePattern.Dashed;
                line.LineWidth = 1.5f;
            }
            Part(0, sp.TrainEnd, TrainColor, "train");
            Part(sp.TrainEnd, sp.ValEnd, ValColor, "validation");
            Part(sp.ValEnd, sp.TestEnd, TestColor, "test");
        }

        // Bands from the outermost quantile pair inwards (0.1–0.9, then 0.25–0.75, …), wider ones lighter.
        int pairs = levels.Length / 2;
        for (int b = 0; b < pairs; b++)
        {
            int lo = b, hi = levels.Length - 1 - b;
            double alpha = 0.18 + 0.22 * b / Math.Max(1, pairs - 1);
            bool first = true;
            foreach (var f in forecasts)
            {
                if (f.Rows.Count == 0) continue;
                var fx = f.Rows.Select(r => FX(f, r)).ToArray();
                var band = plt.Add.FillY(fx, f.Rows.Select(r => (double)r.Quantiles[c][lo]).ToArray(), f.Rows.Select(r => (double)r.Quantiles[c][hi]).ToArray());
                band.FillStyle.Color = BandColor.WithAlpha(alpha);
                band.LineStyle.Width = 0;
                if (first) band.LegendText = $"{(levels[hi] - levels[lo]) * 100:0}% interval ({Level(levels[lo])}–{Level(levels[hi])})";
                first = false;
            }
        }

        var hx = Enumerable.Range(from, s.Length - from).Select(X).ToArray();
        var hy = Enumerable.Range(from, s.Length - from).Select(i => (double)s.Values[i * columnCount + c]).ToArray();
        var history = plt.Add.ScatterLine(hx, hy);
        history.Color = HistoryColor;
        history.LineWidth = 1.5f;
        history.LegendText = split is null ? "history" : "actual";

        bool firstForecast = true;
        foreach (var f in forecasts)
        {
            if (f.Rows.Count == 0) continue;
            var line = plt.Add.Scatter(f.Rows.Select(r => FX(f, r)).ToArray(), f.Rows.Select(r => (double)r.Values[c]).ToArray());
            line.Color = ForecastColor;
            line.LineWidth = 2;
            line.MarkerSize = forecasts.Count == 1 ? 4 : 0;
            if (firstForecast) line.LegendText = levels.Length > 0 ? "forecast (median)" : "forecast";
            firstForecast = false;
        }
        if (dates && plt.Axes.DateTimeTicksBottom().TickGenerator is ScottPlot.TickGenerators.DateTimeAutomatic ticks)
            ticks.LabelFormatter = t => t.ToString(t.TimeOfDay == TimeSpan.Zero ? "yyyy-MM-dd" : "yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);   // ISO, whatever the input's order
        plt.Title($"{target} — {s.Id}");
        plt.ShowLegend(Edge.Right);
    }

    private static string Level(float q) => q.ToString("0.##", CultureInfo.InvariantCulture);
}
