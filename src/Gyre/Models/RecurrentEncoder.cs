using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Models;

/// <summary>
/// The recurrent encoder: a batch-first <see cref="RecurrentLayer"/> of any registered cell, K layers, one or two
/// directions, optionally followed by G gated memory units (SambaY):
/// <code>
/// r = RNN_K(x)                       [B, T, D·W_0]  (forward ‖ reverse at each step)
/// m = output of recurrent layer L    [B, T, D·W_0]  (0 ≤ L &lt; K, before dropout; default L = K − 1)
/// z_0 = r,  z_g = σ(W_g·z_{g−1} + b_g) ⊙ m  (g = 1..G),  y = z_G
/// </code>
/// so the later layers reuse one layer's output instead of recomputing it; ∂L/∂m from every GMU is summed into
/// layer L's output gradient (with what it gets from above). Parameters keep PyTorch's names (weight_ih_l0, …),
/// the GMUs' are gmu{g−1}.weight [D·W_0, D·W_0] and gmu{g−1}.bias.
/// Dimensions: B batch, T steps, I input width, H hidden, D directions, K layers, G GMU layers.
/// <para>
/// Padding: the lengths go to the layer's sequence runner, so in both directions a row's states ignore its padded
/// steps (the reverse direction starts at the row's last real step), y is 0 there, and backward gives the
/// gradients of the unpadded sequence.
/// </para>
/// </summary>
public sealed class RecurrentEncoder : ModelLayer
{
    private readonly ShapeCache<Buffers> _cache;
    private readonly GatedMemoryUnit[] _gmus;
    private Buffers? _last;

    public RecurrentLayer Layer { get; }
    /// <summary>The G gated memory units after the recurrent layers (empty: none).</summary>
    public IReadOnlyList<GatedMemoryUnit> MemoryUnits => _gmus;
    /// <summary>L: the recurrent layer whose output the GMUs read as m.</summary>
    public int MemoryLayer { get; }
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
    /// <param name="gmu">G: gated memory units after the recurrent layers.</param>
    /// <param name="gmuMemory">L: the recurrent layer (0-based) whose output they read; −1: the last.</param>
    public RecurrentEncoder(string cell, int inputSize, int hidden, int layers, bool bidirectional, float dropout, ulong seed,
        int gmu = 0, int gmuMemory = -1)
    {
        Layer = new RecurrentLayer(CellRegistry.FromText(cell), inputSize, hidden, layers, bias: true, batchFirst: true, dropout: dropout,
            bidirectional: bidirectional, seed: seed);
        if (gmu < 0) throw new ArgumentOutOfRangeException(nameof(gmu), $"gmu layers must be ≥ 0, got {gmu}");
        if (gmuMemory < -1 || gmuMemory >= layers) throw new ArgumentOutOfRangeException(nameof(gmuMemory), $"gmu memory layer {gmuMemory} is outside 0..{layers - 1}");
        MemoryLayer = gmuMemory < 0 ? layers - 1 : gmuMemory;
        int width = Layer.Directions * Layer.OutputSize;
        // The recurrent layer's seed stream stays as it was, so adding GMUs leaves its initial weights unchanged.
        _gmus = Enumerable.Range(0, gmu).Select(g => new GatedMemoryUnit(width, width, seed ^ (0x9E37_79B9_7F4A_7C15UL * (ulong)(g + 1)), $"gmu{g}.")).ToArray();
        _cache = new((b, t) => new Buffers(b, t, InputSize, Layer, layers * Layer.Directions, _gmus.Length > 0));
    }

    public override IEnumerable<Parameter> Parameters() => Layer.Parameters().Concat(_gmus.SelectMany(g => g.Parameters()));

    /// <summary>x [B, T, I] → y [B, T, D·H].</summary>
    public override Tensor Forward(Tensor x, int[]? lengths)
    {
        if (x.Rank != 3) throw new ArgumentException($"encoder input must be [B, T, {InputSize}], got {x}");
        return Forward(x, lengths, _cache.For(x.Dim(0), x.Dim(1)).Finals);
    }

    /// <summary>
    /// x [B, T, I] → y [B, T, D·W_0], with the recurrent layers' final states written to <paramref name="finals"/>
    /// (S × [K·D, B, W_j], caller-owned): a job that reads the states (a forecaster's head, a decoder started from
    /// them) gets them without a copy. The GMUs have no state, so the finals are those of the recurrent layers.
    /// </summary>
    public Tensor Forward(Tensor x, int[]? lengths, ReadOnlySpan<Tensor> finals)
    {
        if (x.Rank != 3) throw new ArgumentException($"encoder input must be [B, T, {InputSize}], got {x}");
        int b = x.Dim(0), t = x.Dim(1);
        CheckLengths(lengths, b, t);
        var buf = _last = _cache.For(b, t);
        Layer.Training = Training;
        Layer.Forward(x, default, buf.Y, finals, lengths);
        if (_gmus.Length == 0) return buf.Y;
        var m = buf.Y;
        if (MemoryLayer != Layer.NumLayers - 1) Layer.CopyLayerOutput(MemoryLayer, m = buf.M!);
        var z = buf.Y;
        foreach (var g in _gmus)
        {
            g.Training = Training;
            z = g.Forward(z, m, lengths);
        }
        return z;
    }

