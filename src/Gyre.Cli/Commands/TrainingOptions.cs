using System.CommandLine;
using System.Globalization;
using Gyre.Data;
using Gyre.Forecasting;

namespace Gyre.Cli.Commands;

/// <summary>
/// The data, model and training options shared by `gyre forecast` (bundled job) and `gyre forecast train`.
/// Only options the user actually gave override the baseline, so the bundled job keeps its own defaults.
/// </summary>
internal sealed class TrainingOptions
{
    public readonly Option<string?> Target = new("--target") { Description = "Target column(s): COL[,COL…] or all" };
    public readonly Option<string?> TimeCol = new("--time-col") { Description = "Time column (default: detected)" };
    public readonly Option<string?> IdCol = new("--id-col") { Description = "Series id column for long-format data (one global model)" };
    public readonly Option<string?> Features = new("--features") { Description = "Past covariate columns C,…" };
    public readonly Option<string?> FutureFeatures = new("--future-features") { Description = "Known-future covariate columns C,…" };
    public readonly Option<string?> CalendarFeatures = new("--calendar") { Description = "Calendar covariates: hour,dow,dom,month,doy" };
    public readonly Option<string?> Fill = new("--fill") { Description = "Missing values: ffill | linear | mask (default: error)" };
    public readonly Option<string?> Sep = new("--sep") { Description = "Field separator: , ; tab | (default: detected from the header line)" };
    public readonly Option<string?> Decimal = new("--decimal") { Description = "Decimal mark . or , (default: detected; ',' when numbers read like 30,53)" };
    public readonly Option<string?> TimeFormat = new("--time-format") { Description = "Time format: a .NET format such as \"dd/MM/yyyy HH:mm\", or epoch-s | epoch-ms (default: detected)" };
    public readonly Option<bool?> FillGaps = new("--fill-gaps") { Description = "Insert whole missing time steps and fill them with --fill (default: a gap is an error)" };
    public readonly Option<bool?> AllowGaps = new("--allow-gaps") { Description = "Keep rows around a missing time step consecutive (default: a gap is an error)" };
    public readonly Option<int?> Lookback = UserInput.Int("--lookback", "Input window length L", min: 1, max: 1_000_000);
    public readonly Option<int?> Horizon = UserInput.Int("--horizon", "Forecast horizon N", min: 1, max: 1_000_000);
    public readonly Option<string?> Split = new("--split") { Description = "Chronological split: fractions 0.7,0.1,0.2 or row counts" };
    public readonly Option<string?> Scaler = new("--scaler") { Description = "standard | robust | minmax | none (fitted on train)" };
    public readonly Option<bool?> InstanceNorm = UserInput.Flag("--instance-norm", "Per-window reversible instance normalisation (the same as --norm revin)");
    public readonly Option<string?> Norm = new("--norm") { Description = "Per-window normalisation that follows each window's level: revin ((x − mean)/std of the window) | last (x − the window's last value) | none" };
    public readonly Option<string?> Preset = new("--preset") { Description = $"A published configuration as a starting point; options given beside it override it: {string.Join(" | ", ForecastPresets.Names)}" };
    public readonly Option<bool?> ChannelIndependent = UserInput.Flag("--channel-independent", "One shared model over each target column as its own series");
    public readonly Option<bool?> WholeWindows = UserInput.Flag("--whole-windows", "With --channel-independent: a batch of B holds B time windows with all their channels (B·C rows, as SegRNN and PatchTST batch) instead of B single-channel rows");
    public readonly Option<int?> Season = UserInput.Int("--season", "Season for seasonal naive / MASE (default: detected)", min: 1, max: 1_000_000, hint: "leave it out to detect it");
    public readonly Option<string?> Cell = new("--cell")
    {
        Description = $"Recurrent cell: {string.Join(" | ", Cells.CellRegistry.Names)}; cell options as name(k=v,…), e.g. slstm(forget=exp)",
    };
    public readonly Option<int?> Heads = UserInput.Int("--heads", "Heads for gru, lstm, slstm: block-diagonal recurrent weights, one block per head; for gla: one matrix state per head (hidden a multiple of it; 1 = dense)", min: 1);
    public readonly Option<int?> ProjSize = UserInput.Int("--proj-size", "LSTM only: h projected to P < hidden units (PyTorch's proj_size; 0 = off)", min: 0);
    public readonly Option<int?> Hidden = UserInput.Int("--hidden", "Hidden units H", min: 1, max: 16_384);
    public readonly Option<int?> Layers = UserInput.Int("--layers", "Recurrent layers K", min: 1, max: 64);
    public readonly Option<int?> Gmu = UserInput.Int("--gmu", "Gated memory units (SambaY) after the recurrent layers: z = σ(W·z + b) ⊙ m, m read from the --gmu-memory layer; the last one's output at the last step summarises the lookback", min: 0, max: Models.EncoderStack.MaxGmu);
    public readonly Option<int?> GmuMemory = UserInput.Int("--gmu-memory", "Recurrent layer (0-based) whose output the GMUs read as memory m (default: the last)", min: 0, max: 63);
    public readonly Option<int?> Patch = UserInput.Int("--patch", "Embed the lookback in patches of P steps (0 = off)", min: 0, max: 1_000_000);
    public readonly Option<string?> Decoder = new("--decoder") { Description = "direct | recurrent | pmf (parallel multi-step: one decoder step per output segment of --patch steps, SegRNN)" };
    public readonly Option<bool?> SharedDecoder = UserInput.Flag("--shared-decoder", "With --decoder pmf: the decoder step runs the encoder's GRU (one GRU for both, as SegRNN) instead of weights of its own");
    public readonly Option<bool?> Stateful = UserInput.Flag("--stateful", "Stateful forecaster: the encoder runs over each whole series with its state carried (truncated backpropagation through --chunk steps) and forecasts from every step; a served stream then costs one recurrent step per observation");
    public readonly Option<int?> Chunk = UserInput.Int("--chunk", "--stateful: steps per truncated-backpropagation chunk T (default: the longer of the lookback and two seasons)", min: 1, max: 1_000_000);
    public readonly Option<float?> Dropout = UserInput.Float("--dropout", "Dropout between recurrent layers (and, with --decoder pmf, on the decoder's output)", 0f, 1f, maxExclusive: true);
    public readonly Option<int?> Epochs = UserInput.Int("--epochs", "Maximum epochs", min: 1, max: 1_000_000, hint: "0 epochs would write an untrained model");
    public readonly Option<int?> Batch = UserInput.Int("--batch", "Batch size", min: 1, max: 1_000_000);
    public readonly Option<float?> Lr = UserInput.Float("--lr", "AdamW learning rate", 0f, 10f, minExclusive: true);
    public readonly Option<float?> WeightDecay = UserInput.Float("--weight-decay", "AdamW weight decay", 0f, 1f);
    public readonly Option<string?> Betas = new("--betas") { Description = "AdamW's β1,β2 (the decays of the gradient's and the squared gradient's running means), e.g. 0.9,0.999" };
    public readonly Option<string?> Loss = new("--loss") { Description = "mse | mae | huber | quantile | gaussian | studentt | negbinomial (the last three: a forecast distribution trained by negative log-likelihood; quantiles, 50 % and 90 % intervals and CRPS from --samples draws)" };
    public readonly Option<int?> Samples = UserInput.Int("--samples", "Draws per forecast value from a distribution loss's forecast (quantiles, intervals, CRPS)", min: 2, max: 1_000_000);
    public readonly Option<string?> Quantiles = new("--quantiles") { Description = "Quantile levels for --loss quantile, e.g. 0.1,0.5,0.9" };
    public readonly Option<float?> Clip = UserInput.Float("--clip", "Clip gradients to this global norm (0 = off)", 0f, float.MaxValue);
    public readonly Option<string?> Schedule = new("--schedule") { Description = "constant | cosine | plateau | exponential, with options as name(key=value,…): warmup=W epochs and start=s (the first one's share of --lr) for each; exponential: gamma (per-epoch factor), hold (epochs at --lr first); plateau: factor, patience. E.g. \"exponential(gamma=0.8,hold=4)\"" };
    public readonly Option<int?> Patience = UserInput.Int("--patience", "Early-stopping patience in epochs (0 = off)", min: 0);
    public readonly Option<string?> Select = UserInput.Choice("--select",
        "Which weights training ends with: best (the epoch of lowest validation loss) | soup (a greedy checkpoint soup: the 5 epochs of lowest validation loss are kept and, from the best, each joins a uniform average of the weights only if the average's validation loss is not worse; the members are printed)",
        "best", "soup");
    public readonly Option<ulong?> Seed = UserInput.ULong("--seed", "Random seed (same seed, same bits)");
    public readonly Option<string?> OnNan = UserInput.OnNan();

