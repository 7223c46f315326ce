namespace Gyre.Cells;

/// <summary>The recurrent cells the layer driver runs. Each has its equations in its own file.</summary>
public enum CellKind
{
    /// <summary>Elman RNN with tanh: h' = tanh(W_ih x + b_ih + W_hh h + b_hh). See <see cref="RnnCellMath"/>.</summary>
    RnnTanh,
    /// <summary>Elman RNN with ReLU. See <see cref="RnnCellMath"/>.</summary>
    RnnRelu,
    /// <summary>GRU, PyTorch convention. See <see cref="GruCellMath"/>.</summary>
    Gru,
    /// <summary>LSTM, PyTorch convention. See <see cref="LstmCellMath"/>.</summary>
    Lstm,
    /// <summary>GRU with the reset gate before the recurrent product (ONNX linear_before_reset = 0,
    /// Keras reset_after = False); PyTorch's GRU parameter names and shapes. See <see cref="GruResetBeforeCellMath"/>.</summary>
    GruResetBefore,
}

/// <summary>Per-kind constants and the registry by name.</summary>
public static class CellRegistry
{
    /// <summary>G: gate blocks stacked in weight_ih / weight_hh (rows = G·H).</summary>
    public static int Gates(CellKind kind) => kind switch
    {
        CellKind.Gru => GruCellMath.Gates,
        CellKind.GruResetBefore => GruResetBeforeCellMath.Gates,
        CellKind.Lstm => LstmCellMath.Gates,
        _ => RnnCellMath.Gates,
    };

    /// <summary>Floats per (row, hidden unit) each step keeps for backward.</summary>
    public static int SavedWidth(CellKind kind) => kind switch
    {
        CellKind.Gru => GruCellMath.SavedWidth,
        CellKind.GruResetBefore => GruResetBeforeCellMath.SavedWidth,
        CellKind.Lstm => LstmCellMath.SavedWidth,
        _ => RnnCellMath.SavedWidth,
    };

    public static bool HasCellState(CellKind kind) => kind == CellKind.Lstm;

    /// <summary>Parses "gru", "gru_reset_before", "lstm", "rnn" / "rnn_tanh", "rnn_relu" (case-insensitive).</summary>
    public static CellKind Parse(string name) => name.ToLowerInvariant() switch
    {
        "gru" => CellKind.Gru,
        "gru_reset_before" => CellKind.GruResetBefore,
        "lstm" => CellKind.Lstm,
        "rnn" or "rnn_tanh" or "tanh" => CellKind.RnnTanh,
        "rnn_relu" or "relu" => CellKind.RnnRelu,
        _ => throw new ArgumentException($"unknown cell '{name}' (known: gru, gru_reset_before, lstm, rnn_tanh, rnn_relu)"),
    };

    public static string Name(CellKind kind) => kind switch
    {
        CellKind.Gru => "gru",
        CellKind.GruResetBefore => "gru_reset_before",
        CellKind.Lstm => "lstm",
        CellKind.RnnTanh => "rnn_tanh",
        _ => "rnn_relu",
    };
}
