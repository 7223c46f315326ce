using System.Text.Json;
using Gyre.Data;
using Gyre.IO;
using Gyre.Models;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Forecasting;

/// <summary>What the data looked like at training time (stored in the model file).</summary>
public sealed record ForecastDataInfo
{
    public string[] Columns { get; init; } = [];
    public int TargetCount { get; init; }
    public int PastCount { get; init; }
    /// <summary>Known-future columns, calendar columns included (they come last).</summary>
    public int FutureCount { get; init; }
    public int CalendarCount { get; init; }
    public string? TimeColumn { get; init; }
    public string? IdColumn { get; init; }
    public int Season { get; init; }
    /// <summary>Why <see cref="Season"/> was chosen (empty in model files from before it was recorded).</summary>
    public string SeasonReason { get; init; } = "";
    public string Source { get; init; } = "";
}

/// <summary>
/// The user-facing recurrent forecaster: <see cref="Fit"/> on a CSV, then <see cref="Evaluate"/>,
/// <see cref="Backtest"/> and <see cref="Predict"/>; <see cref="Save"/> / <see cref="Load"/> one model file.
/// The network is a <see cref="ForecastNetwork"/>; data handling is in <see cref="Data"/>.
/// Dimensions: B batch, L lookback, N horizon, K input columns, C targets, Q quantiles, Ff future columns.
/// </summary>
public sealed partial class Forecaster
{
    /// <summary>The job a forecaster's model file names (<see cref="ModelFile"/>).</summary>
    public const string Job = "forecast";

    public ForecastOptions Options { get; }
    public ForecastDataInfo DataInfo { get; private set; }
    public Scaler Scaler { get; private set; }
    public ForecastNetwork Network { get; }
    public List<EpochRecord> History { get; } = [];

    /// <summary>How <see cref="Fit"/> built the final weights with <c>--select soup</c> (null otherwise, and for a loaded
    /// model: the model file holds the averaged weights, not how they were chosen).</summary>
    public SoupReport? Soup { get; private set; }

    private Forecaster(ForecastOptions options, ForecastDataInfo info, Scaler scaler, ForecastNetwork network)
    {
        Options = options; DataInfo = info; Scaler = scaler; Network = network;
    }

    /// <summary>C as the network sees it (1 in channel-independent mode).</summary>
    public int ModelTargets => Options.ChannelIndependent ? 1 : DataInfo.TargetCount;

    // ------------------------------------------------------------------ data

    private CsvOptions CsvOptionsFor() => CsvOptionsFor(Options);

    /// <summary>How <paramref name="o"/> reads a CSV (columns, dialect, time format, fill and gap handling).</summary>
    public static CsvOptions CsvOptionsFor(ForecastOptions o) => new()
    {
        TimeColumn = o.TimeColumn,
        IdColumn = o.IdColumn,
        Targets = o.Targets,
        Features = o.Features,
        FutureFeatures = o.FutureFeatures,
        Fill = CsvOptions.ParseFill(o.Fill),
        Separator = CsvOptions.ParseSeparator(o.Separator),
        Decimal = CsvOptions.ParseDecimal(o.Decimal),
        TimeFormat = o.TimeFormat,
        Gaps = CsvOptions.ParseGaps(o.Gaps),
    };

    /// <summary>
    /// Reads a CSV the way this model was trained (columns, calendar features); <paramref name="adjust"/> may
    /// change how the file is read (its dialect, time format, gap handling), not which columns it gives.
    /// </summary>
    public SeriesSet LoadData(string path, Func<CsvOptions, CsvOptions>? adjust = null)
    {
        var csv = CsvOptionsFor();
        var set = CsvLoader.Load(path, adjust is null ? csv : adjust(csv));
        set = Calendar.AddFutureFeatures(set, Calendar.Parse(Options.Calendar));
        if (DataInfo.Columns.Length > 0 && !set.Columns.SequenceEqual(DataInfo.Columns))
            throw new GyreDataException($"columns [{string.Join(", ", set.Columns)}] differ from the model's [{string.Join(", ", DataInfo.Columns)}]", path);
        return set;
    }

