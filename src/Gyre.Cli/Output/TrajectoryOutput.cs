using System.Globalization;
using Gyre.Trajectories;
using nietras.SeparatedValues;

namespace Gyre.Cli.Output;

/// <summary>Trajectory predictions as CSV (Sep) and as a plot of paths (ScottPlot).</summary>
internal static class TrajectoryOutput
{
    private static string Num(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>
    /// One row per window and predicted step: window, agent, step (1..Pred), the truth, the mean prediction, and
    /// with K samples sample_j_x, sample_j_y (, _z). Coordinates are named x, y, z.
    /// </summary>
    public static void WriteCsv(string path, TrajectoryWindows w, float[] mean, float[]? samples, int k)
    {
        int d = w.Dims, o = w.Obs, pr = w.Pred;
        string[] axes = d == 3 ? ["x", "y", "z"] : ["x", "y"];
        using var writer = Sep.New(',').Writer().ToFile(path);
        for (int s = 0; s < w.Count; s++)
        {
            var truth = w.Sample(s)[(o * d)..];
            for (int step = 0; step < pr; step++)
            {
                using var row = writer.NewRow();
                row["window"].Format(s);
                row["agent"].Set(w.Agents[s]);
                row["step"].Format(step + 1);
                for (int j = 0; j < d; j++) row["true_" + axes[j]].Set(Num(truth[step * d + j]));
                for (int j = 0; j < d; j++) row["pred_" + axes[j]].Set(Num(mean[(s * pr + step) * d + j]));
                for (int m = 0; m < k && samples != null; m++)
                    for (int j = 0; j < d; j++) row[$"sample_{m + 1}_{axes[j]}"].Set(Num(samples[((s * k + m) * pr + step) * d + j]));
            }
        }
    }

    /// <summary>
    /// Up to 12 windows spread over the set, in the ground plane: observed path (grey), truth (green), mean
    /// prediction (red) and, with samples, each sample's path (thin, translucent red).
    /// </summary>
    public static void WritePlot(string path, TrajectoryWindows w, float[] mean, float[]? samples, int k)
    {
        int d = w.Dims, o = w.Obs, pr = w.Pred;
        var plt = new ScottPlot.Plot();
        int shown = Math.Min(12, w.Count);
        bool legend = true;
        for (int i = 0; i < shown; i++)
        {
            int s = (int)((long)i * w.Count / shown);
            var p = w.Sample(s);
            double[] X(ReadOnlySpan<float> a, int n, int first = 0) { var r = new double[n]; for (int q = 0; q < n; q++) r[q] = a[(first + q) * d]; return r; }
            double[] Y(ReadOnlySpan<float> a, int n, int first = 0) { var r = new double[n]; for (int q = 0; q < n; q++) r[q] = a[(first + q) * d + 1]; return r; }
            for (int m = 0; m < k && samples != null; m++)
            {
                var sp = samples.AsSpan((s * k + m) * pr * d, pr * d);
                var line = plt.Add.Scatter(Prepend(p[(o - 1) * d], X(sp, pr)), Prepend(p[(o - 1) * d + 1], Y(sp, pr)));
                line.Color = ScottPlot.Colors.Red.WithAlpha(0.12);
                line.MarkerSize = 0;
                line.LineWidth = 1;
                if (legend && m == 0) line.LegendText = $"{k} samples";
            }
            var obs = plt.Add.Scatter(X(p, o), Y(p, o));
            obs.Color = ScottPlot.Colors.Gray; obs.MarkerSize = 3;
            var truth = plt.Add.Scatter(X(p, o + pr)[(o - 1)..], Y(p, o + pr)[(o - 1)..]);
            truth.Color = ScottPlot.Colors.Green; truth.MarkerSize = 3;
            var mp = mean.AsSpan(s * pr * d, pr * d);
            var pred = plt.Add.Scatter(Prepend(p[(o - 1) * d], X(mp, pr)), Prepend(p[(o - 1) * d + 1], Y(mp, pr)));
            pred.Color = ScottPlot.Colors.Red; pred.MarkerSize = 3; pred.LinePattern = ScottPlot.LinePattern.Dashed;
            if (legend) { obs.LegendText = "observed"; truth.LegendText = "truth"; pred.LegendText = "prediction (mean)"; }
            legend = false;
        }
        plt.Axes.SquareUnits();
        plt.XLabel("x (m)");
        plt.YLabel("y (m)");
        plt.Title($"{shown} of {w.Count} windows: {o} observed, {pr} predicted positions");
        plt.ShowLegend();
        plt.SavePng(path, 1000, 800);
    }

    private static double[] Prepend(float first, double[] rest) => [first, .. rest];
}