    public IEnumerable<Option> All() =>
    [
        Target, TimeCol, IdCol, Features, FutureFeatures, CalendarFeatures, Fill, Sep, Decimal, TimeFormat, FillGaps, AllowGaps, Lookback, Horizon, Split, Scaler,
        InstanceNorm, Norm, Preset, ChannelIndependent, WholeWindows, Season, Cell, Heads, ProjSize, Hidden, Layers, Gmu, GmuMemory, Patch, Decoder, SharedDecoder, Stateful, Chunk, Dropout, Epochs, Batch, Lr,
        WeightDecay, Betas, Loss, Samples, Quantiles, Clip, Schedule, Patience, Select, Seed, OnNan,
    ];

    public void AddTo(Command command)
    {
        foreach (var o in All()) command.Options.Add(o);
    }

    /// <summary>
    /// Appends each option's default in <paramref name="defaults"/> to its description, as "[label: value]", so help
    /// shows what applies when the option is left out (train's defaults and the bundled job's differ).
    /// </summary>
    public void ShowDefaults(ForecastOptions defaults, string label)
    {
        foreach (var (option, value) in Defaults(defaults))
        {
            string d = option.Description ?? "";
            int cut = d.IndexOf(" (default:", StringComparison.Ordinal);
            option.Description = (cut >= 0 ? d[..cut] : d) + $" [{label}: {value}]";
        }
    }

