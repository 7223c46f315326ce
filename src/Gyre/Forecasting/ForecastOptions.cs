using Gyre.Data;

namespace Gyre.Forecasting;

/// <summary>
/// Everything a user chooses for a forecaster: data selection, model shape and training. Stored in the
/// model file, so eval/predict read data the same way training did.
/// </summary>
public sealed record ForecastOptions
{
    // ---- data
    public string? TimeColumn { get; init; }
    public string? IdColumn { get; init; }
    /// <summary>Target columns; null or ["all"] = every numeric column not otherwise used.</summary>
    public string[]? Targets { get; init; }
    public string[] Features { get; init; } = [];
    public string[] FutureFeatures { get; init; } = [];
    /// <summary>Calendar features added as known-future covariates: e.g. "hour,dow,month" ("" = none).</summary>
    public string Calendar { get; init; } = "";
    /// <summary>none | ffill | linear | mask.</summary>
    public string Fill { get; init; } = "none";
    /// <summary>Field separator (one character or tab/semicolon/…); null = detected from the header.</summary>
    public string? Separator { get; init; }
    /// <summary>Decimal mark "." or ","; null = detected.</summary>
    public string? Decimal { get; init; }
    /// <summary>Time format: null = detected; epoch, epoch-s, epoch-ms or a .NET custom format string.</summary>
    public string? TimeFormat { get; init; }
    /// <summary>Whole missing steps in the time index: keep (rows stay consecutive) | error | fill (with <see cref="Fill"/>).</summary>
    public string Gaps { get; init; } = "keep";
    public int Lookback { get; init; } = 24;
    public int Horizon { get; init; } = 12;
    /// <summary>Fractions "0.7,0.1,0.2" or row counts "8640,2880,2880".</summary>
    public string Split { get; init; } = "0.7,0.1,0.2";
    /// <summary>standard | robust | minmax | none, fitted on the training split.</summary>
    public string Scaler { get; init; } = "standard";
    /// <summary>Per-window reversible instance normalisation of the targets (RevIN); the same as <see cref="Norm"/> = "revin".</summary>
    public bool InstanceNorm { get; init; }
    /// <summary>
    /// Per-window normalisation of the target columns, undone on the forecast: "revin" (x − μ)/σ with the window's
    /// mean and standard deviation (RevIN), "last" x − x_L (the window's last value, as SegRNN), "none".
    /// Null: "revin" when <see cref="InstanceNorm"/> is set, else "none" (model files from before this option).
    /// </summary>
    public string? Norm { get; init; }

    /// <summary>The normalisation in force: <see cref="Norm"/>, or what <see cref="InstanceNorm"/> says when it is null.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Normalization => Norm ?? (InstanceNorm ? "revin" : "none");
    /// <summary>The preset the options started from (<see cref="ForecastPresets"/>), null for none; recorded for the model file.</summary>
    public string? Preset { get; init; }
    /// <summary>One shared model over each target column as its own series.</summary>
    public bool ChannelIndependent { get; init; }
    /// <summary>
    /// With <see cref="ChannelIndependent"/>: a training batch of B holds B time windows with all C of their channels
    /// (B·C single-channel rows, as SegRNN and PatchTST batch), so an epoch takes C times fewer, C times larger steps;
    /// off, a batch is B rows drawn on their own. Without channel independence a window carries its channels anyway.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool WholeWindows { get; init; }
    /// <summary>Season for seasonal naive and MASE; 0 = detect from the time step / autocorrelation.</summary>
    public int Season { get; init; }

    // ---- model
    /// <summary>The recurrent cell: a registry name, with options as name(k=v,…), e.g. "slstm(forget=exp,heads=4)".</summary>
    public string Cell { get; init; } = Cells.CellRegistry.Default;
    public int Hidden { get; init; } = 64;
    public int Layers { get; init; } = 1;
    /// <summary>G: gated memory units (SambaY) after the encoder's recurrent layers (0: none; not written then).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public int Gmu { get; init; }
    /// <summary>The encoder layer (0-based) the GMUs read as memory m (null: the last).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? GmuMemory { get; init; }
    public int Patch { get; init; }
    public string Decoder { get; init; } = "direct";
    /// <summary>pmf: the decoder step runs the encoder's GRU instead of a decoder layer of its own (SegRNN's design).</summary>
    public bool SharedDecoder { get; init; }