    /// <summary>
    /// Reads the known-future covariates' values over the horizon from <paramref name="path"/>: the model's
    /// --future-features columns (and its time and id columns), as <see cref="Predict"/> takes them.
    /// </summary>
    public SeriesSet LoadFutureData(string path, Func<CsvOptions, CsvOptions>? adjust = null)
    {
        var names = DataInfo.Columns.Skip(DataInfo.TargetCount + DataInfo.PastCount).Take(DataInfo.FutureCount - DataInfo.CalendarCount).ToArray();
        if (names.Length == 0) throw new GyreDataException("the model takes no known-future covariates (--future-features), so --future-data has nothing to give", path);
        var csv = CsvOptionsFor() with { Targets = names, Features = [], FutureFeatures = [], Gaps = GapMode.Keep };
        return CsvLoader.Load(path, adjust is null ? csv : adjust(csv));
    }

    /// <summary>The scaled set the network reads (channel-independent when configured).</summary>
    internal SeriesSet ModelView(SeriesSet raw)
    {
        var scaled = Scaler.Transform(raw);
        return Options.ChannelIndependent ? scaled.ChannelIndependent() : scaled;
    }

    private static SeriesSet RawView(SeriesSet raw, bool channelIndependent) => channelIndependent ? raw.ChannelIndependent() : raw;

    // ------------------------------------------------------------------ fit

    /// <summary>Creates a forecaster for <paramref name="options"/> shaped by the data at <paramref name="path"/> (untrained).</summary>
    public static Forecaster Create(string path, ForecastOptions options)
    {
        options.Validate();
        var set = CsvLoader.Load(path, CsvOptionsFor(options));
        var calendar = Calendar.Parse(options.Calendar);
        set = Calendar.AddFutureFeatures(set, calendar);
        var splits = SplitSpec.Parse(options.Split).For(set);
        // Early, one-line errors for series too short for the protocol.
        WindowSet.Create(set, splits, SplitPart.Train, options.Lookback, options.Horizon);
        var scaler = Scaler.Fit(Scaler.ParseKind(options.Scaler), set, splits);
        var season = options.Season > 0 ? new SeasonChoice(options.Season, "given with --season")
            : Seasonality.Choose(set.Series[0], set.ColumnCount, 0, splits[0].TrainEnd);
        var info = new ForecastDataInfo
        {
            Columns = set.Columns, TargetCount = set.TargetCount, PastCount = set.PastCount, FutureCount = set.FutureCount,
            CalendarCount = Calendar.Width(calendar), TimeColumn = set.TimeColumn, IdColumn = set.IdColumn,
            Season = Math.Max(season.Season, 1), SeasonReason = season.Reason, Source = Path.GetFileName(path),
        };
        int c = options.ChannelIndependent ? 1 : set.TargetCount;
        int k = options.ChannelIndependent ? 1 + set.PastCount + set.FutureCount : set.ColumnCount;
        var network = new ForecastNetwork(new ForecastNetworkConfig
        {
            Cell = options.Cell, InputFeatures = k, FutureFeatures = set.FutureCount, Hidden = options.Hidden,
            Layers = options.Layers, Gmu = options.Gmu, GmuMemory = options.GmuMemory, Lookback = options.Lookback, Horizon = options.Horizon, Outputs = c,
            Quantiles = options.Quantiles, Patch = options.Patch, Decoder = options.Decoder, Dropout = options.Dropout, SharedDecoder = options.SharedDecoder,
            Channels = options.ChannelIndependent && options.Decoder == "pmf" ? set.TargetCount : 1, Seed = options.Seed,
            Distribution = Distributions.IsDistribution(Losses.Parse(options.Loss)) ? Distributions.Name(Losses.Parse(options.Loss)) : "",
        });
        return new Forecaster(options, info, scaler, network);
    }