    /// <summary>
    /// The effective configuration in one line: the options given (per <paramref name="cmdResult"/>; null = none),
    /// then every default that applied (from <paramref name="defaults"/>), as "--option value".
    /// </summary>
    public string Settings(ParseResult? cmdResult, ForecastOptions effective, ForecastOptions defaults)
    {
        var given = Defaults(effective).Where(x => cmdResult?.GetResult(x.Option) is { Implicit: false }).Select(x => $"{x.Option.Name} {x.Value}").ToList();
        var notGiven = Defaults(effective).Where(x => cmdResult?.GetResult(x.Option) is not { Implicit: false }).ToList();
        // Values the preset set (they differ from the plain defaults where the preset's own defaults do) are named as its.
        var plain = Defaults(defaults).ToDictionary(x => x.Option.Name, x => x.Value);
        var preset = effective.Preset is { } name ? Defaults(ForecastPresets.Apply(name, defaults)).ToDictionary(x => x.Option.Name, x => x.Value) : null;
        bool FromPreset((Option Option, string Value) x) => preset is not null && x.Option != Preset && preset[x.Option.Name] != plain[x.Option.Name] && preset[x.Option.Name] == x.Value;
        var fromPreset = notGiven.Where(FromPreset).Select(x => $"{x.Option.Name} {x.Value}").ToList();
        var applied = notGiven.Where(x => !FromPreset(x)).Select(x => $"{x.Option.Name} {x.Value}");
        return $"settings: {(given.Count > 0 ? string.Join(", ", given) : "none given")}; "
            + (fromPreset.Count > 0 ? $"from --preset {effective.Preset}: {string.Join(", ", fromPreset)}; " : "")
            + $"defaults: {string.Join(", ", applied)}";
    }

    /// <summary>Whether the user gave <paramref name="option"/> on the command line.</summary>
    public bool Given(ParseResult p, Option option) => p.GetResult(option) is { Implicit: false };

    /// <summary>The settings whose defaults differ between <paramref name="a"/> and <paramref name="b"/>, as "--option value" (b's value).</summary>
    public string Differences(ForecastOptions a, ForecastOptions b)
    {
        var da = Defaults(a).ToDictionary(x => x.Option.Name, x => x.Value);
        return string.Join(", ", Defaults(b).Where(x => da[x.Option.Name] != x.Value).Select(x => $"{x.Option.Name} {x.Value}"));
    }

