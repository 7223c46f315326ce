using Gyre.Training;

namespace Gyre.Cli.Output;

/// <summary>
/// PNG of a training history (ScottPlot): train and validation loss per epoch, any validation metric on the
/// right axis, and the best epoch (whose weights were kept) marked. Used by every job's --plot-history.
/// </summary>
internal static class HistoryPlot
{
    /// <summary>Fails before any training when the folder of <paramref name="path"/> does not exist.</summary>
    public static void CheckWritable(string path)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{path}: folder does not exist");
    }

    public static void Write(string path, IReadOnlyList<EpochRecord> history, string title)
    {
        CheckWritable(path);
        string full = Path.GetFullPath(path);
        var epochs = history.Select(e => (double)e.Epoch).ToArray();
        var plt = new ScottPlot.Plot();
        var train = plt.Add.Scatter(epochs, history.Select(e => e.TrainLoss).ToArray());
        train.LegendText = "train loss";
        var withVal = history.Where(e => e.ValLoss != null).ToList();
        if (withVal.Count > 0)
        {
            var val = plt.Add.Scatter(withVal.Select(e => (double)e.Epoch).ToArray(), withVal.Select(e => e.ValLoss!.Value).ToArray());
            val.LegendText = "validation loss";
            val.Color = ScottPlot.Colors.OrangeRed;
        }
        foreach (var name in history.Where(e => e.Metrics != null).SelectMany(e => e.Metrics!.Keys).Distinct())
        {
            var rows = history.Where(e => e.Metrics != null && e.Metrics.ContainsKey(name)).ToList();
            var metric = plt.Add.Scatter(rows.Select(e => (double)e.Epoch).ToArray(), rows.Select(e => e.Metrics![name]).ToArray());
            metric.LegendText = $"validation {name} (right axis)";
            metric.Axes.YAxis = plt.Axes.Right;
            metric.LinePattern = ScottPlot.LinePattern.Dashed;
            plt.Axes.Right.Label.Text = name;
        }
        if (history.LastOrDefault(e => e.Best) is { } best)
        {
            var line = plt.Add.VerticalLine(best.Epoch);
            line.LegendText = $"best epoch {best.Epoch} (weights kept)";
            line.Color = ScottPlot.Colors.Green;
            line.LinePattern = ScottPlot.LinePattern.Dotted;
        }
        plt.Axes.Bottom.Label.Text = "epoch";
        plt.Axes.Left.Label.Text = "loss";
        plt.Title(title);
        plt.ShowLegend();
        plt.Legend.Alignment = ScottPlot.Alignment.UpperRight;   // losses fall: the top right stays empty
        string tmp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileNameWithoutExtension(full)}.{Guid.NewGuid():N}.png");
        try
        {
            plt.SavePng(tmp, 900, 500);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
