using Gyre.Data;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Forecasting;

/// <summary>One configuration tried by <see cref="ForecastTuner"/> and how it scored at each rung.</summary>
/// <param name="Id">1-based trial number (the order the configurations were drawn in).</param>
/// <param name="Options">The forecaster options of the trial (epochs = the schedule's length, the search's maximum).</param>
/// <param name="Epochs">Epochs trained in all by the trial's last rung (fewer when early stopping ended the run).</param>
/// <param name="ValLoss">Best validation loss (the training loss's measure, in the scaler's space) at that rung.</param>
/// <param name="Rung">0-based index of the last rung the trial reached.</param>
/// <param name="Seconds">Wall-clock seconds spent on the trial over all its rungs.</param>
public sealed record TuneTrial(int Id, ForecastOptions Options, int Epochs, double ValLoss, int Rung, double Seconds);

/// <summary>What <see cref="ForecastTuner"/> searches and for how long.</summary>
public sealed record TuneSettings
{
    /// <summary>Configurations drawn at the first rung (N).</summary>
    public int Trials { get; init; } = 9;
    /// <summary>Wall-clock budget; no new rung starts once it is spent (null = none).</summary>
    public TimeSpan? Budget { get; init; }
    /// <summary>Epochs at the first rung; each rung multiplies them by <see cref="Eta"/>.</summary>
    public int MinEpochs { get; init; } = 2;
    /// <summary>Largest number of epochs a rung trains for.</summary>
    public int MaxEpochs { get; init; } = 30;
    /// <summary>η: the best ⌈n/η⌉ trials go on to the next rung with η times the epochs.</summary>
    public int Eta { get; init; } = 3;
    /// <summary>Seed of the draws (the same seed draws the same configurations).</summary>
    public ulong Seed { get; init; }
}