    /// <summary>Each option with the value it takes from <paramref name="o"/>, in words.</summary>
    public IEnumerable<(Option Option, string Value)> Defaults(ForecastOptions o)
    {
        var c = CultureInfo.InvariantCulture;
        static string List(string[]? xs, string none) => xs is null || xs.Length == 0 ? none : string.Join(",", xs);
        yield return (Target, List(o.Targets, "every numeric column"));
        yield return (TimeCol, o.TimeColumn ?? "detected");
        yield return (IdCol, o.IdColumn ?? "none (one series)");
        yield return (Features, List(o.Features, "none"));
        yield return (FutureFeatures, List(o.FutureFeatures, "none"));
        yield return (CalendarFeatures, o.Calendar.Length == 0 ? "none" : o.Calendar);
        yield return (Fill, o.Fill == "none" ? "none (a missing cell is an error)" : o.Fill);
        yield return (Sep, o.Separator ?? "detected");
        yield return (Decimal, o.Decimal ?? "detected");
        yield return (TimeFormat, o.TimeFormat ?? "detected");
        yield return (FillGaps, o.Gaps == "fill" ? "on" : "off");
        yield return (AllowGaps, o.Gaps == "keep" ? "on" : o.Gaps == "error" ? "off (a gap is an error)" : "off");
        yield return (Lookback, o.Lookback.ToString(c));
        yield return (Horizon, o.Horizon.ToString(c));
        yield return (Split, o.Split);
        yield return (Scaler, o.Scaler);
        yield return (InstanceNorm, o.InstanceNorm ? "on" : "off");
        yield return (Norm, o.Normalization);
        yield return (Preset, o.Preset ?? "none");
        yield return (ChannelIndependent, o.ChannelIndependent ? "on" : "off");
        yield return (WholeWindows, o.WholeWindows ? "on" : "off");
        yield return (Season, o.Season > 0 ? o.Season.ToString(c) : "detected");
        yield return (Cell, o.Cell);
        yield return (Heads, Math.Max(Cells.CellRegistry.FromText(o.Cell).Params.Heads, 1).ToString(c));
        yield return (ProjSize, Cells.CellRegistry.FromText(o.Cell).Options["proj_size"] ?? "0 (off)");
        yield return (Hidden, o.Hidden.ToString(c));
        yield return (Layers, o.Layers.ToString(c));
        yield return (Gmu, o.Gmu > 0 ? o.Gmu.ToString(c) : "0 (none)");
        yield return (GmuMemory, o.GmuMemory is { } mem ? mem.ToString(c) : "the last layer");
        yield return (Patch, o.Patch > 1 ? o.Patch.ToString(c) : "off");
        yield return (Decoder, o.Decoder);
        yield return (SharedDecoder, o.SharedDecoder ? "on" : "off");
        yield return (Stateful, o.Stateful ? "on" : "off (a window model)");
        yield return (Chunk, o.Chunk > 0 ? o.Chunk.ToString(c) : "the longer of the lookback and two seasons");
        yield return (Dropout, o.Dropout.ToString(c));
        yield return (Epochs, o.Epochs.ToString(c));
        yield return (Batch, o.Batch.ToString(c));
        yield return (Lr, o.LearningRate.ToString(c));
        yield return (WeightDecay, o.WeightDecay.ToString(c));
        yield return (Betas, $"{o.Beta1.ToString(c)},{o.Beta2.ToString(c)}");
        yield return (Loss, o.Loss);
        yield return (Samples, o.Samples.ToString(c));
        yield return (Quantiles, o.Quantiles.Length > 0 ? string.Join(",", o.Quantiles.Select(q => q.ToString(c))) : "0.1,0.5,0.9 with --loss quantile");
        yield return (Clip, o.ClipNorm > 0 ? o.ClipNorm.ToString(c) : "off");
        yield return (Schedule, o.Schedule);
        yield return (Patience, o.Patience > 0 ? o.Patience.ToString(c) : "off");
        yield return (Select, o.Select);
        yield return (Seed, o.Seed.ToString(c));
        yield return (OnNan, o.OnNan == Training.NanPolicy.Skip ? "skip" : "stop");
    }

