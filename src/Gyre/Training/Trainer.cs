using System.Diagnostics;
using System.Text.Json;
using Gyre.Data;
using Gyre.IO;
using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Training;

/// <summary>What a <see cref="Trainer"/> run ended with.</summary>
/// <param name="BestEpoch">1-based epoch whose weights the model now holds (0 when nothing was trained).</param>
/// <param name="StoppedEarly">Whether early stopping ended the run before the last epoch.</param>
public sealed record TrainingResult(int BestEpoch, bool StoppedEarly);

/// <summary>
/// A batch's loss or gradient was NaN or ±∞ (<see cref="NanPolicy.Stop"/>), or too many batches of an epoch were
/// (<see cref="NanPolicy.Skip"/>). Bad settings (a learning rate too high, unscaled data), not a bug: the CLI
/// reports the one line and exits 2. The checkpoint of the last whole epoch is left as it was.
/// </summary>
public sealed class TrainingDivergedException(string message, int epoch, int batch) : GyreDataException(message)
{
    /// <summary>1-based epoch of the batch that stopped the run.</summary>
    public int Epoch { get; } = epoch;

    /// <summary>1-based batch within <see cref="Epoch"/>.</summary>
    public int Batch { get; } = batch;
}

/// <summary>
/// The training loop every job shares: per epoch a shuffled order of the training examples (dealt round-robin
/// across ranks), full mini-batches of <see cref="TrainerOptions.Batch"/>, and per batch
/// zero grad → <see cref="ITrainingTask.TrainBatch"/> (forward, loss, backward) → <see cref="GradientSync"/> →
/// global-norm clipping → AdamW step (a batch whose loss or gradient norm is NaN or ±∞ stops the run, or with
/// <see cref="NanPolicy.Skip"/> is left out: no step, optimizer state untouched); then the epoch's learning rate from the schedule (cosine, plateau,
/// constant), the validation loss, early stopping that keeps the best epoch's weights, and an atomic
/// checkpoint holding everything a bit-identical resume needs (weights, AdamW moments, best weights, RNG
/// states, schedule and early-stopping counters, history).
/// Deterministic: the only randomness is the seeded shuffle and the model's own seeded generators, and the
/// kernels never split a reduction across threads, so the same seed gives the same bits at any thread count.
/// </summary>
public sealed class Trainer
{
    public TrainerOptions Options { get; }

    /// <summary>Called after backward and before clipping and the step, with the flat gradient block (data-parallel training).</summary>
    public IGradientSync? GradientSync { get; init; }

    /// <summary>Receives <see cref="TrainingProgress"/> after every batch (the CLI renders it).</summary>
    public IProgress<TrainingProgress>? Progress { get; init; }

    /// <summary>Called after every epoch (after its checkpoint is written).</summary>
    public Action<EpochRecord>? EpochEnd { get; init; }

    /// <summary>Checkpoint written atomically after every epoch (by rank 0); null for none.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Continue from <see cref="CheckpointPath"/> when it exists.</summary>
    public bool Resume { get; init; }

    /// <summary>
    /// Stop this call after this many epochs in all (counting a resumed run's earlier ones; 0 = run to
    /// <see cref="TrainerOptions.Epochs"/>). The schedule still spans all the epochs, so a later call with
    /// <see cref="Resume"/> continues the run exactly as if it had never stopped (successive halving's warm start).
    /// </summary>
    public int EpochLimit { get; init; }

    internal static System.Text.Json.JsonSerializerOptions Json => Models.ModelFile.Json;

    public Trainer(TrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
    }

