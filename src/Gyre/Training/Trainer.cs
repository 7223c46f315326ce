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
public sealed record TrainingResult(int BestEpoch, bool StoppedEarly)
{
    /// <summary>How the soup was built (<see cref="CheckpointSelection.Soup"/> with validation data); null otherwise.</summary>
    public SoupReport? Soup { get; init; }
}

/// <summary>One soup candidate: an epoch kept among the best K, tried in order of its validation loss.</summary>
/// <param name="Epoch">1-based epoch of the weights.</param>
/// <param name="EpochLoss">That epoch's validation loss.</param>
/// <param name="AverageLoss">Validation loss of the soup with this epoch added (the epoch's own loss for the first).</param>
/// <param name="Kept">Whether it joined: the average's loss was not worse than the soup's before.</param>
public sealed record SoupCandidate(int Epoch, double EpochLoss, double AverageLoss, bool Kept);

/// <summary>A greedy checkpoint soup: the candidates in the order tried, and the validation loss of the final average.</summary>
public sealed record SoupReport(IReadOnlyList<SoupCandidate> Candidates, double Loss)
{
    /// <summary>1-based epochs averaged into the final weights, in the order they joined.</summary>
    public IReadOnlyList<int> Members => [.. Candidates.Where(c => c.Kept).Select(c => c.Epoch)];