    /// <summary>
    /// The baseline with every option the user gave applied and checked as a whole; <paramref name="warn"/>
    /// receives a line for each legal but lossy combination.
    /// </summary>
    public ForecastOptions Apply(ParseResult p, ForecastOptions o, Action<string> warn)
    {
        // A preset is the starting point: every option given beside it overrides it.
        if (p.GetValue(Preset) is { } preset)
        {
            try { o = ForecastPresets.Apply(preset.Trim().ToLowerInvariant(), o); }
            catch (ArgumentException bad) { throw new GyreDataException($"--preset: {bad.Message}"); }
        }
        if (p.GetValue(Target) is { } target) o = o with { Targets = [.. CsvOptions.ParseColumnList(target)] };
        if (p.GetValue(TimeCol) is { } time) o = o with { TimeColumn = time };
        if (p.GetValue(IdCol) is { } id) o = o with { IdColumn = id };
        if (p.GetValue(Features) is { } f) o = o with { Features = [.. CsvOptions.ParseColumnList(f)] };
        if (p.GetValue(FutureFeatures) is { } ff) o = o with { FutureFeatures = [.. CsvOptions.ParseColumnList(ff)] };
        if (p.GetValue(CalendarFeatures) is { } cal) o = o with { Calendar = cal };
        if (p.GetValue(Fill) is { } fill) o = o with { Fill = fill };
        if (p.GetValue(Sep) is { } sep) o = o with { Separator = sep };
        if (p.GetValue(Decimal) is { } mark) o = o with { Decimal = mark };
        if (p.GetValue(TimeFormat) is { } tf) o = o with { TimeFormat = tf };
        if (p.GetValue(FillGaps) == true && p.GetValue(AllowGaps) == true)
            throw new GyreDataException("--fill-gaps and --allow-gaps exclude each other");
        if (p.GetValue(FillGaps) == true) o = o with { Gaps = "fill" };
        if (p.GetValue(AllowGaps) == true) o = o with { Gaps = "keep" };
        if (p.GetValue(Lookback) is { } l) o = o with { Lookback = l };
        if (p.GetValue(Horizon) is { } n) o = o with { Horizon = n };
        if (p.GetValue(Split) is { } split) o = o with { Split = split };
        if (p.GetValue(Scaler) is { } scaler) o = o with { Scaler = scaler };
        if (p.GetValue(InstanceNorm) is { } revin) o = o with { InstanceNorm = revin, Norm = revin ? "revin" : o.Norm == "revin" ? "none" : o.Norm };
        if (p.GetValue(Norm) is { } norm)
        {
            if (p.GetValue(InstanceNorm) == true && norm.ToLowerInvariant() != "revin")
                throw new GyreDataException($"--instance-norm means --norm revin, not --norm {norm}: give one of them");
            o = o with { Norm = norm.Trim().ToLowerInvariant(), InstanceNorm = norm.Trim().ToLowerInvariant() == "revin" };
        }
        if (p.GetValue(ChannelIndependent) is { } ci) o = o with { ChannelIndependent = ci };
        if (p.GetValue(WholeWindows) is { } whole) o = o with { WholeWindows = whole };
        if (p.GetValue(Season) is { } season) o = o with { Season = season };
        if (p.GetValue(Cell) is { } cell) o = o with { Cell = WithCellOption(cell.Trim().ToLowerInvariant(), null, "", "--cell") };
        if (p.GetValue(Heads) is { } heads) o = o with { Cell = WithCellOption(o.Cell, "heads", heads.ToString(CultureInfo.InvariantCulture), "--heads") };
        if (p.GetValue(ProjSize) is { } proj) o = o with { Cell = WithCellOption(o.Cell, "proj_size", proj.ToString(CultureInfo.InvariantCulture), "--proj-size") };
        if (p.GetValue(Hidden) is { } h) o = o with { Hidden = h };
        if (p.GetValue(Layers) is { } k) o = o with { Layers = k };
        if (p.GetValue(Gmu) is { } gmu) o = o with { Gmu = gmu };
        if (p.GetValue(GmuMemory) is { } mem) o = o with { GmuMemory = mem };
        if (p.GetValue(Patch) is { } patch) o = o with { Patch = patch };
        if (p.GetValue(Decoder) is { } dec) o = o with { Decoder = dec.ToLowerInvariant() };
        if (p.GetValue(SharedDecoder) is { } shared) o = o with { SharedDecoder = shared };
        if (p.GetValue(Stateful) is { } stateful) o = o with { Stateful = stateful };
        if (p.GetValue(Chunk) is { } chunk)
        {
            if (!o.Stateful) throw new GyreDataException("--chunk sets the truncated-backpropagation length of a --stateful forecaster: give --stateful too");
            o = o with { Chunk = chunk };
        }
        if (p.GetValue(Dropout) is { } drop) o = o with { Dropout = drop };
        if (p.GetValue(Epochs) is { } e) o = o with { Epochs = e };
        if (p.GetValue(Batch) is { } b) o = o with { Batch = b };
        if (p.GetValue(Lr) is { } lr) o = o with { LearningRate = lr };
        if (p.GetValue(WeightDecay) is { } wd) o = o with { WeightDecay = wd };
        if (p.GetValue(Betas) is { } betas) { var (b1, b2) = ParseBetas(betas); o = o with { Beta1 = b1, Beta2 = b2 }; }
        if (p.GetValue(Loss) is { } loss) o = o with { Loss = loss.ToLowerInvariant() };
        if (p.GetValue(Samples) is { } samples) o = o with { Samples = samples };
        if (p.GetValue(Quantiles) is { } qs) o = o with { Quantiles = ParseQuantiles(qs) };
        if (p.GetValue(Clip) is { } clip) o = o with { ClipNorm = clip };
        if (p.GetValue(Schedule) is { } sched) o = o with { Schedule = sched };
        if (p.GetValue(Patience) is { } pat) o = o with { Patience = pat };
        if (p.GetValue(Select) is { } select) o = o with { Select = select };
        if (p.GetValue(Seed) is { } seed) o = o with { Seed = seed };
        if (p.GetValue(OnNan) is not null) o = o with { OnNan = UserInput.NanPolicy(p, OnNan) };
        if (o.Loss == "quantile" && o.Quantiles.Length == 0) o = o with { Quantiles = [0.1f, 0.5f, 0.9f] };
        // The preset's shared decoder yields to options given beside it that rule sharing out (another cell, more layers, future features).
        if (o.SharedDecoder && !o.CanShareDecoder && p.GetValue(SharedDecoder) is null) o = o with { SharedDecoder = false };
        if (o.Patch > o.Lookback)
            throw new GyreDataException($"--patch {o.Patch} is longer than --lookback {o.Lookback}");
        o.Validate();
        if (o.Patch > 1 && o.Lookback % o.Patch != 0)
            warn($"--patch {o.Patch} does not divide --lookback {o.Lookback}: each window uses only its last {o.Lookback / o.Patch * o.Patch} steps ({o.Lookback % o.Patch} dropped)");
        if (o.Dropout > 0 && o.Layers == 1 && o.Decoder != "pmf")
            warn($"--dropout {o.Dropout} acts between recurrent layers (and on the pmf decoder's output) and has no effect with --layers 1 and --decoder {o.Decoder}");
        if (o.Quantiles.Length > 0 && !o.Quantiles.Any(q => Math.Abs(q - 0.5f) < 1e-6f))
            warn($"--quantiles {string.Join(',', o.Quantiles)} has no 0.5: the point forecast uses the level nearest it");
        return o;
    }