    /// <summary>
    /// Advances B streams by the k steps of x [B, k, I] (inference only; <see cref="RecurrentLayer.Advance"/>: the
    /// recurrent states [K, B, W_j] in <paramref name="states"/> are read and overwritten, row b advances
    /// <paramref name="lengths"/>[b] steps, all k when null) and returns the encoder's outputs for those steps
    /// [B, k, D·W_0] (0 at a row's steps past its length): the recurrent layers' outputs in <paramref name="y"/>,
    /// then z_g = σ(W_g·z_{g−1} + b_g) ⊙ m of each GMU, returned in that unit's own buffer (valid until its next call).
    /// A GMU reads only its own step's r and m, so these outputs equal the steps' outputs of one
    /// <see cref="Forward(Tensor, int[])"/> over the whole sequence: a stepped stream needs no state beyond the
    /// recurrent one.
    /// </summary>
    public Tensor Advance(Tensor x, ReadOnlySpan<Tensor> states, Tensor y, int[]? lengths = null)
    {
        Layer.Training = false;
        Layer.Advance(x, states, y, lengths);
        if (_gmus.Length == 0) return y;
        var m = y;
        if (MemoryLayer != Layer.NumLayers - 1) Layer.CopyLayerOutput(MemoryLayer, m = Tensor.Zeros(y.Dim(0), y.Dim(1), y.Dim(2)));   // [B, k, W_0]
        var z = y;
        // No lengths for the units: a row may sit this call out (length 0), which their Forward does not take, and
        // past a row's length m is 0, so z = σ(·) ⊙ 0 is 0 there without them.
        foreach (var g in _gmus)
        {
            g.Training = false;
            z = g.Forward(z, m, null);
        }
        return z;
    }

    /// <summary>dy [B, T, D·H] → dx [B, T, I]; the final states feed nothing (their gradients are zero).</summary>
    public override Tensor Backward(Tensor dOutput) => Backward(dOutput, default);

    /// <summary>
    /// dy [B, T, D·W_0] and ∂L/∂(final states) <paramref name="dFinals"/> (S × [K·D, B, W_j]; fewer, or null entries:
    /// zero) → dx [B, T, I] (the encoder's own buffer); every parameter gradient accumulates.
    /// </summary>
    public Tensor Backward(Tensor dOutput, ReadOnlySpan<Tensor?> dFinals)
    {
        var buf = _last ?? throw new InvalidOperationException("Backward needs a training-mode Forward first");
        buf.DX.Span.Clear();                                // the layer accumulates into dx and ∂L/∂(initial states)
        foreach (var d in buf.DInitials) d.Span.Clear();
        if (_gmus.Length == 0) { Layer.Backward(dOutput, dFinals, buf.DX, buf.DInitials); return buf.DX; }

        var dMemory = buf.DMemory!.Span;                    // [B, T, D·W_0] Σ over the GMUs of ∂L/∂m
        dMemory.Clear();
        var dz = dOutput;
        for (int g = _gmus.Length - 1; g >= 0; g--)
        {
            var (dIn, dM) = _gmus[g].Backward(dz);
            RecurrentLayer.AddInto(dMemory, dM.ReadOnlySpan);
            dz = dIn;
        }
        if (MemoryLayer == Layer.NumLayers - 1)
        {
            // m is the top layer's output, which also fed the first GMU: both gradients arrive through dy.
            RecurrentLayer.AddInto(dMemory, dz.ReadOnlySpan);
            Layer.Backward(buf.DMemory!, dFinals, buf.DX, buf.DInitials);
        }
        else Layer.Backward(dz, dFinals, buf.DX, buf.DInitials, MemoryLayer, buf.DMemory);
        return buf.DX;
    }

    // The gradient buffers are made by the first Backward of a shape: inference (a server re-running cases whose
    // shapes change with every batch) never needs them, and they would double its allocations.
    private sealed class Buffers(int b, int t, int i, RecurrentLayer l, int ld, bool gmu)
    {
        public readonly Tensor? M = gmu ? Tensor.Zeros(b, t, l.Directions * l.OutputSize) : null;                           // [B, T, D·W_0] m (an inner layer's output)
        public Tensor? DMemory => gmu ? _dMemory ??= Tensor.Zeros(b, t, l.Directions * l.OutputSize) : null;                // [B, T, D·W_0]
        public readonly Tensor Y = Tensor.Zeros(b, t, l.Directions * l.OutputSize);                                         // [B, T, D·W_0]
        public Tensor DX => _dx ??= Tensor.Zeros(b, t, i);                                                                   // [B, T, I]
        public readonly Tensor[] Finals = Enumerable.Range(0, l.StateCount).Select(j => Tensor.Zeros(ld, b, l.StateWidth(j))).ToArray();     // S × [K·D, B, W_j]
        public Tensor[] DInitials => _dInitials ??= [.. Enumerable.Range(0, l.StateCount).Select(j => Tensor.Zeros(ld, b, l.StateWidth(j)))];  // S × [K·D, B, W_j]
        private Tensor? _dMemory, _dx;
        private Tensor[]? _dInitials;
    }
}