    /// <summary>Whether the other options allow <see cref="SharedDecoder"/>: pmf on one layer of a cell with a shared-state
    /// step (<see cref="Cells.CellDefinition.HasSharedStateStep"/>) over patches, an even H (the decoder input [pos ‖ chan]
    /// is then as wide as a segment embedding), no future features and no memory units.</summary>
    public bool CanShareDecoder => Decoder == "pmf" && HasSharedStateStep(Cell) && Layers == 1 && Patch > 1 && Hidden % 2 == 0
        && FutureFeatures.Length == 0 && Calendar.Length == 0 && Gmu == 0;

    /// <summary>Whether <paramref name="cell"/> names a registered cell with a shared-state step (false for a malformed or unknown cell).</summary>
    private static bool HasSharedStateStep(string cell)
    {
        try { return Cells.CellRegistry.FromText(cell).HasSharedStateStep; }
        catch (ArgumentException) { return false; }
    }
    public float Dropout { get; init; }

    /// <summary>
    /// A stateful forecaster: the encoder runs over each whole series, its states carried from step to step, and the
    /// head forecasts t+1..t+N from h_t at every step t (trained by truncated backpropagation through time over
    /// contiguous chunks, <see cref="Chunk"/>); a forecast reads the series from its start, and a served stream pays
    /// one recurrent step per observation. Window models (false) read the last <see cref="Lookback"/> rows from zero states.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool Stateful { get; init; }

    /// <summary>T: steps per truncated-backpropagation chunk of a <see cref="Stateful"/> forecaster (0: chosen from the
    /// data, <see cref="ChunkFor"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public int Chunk { get; init; }

    /// <summary>T for data of season <paramref name="season"/>: <see cref="Chunk"/>, or when it is 0 the longer of the
    /// lookback and two seasons, so a chunk's gradient spans at least what a window model reads and two cycles.</summary>
    public int ChunkFor(int season) => Chunk > 0 ? Chunk : Math.Max(Lookback, 2 * Math.Max(season, 1));

    /// <summary>Why these options cannot make a <see cref="Stateful"/> forecaster; null when they can (or it is not one).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string? StatefulProblem => !Stateful ? null
        : Patch > 1 ? "--stateful steps one row at a time: it takes no --patch"
        : Decoder != "direct" ? $"--stateful forecasts with the direct head from every step's h_t: it takes no --decoder {Decoder}"
        : Gmu > 0 ? "--stateful takes no --gmu (memory units read a whole window's outputs)"
        : Normalization == "revin" ? "--stateful follows the level in its head (--norm last) or not at all (--norm none): a window's mean and deviation (revin) do not exist for a stream"
        : Training.Distributions.IsDistribution(Training.Losses.Parse(Loss)) ? $"--stateful takes a point or quantile loss, not --loss {Loss}"
        : WholeWindows ? "--stateful batches its own streams (whole series cut into contiguous pieces): it takes no --whole-windows"
        : Chunk < 0 ? $"--chunk must be >= 0 (got {Chunk})"
        : null;

    // ---- training
    public int Epochs { get; init; } = 40;
    public int Batch { get; init; } = 32;
    public float LearningRate { get; init; } = 3e-3f;
    public float WeightDecay { get; init; } = 1e-4f;
    /// <summary>AdamW's β1 and β2 (PyTorch's betas).</summary>
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.999f;
    /// <summary>mse | mae | huber | quantile.</summary>
    public string Loss { get; init; } = "mse";
    public float[] Quantiles { get; init; } = [];
    /// <summary>Samples drawn per forecast value from a distribution loss's forecast, for its quantiles, intervals and CRPS.</summary>
    public int Samples { get; init; } = 100;
    /// <summary>Global gradient-norm clip (0 = off).</summary>
    public float ClipNorm { get; init; } = 1f;
    /// <summary>constant | cosine | plateau | exponential, with options as name(key=value,…) (<see cref="Training.ScheduleSpec"/>).</summary>
    public string Schedule { get; init; } = "cosine";
    /// <summary>Early-stopping patience in epochs on the validation loss (0 = off).</summary>
    public int Patience { get; init; } = 10;
    /// <summary>Which weights training ends with: best (the epoch of lowest validation loss) | soup (a greedy average of the
    /// best epochs' weights, <see cref="Training.CheckpointSelection.Soup"/>).</summary>
    public string Select { get; init; } = "best";
    public ulong Seed { get; init; }
    /// <summary>What a batch with a non-finite loss or gradient does (a property of the run, not of the model: not stored).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Training.NanPolicy OnNan { get; init; }