    /// <summary>The canonical text of <paramref name="cell"/> with option <paramref name="key"/> set when not null (a one-line
    /// error naming <paramref name="option"/>).</summary>
    private static string WithCellOption(string cell, string? key, string value, string option)
    {
        try
        {
            var def = Cells.CellRegistry.FromText(cell);
            if (key is null) return def.ToString();
            var pairs = def.Options.Keys.Where(k => k != key).Select(k => KeyValuePair.Create(k, def.Options[k]!)).Append(KeyValuePair.Create(key, value));
            return Cells.CellRegistry.Get(def.Name, Cells.CellOptions.From(pairs)).ToString();
        }
        catch (ArgumentException e)
        {
            throw new GyreDataException($"{option}: {e.Message}");
        }
    }

    /// <summary>"β1,β2", each in [0, 1); anything else is a one-line error naming --betas.</summary>
    internal static (float Beta1, float Beta2) ParseBetas(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = parts.Select(s => float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var b) && b >= 0 && b < 1 ? b : float.NaN).ToArray();
        if (values.Length != 2 || values.Any(float.IsNaN))
            throw new GyreDataException($"--betas must be two numbers in [0, 1) as β1,β2, e.g. 0.9,0.999 (got '{text}')");
        return (values[0], values[1]);
    }

    private static float[] ParseQuantiles(string text) =>
        CsvOptions.ParseColumnList(text).Select(s => float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var q)
            ? q : throw new GyreDataException($"--quantiles: '{s}' is not a number")).ToArray();
}
