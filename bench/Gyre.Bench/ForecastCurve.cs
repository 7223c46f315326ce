using System.Globalization;
using Gyre.Data;
using Gyre.Forecasting;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Bench;

/// <summary>
/// `forecast-curve DATA HORIZON [EPOCHS] [HALF-LIFE…]`: trains `--preset segrnn` on an ETT-style file under the long-horizon
/// protocol (all targets, time column 'date', lookback 96, split 8640,2880,2880, standard scaler) and prints, after every
/// epoch, the validation and test MSE in the scaler's space of the epoch's weights and of exponential moving averages of the
/// weights (half-lives in epochs, updated after every step): how far the validation split's choice of epoch is from the
/// test split's, and whether averaging the weights would help, in one run. GYRE_BENCH_SEED sets the seed.
/// </summary>
internal static class ForecastCurve
{
    public static int Run(string[] args)
    {
        var c = CultureInfo.InvariantCulture;
        string data = args[0];
        int horizon = int.Parse(args[1], c);
        var o = ForecastPresets.Apply("segrnn", new ForecastOptions
        {
            Targets = ["all"], TimeColumn = "date", Lookback = 96, Horizon = horizon, Split = "8640,2880,2880", Scaler = "standard",
        });
        if (args.Length > 2) o = o with { Epochs = int.Parse(args[2], c), Patience = 0 };
        // GYRE_BENCH_SEED: another seed than the preset's (as `forecast train --seed`), to see the curves' spread.
        if (Environment.GetEnvironmentVariable("GYRE_BENCH_SEED") is { Length: > 0 } seed) o = o with { Seed = ulong.Parse(seed, c) };
        double[] halfLives = args.Length > 3 ? args[3..].Select(a => double.Parse(a, c)).ToArray() : [0.5, 1, 2];

        var f = Forecaster.Create(data, o);
        var raw = f.LoadData(data);
        var task = new ForecastTask(f, raw);
        var parameters = f.Network.Parameters().ToList();
        var emas = halfLives.Select(_ => parameters.Select(p => p.Value.Clone()).ToArray()).ToArray();
        var keep = parameters.Select(p => p.Value.Clone()).ToArray();
        int batches = Math.Max(task.TrainCount / Math.Min(o.Batch, task.TrainCount), 1);
        var decay = halfLives.Select(h => (float)Math.Pow(0.5, 1.0 / (h * batches))).ToArray();
        var history = new List<EpochRecord>();
        Console.WriteLine($"h{horizon}: {batches} steps an epoch; EMA half-lives {string.Join(", ", halfLives)} epochs");
        Console.WriteLine($"epoch  lr        val     test   " + string.Join("", halfLives.Select(h => $"  ema{h}: val   test  ")));

        (double Val, double Test) Score()
        {
            bool training = f.Network.Training;
            f.Network.Training = false;
            double val = f.EvaluateValidation(raw)!.Metrics.Mse, test = f.Evaluate(raw, rawScale: false).Metrics.Mse;
            f.Network.Training = training;
            return (val, test);
        }

        var trainer = new Trainer(ForecastTask.TrainerOptionsFor(o))
        {
            Progress = new Step(() =>
            {
                for (int e = 0; e < emas.Length; e++)
                    for (int i = 0; i < parameters.Count; i++)
                    {
                        var avg = emas[e][i].Span; var w = parameters[i].Value.ReadOnlySpan; float d = decay[e];
                        for (int j = 0; j < avg.Length; j++) avg[j] = d * avg[j] + (1 - d) * w[j];
                    }
            }),
            EpochEnd = r =>
            {
                var (val, test) = Score();
                var line = $"{r.Epoch,5}  {r.LearningRate,-8:G3}  {val:F4}  {test:F4}";
                for (int i = 0; i < parameters.Count; i++) keep[i].CopyFrom(parameters[i].Value);
                foreach (var ema in emas)
                {
                    for (int i = 0; i < parameters.Count; i++) parameters[i].Value.CopyFrom(ema[i]);
                    var (ev, et) = Score();
                    line += $"        {ev:F4}  {et:F4}";
                }
                for (int i = 0; i < parameters.Count; i++) parameters[i].Value.CopyFrom(keep[i]);
                Console.WriteLine(line + (r.Best ? "  *" : ""));
            },
        };
        var result = trainer.Fit(task, history);
        Console.WriteLine($"best epoch {result.BestEpoch}: test MSE {f.Evaluate(raw, rawScale: false).Metrics.Mse:F4}");
        return 0;
    }

    /// <summary>Runs an action after every training step (synchronously, unlike <see cref="Progress{T}"/>).</summary>
    private sealed class Step(Action after) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => after();
    }
}
