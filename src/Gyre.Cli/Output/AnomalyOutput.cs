using System.Globalization;
using Gyre.Anomaly;
using nietras.SeparatedValues;

namespace Gyre.Cli.Output;

/// <summary>Score and event CSVs (Sep) and the anomaly plot (ScottPlot).</summary>
internal static class AnomalyOutput
{
    public static string Time(DateTime[]? times, int row) =>
        times is null ? row.ToString(CultureInfo.InvariantCulture) : times[row].ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string Num(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>time (or row), each target, score per channel (with several), combined score, threshold, alarm (0/1).</summary>
    public static void WriteScores(string path, DateTime[]? times, string[] targets, float[] values, Detection d) =>
        OutputPlan.WriteOne(path, tmp =>
        {
            int c = d.Channels;
            using var writer = Sep.New(',').Writer().ToFile(tmp);
            for (int t = 0; t < d.Combined.Length; t++)
            {
                using var w = writer.NewRow();
                w[times is null ? "row" : "time"].Set(Time(times, t));
                for (int j = 0; j < c; j++) w[targets[j]].Set(Num(values[t * c + j]));
                if (c > 1) for (int j = 0; j < c; j++) w["score_" + targets[j]].Set(Num(d.Scores[t * c + j]));
                w["score"].Set(Num(d.Combined[t]));
                w["threshold"].Set(Num(d.Threshold));
                w["alarm"].Set(t >= d.From && d.Combined[t] > d.Threshold ? "1" : "0");
            }
        });

    public static void WriteEvents(string path, DateTime[]? times, Detection d) =>
        OutputPlan.WriteOne(path, tmp =>
        {
            using var writer = Sep.New(',').Writer().ToFile(tmp);
            if (d.Events.Count == 0) { writer.Header.Add(["start", "end", "peak", "score"]); return; }
            foreach (var e in d.Events)
            {
                using var w = writer.NewRow();
                w["start"].Set(Time(times, e.Start));
                w["end"].Set(Time(times, e.End));
                w["peak"].Set(Time(times, e.Peak));
                w["score"].Set(Num(e.Score));
            }
        });

    /// <summary>
    /// The series (left axis) and the combined score with its threshold (right axis); events shaded red,
    /// labelled windows shaded green, the training rows grey.
    /// </summary>
    public static void WritePlot(string path, DateTime[]? times, string target, float[] values, int channels, Detection d, IReadOnlyList<RowWindow> windows) =>
        OutputPlan.WriteOne(path, tmp =>
        {
            int n = d.Combined.Length;
            double X(int t) => times is null ? t : times[t].ToOADate();
            var xs = Enumerable.Range(0, n).Select(X).ToArray();
            var plt = new ScottPlot.Plot();
            double half = n > 1 ? (xs[1] - xs[0]) / 2 : 0.5;
            var train = plt.Add.HorizontalSpan(xs[0], xs[Math.Max(d.From - 1, 0)]);
            train.FillStyle.Color = ScottPlot.Colors.Gray.WithAlpha(0.15);
            train.LegendText = "training rows";
            bool first = true;
            foreach (var w in windows)
            {
                var span = plt.Add.HorizontalSpan(xs[w.Start] - half, xs[w.End] + half);
                span.FillStyle.Color = ScottPlot.Colors.Green.WithAlpha(0.2);
                if (first) span.LegendText = "labelled window";
                first = false;
            }
            first = true;
            foreach (var e in d.Events)
            {
                var span = plt.Add.HorizontalSpan(xs[e.Start] - half, xs[e.End] + half);
                span.FillStyle.Color = ScottPlot.Colors.Red.WithAlpha(0.3);
                if (first) span.LegendText = "event";
                first = false;
            }
            var series = plt.Add.Scatter(xs, Enumerable.Range(0, n).Select(t => (double)values[t * channels]).ToArray());
            series.MarkerSize = 0;
            series.LegendText = target;
            var score = plt.Add.Scatter(xs, d.Combined);
            score.MarkerSize = 0;
            score.Color = ScottPlot.Colors.OrangeRed.WithAlpha(0.8);
            score.LegendText = $"{d.Scorer} score";
            score.Axes.YAxis = plt.Axes.Right;
            var thr = plt.Add.HorizontalLine(d.Threshold);
            thr.Axes.YAxis = plt.Axes.Right;
            thr.LinePattern = ScottPlot.LinePattern.Dashed;
            thr.Color = ScottPlot.Colors.Black;
            thr.LegendText = "threshold";
            plt.Axes.Left.Label.Text = target;
            plt.Axes.Right.Label.Text = "score";
            if (times is not null) plt.Axes.DateTimeTicksBottom();
            plt.Title($"{target}: {d.Events.Count} event(s)");
            plt.ShowLegend();
            plt.SavePng(tmp, 1200, 500);
        });
}
