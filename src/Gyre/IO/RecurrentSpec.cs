using Gyre.Cells;
using Gyre.Tensors;

namespace Gyre.IO;

/// <summary>The recurrent cell family of a stack.</summary>
public enum RecurrentKind
{
    /// <summary>GRU, PyTorch gate order r, z, n.</summary>
    Gru,
    /// <summary>LSTM, PyTorch gate order i, f, g, o.</summary>
    Lstm,
}

/// <summary>
/// Describes a stack of recurrent layers whose parameters live in a PyTorch-layout state dict, so
/// interop code (ONNX, Keras) can work without the layer classes. Letters: I input size, H hidden
/// size, L layers, D directions (1 or 2), G gates (3 for GRU, 4 for LSTM), I_k = I for k = 0 else D·H.
/// Parameter names per layer k and direction suffix s ("" or "_reverse"):
/// <c>weight_ih_l{k}{s}</c> [G·H, I_k], <c>weight_hh_l{k}{s}</c> [G·H, H],
/// <c>bias_ih_l{k}{s}</c> [G·H], <c>bias_hh_l{k}{s}</c> [G·H] (biases only when <see cref="Bias"/>).
/// GRU (reset after, PyTorch / cuDNN / ONNX linear_before_reset=1):
/// r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
/// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.
/// With <see cref="ResetBefore"/> the candidate is n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
/// (ONNX linear_before_reset=0, Keras reset_after=False).
/// LSTM: i, f, o = σ(·), g = tanh(W_ig x + b_ig + W_hg h + b_hg), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').
/// </summary>
/// <param name="Kind">GRU or LSTM.</param>
/// <param name="InputSize">I, features per time step of the first layer.</param>
/// <param name="HiddenSize">H, state size of every layer and direction.</param>
/// <param name="NumLayers">L, stacked layers.</param>
/// <param name="Bidirectional">D = 2 when true: each layer also runs backwards in time and the two
/// outputs are concatenated (forward ‖ reverse) along features.</param>
/// <param name="Bias">Whether the bias_ih / bias_hh tensors exist (absent means zero).</param>
/// <param name="BatchFirst">Sequences are [B, T, I] when true, [T, B, I] when false.</param>
public sealed record RecurrentSpec(
    RecurrentKind Kind,
    int InputSize,
    int HiddenSize,
    int NumLayers = 1,
    bool Bidirectional = false,
    bool Bias = true,
    bool BatchFirst = true)
{
    /// <summary>GRU only: the candidate uses the reset-before variant
    /// n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn). False is PyTorch's GRU.</summary>
    public bool ResetBefore { get; init; }

    /// <summary>Unidirectional stacks only: every layer runs backwards in time (ONNX direction
    /// "reverse"); parameters keep the plain (no "_reverse") names. PyTorch has no such module.</summary>
    public bool Reverse { get; init; }

    /// <summary>A registered cell by name (<see cref="CellRegistry"/>) for cells other than GRU, reset-before GRU
    /// and LSTM, which <see cref="Kind"/> and <see cref="ResetBefore"/> describe; null for those.</summary>
    public string? CellName { get; init; }

    /// <summary>The options of <see cref="CellName"/> as "k=v,..." (<see cref="Cells.CellOptions"/>), or null.</summary>
    public string? CellOptions { get; init; }

    /// <summary>The cell this spec describes.</summary>
    public CellDefinition Cell() => SpecCells.Of(this);

    /// <summary>D: 2 when bidirectional, else 1.</summary>
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>G: the cell's gate blocks (3 for GRU, 4 for LSTM).</summary>
    public int Gates => Cell().Gates;

    /// <summary>I_k: input features of layer k (I for k = 0, else D·H).</summary>
    public int LayerInputSize(int layer) => layer == 0 ? InputSize : Directions * Cell().StateWidth(0, HiddenSize);

    /// <summary>PyTorch's direction suffix: "" for forward (d = 0), "_reverse" for d = 1.</summary>
    public static string Suffix(int direction) => direction == 0 ? "" : "_reverse";

    /// <summary>The family name: the cell's ONNX operator in lower case (one name for both GRUs), else the cell name.</summary>
    public string KindName => Cell() is var c && c.Onnx is { } onnx ? onnx.OpType.ToLowerInvariant() : Cell().Name;

    /// <summary>Parses a <see cref="RecurrentKind"/> name (case-insensitive); see <see cref="SpecCells.ParseKind"/>.</summary>
    public static RecurrentKind ParseKind(string kind) => SpecCells.ParseKind(kind);

    /// <summary>Every parameter name with its expected shape, in layer, direction, ih/hh order (the cell's layout).</summary>
    public IEnumerable<(string Name, int[] Shape)> Parameters() =>
        Layers.RecurrentLayer.Layout(Cell(), InputSize, HiddenSize, NumLayers, Directions, Bias);

    /// <summary>Throws a one-line <see cref="InvalidDataException"/> naming <paramref name="source"/> and the
    /// tensor when the spec is inconsistent or a parameter is missing or has the wrong shape.</summary>
    public void Validate(IReadOnlyDictionary<string, Tensor> stateDict, string source)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        if (InputSize <= 0 || HiddenSize <= 0 || NumLayers <= 0)
            throw new InvalidDataException($"{source}: input size {InputSize}, hidden size {HiddenSize} and layers {NumLayers} must be positive");
        if (SpecCells.Inconsistency(this) is { } problem)
            throw new InvalidDataException($"{source}: {problem}");
        if (Reverse && Bidirectional)
            throw new InvalidDataException($"{source}: Reverse applies to unidirectional stacks only");
        foreach (var (name, shape) in Parameters())
        {
            if (!stateDict.TryGetValue(name, out var t))
                throw new InvalidDataException($"{source}: missing tensor '{name}' (expected shape {Tensor.ShapeString(shape)})");
            if (!t.HasShape(shape))
                throw new InvalidDataException($"{source}: tensor '{name}' has shape {Tensor.ShapeString(t.Shape)}, expected {Tensor.ShapeString(shape)}");
        }
    }
}