    /// <summary>Checks ranges and names; throws <see cref="GyreDataException"/> with a one-line message.</summary>
    /// <summary>A one-line error unless <paramref name="cell"/> names a registered cell whose options suit H units.</summary>
    public static void CheckCell(string cell, int hidden)
    {
        try
        {
            var def = Cells.CellRegistry.FromText(cell);
            Gyre.Layers.RecurrentLayer.Layout(def, 1, hidden, 1, 1, bias: true);
        }
        catch (ArgumentException e)
        {
            throw new GyreDataException($"--cell: {e.Message}");
        }
    }

    public void Validate()
    {
        WindowSet.CheckSizes(Lookback, Horizon);
        if (Hidden <= 0) throw new GyreDataException($"hidden must be > 0 (got {Hidden})");
        if (Layers <= 0) throw new GyreDataException($"layers must be > 0 (got {Layers})");
        if (Models.EncoderStack.Problem(Layers, Gmu, GmuMemory) is { } stack) throw new GyreDataException(stack);
        if (Epochs < 0) throw new GyreDataException($"epochs must be >= 0 (got {Epochs})");
        if (Batch <= 0) throw new GyreDataException($"batch must be > 0 (got {Batch})");
        if (!(LearningRate > 0)) throw new GyreDataException($"lr must be > 0 (got {LearningRate})");
        if (!(Beta1 >= 0 && Beta1 < 1) || !(Beta2 >= 0 && Beta2 < 1)) throw new GyreDataException($"betas must lie in [0, 1) (got {Beta1}, {Beta2})");
        if (Dropout is < 0 or >= 1) throw new GyreDataException($"dropout must be in [0, 1) (got {Dropout})");
        if (Patch < 0 || Patch > Lookback) throw new GyreDataException($"patch must be in 0..lookback (got {Patch})");
        CheckCell(Cell, Hidden);
        if (Decoder is not ("direct" or "recurrent" or "pmf")) throw new GyreDataException($"decoder must be direct, recurrent or pmf (got '{Decoder}')");
        if (SharedDecoder && !CanShareDecoder)
            throw new GyreDataException($"--shared-decoder needs --decoder pmf with --cell {string.Join(" or ", Cells.CellRegistry.All.Where(d => d.HasSharedStateStep))}, --layers 1, --patch, an even --hidden, no future features and no --gmu");
        if (Select is not ("best" or "soup")) throw new GyreDataException($"select must be best or soup (got '{Select}')");
        if (Norm is not (null or "revin" or "last" or "none")) throw new GyreDataException($"norm must be revin, last or none (got '{Norm}')");
        try
        {
            var loss = Training.Losses.Parse(Loss);
            if (loss == Training.LossKind.Quantile && Quantiles.Length == 0)
                throw new GyreDataException("the quantile loss needs --quantiles, e.g. 0.1,0.5,0.9");
            if (loss != Training.LossKind.Quantile && Quantiles.Length > 0)
                throw new GyreDataException("--quantiles needs --loss quantile");
            if (loss == Training.LossKind.NegBinomial && (Scaler != "none" || Normalization != "none"))
                throw new GyreDataException("--loss negbinomial models counts: give --scaler none --norm none (the targets must be counts >= 0)");
            if (Samples < 2) throw new GyreDataException($"samples must be >= 2 (got {Samples})");
            foreach (var q in Quantiles)
                if (!(q > 0 && q < 1)) throw new GyreDataException($"quantiles must lie in (0, 1) (got {q})");
            if (Quantiles.Zip(Quantiles.Skip(1)).Any(p => p.Second <= p.First))
                throw new GyreDataException("quantiles must be strictly increasing");
            Training.LearningRateSchedule.Parse(Schedule);
            Data.Scaler.ParseKind(Scaler);
            CsvOptions.ParseFill(Fill);
            CsvOptions.ParseGaps(Gaps);
            CsvOptions.ParseSeparator(Separator);
            CsvOptions.ParseDecimal(Decimal);
            if (StatefulProblem is { } stateful) throw new GyreDataException(stateful);
        }
        catch (ArgumentException e) { throw new GyreDataException(e.Message); }
    }
}
