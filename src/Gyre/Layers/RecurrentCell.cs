using Gyre.Cells;
using Gyre.Tensors;

namespace Gyre.Layers;

/// <summary>
/// One step of a recurrent cell, PyTorch's nn.GRUCell / nn.LSTMCell / nn.RNNCell: parameters
/// weight_ih [G·H, I], weight_hh [G·H, H], bias_ih [G·H], bias_hh [G·H]. x: [B, I], h (and c): [B, H].
/// Runs the same kernels as the sequence layers (a one-layer, one-step layer underneath).
/// </summary>
public abstract class RecurrentCell : Module
{
    private readonly RecurrentLayer _layer;

    protected RecurrentCell(CellDefinition cell, int inputSize, int hiddenSize, bool bias, ulong seed)
    {
        _layer = new RecurrentLayer(cell, inputSize, hiddenSize, 1, bias, batchFirst: true, seed: seed, singleCellNames: true);
    }

    public int InputSize => _layer.InputSize;
    public int HiddenSize => _layer.HiddenSize;
    public CellKind Kind => _layer.Kind;

    /// <summary>The cell.</summary>
    public CellDefinition Cell => _layer.Cell;

    public override IEnumerable<Parameter> Parameters() => _layer.Parameters();

    /// <summary>One step: returns h' [B, H] (and c' for LSTM). Null states mean zeros.</summary>
    public (Tensor H, Tensor? C) Step(Tensor x, Tensor? h = null, Tensor? c = null)
    {
        if (x.Rank != 2) throw new ArgumentException($"cell input must be [B, I], got {x}");
        int b = x.Dim(0);
        _layer.Training = Training;
        var outp = _layer.Forward(x.Reshape(b, 1, InputSize), h?.Reshape(1, b, HiddenSize), c?.Reshape(1, b, HiddenSize));
        return (outp.Hidden.Reshape(b, HiddenSize), outp.Cell?.Reshape(b, HiddenSize));
    }

    /// <summary>Backward of the last training-mode <see cref="Step"/>: returns ∂L/∂x, ∂L/∂h (and ∂L/∂c).</summary>
    public (Tensor X, Tensor H, Tensor? C) BackwardStep(Tensor dhNext, Tensor? dcNext = null)
    {
        int b = dhNext.Dim(0);
        var dy = Tensor.Zeros(b, 1, HiddenSize);
        var g = _layer.Backward(dy, dhNext.Reshape(1, b, HiddenSize), dcNext?.Reshape(1, b, HiddenSize));
        return (g.Input.Reshape(b, InputSize), g.Hidden.Reshape(b, HiddenSize), g.Cell?.Reshape(b, HiddenSize));
    }
}

/// <summary>PyTorch's nn.GRUCell. Equations: <see cref="GruCellMath"/>.</summary>
public sealed class GruCell(int inputSize, int hiddenSize, bool bias = true, ulong seed = 0)
    : RecurrentCell(new GruDefinition(), inputSize, hiddenSize, bias, seed);

/// <summary>PyTorch's nn.LSTMCell. Equations: <see cref="LstmCellMath"/>.</summary>
public sealed class LstmCell(int inputSize, int hiddenSize, bool bias = true, ulong seed = 0)
    : RecurrentCell(new LstmDefinition(), inputSize, hiddenSize, bias, seed);

/// <summary>PyTorch's nn.RNNCell with nonlinearity "tanh" or "relu".</summary>
public sealed class RnnCell(int inputSize, int hiddenSize, string nonlinearity = "tanh", bool bias = true, ulong seed = 0)
    : RecurrentCell(nonlinearity is "tanh" or "relu" ? RnnReluDefinition.FromOptions(CellOptions.From([new("nonlinearity", nonlinearity)]))
        : throw new ArgumentException($"nonlinearity must be 'tanh' or 'relu', got '{nonlinearity}'"), inputSize, hiddenSize, bias, seed);