    /// <summary>
    /// Trains on the CSV at <paramref name="path"/>: AdamW, global-norm clipping, the LR schedule and early
    /// stopping on the validation loss (best-epoch weights kept). With <paramref name="checkpointPath"/>, a
    /// checkpoint is written atomically after every epoch (by rank 0); <paramref name="resume"/> continues from it and
    /// ends with the same bits as an uninterrupted run; <paramref name="epochLimit"/> stops it after that many epochs in all
    /// (<see cref="Trainer.EpochLimit"/>), to be resumed later. With <paramref name="parallel"/>, this process trains on its
    /// share of every global batch and gradients are reduced across the ranks (see <see cref="DataParallel"/>).
    /// </summary>
    public static Forecaster Fit(string path, ForecastOptions options, Action<EpochRecord>? onEpoch = null,
        string? checkpointPath = null, bool resume = false, CancellationToken cancel = default,
        IProgress<TrainingProgress>? progress = null, DataParallel? parallel = null, int epochLimit = 0)
    {
        var f = Create(path, options);
        var raw = f.LoadData(path);
        if (options.Stateful && parallel is not null)
            throw new GyreDataException("--stateful trains one ordered pass over its streams per epoch: it cannot be data-parallel");
        var trainerOptions = options.Stateful ? StatefulForecastTask.TrainerOptionsFor(options) : ForecastTask.TrainerOptionsFor(options);
        var trainer = new Trainer(parallel?.Apply(trainerOptions) ?? trainerOptions)
        {
            CheckpointPath = checkpointPath, Resume = resume, EpochEnd = onEpoch, Progress = progress, GradientSync = parallel?.Sync, EpochLimit = epochLimit,
        };
        f.Soup = trainer.Fit(options.Stateful ? new StatefulForecastTask(f, raw) : new ForecastTask(f, raw), f.History, cancel).Soup;
        f.FitCopula(raw);
        return f;
    }

    // ------------------------------------------------------------------ inference

    /// <summary>
    /// Forecasts for windows <paramref name="indices"/> of <paramref name="windows"/> (a model view),
    /// in the scaled space: writes pred [B, N, C, Q].
    /// </summary>
    internal void PredictWindows(WindowSet windows, ReadOnlySpan<int> indices, Span<float> pred)
    {
        if (Options.Stateful) { PredictStatefulWindows(windows, indices, pred); return; }
        int b = indices.Length, l = Options.Lookback, n = Options.Horizon, k = windows.InputWidth, c = windows.TargetWidth, ff = windows.FutureWidth;
        var x = Tensor.Zeros(b, l, k);
        var target = new float[b * n * c];
        var mask = new float[b * n * c];
        var future = ff > 0 ? Tensor.Zeros(b, n, ff) : null;
        var channel = new int[b];
        for (int i = 0; i < b; i++) channel[i] = ChannelOf(windows, indices[i]);
        windows.FillBatch(indices, x.Span, target, mask, future == null ? default : future.Span);
        RunNetwork(x, future, pred, b, channel);
    }

    /// <summary>The source channel of window <paramref name="i"/> of a model view: its target column in channel-independent mode, else 0.</summary>
    internal int ChannelOf(WindowSet windows, int i) => ChannelOf(windows.Set.Series[windows[i].Series]);

    private int ChannelOf(TimeSeries viewSeries) => Options.ChannelIndependent ? viewSeries.SourceTarget : 0;

    /// <summary>
    /// Runs the network in inference mode on scaled inputs [B, L, K] (normalised in place per window as
    /// <see cref="ForecastOptions.Normalization"/> says, and mapped back on the way out); <paramref name="channel"/> [B]
    /// gives each window's source channel (empty = 0).
    /// </summary>
    internal void RunNetwork(Tensor x, Tensor? future, Span<float> pred, int b, ReadOnlySpan<int> channel = default) =>
        RunNetwork(x, future, pred, b, channel, default);

