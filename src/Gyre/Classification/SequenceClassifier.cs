using System.Text.Json;
using Gyre.Data;
using Gyre.IO;
using Gyre.Layers;
using Gyre.Models;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Classification;

/// <summary>What a classifier (or sequence regressor) predicts for a set of cases.</summary>
/// <param name="Classes">Predicted class index per case [N] (classification; empty for regression).</param>
/// <param name="Probabilities">Class probabilities [N, K] row-major (softmax of the outputs; for the SVM head a
/// softmax of its margins, a ranking score more than a calibrated probability).</param>
/// <param name="Values">Predicted target per case [N] (regression; empty for classification).</param>
public sealed record SequencePredictions(int[] Classes, float[] Probabilities, double[] Values);

/// <summary>
/// The user-facing sequence classifier: <see cref="Fit"/> on labelled sequences, <see cref="Predict"/>,
/// <see cref="Evaluate"/> beside the 1-NN baselines, <see cref="Save"/> / <see cref="Load"/> one model file.
/// Pipeline: normalisation (<see cref="SequenceNormalizer"/>) → patches of P steps (the encoder sees
/// ⌈T / P⌉ steps of P·C values) → <see cref="SequenceModel"/> (recurrent encoder, pooling over the valid
/// steps, softmax / SVM / linear head), trained by the shared <see cref="Trainer"/>.
/// </summary>
public sealed class SequenceClassifier
{
    public const string Job = "classify";
    public const int FormatVersion = 1;

    public ClassifierOptions Options { get; }
    /// <summary>Class names, index = class id (empty for regression).</summary>
    public string[] Classes { get; }
    public int Channels { get; }
    public int Patch { get; }
    public SequenceNormalizer Normalizer { get; }
    /// <summary>Why the normalisation was chosen (the auto rule's evidence, or "given").</summary>
    public string NormalizeReason { get; }
    /// <summary>Regression target scaling: the network predicts (y − mean) / std.</summary>
    public double TargetMean { get; }
    public double TargetStd { get; }
    /// <summary>Augmented copies per training case the model was trained with.</summary>
    public int AugmentCopies { get; private set; }
    /// <summary>Path of the training data (for the baselines of a later evaluation).</summary>
    public string TrainPath { get; }
    public SequenceModel Model { get; }
    public List<EpochRecord> History { get; } = [];

    private SequenceClassifier(ClassifierOptions options, string[] classes, int channels, int patch, SequenceNormalizer normalizer,
        string reason, double targetMean, double targetStd, string trainPath, SequenceModel model)
    {
        Options = options; Classes = classes; Channels = channels; Patch = patch; Normalizer = normalizer;
        NormalizeReason = reason; TargetMean = targetMean; TargetStd = targetStd; TrainPath = trainPath; Model = model;
    }

    public bool IsRegression => Options.Task == LabelKind.Regression;

    /// <summary>Auto patch length: ⌈median length / 64⌉, so a typical case is about 64 encoder steps or fewer.</summary>
    public static int AutoPatch(IReadOnlyList<LabeledSequence> cases)
    {
        var lengths = cases.Select(c => c.Length).Order().ToArray();
        int median = lengths[lengths.Length / 2];
        return Math.Max(1, (median + 63) / 64);
    }