    /// <summary>
    /// Trains <paramref name="task"/>'s model; appends one <see cref="EpochRecord"/> per epoch to
    /// <paramref name="history"/> (replaced by the checkpoint's on resume). The model ends in inference mode
    /// holding the best epoch's weights.
    /// </summary>
    public TrainingResult Fit(ITrainingTask task, List<EpochRecord> history, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(history);
        var o = Options;
        var model = task.Model;
        var parameters = model.Parameters().ToList();
        var opt = new AdamW(parameters, o.LearningRate, weightDecay: o.WeightDecay);
        var spec = ScheduleSpec.Parse(o.Schedule);
        // A warm-up given in the options (classify's share of the epochs) wins over one named in the schedule's text.
        if (o.WarmupEpochs > 0) spec = spec with { Warmup = o.WarmupEpochs, WarmupStart = null };
        var schedule = new LearningRateSchedule(spec, o.LearningRate, o.Epochs, o.LearningRate * o.MinLearningRateFraction);
        var shuffle = new Rng(o.Seed ^ 0xA5A5_5A5A_1234_5678UL);
        var best = parameters.Select(p => p.Value.Clone()).ToArray();
        double bestVal = double.PositiveInfinity;
        int bestEpoch = -1, stale = 0, start = 0;
        bool stopped = false;

        if (Resume && CheckpointPath != null && File.Exists(CheckpointPath))
        {
            var state = ReadCheckpoint(task, opt, best, shuffle);
            schedule.CurrentLr = state.Lr; schedule.Stalled = state.ScheduleStalled; schedule.Best = state.ScheduleBest;
            bestVal = state.BestVal; bestEpoch = state.BestEpoch; stale = state.Stale; start = state.Epoch + 1;
            history.Clear();
            history.AddRange(state.History);
            if (state.Stopped) { start = o.Epochs; stopped = true; }
        }

        int n = task.TrainCount;
        if (n <= 0) throw new ArgumentException("no training examples");
        int shardSize = n / o.WorldSize + (o.Rank < n % o.WorldSize ? 1 : 0);
        if (shardSize == 0) throw new ArgumentException($"rank {o.Rank} of {o.WorldSize} gets none of the {n} training examples");
        // Every rank must take the same number of steps (each step is a collective), so batches come from the
        // smallest shard, n / W; with one process that is all n examples.
        int smallestShard = n / o.WorldSize;
        if (smallestShard == 0) throw new ArgumentException($"{n} training examples cannot be shared by {o.WorldSize} ranks");
        int b = Math.Min(o.Batch, smallestShard);
        // Full batches only: a short last batch would give its few examples outsized steps (the shuffled order
        // puts every example in a full batch over the epochs).
        int batches = Math.Max(smallestShard / b, 1);
        var order = new int[n];
        var shard = o.WorldSize == 1 ? order : new int[shardSize];
        var flat = GradientSync != null ? new float[parameters.Sum(p => p.Value.Length)] : null;
        if (GradientSync != null)
        {
            Gather(parameters, flat!, grads: false);
            GradientSync.SynchronizeParameters(flat);
            Scatter(parameters, flat!, grads: false);
        }
        var runClock = Stopwatch.StartNew();
        int end = EpochLimit > 0 ? Math.Min(EpochLimit, o.Epochs) : o.Epochs;
        long stepsDone = 0, stepsTotal = (long)Math.Max(end - start, 0) * batches;

        for (int epoch = start; epoch < end && !stopped; epoch++)
        {
            cancel.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            opt.LearningRate = schedule.ForEpoch(epoch);
            for (int i = 0; i < n; i++) order[i] = i;
            if (!o.Ordered) shuffle.Shuffle(order.AsSpan());
            if (o.WorldSize > 1)
                for (int i = 0; i < shardSize; i++) shard[i] = order[i * o.WorldSize + o.Rank];
            double lossSum = 0, normSum = 0;
            int skipped = 0;
            // At least one batch may be skipped, but never all of them: an epoch that applied nothing has no loss.
            int allowedSkips = Math.Min(Math.Max(1, (int)(o.MaxSkippedShare * batches)), batches - 1);
            model.Training = true;
            for (int bi = 0; bi < batches; bi++)
            {
                foreach (var p in parameters) p.Grad.Span.Clear();
                double loss = task.TrainBatch(shard.AsSpan(bi * b, b));
                if (GradientSync != null)
                {
                    Gather(parameters, flat!, grads: true);
                    // A rank whose loss is not finite poisons its gradient, so the reduced gradient (the same on every
                    // rank) carries the verdict and all ranks skip or stop together.
                    if (!double.IsFinite(loss)) flat![0] = float.NaN;
                    GradientSync.SynchronizeGradients(flat);
                    Scatter(parameters, flat!, grads: true);
                }
                double norm = o.ClipNorm > 0 ? GradientClipping.ClipByGlobalNorm(parameters, o.ClipNorm) : GradientClipping.GlobalNorm(parameters);
                if (!double.IsFinite(loss) || !double.IsFinite(norm))
                {
                    // Checked before the step: a non-finite gradient would poison the weights and AdamW's moments for good.
                    var bad = new NonFiniteBatch(epoch + 1, bi + 1, batches, loss, norm);
                    if (o.OnNan == NanPolicy.Stop) throw Diverged(bad, bestEpoch, history, "");
                    if (++skipped > allowedSkips)
                        throw Diverged(bad, bestEpoch, history, $"; {skipped} of this epoch's {batches} batches skipped, more than --on-nan skip allows ({o.MaxSkippedShare:P0})");
                }
                else
                {
                    lossSum += loss;
                    normSum += norm;
                    opt.Step();
                }
                if (bi == 0) TestPause.At("batch", epoch + 1);
                stepsDone++;
                if (Progress != null)
                {
                    var elapsed = runClock.Elapsed;
                    var remaining = TimeSpan.FromTicks((long)(elapsed.Ticks / (double)stepsDone * (stepsTotal - stepsDone)));
                    Progress.Report(new TrainingProgress(epoch + 1, o.Epochs, bi + 1, batches, lossSum / Math.Max(bi + 1 - skipped, 1), elapsed, remaining));
                }
            }
            int applied = batches - skipped;
            double trainLoss = GradientSync?.MeanOverRanks(lossSum / applied) ?? lossSum / applied;
            var val = task.Validate();
            double? valLoss = val?.Loss;
            double monitored = valLoss ?? trainLoss;
            bool improved = monitored < bestVal;
            if (improved)
            {
                bestVal = monitored; bestEpoch = epoch; stale = 0;
                for (int i = 0; i < parameters.Count; i++) best[i].CopyFrom(parameters[i].Value);
            }
            else stale++;
            schedule.Observe(monitored);
            var record = new EpochRecord(epoch + 1, trainLoss, valLoss, opt.LearningRate, normSum / applied, clock.Elapsed.TotalSeconds, improved)
            {
                Metrics = val?.Metrics, Skipped = skipped,
            };
            history.Add(record);
            if (valLoss != null && o.Patience > 0 && stale >= o.Patience) stopped = true;
            if (CheckpointPath != null && o.Rank == 0)
                WriteCheckpoint(task, opt, best, new TrainerState
                {
                    Epoch = epoch, Steps = opt.StepCount, ShuffleRng = shuffle.SaveState(), NetworkRng = task.SaveRngState(),
                    Lr = schedule.CurrentLr, ScheduleStalled = schedule.Stalled, ScheduleBest = schedule.Best,
                    BestVal = bestVal, BestEpoch = bestEpoch, Stale = stale, Stopped = stopped, History = [.. history],
                });
            if (CheckpointPath != null) TestPause.At("epoch", epoch + 1);
            EpochEnd?.Invoke(record);
        }
        // Keep the best epoch's weights (the last ones when nothing was trained).
        if (bestEpoch >= 0)
            for (int i = 0; i < parameters.Count; i++) parameters[i].Value.CopyFrom(best[i]);
        model.Training = false;
        return new TrainingResult(bestEpoch + 1, stopped);
    }

