using Gyre.Cells;

namespace Gyre.Models;

/// <summary>
/// Architecture of a <see cref="SequenceModel"/>: input transform → recurrent encoder → pooling → head
/// (stored as JSON in the model file). Dimensions: F input features, E projected width, H hidden,
/// K layers, D directions, A attention units, O outputs.
/// </summary>
public sealed record ModelSpec
{
    /// <summary>F: features per time step.</summary>
    public int InputSize { get; init; }
    /// <summary>"none", "linear" (a per-step Linear F → E before the encoder) or "conv" (convolution blocks F → E → … → E).</summary>
    public string Input { get; init; } = "none";
    /// <summary>E for Input = "linear" or "conv" (0: H).</summary>
    public int InputProjection { get; init; }
    /// <summary>Kernel widths of the convolution blocks for Input = "conv", first to last (null: 8, 5, 3).</summary>
    public int[]? ConvKernels { get; init; }
    /// <summary>Any cell the registry knows: "name" or "name(k=v,…)" (gru, lstm, …; <see cref="CellRegistry.Names"/>).</summary>
    /// <summary>Kernel widths of a convolutional path beside the recurrent one, pooled by the mean and joined before the head (null: none).</summary>
    public int[]? ConvBranch { get; init; }
    /// <summary>E′: channels of the convolutional path (0: H).</summary>
    public int ConvBranchWidth { get; init; }
    public string Cell { get; init; } = Cells.CellRegistry.Default;
    public int Hidden { get; init; } = 64;
    public int Layers { get; init; } = 1;
    public bool Bidirectional { get; init; }
    /// <summary>Dropout between recurrent layers (training only).</summary>
    public float Dropout { get; init; }
    /// <summary>G: gated memory units (SambaY) after the recurrent layers, y_g = σ(W_g·y_{g−1} + b_g) ⊙ m (0: none).</summary>
    public int Gmu { get; init; }
    /// <summary>L: the recurrent layer (0-based) whose output the GMUs read as m (null: the last).</summary>
    public int? GmuMemory { get; init; }
    /// <summary>"last", "mean", "max" or "attention".</summary>
    public string Pool { get; init; } = "last";
    /// <summary>A for attention pooling (0: H).</summary>
    public int AttentionSize { get; init; }
    /// <summary>"linear" (regression), "softmax" or "svm" (classification).</summary>
    public string Head { get; init; } = "softmax";
    /// <summary>O: classes for softmax / svm, targets for linear.</summary>
    public int Outputs { get; init; }
    /// <summary>Regression loss of the linear head: mse, mae, huber.</summary>
    public string Loss { get; init; } = "mse";
    /// <summary>ε of the softmax head's label-smoothed cross-entropy (0: none; <see cref="SoftmaxHead"/>).</summary>
    public float LabelSmoothing { get; init; }
    /// <summary>Per-class loss weights (classification heads; null: all 1).</summary>
    public float[]? ClassWeights { get; init; }
    public ulong Seed { get; init; }

    /// <summary>One clear line for the first inconsistent setting.</summary>
    public void Validate()
    {
        if (InputSize <= 0) throw new ArgumentException($"model input size must be positive, got {InputSize}");
        if (Hidden <= 0) throw new ArgumentException($"hidden must be positive, got {Hidden}");
        if (Layers <= 0) throw new ArgumentException($"layers must be positive, got {Layers}");
        if (Dropout is < 0f or >= 1f || float.IsNaN(Dropout)) throw new ArgumentException($"dropout must be in [0, 1), got {Dropout}");
        if (Gmu is < 0 or > 64) throw new ArgumentException($"gmu layers must be in 0..64, got {Gmu}");
        if (GmuMemory is { } mem)
        {
            if (Gmu == 0) throw new ArgumentException($"a gmu memory layer ({mem}) needs at least one gmu layer");
            if (mem < 0 || mem >= Layers) throw new ArgumentException($"the gmu memory layer must be a recurrent layer in 0..{Layers - 1} (0-based), got {mem}");
        }
        if (!Models.InputProjection.Names.Contains(Input)) throw new ArgumentException($"unknown input transform '{Input}' (known: {string.Join(", ", Models.InputProjection.Names)})");
        if (ConvKernels != null)
        {
            if (Input != "conv") throw new ArgumentException($"convolution kernels apply to the conv input transform, not '{Input}'");
            if (ConvKernels.Length is < 1 or > 8 || ConvKernels.Any(k => k is < 1 or > 64))
                throw new ArgumentException($"convolution kernels must be 1 to 8 widths in 1..64, got {string.Join(",", ConvKernels)}");
        }
        if (ConvBranch != null && (ConvBranch.Length is < 1 or > 8 || ConvBranch.Any(k => k is < 1 or > 64)))
            throw new ArgumentException($"convolution branch kernels must be 1 to 8 widths in 1..64, got {string.Join(",", ConvBranch)}");
        if (ConvBranchWidth < 0) throw new ArgumentException($"convolution branch width must be ≥ 0, got {ConvBranchWidth}");
        CellRegistry.FromText(Cell);
        if (!Pooling.Names.Contains(Pool)) throw new ArgumentException($"unknown pooling '{Pool}' (known: {string.Join(", ", Pooling.Names)})");
        if (!Models.Head.Names.Contains(Head)) throw new ArgumentException($"unknown head '{Head}' (known: {string.Join(", ", Models.Head.Names)})");
        if (Outputs <= 0) throw new ArgumentException($"outputs must be positive, got {Outputs}");
        if (Head != "linear" && Outputs < 2) throw new ArgumentException($"a {Head} head needs at least 2 classes, got {Outputs}");
        if (LabelSmoothing != 0f && (Head != "softmax" || !(LabelSmoothing > 0f && LabelSmoothing < 1f)))
            throw new ArgumentException($"label smoothing needs a softmax head and a value in (0, 1), got {LabelSmoothing} with a {Head} head");
        if (ClassWeights != null)
        {
            if (Head == "linear") throw new ArgumentException("class weights apply to classification heads only");
            if (ClassWeights.Length != Outputs) throw new ArgumentException($"{ClassWeights.Length} class weights for {Outputs} classes");
            if (ClassWeights.Any(w => !(w >= 0f) || float.IsInfinity(w))) throw new ArgumentException("class weights must be finite and ≥ 0");
        }
    }
}