    /// <summary><see cref="RunNetwork(Tensor, Tensor?, Span{float}, int, ReadOnlySpan{int})"/> with the encoder's final
    /// states given ([B, H], kept by a stream) instead of run over x: the head or decoder alone. Then the windows cannot
    /// be normalised on their own (x is not read), so the forecaster must have no window normalisation.</summary>
    internal void RunNetwork(Tensor? x, Tensor? future, Span<float> pred, int b, ReadOnlySpan<int> channel, ReadOnlySpan<float> encoderState)
    {
        if (x is null && encoderState.IsEmpty) throw new ArgumentNullException(nameof(x), "the network needs its input windows or the encoder's states");
        if (Options.Stateful)
        {
            if (encoderState.IsEmpty) throw new InvalidOperationException("a stateful forecaster reads its series from the start: give its summaries, not windows");
            RunStatefulHead(encoderState, future is null ? default : future.ReadOnlySpan, pred, b);
            return;
        }
        int l = Options.Lookback, n = Options.Horizon, c = ModelTargets, q = Network.Config.QuantileCount;
        var mean = new float[b * c];
        var std = new float[b * c];
        string norm = Options.Normalization;
        if (!encoderState.IsEmpty && norm != "none")
            throw new InvalidOperationException($"a forecaster with {norm} normalisation reads its whole window: its encoder state cannot be given");
        if (norm != "none") InstanceNorm.Apply(norm, x!.Span, mean, std, b, l, x.Dim(2), c);
        Network.Training = false;
        var y = encoderState.IsEmpty ? Network.Forward(x!, future, channel)            // [B, N, C, Q]
            : Network.ForwardFromEncoderState(encoderState, future, channel);
        y.ReadOnlySpan.CopyTo(pred);
        if (Distribution is { } kind)
        {
            // Natural parameters, then back through the window's level and scale: a location-scale family moves
            // its location (μ·s + level) and scales its scale (σ·s); ν is unchanged. (negbinomial runs without a norm.)
            Distributions.ToNatural(kind, pred.Slice(0, b * n * c * q));
            if (norm != "none")
                for (int i = 0; i < b; i++)
                    for (int h = 0; h < n; h++)
                        for (int j = 0; j < c; j++)
                        {
                            int at = ((i * n + h) * c + j) * q;
                            pred[at] = pred[at] * std[i * c + j] + mean[i * c + j];
                            pred[at + 1] *= std[i * c + j];
                        }
            return;
        }
        if (norm != "none")
            for (int i = 0; i < b; i++)
                for (int h = 0; h < n; h++)
                    for (int j = 0; j < c; j++)
                        for (int r = 0; r < q; r++)
                        {
                            ref float v = ref pred[((i * n + h) * c + j) * q + r];
                            v = v * std[i * c + j] + mean[i * c + j];
                        }
    }

    /// <summary>The distribution loss this forecaster was trained with, null for a point or quantile model.</summary>
    public LossKind? Distribution => Distributions.IsDistribution(Losses.Parse(Options.Loss)) ? Losses.Parse(Options.Loss) : null;

    /// <summary>Quantile levels a distribution model's forecast table reports (its 50 % and 90 % intervals and the median).</summary>
    public static readonly float[] DistributionLevels = [0.05f, 0.25f, 0.5f, 0.75f, 0.95f];

    /// <summary>Quantile levels a distribution model is evaluated at (pinball loss and coverage): 0.05, 0.10, …, 0.95.</summary>
    public static readonly float[] EvaluationLevels = [.. Enumerable.Range(1, 19).Select(i => i / 20f)];

    /// <summary>
    /// Draws one value per slot of <paramref name="sorted"/> from the forecast distribution θ (natural parameters, model space), maps
    /// each through <paramref name="map"/> (e.g. the inverse scaler), sorts them into <paramref name="sorted"/> and writes
    /// the empirical quantiles at <paramref name="levels"/> (linear interpolation between order statistics).
    /// </summary>
    internal static void SampleQuantiles(LossKind kind, ReadOnlySpan<float> theta, Rng rng, Func<float, float> map, Span<float> sorted,
        ReadOnlySpan<float> levels, Span<float> quantiles)
    {
        for (int s = 0; s < sorted.Length; s++) sorted[s] = map((float)Distributions.Sample(kind, theta, rng));
        EmpiricalQuantiles(sorted, levels, quantiles);
    }

    /// <summary>The sample CRPS of sorted samples x₍₁₎ ≤ … ≤ x₍S₎ at y: mean|xᵢ − y| − Σᵢ (2i − S − 1) x₍ᵢ₎ / S².</summary>
    internal static double SampleCrps(ReadOnlySpan<float> sorted, float y)
    {
        int s = sorted.Length;
        double abs = 0, spread = 0;
        for (int i = 0; i < s; i++)
        {
            abs += Math.Abs(sorted[i] - y);
            spread += (2.0 * (i + 1) - s - 1) * sorted[i];
        }
        return abs / s - spread / ((double)s * s);
    }

