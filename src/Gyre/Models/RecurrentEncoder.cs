using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Models;

/// <summary>
/// The recurrent encoder: a batch-first <see cref="RecurrentLayer"/> of any registered cell, K layers, one or two
/// directions. x [B, T, I] → y [B, T, D·H] (forward ‖ reverse at each step). Parameters keep PyTorch's names
/// (weight_ih_l0, …). Dimensions: B batch, T steps, I input width, H hidden, D directions, K layers.
/// <para>
/// Padding: the forward direction's y[b, t] for t &lt; lengths[b] never depends on later (padded) steps, and the
/// poolings give padded steps zero gradient, so a unidirectional encoder is padding-invariant. The reverse
/// direction of a bidirectional layer starts at step T − 1 and so reads the padding before the real steps until
/// the layer driver takes per-row lengths.
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
    /// <summary>D·H, the width of y.</summary>
    public int OutputSize => Layer.Directions * Layer.HiddenSize;

    public RecurrentEncoder(string cell, int inputSize, int hidden, int layers, bool bidirectional, float dropout, ulong seed)
    {
        var def = CellRegistry.FromText(cell);
        Layer = new RecurrentLayer(def, inputSize, hidden, layers, bias: true, batchFirst: true, dropout: dropout,
            bidirectional: bidirectional, seed: seed);
        bool cellState = def.States > 1;
        _cache = new((b, t) => new Buffers(b, t, InputSize, hidden, layers * Layer.Directions, Layer.Directions, cellState));
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
        Layer.Forward(x, null, null, buf.Y, buf.HN, buf.CN);
        return buf.Y;
    }

    /// <summary>dy [B, T, D·H] → dx [B, T, I]; the final states feed nothing (their gradients are zero).</summary>
    public override Tensor Backward(Tensor dOutput)
    {
        var buf = _last ?? throw new InvalidOperationException("Backward needs a training-mode Forward first");
        buf.DX.Span.Clear();                                // the layer accumulates into dx, dh0, dc0
        buf.DH0.Span.Clear();
        buf.DC0?.Span.Clear();
        Layer.Backward(dOutput, null, null, buf.DX, buf.DH0, buf.DC0);
        return buf.DX;
    }

    private sealed class Buffers(int b, int t, int i, int h, int ld, int d, bool cellState)
    {
        public readonly Tensor Y = Tensor.Zeros(b, t, d * h);                    // [B, T, D·H]
        public readonly Tensor HN = Tensor.Zeros(ld, b, h);                      // [K·D, B, H]
        public readonly Tensor? CN = cellState ? Tensor.Zeros(ld, b, h) : null;  // [K·D, B, H]
        public readonly Tensor DX = Tensor.Zeros(b, t, i);                       // [B, T, I]
        public readonly Tensor DH0 = Tensor.Zeros(ld, b, h);                     // [K·D, B, H]
        public readonly Tensor? DC0 = cellState ? Tensor.Zeros(ld, b, h) : null; // [K·D, B, H]
    }
}
