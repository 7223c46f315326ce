using Gyre.Tensors;

namespace Gyre.Layers;

// Streaming inference: a caller that sees one new observation at a time (a server holding many streams)
// keeps each stream's states and pays for the new steps only, instead of re-running a whole window.
public partial class RecurrentLayer
{
    private Tensor?[]? _streamInitial;                  // Advance's view of the states as initial states
    private static int _freezes;                         // generations handed out, process-wide so none repeats
    private int _frozenGeneration;                       // 0: not frozen

    /// <summary>
    /// A promise that the parameter values stay as they are: while true, inference calls pack the recurrent weights
    /// into the kernels' layouts once instead of at every call (for a server stepping streams one observation at a
    /// time the packing is most of a step). Setting it true again after changing weights repacks them; changing
    /// weights while it is true gives stale results. Training-mode calls always pack.
    /// </summary>
    public bool WeightsFrozen
    {
        get => _frozenGeneration != 0;
        set => _frozenGeneration = value ? Interlocked.Increment(ref _freezes) : 0;
    }

    /// <summary>Whether the layer can be advanced step by step (<see cref="Advance"/>): one forward direction only,
    /// since a reverse direction's state at step t depends on the steps after t.</summary>
    public bool Streamable => !Bidirectional && !ReverseOnly;

    /// <summary>Zero states for a stream batch of <paramref name="batch"/> rows: one [L, B, W_j] tensor per cell state
    /// (<see cref="Cells.CellDefinition.StateNames"/> order, widths <see cref="StateWidth"/>), the states of a stream
    /// that has seen nothing.</summary>
    public Tensor[] NewStates(int batch)
    {
        if (batch <= 0) throw new ArgumentOutOfRangeException(nameof(batch), $"batch must be positive, got {batch}");
        var states = new Tensor[StateCount];
        for (int j = 0; j < states.Length; j++) states[j] = Tensor.Zeros(NumLayers, batch, StateWidth(j));
        return states;
    }

    /// <summary>
    /// Advances the states of B streams by the k steps of x, inference only:
    /// s ← cell(x_t, s) for t = 0 … k_b − 1 in every layer, where k_b = <paramref name="lengths"/>[b] (empty: all k;
    /// 0 leaves row b's states untouched). x: [B, k, I] (batch-first) or [k, B, I]; <paramref name="states"/>: one
    /// [L, B, W_j] tensor per cell state, read as the states before x and overwritten with the states after its last
    /// valid step; <paramref name="y"/>: the last layer's outputs [B, k, W_0] (or [k, B, W_0]), 0 at steps ≥ k_b.
    /// Running a sequence in pieces this way gives the states and outputs of one <see cref="Forward(Tensor, ReadOnlySpan{Tensor?}, Tensor, ReadOnlySpan{Tensor}, ReadOnlySpan{int})"/>
    /// over the whole sequence (the same kernels and paths; the input projection of a piece is one GEMM over its
    /// k·B rows). At a repeated (B, k) this allocates nothing.
    /// </summary>
    /// <exception cref="InvalidOperationException">The layer is bidirectional or reverse-only, or in training mode.</exception>
    public void Advance(Tensor x, ReadOnlySpan<Tensor> states, Tensor y, ReadOnlySpan<int> lengths = default)
    {
        if (!Streamable)
            throw new InvalidOperationException($"a {(Bidirectional ? "bidirectional" : "reverse-only")} layer cannot be advanced step by step: its state at a step depends on later steps");
        if (Training) throw new InvalidOperationException("Advance is inference only (set Training = false)");
        if (states.Length != StateCount) throw new ArgumentException($"{states.Length} states given, cell {Cell.Name} has {StateCount} ({string.Join(", ", Cell.StateNames)})");
        // Forward copies each layer's initial states into its workspace before it writes that layer's final
        // states, so the same tensors serve as both.
        var initial = _streamInitial ??= new Tensor?[StateCount];
        for (int j = 0; j < states.Length; j++) initial[j] = states[j];
        try { Forward(x, initial, y, states, lengths); }
        finally { Array.Clear(initial); }             // hold no caller's tensor after the call
    }

    private float[] _coefGx = [];                        // [R, G·H] input projection of LinearCoefficients
    private const int DotRows = 8;                       // up to this many rows the projection is one dot product per gate row

    /// <summary>Whether the state after a window of steps started from zero can be kept while the window slides
    /// (<see cref="SlidingLinearWindow"/>): one layer, one forward direction, a cell linear in its state
    /// (<see cref="Cells.CellDefinition.HasLinearStep"/>). A second layer's inputs are the first layer's outputs,
    /// which change at every step of the window when its start moves, so only one layer can slide.</summary>
    public bool Slidable => Cell.HasLinearStep && NumLayers == 1 && Streamable;

    /// <summary>
    /// The step coefficients of R inputs x [R, I] for a <see cref="Slidable"/> layer: a, b [R, H] such that the layer
    /// maps a state h to a ⊙ h + b at that input (gx = x·W_ihᵀ + b_ih + b_hh, then the cell's gate math: the same
    /// arithmetic as <see cref="Forward(Tensor, ReadOnlySpan{Tensor?}, Tensor, ReadOnlySpan{Tensor}, ReadOnlySpan{int})"/>).
    /// Inference only; allocates nothing once R has been seen.
    /// </summary>
    public void LinearCoefficients(ReadOnlySpan<float> x, int rows, Span<float> a, Span<float> b)
    {
        if (!Slidable)
            throw new InvalidOperationException($"a {NumLayers}-layer {(Streamable ? "" : "bidirectional ")}{Cell.Name} layer has no per-step linear coefficients (one forward layer of a linear cell such as mingru or minlstm has)");
        int i = InputSize, h = HiddenSize, gh = GateCount * h;
        if (rows < 0 || x.Length < rows * i) throw new ArgumentException($"x must hold [{rows}, {i}], got {x.Length} values");
        if (_coefGx.Length < rows * gh) _coefGx = new float[rows * gh];
        var gx = _coefGx.AsSpan(0, rows * gh);              // [R, G·H]
        var w = _wIh[0].Value.ReadOnlySpan;                  // [G·H, I]
        for (int r = 0; r < rows; r++)
        {
            var row = gx.Slice(r * gh, gh);
            if (!HasBias) { row.Clear(); continue; }
            _bIh[0]!.Value.ReadOnlySpan.CopyTo(row);
            if (_bHh[0] != null) AddInto(row, _bHh[0]!.Value.ReadOnlySpan);
        }
        if (rows <= DotRows)
            // A stream's step has one or a few rows: a GEMM would pack W_ihᵀ at every call, more work than the product.
            for (int r = 0; r < rows; r++)
            {
                var xr = x.Slice(r * i, i);
                for (int o = 0; o < gh; o++) gx[r * gh + o] += System.Numerics.Tensors.TensorPrimitives.Dot(w.Slice(o * i, i), xr);
            }
        else Kernels.Gemm.Multiply(false, true, rows, gh, i, x, i, w, i, gx, gh, true);
        Cell.LinearCoefficients(a, b, gx, rows, h);
    }
}