    /// <summary>Index of the quantile used as the point forecast (the one nearest 0.5).</summary>
    public int MedianQuantile()
    {
        var qs = Options.Quantiles;
        if (qs.Length == 0) return 0;
        int best = 0;
        for (int i = 1; i < qs.Length; i++) if (Math.Abs(qs[i] - 0.5f) < Math.Abs(qs[best] - 0.5f)) best = i;
        return best;
    }

    // ------------------------------------------------------------------ model file

    /// <summary>
    /// Writes one versioned safetensors file: the network's weights as tensors, and in its metadata the
    /// format tag and version, options, network config, data description, scaler and training history
    /// (epoch timings zeroed: same seed, same bytes). Written to a temporary name and renamed.
    /// </summary>
    public void Save(string path)
    {
        var tensors = Network.StateDict().ToDictionary();
        var meta = Metadata();
        AddCopula(tensors, meta);
        Safetensors.Write(path, tensors, meta);
    }

    internal Dictionary<string, string> Metadata() => ModelFile.Metadata(Job, new Dictionary<string, string>
    {
        ["options"] = JsonSerializer.Serialize(Options, Json),
        ["network"] = JsonSerializer.Serialize(Network.Config, Json),
        ["data"] = JsonSerializer.Serialize(DataInfo, Json),
        ["scaler"] = JsonSerializer.Serialize(Scaler.ToDto(), Json),
        // Wall-clock seconds stay out of the file so that the same seed gives a byte-identical model file.
        ["history"] = JsonSerializer.Serialize(History.Select(e => e with { Seconds = 0 }), Json),
    });

    internal static JsonSerializerOptions Json => ModelFile.Json;