/// <summary>
/// Hyper-parameter search on the validation split by successive halving (Jamieson &amp; Talwalkar 2016): N
/// configurations drawn at random from the space below are trained for E epochs; the best ⌈n/η⌉ by validation loss
/// go on for η·E epochs in all, and so on until one remains or the epochs reach the maximum. A trial is one training
/// run over the maximum's schedule (cosine over <see cref="TuneSettings.MaxEpochs"/>, early-stopping patience fixed for
/// the run) that each rung stops after its epochs and the next resumes from its checkpoint (weights, optimizer moments,
/// RNG states, history): warm-started, so a survivor's model at a rung is bit for bit the run stopped there. The space,
/// around the given options: lookback ∈ {L/2, L, 2L} (within what the training split allows), hidden ∈ {32, 64,
/// 128, 256}, layers ∈ {1, 2}, patch ∈ {none, season, L/8-ish divisor}, dropout ∈ {0, 0.1, 0.3}, lr ∈ {1e-3, 3e-3,
/// 1e-2}, norm ∈ {last, revin}, cell ∈ {gru, lstm}. Draws come from one seeded generator and training is
/// deterministic, so the same seed gives the same table and the same best model.
/// </summary>
public static class ForecastTuner
{
    public static (Forecaster Best, List<TuneTrial> Trials) Tune(string path, ForecastOptions baseOptions, TuneSettings settings,
        Action<TuneTrial>? onTrial = null, CancellationToken cancel = default)
    {
        if (settings.Trials < 1) throw new GyreDataException($"--trials must be >= 1 (got {settings.Trials})");
        baseOptions.Validate();
        var set = CsvLoader.Load(path, Forecaster.CsvOptionsFor(baseOptions));
        var splits = SplitSpec.Parse(baseOptions.Split).For(set);
        if (!splits.Any(s => s.Count(SplitPart.Val) > 0)) throw new GyreDataException("tuning needs a validation split: give --split with three parts", path);
        int season = baseOptions.Season > 0 ? baseOptions.Season : Seasonality.Detect(set.Series[0], set.ColumnCount, 0, splits[0].TrainEnd);
        int train = splits.Min(s => s.TrainEnd);
        var rng = new Rng(settings.Seed ^ 0x7E5EEDUL);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var candidates = Enumerable.Range(1, settings.Trials).Select(id => (Id: id, Options: Draw(baseOptions, rng, season, train))).ToList();
        var trials = new List<TuneTrial>();
        var seconds = new Dictionary<int, double>();
        Forecaster? best = null;
        int max = Math.Max(1, settings.MaxEpochs), epochs = Math.Min(Math.Max(1, settings.MinEpochs), max), rung = 0;
        // Each trial's checkpoint between rungs; removed at the end whatever happens.
        var folder = Directory.CreateTempSubdirectory("gyre-tune");
        try
        {
            while (true)
            {
                var scored = new List<(int Id, ForecastOptions Options, double Loss, Forecaster Model)>();
                foreach (var (id, o) in candidates)
                {
                    cancel.ThrowIfCancellationRequested();
                    if (settings.Budget is { } budget && clock.Elapsed > budget && scored.Count > 0) break;
                    var start = clock.Elapsed;
                    var options = o with { Epochs = max, Patience = Math.Min(o.Patience, Math.Max(max / 3, 2)) };
                    var f = Forecaster.Fit(path, options, checkpointPath: Path.Combine(folder.FullName, $"trial{id}.ckpt"), resume: true,
                        cancel: cancel, epochLimit: epochs);
                    double loss = f.History.Where(e => e.ValLoss is not null).Select(e => e.ValLoss!.Value).DefaultIfEmpty(double.NaN).Min();
                    seconds[id] = seconds.GetValueOrDefault(id) + (clock.Elapsed - start).TotalSeconds;
                    var trial = new TuneTrial(id, options, f.History.Count, loss, rung, seconds[id]);
                    trials.Add(trial);
                    onTrial?.Invoke(trial);
                    scored.Add((id, options, double.IsFinite(loss) ? loss : double.MaxValue, f));
                }
                // Ties keep the earlier draw: a stable order, so the outcome does not depend on anything but the seed.
                var ranked = scored.OrderBy(s => s.Loss).ThenBy(s => s.Id).ToList();
                best = ranked[0].Model;
                int keep = (int)Math.Ceiling(ranked.Count / (double)settings.Eta);
                bool outOfTime = settings.Budget is { } b && clock.Elapsed > b;
                if (ranked.Count <= 1 || epochs >= max || outOfTime || keep < 1) break;
                candidates = ranked.Take(keep).Select(s => (s.Id, s.Options)).ToList();
                epochs = Math.Min(max, epochs * settings.Eta);
                rung++;
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
        return (best!, trials);
    }

    /// <summary>One configuration drawn around <paramref name="o"/>.</summary>
    private static ForecastOptions Draw(ForecastOptions o, Rng rng, int season, int train)
    {
        T Pick<T>(params T[] xs) => xs[rng.NextInt(xs.Length)];
        int maxLookback = Math.Max((train - o.Horizon) / 2, 1);
        int lookback = Math.Clamp(Pick(Math.Max(o.Lookback / 2, 1), o.Lookback, o.Lookback * 2), 1, maxLookback);
        var (auto, _) = ForecastDefaults.Patch(lookback, season);
        int patch = Pick(0, season > 1 && lookback % season == 0 && lookback / season >= 2 ? season : auto, auto);
        var drawn = o with
        {
            Lookback = lookback, Hidden = Pick(32, 64, 128, 256), Layers = Pick(1, 2), Patch = patch,
            Dropout = Pick(0f, 0.1f, 0.3f), LearningRate = Pick(1e-3f, 3e-3f, 1e-2f), Norm = Pick("last", "revin"),
            InstanceNorm = false, Cell = Pick([.. Cells.CellRegistry.Tuned]), Preset = null,
        };
        return drawn with { SharedDecoder = drawn.SharedDecoder && drawn.CanShareDecoder };
    }
}
