using nietras.SeparatedValues;
using Gyre.Data;

namespace Gyre.Classification;

/// <summary>
/// Settings of <see cref="SequenceClassifier.Fit"/>: data preparation, the network (a <see cref="Models.ModelSpec"/>)
/// and training (a <see cref="Training.TrainerOptions"/>). The defaults are the ones the bundled benchmarks use.
/// </summary>
public sealed record ClassifierOptions
{
    /// <summary>Classification (class labels) or regression (one numeric target per sequence).</summary>
    public LabelKind Task { get; init; } = LabelKind.Classification;
    /// <summary>Long-format CSV: case id column (required for CSV data).</summary>
    public string? IdColumn { get; init; }
    /// <summary>Long-format CSV: label (or regression target) column.</summary>
    public string? LabelColumn { get; init; }
    /// <summary>Long-format CSV: time/step column that orders the rows of a case (default: file order).</summary>
    public string? TimeColumn { get; init; }
    /// <summary>Long-format CSV: feature columns (default: every other column).</summary>
    public string[] Features { get; init; } = [];
    /// <summary>auto | series | global | none (see <see cref="SequenceNormalization"/>).</summary>
    public string Normalize { get; init; } = "series+stats";
    /// <summary>Steps per input patch P (each encoder step sees P consecutive values of every channel); 0 = auto.</summary>
    public int Patch { get; init; }
    /// <summary>Missing values in the data files: none (error), ffill or linear.</summary>
    public string Fill { get; init; } = "none";
    /// <summary>Fraction of the training cases held out (stratified) for validation and early stopping; 0 = none.</summary>
    public double ValidFraction { get; init; }
    /// <summary>Input transform before the encoder: none, linear (a learned projection of each patch to the hidden width) or
    /// conv (convolution blocks over the patches, <see cref="Models.ConvolutionBlock"/>, H channels each).</summary>
    public string Input { get; init; } = "none";
    /// <summary>Kernel widths of the conv input transform's blocks, first to last (null: 8, 5, 3).</summary>
    public int[]? ConvKernels { get; init; }
    /// <summary>Kernel widths of a convolutional path beside the encoder (H channels per block, mean over time, joined
    /// to the pooled state before the head: <see cref="Models.ModelSpec.ConvBranch"/>); null or empty = none.</summary>
    public int[]? ConvBranch { get; init; }
    public string Cell { get; init; } = Cells.CellRegistry.Default;
    public int Hidden { get; init; } = 64;
    public int Layers { get; init; } = 1;
    public bool Bidirectional { get; init; }
    public float Dropout { get; init; }
    /// <summary>Gated memory units after the recurrent layers (<see cref="Models.ModelSpec.Gmu"/>; 0: none).</summary>
    public int Gmu { get; init; }
    /// <summary>The recurrent layer (0-based) the GMUs read their memory from (null: the last).</summary>
    public int? GmuMemory { get; init; }
    /// <summary>last | mean | max | attention.</summary>
    public string Pool { get; init; } = "max";
    /// <summary>softmax | svm for classification; regression always uses the linear head.</summary>
    public string Head { get; init; } = "softmax";
    /// <summary>ε of the label-smoothed cross-entropy of the softmax head (target (1 − ε)·onehot + ε/K); 0 = none.</summary>
    public float LabelSmoothing { get; init; }
    /// <summary>none | balanced (w_k = N / (K · N_k)).</summary>
    public string ClassWeights { get; init; } = "none";
    /// <summary>Augmented copies of each training case (<see cref="Augmentation"/>); −1 = auto (about 4000 sequences in all, at most 15 copies).</summary>
    public int Augment { get; init; } = -1;
    /// <summary>Slices of each case averaged with it at prediction time; −1 = auto (8 when training used augmented copies, else 0).</summary>
    public int TestAugment { get; init; } = -1;
    /// <summary>Maximum epochs; 0 = auto: about <see cref="StepBudget"/> optimizer steps, between <see cref="MinEpochs"/> and 500 epochs.</summary>
    public int Epochs { get; init; }
    /// <summary>Optimizer steps the auto epoch count aims at.</summary>
    public const int StepBudget = 6000;
    /// <summary>
    /// Fewest auto epochs. The step budget suits small sets (ArrowHead's 36 cases: 167 epochs, converged; 9000 steps made
    /// two seeds of three worse), but a set of a few hundred cases or more fills an epoch with about 4000 augmented
    /// sequences and 6000 steps give it only about 23 passes: PLAID's training loss was still falling every epoch there,
    /// and 34 epochs took it from 0.929 / 0.937 / 0.926 to 0.935 / 0.931 / 0.933 (seeds 1–3).
    /// </summary>
    public const int MinEpochs = 34;
    public int Batch { get; init; } = 16;
    public float LearningRate { get; init; } = 1e-2f;
    /// <summary>Share of the epochs spent ramping the learning rate up linearly from lr/(W + 1) (0 = none). A tenth by
    /// default: AdamW's first steps at the full rate of 0.01 throw a small network into a different region with every
    /// seed, and on few training cases that spread, not the mean, decides whether it beats 1-NN.</summary>
    public double Warmup { get; init; } = 0.1;
    public float WeightDecay { get; init; } = 1e-4f;
    /// <summary>AdamW's β1 and β2 (PyTorch's betas).</summary>
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.999f;
    public float ClipNorm { get; init; } = 1f;
    public int Patience { get; init; } = 20;
    public ulong Seed { get; init; } = 1;
    /// <summary>What a batch with a non-finite loss or gradient does (a property of the run, not of the model: not stored).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Training.NanPolicy OnNan { get; init; }
    /// <summary>Worker threads for the baselines (0 = all cores); results do not depend on it, so model files leave it out.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int Threads { get; init; }

