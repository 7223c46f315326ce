using Gyre.Data;
using Gyre.Forecasting;

namespace Gyre.Cli.Output;

/// <summary>PNG of the recent history, the forecast and (with quantiles) its interval, one panel per target (ScottPlot).</summary>
internal static class ForecastPlot
{
    public static void Write(string path, SeriesSet data, ForecastTable table, int historyRows)
    {
        var series = data.Series[0];
        int c = 0;                                        // first target of the first series
        var rows = table.Rows.Where(r => r.SeriesId == series.Id).ToList();
        int start = Math.Max(0, series.Length - historyRows);
        bool dates = series.Times != null && rows.All(r => r.Time != null);
        double X(int i) => dates ? series.Times![i].ToOADate() : i;
        var hx = Enumerable.Range(start, series.Length - start).Select(X).ToArray();
        var hy = Enumerable.Range(start, series.Length - start).Select(i => (double)series.Values[i * data.ColumnCount + c]).ToArray();
        var fx = rows.Select(r => dates ? r.Time!.Value.ToOADate() : series.Length - 1 + r.Step).ToArray();
        var fy = rows.Select(r => (double)r.Values[c]).ToArray();

        var plt = new ScottPlot.Plot();
        if (table.QuantileLevels.Length >= 2)
        {
            var lo = rows.Select(r => (double)r.Quantiles[c][0]).ToArray();
            var hi = rows.Select(r => (double)r.Quantiles[c][^1]).ToArray();
            var band = plt.Add.FillY(fx, lo, hi);
            band.LegendText = $"{table.QuantileLevels[0]:0.##}–{table.QuantileLevels[^1]:0.##} interval";
            band.FillStyle.Color = ScottPlot.Colors.Orange.WithAlpha(0.3);
        }
        var history = plt.Add.Scatter(hx, hy);
        history.LegendText = "history";
        history.MarkerSize = 0;
        var forecast = plt.Add.Scatter(fx, fy);
        forecast.LegendText = "forecast";
        forecast.Color = ScottPlot.Colors.OrangeRed;
        forecast.MarkerSize = 3;
        if (dates) plt.Axes.DateTimeTicksBottom();
        plt.Title($"{table.Targets[c]} — {series.Id}");
        plt.ShowLegend();
        OutputPlan.WriteOne(path, tmp => plt.SavePng(tmp, 1000, 500));
    }
}
