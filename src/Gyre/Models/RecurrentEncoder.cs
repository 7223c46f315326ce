using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Models;

/// <summary>
/// The recurrent encoder: a batch-first <see cref="RecurrentLayer"/> of any registered cell, K layers, one or two
/// directions. x [B, T, I] → y [B, T, D·H] (forward ‖ reverse at each step). Parameters keep PyTorch's names
/// (weight_ih_l0, …). Dimensions: B batch, T steps, I input width, H hidden, D directions, K layers.
/// <para>
/// Padding: the lengths go to the layer's sequence runner, so in both directions a row's states ignore its padded
/// steps (the reverse direction starts at the row's last real step), y is 0 there, and backward gives the
/// gradients of the unpadded sequence.
/// </para>
/// </summary>
public sealed class RecurrentEncoder : ModelLayer
{
    private readonly ShapeCache<Buffers> _cache;
    private Buffers? _last;

    public RecurrentLayer Layer { get; }
    public int InputSize => Layer.InputSize;
    public int HiddenSize => Layer.HiddenSize;
    public int Directions => Layer.Directions;
    /// <summary>D·W_0, the width of y (W_0 = H unless the cell narrows h, e.g. lstm(proj_size=P)).</summary>
    public int OutputSize => Layer.Directions * Layer.OutputSize;

    /// <param name="cell">A registered cell: "name" or "name(k=v,…)" (<see cref="CellRegistry.FromText"/>).</param>
    /// <param name="inputSize">I.</param>
    /// <param name="hidden">H.</param>
    /// <param name="layers">K.</param>
    /// <param name="bidirectional">D = 2 when true.</param>
    /// <param name="dropout">Dropout between layers (training only).</param>
    /// <param name="seed">Initialisation and dropout seed.</param>
    public RecurrentEncoder(string cell, int inputSize, int hidden, int layers, bool bidirectional, float dropout, ulong seed)
    {
        Layer = new RecurrentLayer(CellRegistry.FromText(cell), inputSize, hidden, layers, bias: true, batchFirst: true, dropout: dropout,
            bidirectional: bidirectional, seed: seed);
        _cache = new((b, t) => new Buffers(b, t, InputSize, Layer, layers * Layer.Directions));
    }

    public override IEnumerable<Parameter> Parameters() => Layer.Parameters();

    /// <summary>x [B, T, I] → y [B, T, D·H].</summary>
    public override Tensor Forward(Tensor x, int[]? lengths)
    {
        if (x.Rank != 3) throw new ArgumentException($"encoder input must be [B, T, {InputSize}], got {x}");
        int b = x.Dim(0), t = x.Dim(1);
        CheckLengths(lengths, b, t);
        var buf = _last = _cache.For(b, t);
        Layer.Training = Training;
        Layer.Forward(x, default, buf.Y, buf.Finals, lengths);
        return buf.Y;
    }

    /// <summary>dy [B, T, D·H] → dx [B, T, I]; the final states feed nothing (their gradients are zero).</summary>
    public override Tensor Backward(Tensor dOutput)
    {
        var buf = _last ?? throw new InvalidOperationException("Backward needs a training-mode Forward first");
        buf.DX.Span.Clear();                                // the layer accumulates into dx and ∂L/∂(initial states)
        foreach (var d in buf.DInitials) d.Span.Clear();
        Layer.Backward(dOutput, default, buf.DX, buf.DInitials);
        return buf.DX;
    }

    private sealed class Buffers(int b, int t, int i, RecurrentLayer l, int ld)
    {
        public readonly Tensor Y = Tensor.Zeros(b, t, l.Directions * l.OutputSize);                                         // [B, T, D·W_0]
        public readonly Tensor DX = Tensor.Zeros(b, t, i);                                                                   // [B, T, I]
        public readonly Tensor[] Finals = Enumerable.Range(0, l.StateCount).Select(j => Tensor.Zeros(ld, b, l.StateWidth(j))).ToArray();     // S × [K·D, B, W_j]
        public readonly Tensor[] DInitials = Enumerable.Range(0, l.StateCount).Select(j => Tensor.Zeros(ld, b, l.StateWidth(j))).ToArray();  // S × [K·D, B, W_j]
    }
}