    private readonly record struct NonFiniteBatch(int Epoch, int Batch, int Batches, double Loss, double GradNorm);

    /// <summary>
    /// The one line a diverged run ends with: where (epoch and batch), what (loss, gradient norm), and what is kept —
    /// the checkpoint of the last whole epoch (never overwritten by a diverged one), else nothing.
    /// </summary>
    private TrainingDivergedException Diverged(NonFiniteBatch bad, int bestEpoch, List<EpochRecord> history, string why)
    {
        string kept = CheckpointPath != null && history.Count > 0 && File.Exists(CheckpointPath)
            ? $"the checkpoint {Path.GetFileName(CheckpointPath)} keeps epoch {history[^1].Epoch} (best {bestEpoch + 1}): resume with --resume and a lower --lr"
            : "nothing was written: try a lower --lr";
        string what = $"loss {Number(bad.Loss)}, gradient norm {Number(bad.GradNorm)}";
        string hint = Options.OnNan == NanPolicy.Stop ? ", or --on-nan skip to skip such batches" : "";
        return new TrainingDivergedException(
            $"training diverged at epoch {bad.Epoch}, batch {bad.Batch} of {bad.Batches} ({what}){why}; {kept}{hint}", bad.Epoch, bad.Batch);
    }

    private static string Number(double v) => double.IsNaN(v) ? "NaN" : double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf"
        : v.ToString("G4", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Copies every parameter's values (or gradients) into one flat block, in parameter order.</summary>
    public static void Gather(IReadOnlyList<Parameter> parameters, Span<float> flat, bool grads)
    {
        int offset = 0;
        foreach (var p in parameters)
        {
            var src = grads ? p.Grad.ReadOnlySpan : p.Value.ReadOnlySpan;
            src.CopyTo(flat.Slice(offset));
            offset += src.Length;
        }
    }

    /// <summary>The inverse of <see cref="Gather"/>.</summary>
    public static void Scatter(IReadOnlyList<Parameter> parameters, ReadOnlySpan<float> flat, bool grads)
    {
        int offset = 0;
        foreach (var p in parameters)
        {
            var dst = grads ? p.Grad.Span : p.Value.Span;
            flat.Slice(offset, dst.Length).CopyTo(dst);
            offset += dst.Length;
        }
    }

    private TrainerState ReadCheckpoint(ITrainingTask task, AdamW opt, Tensor[] best, Rng shuffle)
    {
        string path = CheckpointPath!;
        var file = Safetensors.Read(path);
        try
        {
            if (!file.Metadata.TryGetValue("trainer", out var json)) throw new GyreDataException("checkpoint has no trainer state", path);
            var state = JsonSerializer.Deserialize<TrainerState>(json, Json) ?? throw new GyreDataException("checkpoint has no trainer state", path);
            task.Model.LoadStateDict(file.Tensors.Where(kv => !kv.Key.StartsWith("adam.") && !kv.Key.StartsWith("best.")).ToDictionary(), source: path);
            opt.LoadState(file.Tensors, state.Steps, path);
            for (int i = 0; i < best.Length; i++)
            {
                if (!file.TryGet($"best.{i}", out var t) || !t.SameShape(best[i])) throw new InvalidDataException($"{path}: best-epoch tensor 'best.{i}' missing or misshapen");
                best[i].CopyFrom(t);
            }
            shuffle.Restore(state.ShuffleRng);
            task.RestoreRngState(state.NetworkRng);
            return state;
        }
        catch (JsonException e)
        {
            throw new GyreDataException($"corrupt checkpoint: {e.Message.ReplaceLineEndings(" ")}", path);
        }
    }

    private void WriteCheckpoint(ITrainingTask task, AdamW opt, Tensor[] best, TrainerState state)
    {
        var tensors = new List<KeyValuePair<string, Tensor>>(task.Model.StateDict());
        tensors.AddRange(opt.State());
        for (int i = 0; i < best.Length; i++) tensors.Add(new($"best.{i}", best[i]));
        var meta = new Dictionary<string, string>(task.CheckpointMetadata())
        {
            ["trainer"] = JsonSerializer.Serialize(state, Json),
        };
        Safetensors.Write(CheckpointPath!, tensors, meta, halfWritten: () => TestPause.At("checkpoint", state.Epoch + 1));
    }

    private sealed record TrainerState
    {
        public int Epoch { get; init; }
        public long Steps { get; init; }
        public string ShuffleRng { get; init; } = "";
        public string[] NetworkRng { get; init; } = [];
        public float Lr { get; init; }
        public int ScheduleStalled { get; init; }
        public double ScheduleBest { get; init; }
        public double BestVal { get; init; }
        public int BestEpoch { get; init; }
        public int Stale { get; init; }
        public bool Stopped { get; init; }
        public List<EpochRecord> History { get; init; } = [];
    }
}