    /// <summary>One clear line for the first bad setting.</summary>
    public void Validate()
    {
        // The options are the user's words: every problem is bad input (exit 2), named by its option.
        SequenceNormalizer.Parse(Normalize);
        if (!(Beta1 >= 0 && Beta1 < 1) || !(Beta2 >= 0 && Beta2 < 1)) throw new GyreDataException($"--betas must lie in [0, 1) (got {Beta1}, {Beta2})");
        try { Cells.CellRegistry.Get(Cell); }
        catch (ArgumentException e) { throw new GyreDataException($"--cell: {e.Message}"); }
        if (!Models.Pooling.Names.Contains(Pool)) throw new GyreDataException($"--pool: unknown pooling '{Pool}' (known: {string.Join(", ", Models.Pooling.Names)})");
        if (!Models.InputProjection.Names.Contains(Input)) throw new GyreDataException($"--input: unknown input transform '{Input}' (known: {string.Join(", ", Models.InputProjection.Names)})");
        if (ConvKernels != null)
        {
            if (Input != "conv") throw new GyreDataException($"--conv sets the kernels of --input conv, not of --input {Input}");
            if (ConvKernels.Length is < 1 or > 8 || ConvKernels.Any(k => k is < 1 or > 64))
                throw new GyreDataException($"--conv must list 1 to 8 kernel widths in 1..64, got {string.Join(",", ConvKernels)}");
        }
        if (ConvBranch is { Length: > 0 } && (ConvBranch.Length > 8 || ConvBranch.Any(k => k is < 1 or > 64)))
            throw new GyreDataException($"--conv-branch must list 1 to 8 kernel widths in 1..64, got {string.Join(",", ConvBranch)}");
        if (Patch < 0) throw new GyreDataException($"--patch must be ≥ 0, got {Patch}");
        if (Fill is not ("none" or "ffill" or "linear")) throw new GyreDataException($"--fill: unknown mode '{Fill}' (expected none, ffill or linear)");
        if (!(ValidFraction >= 0 && ValidFraction < 1)) throw new GyreDataException($"--valid must be in [0, 1), got {ValidFraction}");
        if (Head is not ("softmax" or "svm")) throw new GyreDataException($"--head: unknown head '{Head}' (expected softmax or svm)");
        if (ClassWeights is not ("none" or "balanced")) throw new GyreDataException($"--class-weights: unknown mode '{ClassWeights}' (expected none or balanced)");
        if (Task == LabelKind.Regression && ClassWeights != "none") throw new GyreDataException("--class-weights applies to classification only");
        if (!(LabelSmoothing >= 0f && LabelSmoothing < 1f)) throw new GyreDataException($"--label-smoothing must be in [0, 1), got {LabelSmoothing}");
        if (LabelSmoothing > 0f && (Head != "softmax" || Task == LabelKind.Regression)) throw new GyreDataException("--label-smoothing applies to the softmax head of a classifier only");
        if (Hidden <= 0) throw new GyreDataException($"--hidden must be positive, got {Hidden}");
        if (Models.EncoderStack.Problem(Layers, Gmu, GmuMemory) is { } stack) throw new GyreDataException(stack);
        if (TestAugment < -1) throw new GyreDataException($"--test-augment must be ≥ 0, got {TestAugment}");
        if (Augment < -1) throw new GyreDataException($"--augment must be ≥ 0, got {Augment}");
        if (Epochs < 0) throw new GyreDataException($"--epochs must be ≥ 0, got {Epochs}");
        if (!(Warmup >= 0 && Warmup < 1)) throw new GyreDataException($"--warmup must be a share of the epochs in [0, 1), got {Warmup}");
        if (Batch <= 0) throw new GyreDataException($"--batch must be positive, got {Batch}");
        if (Threads < 0) throw new GyreDataException($"--threads must be ≥ 0, got {Threads}");
    }

    public FillMode FillMode => CsvOptions.ParseFill(Fill);

    /// <summary>
    /// Reads labelled (or, with <paramref name="requireLabels"/> false, unlabelled) sequences: a <c>.ts</c> file by its
    /// extension, anything else as a long-format CSV that needs <see cref="IdColumn"/> (and <see cref="LabelColumn"/>).
    /// </summary>
    public SequenceSet LoadData(string path, bool requireLabels = true)
    {
        if (!File.Exists(path)) throw new GyreDataException("file not found", path);
        if (path.EndsWith(".ts", StringComparison.OrdinalIgnoreCase)) return TsLoader.Load(path, FillMode, requireLabels);
        if (IdColumn is null) throw new GyreDataException("a CSV of sequences needs --id-col (one row per case and step) and --label-col", path);
        string? label = LabelColumn;
        if (label is null && requireLabels) throw new GyreDataException("a CSV of labelled sequences needs --label-col", path);
        if (!requireLabels && label is not null && !CsvHasColumn(path, label)) label = null;
        return LongCsvSequences.Load(path, new LongCsvOptions
        {
            IdColumn = IdColumn, LabelColumn = label, TimeColumn = TimeColumn, Features = Features, Task = Task, Fill = FillMode,
        });
    }

    private static bool CsvHasColumn(string path, string name)
    {
        using var reader = Sep.Reader(o => o with { Sep = new Sep(','), HasHeader = true, Unescape = true, Trim = SepTrim.All, DisableColCountCheck = true }).FromFile(path);
        return reader.Header.ColNames.Any(c => string.Equals(c, name, StringComparison.OrdinalIgnoreCase));
    }
}