    /// <summary>Reads a model file, checking its format, version and every tensor's shape.</summary>
    public static Forecaster Load(string path)
    {
        if (!File.Exists(path)) throw new GyreDataException("model file not found", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Read(stream, path);
    }

    /// <summary>Reads a model file image from <paramref name="stream"/>; <paramref name="source"/> names it in errors.</summary>
    public static Forecaster Read(Stream stream, string source) => FromFile(ModelFile.ReadImage(stream, source), source);

    internal static Forecaster FromFile(SafetensorsFile file, string path)
    {
        var meta = file.Metadata;
        string job = ModelFile.JobOf(file, path);
        if (job != Job) throw new GyreDataException($"a {job} model, not a forecaster", path);
        string Entry(string key) => meta.TryGetValue(key, out var v) ? v : throw new GyreDataException($"corrupt model file: metadata '{key}' missing", path);
        try
        {
            var options = JsonSerializer.Deserialize<ForecastOptions>(Entry("options"), Json)!;
            var config = JsonSerializer.Deserialize<ForecastNetworkConfig>(Entry("network"), Json)!;
            var info = JsonSerializer.Deserialize<ForecastDataInfo>(Entry("data"), Json)!;
            var scaler = Scaler.FromDto(JsonSerializer.Deserialize<ScalerDto>(Entry("scaler"), Json)!);
            CheckSize(config, file, path);
            var network = new ForecastNetwork(config);
            var f = new Forecaster(options, info, scaler, network);
            network.LoadStateDict(file.Tensors.Where(kv => IsNetworkTensor(kv.Key)).ToDictionary(), source: path);
            f.ReadCopula(file);
            if (meta.TryGetValue("history", out var history))
                f.History.AddRange(JsonSerializer.Deserialize<List<EpochRecord>>(history, Json) ?? []);
            return f;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or ArgumentException or InvalidDataException or NullReferenceException)
        {
            // The inner message may already name the file; name it once.
            string inner = e.Message.Replace(Environment.NewLine, " ");
            if (inner.StartsWith(path + ": ", StringComparison.Ordinal)) inner = inner[(path.Length + 2)..];
            throw new GyreDataException($"corrupt model file: {inner}", path);
        }
    }

    // Checkpoints also hold optimizer moments and the best epoch's weights; the copula's factor is the forecaster's own.
    private static bool IsNetworkTensor(string name) => !name.Contains("adam.") && !name.StartsWith("best.") && name != CopulaTensor;

    /// <summary>
    /// Refuses a network config whose parameters could not fit in the file's tensors before anything is
    /// allocated: the sizes in the metadata are claims, the tensors are bytes on disk. The count below
    /// follows the architecture (patch embedding, G·H·(in + H + 2) per recurrent layer, the head) and is
    /// compared with slack, so only a config far beyond the file (a corrupt or hostile one) is refused.
    /// </summary>
    private static void CheckSize(ForecastNetworkConfig c, SafetensorsFile file, string path)
    {
        // In double: the claims may be anything up to int.MaxValue each, and their products must not wrap.
        double h = Math.Max(c.Hidden, 0), f = Math.Max(c.InputFeatures, 0), ff = Math.Max(c.FutureFeatures, 0), n = Math.Max(c.Horizon, 0);
        double k = Math.Max(c.Layers, 0), g = ClaimedGates(c.Cell);
        double outs = Math.Max(c.Outputs, 0) * Math.Max(c.Quantiles?.Length ?? 0, c.Distribution is { Length: > 0 } ? 3 : 1);
        // weight_hh and bias_hh per layer follow the cell's recurrent weight (dense G·H·H; per-unit G·H; none).
        double hh = ClaimedRecurrent(c.Cell, g, h) + g * h;
        double Stack(double input) => k == 0 ? 0 : g * h * (input + 1) + hh + (k - 1) * (g * h * (h + 1) + hh);
        double patch = c.Patch > 1 ? c.Patch * f * h + h : 0;
        double encoder = Stack(c.Patch > 1 ? h : f);
        double e = Math.Ceiling(h / 2), p = c.Patch > 1 ? c.Patch : Math.Max(n, 1), m = Math.Ceiling(n / p);
        double rest = c.Decoder switch
        {
            "recurrent" => Stack(ff + 1) + outs * (h + 1),
            "pmf" => Stack(2 * e + p * ff) + p * outs * (h + 1) + (m + Math.Max(c.Channels, 0)) * e,
            _ => n * outs * (h + n * ff + 1),
        };
        double gmu = Math.Max(c.Gmu, 0) * h * (h + 1);      // each GMU: weight [W_0, W_0] and bias, W_0 ≤ H
        double claimed = patch + encoder + gmu + rest;
        long stored = file.Tensors.Where(kv => IsNetworkTensor(kv.Key)).Sum(kv => (long)kv.Value.Length);
        if (claimed > 4.0 * stored + (1 << 16))
            throw new GyreDataException($"corrupt model file: its network config needs about {claimed:G3} parameters but the file holds {stored}", path);
    }

    // The cell's gate count from the registry; a name the registry does not know is refused later with its own
    // message, so here it only needs a plausible size (4, the most any built-in cell has).
    private static int ClaimedGates(string cell) =>
        cell.Split('(')[0].Trim() is var name && Cells.CellRegistry.Contains(name) && TryGates(cell) is int g ? g : 4;

    // Floats of weight_hh plus bias_hh for H units, in double (H is a claim); dense when the cell is unknown.
    private static double ClaimedRecurrent(string cell, double g, double h)
    {
        Cells.CellDefinition? def = null;
        try { if (Cells.CellRegistry.Contains(cell.Split('(')[0].Trim())) def = Cells.CellRegistry.FromText(cell); }
        catch (ArgumentException) { }   // bad options: reported when the network is built
        return def?.Recurrent switch
        {
            Cells.RecurrentWeights.Diagonal => g * h,
            Cells.RecurrentWeights.None => -g * h,   // no weight_hh and no bias_hh
            Cells.RecurrentWeights.BlockDiagonal => g * h * h / Math.Max(def.Params.Heads, 1),
            _ => g * h * h,
        };
    }

    private static int? TryGates(string cell)
    {
        try { return Cells.CellRegistry.FromText(cell).Gates; }
        catch (ArgumentException) { return null; }   // bad options: reported when the network is built
    }
}
