namespace Gyre.Cli.Output;

/// <summary>PNG plots of a classification job (ScottPlot): the confusion-matrix heat map and the training curves.</summary>
internal static class ClassifyPlots
{
    /// <summary>
    /// Heat map of the confusion matrix [K, K] (rows actual, columns predicted; row 0 on top) with each cell's
    /// count written in it; the colour is the count as a fraction of its row, so small classes stay readable.
    /// </summary>
    public static void Confusion(string path, string[] classes, int[,] confusion, string title)
    {
        int k = classes.Length;
        var plt = new ScottPlot.Plot();
        var map = new ScottPlot.Colormaps.Viridis();
        for (int i = 0; i < k; i++)
        {
            int rowSum = 0;
            for (int j = 0; j < k; j++) rowSum += confusion[i, j];
            for (int j = 0; j < k; j++)
            {
                double frac = rowSum == 0 ? 0 : (double)confusion[i, j] / rowSum;
                double top = k - i, bottom = k - i - 1;
                var cell = plt.Add.Rectangle(j, j + 1, bottom, top);
                cell.FillColor = map.GetColor(frac);
                cell.LineColor = ScottPlot.Colors.White;
                var text = plt.Add.Text(confusion[i, j].ToString(System.Globalization.CultureInfo.InvariantCulture), j + 0.5, bottom + 0.5);
                text.LabelAlignment = ScottPlot.Alignment.MiddleCenter;
                text.LabelFontSize = k > 12 ? 10 : 16;
                text.LabelFontColor = frac > 0.5 ? ScottPlot.Colors.Black : ScottPlot.Colors.White;
            }
        }
        var centres = Enumerable.Range(0, k).Select(j => j + 0.5).ToArray();
        plt.Axes.Bottom.SetTicks(centres, classes);
        plt.Axes.Left.SetTicks(centres.Select(c => k - c).ToArray(), classes);
        plt.Axes.SetLimits(0, k, 0, k);
        plt.XLabel("predicted");
        plt.YLabel("actual");
        plt.Title(title);
        int side = Math.Clamp(80 * k + 200, 500, 1400);
        Save(plt, path, side, side);
    }

    /// <summary>Training (and validation) loss per epoch, with validation accuracy on a second axis when recorded.</summary>
    public static void History(string path, IReadOnlyList<Gyre.Training.EpochRecord> history, string title)
    {
        var plt = new ScottPlot.Plot();
        var epochs = history.Select(e => (double)e.Epoch).ToArray();
        var train = plt.Add.Scatter(epochs, history.Select(e => e.TrainLoss).ToArray());
        train.LegendText = "train loss";
        train.MarkerSize = 0;
        if (history.All(e => e.ValLoss is not null))
        {
            var val = plt.Add.Scatter(epochs, history.Select(e => e.ValLoss!.Value).ToArray());
            val.LegendText = "validation loss";
            val.MarkerSize = 0;
        }
        if (history.All(e => e.Metrics?.ContainsKey("accuracy") == true))
        {
            var acc = plt.Add.Scatter(epochs, history.Select(e => e.Metrics!["accuracy"]).ToArray());
            acc.LegendText = "validation accuracy (right)";
            acc.MarkerSize = 0;
            acc.Axes.YAxis = plt.Axes.Right;
            plt.Axes.Right.Label.Text = "accuracy";
        }
        plt.XLabel("epoch");
        plt.YLabel("loss");
        plt.Title(title);
        plt.ShowLegend();
        Save(plt, path, 1000, 500);
    }

    private static void Save(ScottPlot.Plot plt, string path, int width, int height)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{path}: folder does not exist");
        string tmp = Path.Combine(dir, $".{Path.GetFileNameWithoutExtension(full)}.{Guid.NewGuid():N}.png");
        try
        {
            plt.SavePng(tmp, width, height);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
