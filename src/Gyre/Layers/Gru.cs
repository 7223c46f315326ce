using Gyre.Cells;

namespace Gyre.Layers;

/// <summary>
/// Multi-layer GRU, PyTorch's nn.GRU: same gates (r, z, n; reset after the recurrent product),
/// initialisation U(−1/√H, 1/√H), parameter names (weight_ih_l{k}[_reverse], weight_hh_…, bias_ih_…,
/// bias_hh_…) and shapes ([3H, I], [3H, H], [3H], [3H]). Equations: <see cref="GruCellMath"/>.
/// </summary>
public sealed class Gru(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool batchFirst = false,
    float dropout = 0f, bool bidirectional = false, ulong seed = 0)
    : RecurrentLayer(new GruDefinition(), inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, seed);

/// <summary>
/// Multi-layer LSTM, PyTorch's nn.LSTM (gates i, f, g, o; no projection, no peepholes), same names,
/// shapes ([4H, I], [4H, H], [4H], [4H]) and initialisation. Equations: <see cref="LstmCellMath"/>.
/// </summary>
public sealed class Lstm(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool batchFirst = false,
    float dropout = 0f, bool bidirectional = false, ulong seed = 0)
    : RecurrentLayer(new LstmDefinition(), inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, seed);

/// <summary>Multi-layer Elman RNN, PyTorch's nn.RNN with nonlinearity "tanh" or "relu".</summary>
public sealed class Rnn(int inputSize, int hiddenSize, int numLayers = 1, string nonlinearity = "tanh", bool bias = true,
    bool batchFirst = false, float dropout = 0f, bool bidirectional = false, ulong seed = 0)
    : RecurrentLayer(ParseNonlinearity(nonlinearity), inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, seed)
{
    private static CellDefinition ParseNonlinearity(string name) => name is "tanh" or "relu"
        ? RnnReluDefinition.FromOptions(CellOptions.From([new("nonlinearity", name)]))
        : throw new ArgumentException($"nonlinearity must be 'tanh' or 'relu', got '{name}'");
}