    /// <summary>Class index of every case against <paramref name="classes"/>; a label outside them is bad input.</summary>
    public static int[] ClassIndex(SequenceSet set, string[] classes, string role)
    {
        var map = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int k = 0; k < classes.Length; k++) map[classes[k]] = k;
        var result = new int[set.Cases.Count];
        for (int i = 0; i < result.Length; i++)
        {
            var c = set.Cases[i];
            if (!map.TryGetValue(c.Label!, out result[i]))
                throw new GyreDataException($"{c.Id} (line {c.Line}): class label '{c.Label}' was not seen in {role} (classes: {string.Join(' ', classes)})", set.Path);
        }
        return result;
    }

    /// <summary>
    /// Trains on <paramref name="train"/>. With <see cref="ClassifierOptions.ValidFraction"/> &gt; 0 a stratified
    /// holdout drives early stopping; otherwise the epoch with the lowest training loss is kept.
    /// </summary>
    public static SequenceClassifier Fit(SequenceSet train, ClassifierOptions options, Action<string>? log = null,
        Action<EpochRecord>? epochEnd = null, IProgress<TrainingProgress>? progress = null, string? checkpoint = null, bool resume = false,
        DataParallel? parallel = null)
    {
        options.Validate();
        if (train.Task != options.Task)
            throw new GyreDataException($"the file holds {Name(train.Task)} labels but the task is {Name(options.Task)} (--task)", train.Path);
        int C = train.Channels;
        string[] classes = train.Classes();
        int[]? y = null;
        if (options.Task == LabelKind.Classification)
        {
            if (classes.Length < 2) throw new GyreDataException($"only one class ('{classes.FirstOrDefault()}') in the training data", train.Path);
            y = ClassIndex(train, classes, "the header");
            var counts = new int[classes.Length];
            foreach (int k in y) counts[k]++;
            for (int k = 0; k < classes.Length; k++)
                if (counts[k] == 0) throw new GyreDataException($"class '{classes[k]}' has no training cases (declared in @classLabel)", train.Path);
        }

        var mode = SequenceNormalizer.Parse(options.Normalize);
        string reason = options.Normalize == "series+stats"
            ? "each case's shape, plus its level and log-scale per channel as inputs: nothing the label may depend on is removed"
            : "given";
        if (mode == SequenceNormalization.Auto)
        {
            (mode, reason) = SequenceNormalizer.Choose(train.Cases, C, y, threads: options.Threads);
            reason = "auto: " + reason;
        }
        var normalizer = SequenceNormalizer.Fit(train.Cases, C, mode);
        log?.Invoke($"normalize: {SequenceNormalizer.Name(mode)} ({reason})");
        int patch = options.Patch > 0 ? options.Patch : AutoPatch(train.Cases);

        double targetMean = 0, targetStd = 1;
        if (options.Task == LabelKind.Regression)
        {
            targetMean = train.Cases.Average(c => c.Target);
            targetStd = Math.Sqrt(train.Cases.Average(c => (c.Target - targetMean) * (c.Target - targetMean)));
            if (targetStd < 1e-12) targetStd = 1;
        }

        float[]? classWeights = null;
        if (options.ClassWeights == "balanced" && y is not null)
        {
            var counts = new int[classes.Length];
            foreach (int k in y) counts[k]++;
            classWeights = counts.Select(n => (float)((double)y.Length / (classes.Length * n))).ToArray();
        }

        var spec = new ModelSpec
        {
            InputSize = patch * C + normalizer.ExtraFeatures(C), Input = options.Input, ConvKernels = options.ConvKernels,
            ConvBranch = options.ConvBranch is { Length: > 0 } branch ? branch : null, Cell = options.Cell, Hidden = options.Hidden, Layers = options.Layers, Bidirectional = options.Bidirectional,
            Dropout = options.Dropout, Gmu = options.Gmu, GmuMemory = options.GmuMemory, Pool = options.Pool, Head = options.Task == LabelKind.Regression ? "linear" : options.Head,
            Outputs = options.Task == LabelKind.Regression ? 1 : classes.Length, ClassWeights = classWeights,
            LabelSmoothing = options.Task == LabelKind.Regression ? 0f : options.LabelSmoothing, Seed = options.Seed,
        };
        var model = new SequenceModel(spec);
        var f = new SequenceClassifier(options, options.Task == LabelKind.Regression ? [] : classes, C, patch, normalizer, reason,
            targetMean, targetStd, Path.GetFullPath(train.Path), model);

        var (fitIdx, validIdx) = Holdout(train, y, options.ValidFraction, options.Seed);
        int copies = options.Augment >= 0 ? options.Augment : Augmentation.AutoCopies(fitIdx.Length);
        f.AugmentCopies = copies;
        var rng = new Rng(options.Seed ^ 0x5851_F42D_4C95_7F2DUL);
        var fitCases = new List<LabeledSequence>(fitIdx.Length * (1 + copies));
        var fitLabels = new List<int>(fitCases.Capacity);
        foreach (int i in fitIdx)
            for (int k = 0; k <= copies; k++)
            {
                fitCases.Add(k == 0 ? train.Cases[i] : Augmentation.Copy(train.Cases[i], C, rng));
                fitLabels.Add(y?[i] ?? 0);
            }
        var fitData = f.Dataset(fitCases.Select(f.Prepare).ToArray(), y is null ? null : fitLabels.ToArray(), fitCases.Select(c => c.Target).ToArray());
        var validData = validIdx.Length == 0 ? null : f.Dataset(validIdx.Select(i => f.Prepare(train.Cases[i])).ToArray(),
            y is null ? null : validIdx.Select(i => y[i]).ToArray(), validIdx.Select(i => train.Cases[i].Target).ToArray());
        int batches = Math.Max(1, fitCases.Count / Math.Min(options.Batch, fitCases.Count));
        int epochs = options.Epochs > 0 ? options.Epochs : Math.Clamp((ClassifierOptions.StepBudget + batches - 1) / batches, ClassifierOptions.MinEpochs, 500);
        log?.Invoke($"training: {fitIdx.Length} cases{(copies > 0 ? $" + {copies} augmented cop{(copies == 1 ? "y" : "ies")} each" : "")}, "
            + $"patches of {patch} step(s), {epochs} epochs of {batches} batches{(validIdx.Length > 0 ? $", {validIdx.Length} held out" : "")}");
        var task = new SequenceTask(model, fitData, validData, Job, f.FileEntries());
        var trainerOptions = new TrainerOptions
        {
            Epochs = epochs, Batch = options.Batch, LearningRate = options.LearningRate, WeightDecay = options.WeightDecay,
            Beta1 = options.Beta1, Beta2 = options.Beta2, ClipNorm = options.ClipNorm, Patience = validIdx.Length > 0 ? options.Patience : 0, Seed = options.Seed, Schedule = "cosine",
            WarmupEpochs = (int)Math.Round(options.Warmup * epochs),
            OnNan = options.OnNan,
        };
        // Data parallel: every rank builds the same augmented set (same seed) and trains on its share of each global batch.
        var trainer = new Trainer(parallel?.Apply(trainerOptions) ?? trainerOptions)
        { EpochEnd = epochEnd, Progress = progress, CheckpointPath = checkpoint, Resume = resume, GradientSync = parallel?.Sync };
        trainer.Fit(task, f.History);
        return f;
    }

    private static string Name(LabelKind t) => t == LabelKind.Regression ? "regression" : "classification";

    /// <summary>
    /// Prepared inputs [T′, F] zero-padded to the longest into a <see cref="SequenceDataset"/> with lengths, and the
    /// class labels or (regression) the z-scored targets.
    /// </summary>
    private SequenceDataset Dataset(float[][] inputs, int[]? labels, double[] targets)
    {
        int features = StepFeatures, steps = inputs.Max(x => x.Length) / features, n = inputs.Length;
        var x = new float[n * steps * features];             // [N, T′, F]
        var lengths = new int[n];
        for (int i = 0; i < n; i++)
        {
            inputs[i].CopyTo(x, i * steps * features);
            lengths[i] = inputs[i].Length / features;
        }
        if (IsRegression)
            return new SequenceDataset(x, n, steps, features, lengths, targets: targets.Select(t => (float)((t - TargetMean) / TargetStd)).ToArray(), targetWidth: 1);
        return new SequenceDataset(x, n, steps, features, lengths, labels: labels ?? new int[n]);
    }

    /// <summary>Stratified holdout (per class, every ⌈1/f⌉-th case of a seeded shuffle); regression: a seeded random subset.</summary>
    private static (int[] Fit, int[] Valid) Holdout(SequenceSet train, int[]? y, double fraction, ulong seed)
    {
        int n = train.Cases.Count;
        if (fraction <= 0) return (Enumerable.Range(0, n).ToArray(), []);
        var rng = new Rng(seed ^ 0x9E37_79B9_7F4A_7C15UL);
        var order = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(order.AsSpan());
        var valid = new List<int>();
        foreach (var group in order.GroupBy(i => y?[i] ?? 0))
        {
            var members = group.ToArray();
            int take = (int)Math.Round(members.Length * fraction);
            if (y is not null) take = Math.Min(take, members.Length - 1);   // every class keeps a training case
            valid.AddRange(members.Take(take));
        }
        if (valid.Count == 0) throw new GyreDataException($"--valid {fraction} holds out no case of {n}", train.Path);
        var set = valid.ToHashSet();
        return (Enumerable.Range(0, n).Where(i => !set.Contains(i)).ToArray(), valid.Order().ToArray());
    }

    /// <summary>Inputs per encoder step: P·C values, plus 2·C case statistics with series+stats.</summary>
    public int StepFeatures => Patch * Channels + Normalizer.ExtraFeatures(Channels);

    /// <summary>
    /// The network input of one case [T′, F]: normalised, then cut into T′ = ⌈T / P⌉ patches of P steps (the last
    /// patch repeats the final step), each followed by the case statistics with series+stats.
    /// </summary>
    public float[] Prepare(LabeledSequence s)
    {
        if (s.Values.Length % Channels != 0) throw new ArgumentException("channel mismatch");
        var z = Normalizer.Apply(s.Values, Channels);       // [T, C]
        var stats = Normalizer.ExtraFeatures(Channels) > 0 ? Normalizer.StatsFeatures(s.Values, Channels) : [];
        int T = s.Length, P = Patch, steps = (T + P - 1) / P, C = Channels, F = StepFeatures;
        var x = new float[steps * F];                        // [T′, F]
        for (int step = 0; step < steps; step++)
        {
            for (int k = 0; k < P; k++)
                z.AsSpan(Math.Min(step * P + k, T - 1) * C, C).CopyTo(x.AsSpan(step * F + k * C));
            stats.CopyTo(x.AsSpan(step * F + P * C));
        }
        return x;
    }

    /// <summary>Predictions for every case of <paramref name="set"/> (inference mode, batches of similar lengths).</summary>
    public SequencePredictions Predict(SequenceSet set) => PredictViews(set, eachAlone: false);

    /// <summary>Predictions for every case of <paramref name="set"/> run together, each equal to <see cref="Predict(SequenceSet)"/>
    /// on a set of that case alone (its test-time slices seeded as the only case's).</summary>
    public SequencePredictions PredictEachAlone(SequenceSet set) => PredictViews(set, eachAlone: true);

    private SequencePredictions PredictViews(SequenceSet set, bool eachAlone)
    {
        if (set.Channels != Channels) throw new GyreDataException($"{set.Channels} dimensions, the model was trained on {Channels}", set.Path);
        int n = set.Cases.Count, K = Model.Spec.Outputs, views = TestViews;
        // Test-time augmentation: the mean over the case itself and (views − 1) slices of it like those seen in
        // training; each case's slices come from its own seeded generator, so a prediction never depends on the batch.
        var mean = new double[n * K];                        // [N, O] mean probabilities (regression: outputs)
        var probs = new float[K];
        for (int v = 0; v < views; v++)
        {
            var cases = v == 0 ? set.Cases : set.Cases.Select((c, i) => Augmentation.Copy(c, Channels, new Rng(Options.Seed ^ ((ulong)(eachAlone ? 0 : i) << 20) ^ (ulong)v))).ToList();
            var outputs = Outputs(cases);
            for (int i = 0; i < n; i++)
            {
                var o = outputs.AsSpan(i * K, K);
                if (!IsRegression) { System.Numerics.Tensors.TensorPrimitives.SoftMax(o, probs); o = probs; }
                for (int k = 0; k < K; k++) mean[i * K + k] += o[k] / (double)views;
            }
        }
        if (IsRegression)
            return new SequencePredictions([], [], mean.Select(v => v * TargetStd + TargetMean).ToArray());
        var cls = new int[n];
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int k = 1; k < K; k++) if (mean[i * K + k] > mean[i * K + best]) best = k;
            cls[i] = best;
        }
        return new SequencePredictions(cls, mean.Select(v => (float)v).ToArray(), []);
    }

    /// <summary>Views averaged per prediction: 1 + <see cref="ClassifierOptions.TestAugment"/> (auto: 8 slices when training used augmented copies).</summary>
    public int TestViews => 1 + (Options.TestAugment >= 0 ? Options.TestAugment : AugmentCopies > 0 ? 8 : 0);

    /// <summary>Raw network outputs [N, O] in inference mode, in batches of similar lengths.</summary>
    private float[] Outputs(IReadOnlyList<LabeledSequence> cases)
    {
        var inputs = cases.Select(Prepare).ToArray();
        int n = inputs.Length, K = Model.Spec.Outputs;
        var outputs = new float[n * K];                      // [N, O]
        // Batches of similar lengths, each padded only to its own longest case: the order changes no row's result.
        var byLength = Enumerable.Range(0, n).OrderBy(i => inputs[i].Length).ToArray();
        Model.Training = false;
        const int B = 64;
        for (int start = 0; start < n; start += B)
        {
            var idx = byLength.AsSpan(start, Math.Min(B, n - start)).ToArray();
            var data = Dataset(idx.Select(i => inputs[i]).ToArray(), null, new double[idx.Length]);
            var x = new Tensor(data.X, 0, data.Count, data.Steps, data.Features);
            var o = Model.Forward(x, data.Lengths).ReadOnlySpan;
            for (int r = 0; r < idx.Length; r++) o.Slice(r * K, K).CopyTo(outputs.AsSpan(idx[r] * K, K));
        }
        return outputs;
    }

    /// <summary>
    /// Metrics on <paramref name="test"/> beside the baselines fitted on <paramref name="train"/> (null: no baselines).
    /// </summary>
    public SequenceReport Evaluate(SequenceSet test, SequenceSet? train)
    {
        var p = Predict(test);
        return SequenceReport.Build(this, test, p, train);
    }

    // ---- model file ----------------------------------------------------------------------------------

    /// <summary>The job's own model-file entries beside the shared ones (format, version, job, spec, history).</summary>
    private Dictionary<string, string> FileEntries() => new()
    {
        ["classify_version"] = FormatVersion.ToString(),
        ["options"] = JsonSerializer.Serialize(Options, Json),
        ["data"] = JsonSerializer.Serialize(new DataInfo(Classes, Channels, Patch, SequenceNormalizer.Name(Normalizer.Mode), Normalizer.Mean,
            Normalizer.Std, NormalizeReason, TargetMean, TargetStd, TrainPath, AugmentCopies), Json),
    };

    /// <summary>
    /// One model file (<see cref="ModelFile"/>, job "classify"): the weights, spec and history, plus the options,
    /// classes, normalisation, patch, target scaling and training-data path. Written atomically.
    /// </summary>
    public void Save(string path) => Model.Save(path, Job, History, FileEntries());

    private sealed record DataInfo(string[] Classes, int Channels, int Patch, string Normalize, float[] Mean, float[] Std, string NormalizeReason,
        double TargetMean, double TargetStd, string TrainPath, int AugmentCopies);

    internal static JsonSerializerOptions Json => ModelFile.Json;

    /// <summary>Reads a model file written by <see cref="Save"/>; another job's model is bad input.</summary>
    public static SequenceClassifier Load(string path)
    {
        var (job, _) = ModelFile.Read(path);
        if (job != Job) throw new GyreDataException($"a {job} model, not a classify model", path);
        var (model, _, history, meta) = SequenceModel.Load(path);
        if (!meta.TryGetValue("classify_version", out var version) || version != FormatVersion.ToString())
            throw new GyreDataException($"classify model version {version ?? "missing"} is not supported (this Gyre reads version {FormatVersion})", path);
        try
        {
            var options = JsonSerializer.Deserialize<ClassifierOptions>(meta["options"], Json)!;
            // Files written before the warm-up option trained without one: the property's default would misreport them.
            using (var stored = JsonDocument.Parse(meta["options"]))
                if (!stored.RootElement.TryGetProperty(nameof(ClassifierOptions.Warmup), out _)) options = options with { Warmup = 0 };
            var d = JsonSerializer.Deserialize<DataInfo>(meta["data"], Json)!;
            var normalizer = new SequenceNormalizer(SequenceNormalizer.Parse(d.Normalize), d.Mean, d.Std);
            if (d.Patch * d.Channels + normalizer.ExtraFeatures(d.Channels) != model.Spec.InputSize)
                throw new InvalidDataException($"patch {d.Patch} × {d.Channels} channels does not match the model's {model.Spec.InputSize} inputs");
            var f = new SequenceClassifier(options, d.Classes, d.Channels, d.Patch, normalizer, d.NormalizeReason, d.TargetMean, d.TargetStd, d.TrainPath, model);
            f.History.AddRange(history);
            f.AugmentCopies = d.AugmentCopies;
            return f;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or ArgumentException or InvalidDataException or NullReferenceException)
        {
            throw new GyreDataException($"corrupt model file: {e.Message.ReplaceLineEndings(" ")}", path);
        }
    }
}
