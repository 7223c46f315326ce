using System.Globalization;
using Gyre.Forecasting;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Bench;

/// <summary>
/// `forecast-soup DATA HORIZON [K…]`: trains `--preset segrnn --select soup` on an ETT-style file under the long-horizon protocol
/// (as <see cref="ForecastCurve"/>) and prints, from one run, the test MSE / MAE over all test windows and over the drop-last
/// prefix (the first ⌊W/256⌋·256 windows of each series) of the best epoch's weights and of the trainer's greedy soup, then of
/// greedy soups over the best K epochs for other K (default 3 and 10, built here from every epoch's weights kept on the side,
/// by the same rule) and of the uniform average of the best K: what the choice of K changes, without another run.
/// </summary>
internal static class ForecastSoup
{
    public static int Run(string[] args)
    {
        var c = CultureInfo.InvariantCulture;
        string data = args[0];
        int horizon = int.Parse(args[1], c);
        int[] sizes = args.Length > 2 ? args[2..].Select(a => int.Parse(a, c)).ToArray() : [3, 10];
        var o = ForecastPresets.Apply("segrnn", new ForecastOptions
        {
            Targets = ["all"], TimeColumn = "date", Lookback = 96, Horizon = horizon, Split = "8640,2880,2880", Scaler = "standard",
        }) with { Select = "soup" };

        var f = Forecaster.Create(data, o);
        var raw = f.LoadData(data);
        var task = new ForecastTask(f, raw);
        var parameters = f.Network.Parameters().ToList();
        var epochs = new List<(int Epoch, double Val, Tensor[] Weights)>();
        var history = new List<EpochRecord>();
        var trainer = new Trainer(ForecastTask.TrainerOptionsFor(o))
        {
            EpochEnd = r => epochs.Add((r.Epoch, r.ValLoss!.Value, [.. parameters.Select(p => p.Value.Clone())])),
        };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = trainer.Fit(task, history);
        Console.WriteLine($"h{horizon}: {history.Count} epochs, best {result.BestEpoch}, {clock.Elapsed.TotalSeconds:F0} s");
        foreach (var e in epochs) Console.WriteLine($"  epoch {e.Epoch,2}  val {e.Val:F5}");
        var soupWeights = parameters.Select(p => p.Value.Clone()).ToArray();
        Console.WriteLine($"trainer: {result.Soup!.Describe()}");

        int perSeries = -1, kept = 0;
        string Score(string name)
        {
            var all = f.Evaluate(raw, rawScale: false);
            if (perSeries < 0)
            {
                perSeries = all.TestWindows / f.DataInfo.TargetCount / raw.Series.Count;
                kept = perSeries / 256 * 256;
            }
            var prefix = f.EvaluateTestPrefix(raw, kept, rawScale: false);
            return string.Create(c, $"{name,-28} test MSE {all.Metrics.Mse:F4} MAE {all.Metrics.Mae:F4}  drop-last MSE {prefix.Metrics.Mse:F4} MAE {prefix.Metrics.Mae:F4}");
        }
        void Load(IReadOnlyList<Tensor[]> members)
        {
            for (int i = 0; i < parameters.Count; i++)
            {
                var dst = parameters[i].Value.Span;
                members[0][i].ReadOnlySpan.CopyTo(dst);
                for (int k = 1; k < members.Count; k++)
                {
                    var src = members[k][i].ReadOnlySpan;
                    for (int j = 0; j < dst.Length; j++) dst[j] += src[j];
                }
                if (members.Count > 1)
                    for (int j = 0; j < dst.Length; j++) dst[j] *= 1f / members.Count;
            }
        }
        f.Network.Training = false;
        var ranked = epochs.OrderBy(e => e.Val).ThenBy(e => e.Epoch).ToList();
        Load([ranked[0].Weights]);
        Console.WriteLine(Score($"best (epoch {ranked[0].Epoch})"));
        for (int i = 0; i < parameters.Count; i++) parameters[i].Value.CopyFrom(soupWeights[i]);
        Console.WriteLine(Score($"soup K={o.SoupSizeOrDefault()} ({string.Join(",", result.Soup.Members)})"));
        foreach (int k in sizes)
        {
            var members = new List<Tensor[]> { ranked[0].Weights };
            var names = new List<int> { ranked[0].Epoch };
            double soupVal = ranked[0].Val;
            foreach (var e in ranked.Skip(1).Take(k - 1))
            {
                members.Add(e.Weights);
                Load(members);
                double v = task.Validate()!.Loss;
                if (v <= soupVal) { soupVal = v; names.Add(e.Epoch); }
                else members.RemoveAt(members.Count - 1);
            }
            Load(members);
            Console.WriteLine(Score($"soup K={k} ({string.Join(",", names)})") + $"  val {soupVal:F5}");
            var uniform = ranked.Take(k).ToList();
            Load([.. uniform.Select(e => e.Weights)]);
            Console.WriteLine(Score($"uniform K={k}") + $"  val {task.Validate()!.Loss:F5}");
        }
        return 0;
    }

    private static int SoupSizeOrDefault(this ForecastOptions _) => new TrainerOptions().SoupSize;
}
