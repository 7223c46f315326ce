namespace Gyre.Cells;

/// <summary>The cells that existed before the registry, kept so code written against the enum still
/// compiles; every kind is a registry name (<see cref="CellRegistry.Name(CellKind)"/>). New cells have no
/// kind: use <see cref="CellDefinition"/> and <see cref="CellRegistry.Get(string, CellOptions?)"/>.</summary>
public enum CellKind
{
    /// <summary>Elman RNN with tanh ("rnn_tanh").</summary>
    RnnTanh,
    /// <summary>Elman RNN with ReLU ("rnn_relu").</summary>
    RnnRelu,
    /// <summary>GRU, PyTorch convention ("gru").</summary>
    Gru,
    /// <summary>LSTM, PyTorch convention ("lstm").</summary>
    Lstm,
    /// <summary>GRU with the reset gate before the recurrent product ("gru_reset_before").</summary>
    GruResetBefore,
}

/// <summary>
/// The cell of an interop <see cref="IO.RecurrentSpec"/>: <see cref="IO.RecurrentSpec.CellName"/> when set, else the
/// spec's first-cell fields (<see cref="IO.RecurrentSpec.Kind"/> and <see cref="IO.RecurrentSpec.ResetBefore"/>),
/// which files written before the registry carry.
/// </summary>
public static class SpecCells
{
    /// <summary>The cell a spec describes.</summary>
    public static CellDefinition Of(IO.RecurrentSpec spec) =>
        spec.CellName is { } name ? CellRegistry.Get(name, CellOptions.Parse(spec.CellOptions))
        : spec.Kind == IO.RecurrentKind.Lstm ? new LstmDefinition()
        : spec.ResetBefore ? new GruResetBeforeDefinition() : new GruDefinition();

    /// <summary>A spec for <paramref name="cell"/> (first cells through Kind / ResetBefore, so such specs equal and
    /// serialise as before; any other cell by name and options).</summary>
    public static IO.RecurrentSpec For(CellDefinition cell, int inputSize, int hiddenSize, int numLayers, bool bidirectional,
        bool bias, bool batchFirst) => (cell.Options.IsEmpty ? cell.Name : "") switch
        {
            "gru" => new(IO.RecurrentKind.Gru, inputSize, hiddenSize, numLayers, bidirectional, bias, batchFirst),
            "gru_reset_before" => new(IO.RecurrentKind.Gru, inputSize, hiddenSize, numLayers, bidirectional, bias, batchFirst) { ResetBefore = true },
            "lstm" => new(IO.RecurrentKind.Lstm, inputSize, hiddenSize, numLayers, bidirectional, bias, batchFirst),
            _ => new(IO.RecurrentKind.Gru, inputSize, hiddenSize, numLayers, bidirectional, bias, batchFirst)
            {
                CellName = cell.Name,
                CellOptions = cell.Options.IsEmpty ? null : cell.Options.ToString(),
            },
        };

    /// <summary>The one-line error for a spec whose first-cell fields contradict each other, or null.</summary>
    public static string? Inconsistency(IO.RecurrentSpec spec) =>
        spec.CellName is null && spec.ResetBefore && spec.Kind != IO.RecurrentKind.Gru ? "ResetBefore applies to GRU only" : null;

    /// <summary>Parses the <see cref="IO.RecurrentKind"/> names "gru" / "lstm" (case-insensitive).</summary>
    public static IO.RecurrentKind ParseKind(string kind) => kind.ToLowerInvariant() switch
    {
        "gru" => IO.RecurrentKind.Gru,
        "lstm" => IO.RecurrentKind.Lstm,
        _ => throw new ArgumentException($"unknown recurrent kind '{kind}' (expected gru or lstm)"),
    };
}