    /// <summary>One log line: the members and the loss, then each candidate's verdict.</summary>
    public string Describe()
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        var first = Candidates[0];
        string tried = string.Join(", ", Candidates.Skip(1).Select(x => string.Create(c, $"+{x.Epoch} → {x.AverageLoss:F5} {(x.Kept ? "kept" : "dropped")}")));
        return string.Create(c, $"greedy soup of epochs {string.Join(", ", Members)} restored (val {Loss:F5}; best single epoch {first.Epoch}: {first.EpochLoss:F5})")
            + (tried.Length > 0 ? $"; tried in order of val: {tried}" : "; no other epoch to try");
    }
}

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
/// checkpoint holding everything a bit-identical resume needs (weights, AdamW moments, best weights, soup
/// candidates, RNG states, schedule and early-stopping counters, history). With <see cref="CheckpointSelection.Soup"/>
/// the run ends with a greedy average of its best epochs' weights instead of the best epoch's (<see cref="SoupReport"/>).
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
    /// holding the best epoch's weights, or the soup of the best epochs' (<see cref="TrainerOptions.Select"/>).
    /// </summary>
    public TrainingResult Fit(ITrainingTask task, List<EpochRecord> history, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(history);
        var o = Options;
        var model = task.Model;
        var parameters = model.Parameters().ToList();
        var opt = new AdamW(parameters, o.LearningRate, o.Beta1, o.Beta2, weightDecay: o.WeightDecay);
        var spec = ScheduleSpec.Parse(o.Schedule);
        // A warm-up given in the options (classify's share of the epochs) wins over one named in the schedule's text.
        if (o.WarmupEpochs > 0) spec = spec with { Warmup = o.WarmupEpochs, WarmupStart = null };
        var schedule = new LearningRateSchedule(spec, o.LearningRate, o.Epochs, o.LearningRate * o.MinLearningRateFraction);
        var shuffle = new Rng(o.Seed ^ 0xA5A5_5A5A_1234_5678UL);
        var best = parameters.Select(p => p.Value.Clone()).ToArray();
        double bestVal = double.PositiveInfinity;
        int bestEpoch = -1, stale = 0, start = 0;
        bool stopped = false;
        // Soup candidates: the K epochs of lowest validation loss, each slot a copy of every parameter (allocated on first use).
        var soup = new SoupPool(o.Select == CheckpointSelection.Soup ? o.SoupSize : 0);

        if (Resume && CheckpointPath != null && File.Exists(CheckpointPath))
        {
            var state = ReadCheckpoint(task, opt, best, shuffle, soup, parameters);
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
            if (valLoss is { } v) soup.Offer(v, epoch, parameters);
            schedule.Observe(monitored);
            var record = new EpochRecord(epoch + 1, trainLoss, valLoss, opt.LearningRate, normSum / applied, clock.Elapsed.TotalSeconds, improved)
            {
                Metrics = val?.Metrics, Skipped = skipped,
            };
            history.Add(record);
            if (valLoss != null && o.Patience > 0 && stale >= o.Patience) stopped = true;
            if (CheckpointPath != null && o.Rank == 0)
                WriteCheckpoint(task, opt, best, soup, new TrainerState
                {
                    Epoch = epoch, Steps = opt.StepCount, ShuffleRng = shuffle.SaveState(), NetworkRng = task.SaveRngState(),
                    Lr = schedule.CurrentLr, ScheduleStalled = schedule.Stalled, ScheduleBest = schedule.Best,
                    BestVal = bestVal, BestEpoch = bestEpoch, Stale = stale, Stopped = stopped, History = [.. history],
                    SoupLosses = soup.Losses, SoupEpochs = soup.Epochs,
                });
            if (CheckpointPath != null) TestPause.At("epoch", epoch + 1);
            EpochEnd?.Invoke(record);
        }
        // Keep the best epoch's weights (the last ones when nothing was trained).
        if (bestEpoch >= 0)
            for (int i = 0; i < parameters.Count; i++) parameters[i].Value.CopyFrom(best[i]);
        model.Training = false;
        return new TrainingResult(bestEpoch + 1, stopped) { Soup = soup.Count > 0 ? soup.Cook(task, parameters) : null };
    }

    /// <summary>
    /// The K epochs of lowest validation loss seen so far, with a copy of their weights: the candidates of a greedy soup.
    /// Ties keep the earlier epoch. Holds at most K copies of the parameters.
    /// </summary>
    private sealed class SoupPool(int capacity)
    {
        private readonly Tensor[]?[] _weights = new Tensor[capacity][];
        private readonly List<(double Loss, int Epoch, int Slot)> _entries = [];

        public int Count => _entries.Count;
        public double[] Losses => [.. _entries.Select(e => e.Loss)];
        public int[] Epochs => [.. _entries.Select(e => e.Epoch)];

        /// <summary>Keeps <paramref name="parameters"/>' values as epoch <paramref name="epoch"/> (0-based) if its loss is among the K lowest.</summary>
        public void Offer(double loss, int epoch, IReadOnlyList<Parameter> parameters)
        {
            if (capacity == 0 || !double.IsFinite(loss)) return;
            int slot;
            if (_entries.Count < capacity) slot = _entries.Count;
            else
            {
                // The worst entry: highest loss, the later epoch on a tie. A new epoch is later than all, so it needs a lower loss.
                int worst = 0;
                for (int i = 1; i < _entries.Count; i++)
                    if (Worse(_entries[i], _entries[worst])) worst = i;
                if (!(loss < _entries[worst].Loss)) return;
                slot = _entries[worst].Slot;
                _entries.RemoveAt(worst);
            }
            var w = _weights[slot] ??= [.. parameters.Select(p => p.Value.Clone())];
            for (int i = 0; i < parameters.Count; i++) w[i].CopyFrom(parameters[i].Value);
            _entries.Add((loss, epoch, slot));
        }

        private static bool Worse((double Loss, int Epoch, int Slot) a, (double Loss, int Epoch, int Slot) b) =>
            a.Loss > b.Loss || (a.Loss == b.Loss && a.Epoch > b.Epoch);

        /// <summary>The checkpoint's tensors: entry k's parameter i as "soup.k.i", in the order of <see cref="Losses"/>.</summary>
        public IEnumerable<KeyValuePair<string, Tensor>> Tensors()
        {
            for (int k = 0; k < _entries.Count; k++)
            {
                var w = _weights[_entries[k].Slot]!;
                for (int i = 0; i < w.Length; i++) yield return new($"soup.{k}.{i}", w[i]);
            }
        }

        /// <summary>Restores the entries a checkpoint wrote (<see cref="Tensors"/>), the best K of them if it held more.</summary>
        public void Restore(double[] losses, int[] epochs, Func<int, int, Tensor> tensor, IReadOnlyList<Parameter> parameters)
        {
            if (capacity == 0) return;
            var order = Enumerable.Range(0, losses.Length).OrderBy(k => losses[k]).ThenBy(k => epochs[k]).Take(capacity).ToHashSet();
            for (int k = 0; k < losses.Length; k++)
            {
                if (!order.Contains(k)) continue;
                int slot = _entries.Count;
                var w = _weights[slot] ??= [.. parameters.Select(p => p.Value.Clone())];
                for (int i = 0; i < w.Length; i++) w[i].CopyFrom(tensor(k, i));
                _entries.Add((losses[k], epochs[k], slot));
            }
        }

        /// <summary>
        /// The greedy soup, left in <paramref name="parameters"/>: from the entry of lowest loss, each next one in order of
        /// loss joins the uniform average if the average's validation loss is not worse than the soup's so far.
        /// </summary>
        public SoupReport Cook(ITrainingTask task, IReadOnlyList<Parameter> parameters)
        {
            var order = _entries.OrderBy(e => e.Loss).ThenBy(e => e.Epoch).ToList();
            var members = new List<int> { order[0].Slot };
            double soupLoss = order[0].Loss;
            var tried = new List<SoupCandidate> { new(order[0].Epoch + 1, soupLoss, soupLoss, true) };
            foreach (var e in order.Skip(1))
            {
                members.Add(e.Slot);
                Average(members, parameters);
                // A task without validation data never offers candidates, so there is a loss to judge by.
                double loss = task.Validate()!.Loss;
                bool keep = loss <= soupLoss;
                tried.Add(new(e.Epoch + 1, e.Loss, loss, keep));
                if (keep) soupLoss = loss;
                else members.RemoveAt(members.Count - 1);
            }
            Average(members, parameters);
            return new SoupReport(tried, soupLoss);
        }

        /// <summary>Each parameter := the mean of the <paramref name="slots"/>' copies, summed in their order (one member: its copy exactly).</summary>
        private void Average(List<int> slots, IReadOnlyList<Parameter> parameters)
        {
            float scale = 1f / slots.Count;
            for (int i = 0; i < parameters.Count; i++)
            {
                var dst = parameters[i].Value.Span;
                _weights[slots[0]]![i].ReadOnlySpan.CopyTo(dst);
                for (int k = 1; k < slots.Count; k++)
                {
                    var src = _weights[slots[k]]![i].ReadOnlySpan;
                    for (int j = 0; j < dst.Length; j++) dst[j] += src[j];
                }
                if (slots.Count > 1)
                    for (int j = 0; j < dst.Length; j++) dst[j] *= scale;
            }
        }
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

    private TrainerState ReadCheckpoint(ITrainingTask task, AdamW opt, Tensor[] best, Rng shuffle, SoupPool soup, IReadOnlyList<Parameter> parameters)
    {
        string path = CheckpointPath!;
        var file = Safetensors.Read(path);
        try
        {
            if (!file.Metadata.TryGetValue("trainer", out var json)) throw new GyreDataException("checkpoint has no trainer state", path);
            var state = JsonSerializer.Deserialize<TrainerState>(json, Json) ?? throw new GyreDataException("checkpoint has no trainer state", path);
            task.Model.LoadStateDict(file.Tensors.Where(kv => !kv.Key.StartsWith("adam.") && !kv.Key.StartsWith("best.") && !kv.Key.StartsWith("soup.")).ToDictionary(), source: path);
            opt.LoadState(file.Tensors, state.Steps, path);
            for (int i = 0; i < best.Length; i++)
            {
                if (!file.TryGet($"best.{i}", out var t) || !t.SameShape(best[i])) throw new InvalidDataException($"{path}: best-epoch tensor 'best.{i}' missing or misshapen");
                best[i].CopyFrom(t);
            }
            if (state.SoupLosses.Length != state.SoupEpochs.Length) throw new GyreDataException("corrupt checkpoint: soup losses and epochs differ in count", path);
            soup.Restore(state.SoupLosses, state.SoupEpochs, (k, i) =>
                file.TryGet($"soup.{k}.{i}", out var t) && t.SameShape(best[i]) ? t : throw new InvalidDataException($"{path}: soup tensor 'soup.{k}.{i}' missing or misshapen"), parameters);
            shuffle.Restore(state.ShuffleRng);
            task.RestoreRngState(state.NetworkRng);
            return state;
        }
        catch (JsonException e)
        {
            throw new GyreDataException($"corrupt checkpoint: {e.Message.ReplaceLineEndings(" ")}", path);
        }
    }

    private void WriteCheckpoint(ITrainingTask task, AdamW opt, Tensor[] best, SoupPool soup, TrainerState state)
    {
        var tensors = new List<KeyValuePair<string, Tensor>>(task.Model.StateDict());
        tensors.AddRange(opt.State());
        for (int i = 0; i < best.Length; i++) tensors.Add(new($"best.{i}", best[i]));
        tensors.AddRange(soup.Tensors());
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
        /// <summary>Validation losses and 0-based epochs of the soup candidates, in the order of their "soup.k.*" tensors.</summary>
        public double[] SoupLosses { get; init; } = [];
        public int[] SoupEpochs { get; init; } = [];
    }
}
