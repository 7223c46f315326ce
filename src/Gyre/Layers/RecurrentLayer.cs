using Gyre.Cells;
using Gyre.Kernels;
using Gyre.Tensors;

namespace Gyre.Layers;

/// <summary>What a recurrent layer returns: the last layer's outputs and the final states.</summary>
/// <param name="Output">y: [B, T, D·W_0] when batch-first, else [T, B, D·W_0] (forward ‖ reverse); W_0 = H unless
/// the cell narrows h (LSTM's proj_size).</param>
/// <param name="Hidden">h_n: [L·D, B, W_0].</param>
/// <param name="Cell">c_n: [L·D, B, W_1], the second state, for cells with more than one (LSTM), else null.</param>
public sealed record RecurrentOutput(Tensor Output, Tensor Hidden, Tensor? Cell)
{
    /// <summary>Every final state in the cell's order (<see cref="CellDefinition.StateNames"/>), [L·D, B, W_j] each;
    /// the first is <see cref="Hidden"/>, the second <see cref="Cell"/>.</summary>
    public IReadOnlyList<Tensor> States { get; init; } = Cell is null ? [Hidden] : [Hidden, Cell];
}

/// <summary>Gradients with respect to a recurrent layer's inputs.</summary>
/// <param name="Input">∂L/∂x, shaped as x.</param>
/// <param name="Hidden">∂L/∂h0: [L·D, B, H].</param>
/// <param name="Cell">∂L/∂c0 for cells with a second state (LSTM), else null.</param>
public sealed record RecurrentGradients(Tensor Input, Tensor Hidden, Tensor? Cell)
{
    /// <summary>∂L/∂(every initial state) in the cell's order, [L·D, B, W_j] each.</summary>
    public IReadOnlyList<Tensor> States { get; init; } = Cell is null ? [Hidden] : [Hidden, Cell];
}

/// <summary>
/// The multi-layer, optionally bidirectional recurrent driver behind <see cref="Gru"/>, <see cref="Lstm"/>
/// and <see cref="Rnn"/> and every registered cell (<see cref="CellRegistry"/>): PyTorch's nn.RNNBase
/// semantics, parameter names and shapes.
/// <para>
/// Dimension letters: B batch, T sequence length, I input size of the layer, H hidden size,
/// G gate blocks of the cell, NS states of the cell, D directions (1 or 2), L layers, W_j the width of state j
/// (<see cref="CellDefinition.StateWidth"/>: H unless the cell says otherwise; W_0 is h, the output).
/// </para>
/// Internally everything is time-major ([T, B, ·]) so that one time step is a contiguous [B, ·] block.
/// The cell's sequence runner (<see cref="CellDefinition"/>, <see cref="SequencePaths"/>) does the input
/// projection of a direction as one GEMM over all T·B rows and runs the cell's step in the time loop.
/// Activations live in a workspace sized for (B, T) and reused across calls; a call at the same (B, T)
/// allocates nothing but its returned tensors (and nothing at all through the overloads that take destinations).
/// Not thread-safe: one forward/backward at a time per layer instance.
/// <para>
/// Variable lengths: with per-row lengths, steps t ≥ length of a row never change a result: its states hold
/// across them (both directions; a reverse direction starts at the row's last real step from h0, and the
/// forward h_n is the state after the last real step), its outputs there are 0 and backward gives the
/// gradients of the unpadded sequence (zero ∂L/∂x at padded steps).
/// </para>
/// <para>
/// Beyond PyTorch: reset-before GRU and <see cref="ReverseOnly"/> stacks (ONNX direction "reverse").
/// </para>
/// </summary>
public partial class RecurrentLayer : Module
{
    private readonly ParameterBlock _block;
    private readonly Parameter[] _wIh;
    private readonly Parameter?[] _wHh, _bIh, _bHh, _extra;
    private Workspace? _ws;
    private bool _haveActivations;
    private readonly bool _singleCellNames;
    private readonly ISequenceRunner[] _runners;
    private readonly SequencePath[] _forwardPaths, _backwardPaths;
    // Argument names for messages, built once so the checks allocate nothing: h0, h_n, dh_n, dh0 per state.
    private readonly int _extraRows;   // Σ rows of the cell's extra per-unit parameters
    private readonly string[] _initNames, _finalNames, _dFinalNames, _dInitNames;
    private readonly int[] _stateWidths;   // W_j
    private readonly int _stateLd;         // Ws = max W_j: the row stride of the state buffers

    /// <summary>The cell this layer runs.</summary>
    public CellDefinition Cell { get; }

    /// <summary>The cell as a <see cref="CellKind"/> (the five first cells only; see <see cref="Cell"/>).</summary>
    public CellKind Kind => CellRegistry.KindOf(Cell);

    public int InputSize { get; }
    public int HiddenSize { get; }

    /// <summary>W_0: the width of h and of each direction's output (H unless the cell narrows h, e.g. LSTM's proj_size).</summary>
    public int OutputSize => _stateWidths[0];

    /// <summary>W_j: the width of state <paramref name="j"/> (the shape of its h0 / h_n is [L·D, B, W_j]).</summary>
    public int StateWidth(int j) => _stateWidths[j];

    public int NumLayers { get; }
    public bool Bidirectional { get; }
    public bool HasBias { get; }
    public bool BatchFirst { get; }

    /// <summary>Unidirectional only: the single direction runs backwards in time (t = T−1 … 0), as ONNX
    /// direction "reverse"; y[t] is still the state after consuming x[t], h_n the state after x[0].
    /// Parameters keep the plain (no "_reverse") names.</summary>
    public bool ReverseOnly { get; }

    /// <summary>Dropout probability on the outputs of every layer but the last, in training mode only.</summary>
    public float Dropout { get; }

    /// <summary>Random source for dropout masks (seedable for determinism).</summary>
    public Rng DropoutRng { get; set; }

    /// <summary>How the time loops run (team, fused paths, thresholds, scan); never changes a result beyond the
    /// parallel scan's rounding. Starts as <see cref="ExecutionOptions.Current"/>, with a scoped
    /// <see cref="ScanMode.Parallel"/> kept only for cells that have a parallel form (the others run the loop).</summary>
    public ExecutionOptions Execution { get; set; }

    /// <summary>The path each layer direction (index layer·D + direction) took in the last Forward.</summary>
    public IReadOnlyList<SequencePath> LastForwardPaths => _forwardPaths;

    /// <summary>Newton's linear solves per layer direction in the last Forward (0 where another path ran).</summary>
    public IReadOnlyList<int> LastNewtonIterations => [.. _runners.Select(r => r.LastIterations)];

    /// <summary>The path each layer direction took in the last Backward.</summary>
    public IReadOnlyList<SequencePath> LastBackwardPaths => _backwardPaths;

    public int Directions => Bidirectional ? 2 : 1;
    internal int GateCount => Cell.Gates;

    /// <summary>NS: states per layer direction.</summary>
    public int StateCount => Cell.States;

    /// <summary>Whether direction <paramref name="dir"/> (0 forward slot, 1 reverse slot) walks time backwards.</summary>
    private bool RunsBackwards(int dir) => dir == 1 || ReverseOnly;

    /// <summary>Builds a layer of a <see cref="CellKind"/> (see the <see cref="CellDefinition"/> overload).</summary>
    public RecurrentLayer(CellKind kind, int inputSize, int hiddenSize, int numLayers = 1, bool bias = true,
        bool batchFirst = false, float dropout = 0f, bool bidirectional = false, ulong seed = 0,
        bool singleCellNames = false, bool reverseOnly = false)
        : this(CellRegistry.Get(kind), inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, seed,
            singleCellNames, reverseOnly)
    {
    }

    /// <summary>
    /// Builds the layer with the cell's initialisation (PyTorch's U(−1/√H, 1/√H) unless the cell says otherwise).
    /// Parameters per layer k and direction: weight_ih_l{k}[_reverse] [G·H, I_k], weight_hh_… (shape per the
    /// cell), bias_ih_… [G·H] and bias_hh_… [G·H] (with bias; no bias_hh when the cell has no weight_hh), then
    /// the cell's extra per-unit parameters.
    /// </summary>
    public RecurrentLayer(CellDefinition cell, int inputSize, int hiddenSize, int numLayers = 1, bool bias = true,
        bool batchFirst = false, float dropout = 0f, bool bidirectional = false, ulong seed = 0,
        bool singleCellNames = false, bool reverseOnly = false)
    {
        ArgumentNullException.ThrowIfNull(cell);
        if (inputSize <= 0) throw new ArgumentOutOfRangeException(nameof(inputSize), $"input_size must be positive, got {inputSize}");
        if (hiddenSize <= 0) throw new ArgumentOutOfRangeException(nameof(hiddenSize), $"hidden_size must be positive, got {hiddenSize}");
        if (numLayers <= 0) throw new ArgumentOutOfRangeException(nameof(numLayers), $"num_layers must be positive, got {numLayers}");
        if (dropout is < 0f or >= 1f || float.IsNaN(dropout)) throw new ArgumentOutOfRangeException(nameof(dropout), $"dropout must be in [0, 1), got {dropout}");
        if (reverseOnly && bidirectional) throw new ArgumentException("reverseOnly applies to unidirectional layers only (a bidirectional layer already runs both ways)", nameof(reverseOnly));
        ReverseOnly = reverseOnly; _singleCellNames = singleCellNames;
        Cell = cell; InputSize = inputSize; HiddenSize = hiddenSize; NumLayers = numLayers;
        var current = ExecutionOptions.Current;
        Execution = current.Scan == ScanMode.Parallel && !cell.HasParallelForm ? current with { Scan = null } : current;
        Bidirectional = bidirectional; HasBias = bias; BatchFirst = batchFirst; Dropout = dropout;
        DropoutRng = new Rng(seed ^ 0x5DEECE66DUL);

        int slots = numLayers * Directions;
        _stateWidths = [.. Enumerable.Range(0, cell.States).Select(j => cell.StateWidth(j, hiddenSize))];
        _stateLd = _stateWidths.Max();
        var layout = Layout(cell, inputSize, hiddenSize, numLayers, Directions, bias, singleCellNames);
        _block = new ParameterBlock(layout);
        _wIh = new Parameter[slots]; _wHh = new Parameter?[slots];
        _bIh = new Parameter?[slots]; _bHh = new Parameter?[slots]; _extra = new Parameter?[slots];
        int p = 0;
        bool hasHh = cell.RecurrentWeightShape(hiddenSize) != null;
        for (int s = 0; s < slots; s++)
        {
            _wIh[s] = _block.Parameters[p++];
            if (hasHh) _wHh[s] = _block.Parameters[p++];
            if (bias) { _bIh[s] = _block.Parameters[p++]; if (hasHh) _bHh[s] = _block.Parameters[p++]; }
            // Extra parameters of a slot are contiguous: the step gets one pointer to the first.
            if (cell.ExtraParameters.Count > 0) _extra[s] = _block.Parameters[p];
            p += cell.ExtraParameters.Count;
        }
        cell.Initialize(_block, new Rng(seed), hiddenSize);
        _runners = new ISequenceRunner[slots];
        for (int s = 0; s < slots; s++) _runners[s] = cell.CreateRunner();
        _extraRows = cell.ExtraParameters.Sum(e => e.Rows);
        var names = cell.StateNames;
        _initNames = [.. names.Select(n => $"{n}0")];
        _finalNames = [.. names.Select(n => $"{n}_n")];
        _dFinalNames = [.. names.Select(n => $"d{n}_n")];
        _dInitNames = [.. names.Select(n => $"d{n}0")];
        _forwardPaths = new SequencePath[slots];
        _backwardPaths = new SequencePath[slots];
    }

    /// <summary>The parameter names and shapes of a layer of <paramref name="cell"/> (see the constructor).</summary>
    public static List<(string Name, int[] Shape)> Layout(CellDefinition cell, int inputSize, int hiddenSize, int numLayers,
        int directions, bool bias, bool singleCellNames = false)
    {
        int gh = cell.Gates * hiddenSize, h = hiddenSize, w0 = cell.StateWidth(0, h);
        var hh = cell.RecurrentWeightShape(h);
        var layout = new List<(string, int[])>();
        for (int layer = 0; layer < numLayers; layer++)
            for (int dir = 0; dir < directions; dir++)
            {
                int inSize = layer == 0 ? inputSize : directions * w0;
                string suffix = singleCellNames ? "" : $"_l{layer}{(dir == 1 ? "_reverse" : "")}";
                layout.Add(($"weight_ih{suffix}", [gh, inSize]));
                if (hh != null) layout.Add(($"weight_hh{suffix}", hh));
                if (bias)
                {
                    layout.Add(($"bias_ih{suffix}", [gh]));
                    if (hh != null) layout.Add(($"bias_hh{suffix}", [gh]));
                }
                for (int e = 0; e < cell.ExtraParameters.Count; e++)
                    layout.Add(($"{cell.ExtraParameters[e].Name}{suffix}", cell.ExtraParameterShape(e, h)));
            }
        return layout;
    }

    public override IEnumerable<Parameter> Parameters() => _block.Parameters;

    /// <summary>All parameter values and gradients as two contiguous blocks (for optimizers).</summary>
    public ParameterBlock Block => _block;

    // ------------------------------------------------------------------ forward

    /// <summary>
    /// Runs the layer. x: [B, T, I] (batch-first) or [T, B, I]; h0, c0: [L·D, B, H] or null for zeros (c0 only for
    /// cells with a second state); <paramref name="lengths"/>: per-row sequence lengths in 0..T, or empty for all T
    /// (see the class notes). In <see cref="Module.Training"/> mode the activations are kept for Backward.
    /// </summary>
    public RecurrentOutput Forward(Tensor x, Tensor? h0 = null, Tensor? c0 = null, ReadOnlySpan<int> lengths = default)
    {
        if (c0 != null && StateCount < 2) throw new ArgumentException($"c0 is only for cells with a cell state ({Cell.Name} has none)");
        return ForwardStates(x, c0 == null ? (h0 == null ? null : new[] { h0 }) : new[] { h0, c0 }, lengths);
    }

    /// <summary>
    /// Runs the layer from any number of initial states (the cell's order, <see cref="CellDefinition.StateNames"/>;
    /// null list or entries mean zeros). See <see cref="Forward(Tensor, Tensor?, Tensor?, ReadOnlySpan{int})"/>.
    /// </summary>
    public RecurrentOutput ForwardStates(Tensor x, IReadOnlyList<Tensor?>? initialStates, ReadOnlySpan<int> lengths = default)
    {
        var (b, t) = CheckInput(x);
        int w0 = OutputSize, ld = NumLayers * Directions, ns = StateCount;
        if (initialStates != null && initialStates.Count > ns)
            throw new ArgumentException($"{initialStates.Count} initial states given, cell {Cell.Name} has {ns} ({string.Join(", ", Cell.StateNames)})");
        var y = BatchFirst ? Tensor.Zeros(b, t, Directions * w0) : Tensor.Zeros(t, b, Directions * w0);
        var finals = new Tensor[ns];
        var inits = new Tensor?[ns];
        for (int j = 0; j < ns; j++)
        {
            finals[j] = Tensor.Zeros(ld, b, _stateWidths[j]);
            inits[j] = initialStates != null && j < initialStates.Count ? initialStates[j] : null;
        }
        Forward(x, inits, y, finals, lengths);
        return new RecurrentOutput(y, finals[0], ns > 1 ? finals[1] : null) { States = finals };
    }

    /// <summary>
    /// Runs the layer into caller-owned destinations (y shaped like the output, hN and cN [L·D, B, W_j]);
    /// at a repeated (B, T) this allocates nothing.
    /// </summary>
    public void Forward(Tensor x, Tensor? h0, Tensor? c0, Tensor y, Tensor hN, Tensor? cN)
    {
        if (c0 != null && StateCount < 2) throw new ArgumentException($"c0 is only for cells with a cell state ({Cell.Name} has none)");
        if (StateCount == 1) { Forward(x, [h0], y, [hN], default); return; }
        if (StateCount > 2) throw new ArgumentException($"cell {Cell.Name} has {StateCount} states: use the overload that takes them all");
        Forward(x, [h0, c0], y, [hN, cN ?? throw new ArgumentException($"{Cell.Name} needs a c_n destination")], default);
    }

    /// <summary>
    /// Runs the layer into caller-owned destinations: y shaped like the output, one [L·D, B, W_j] tensor per state
    /// in <paramref name="finalStates"/>, initial states (null: zeros) and optional per-row lengths.
    /// At a repeated (B, T) this allocates nothing.
    /// </summary>
    public void Forward(Tensor x, ReadOnlySpan<Tensor?> initialStates, Tensor y, ReadOnlySpan<Tensor> finalStates, ReadOnlySpan<int> lengths)
    {
        var (b, t) = CheckInput(x);
        int h = HiddenSize, w0 = OutputSize, ls = _stateLd, d = Directions, ld = NumLayers * d, ns = StateCount;
        if (initialStates.Length > ns) throw new ArgumentException($"{initialStates.Length} initial states given, cell {Cell.Name} has {ns}");
        if (finalStates.Length != ns) throw new ArgumentException($"{finalStates.Length} final-state destinations given, cell {Cell.Name} has {ns} states");
        for (int j = 0; j < initialStates.Length; j++) CheckState(initialStates[j], _initNames[j], b, _stateWidths[j]);
        CheckDest(y, BatchFirst ? [b, t, d * w0] : [t, b, d * w0], "y");
        for (int j = 0; j < ns; j++) CheckDest(finalStates[j], [ld, b, _stateWidths[j]], _finalNames[j]);

        bool keep = Training;
        var ws = EnsureWorkspace(b, t, keep);
        _haveActivations = false;
        var lens = ws.SetLengths(lengths, t);

        // [T, B, I] time-major copy of the input (layer 0's input buffer); padded steps read as zeros, so
        // whatever the caller padded with stays out of every product. Inference of a time-major unpadded x reads
        // x in place: the runner only reads it, and only a training forward keeps it for backward.
        bool inputInPlace = !keep && !BatchFirst && lens.IsEmpty;
        if (BatchFirst) TransposeInto(ws.LayerInput[0].Span, x.ReadOnlySpan, b, t, InputSize);
        else if (!inputInPlace) x.ReadOnlySpan.CopyTo(ws.LayerInput[0].Span);
        if (!lens.IsEmpty) ZeroPadded(ws.LayerInput[0].Span, lens, b, t, InputSize);

        int bs = b * ls;
        for (int layer = 0; layer < NumLayers; layer++)
        {
            int inSize = layer == 0 ? InputSize : d * w0;
            var input = layer == 0 && inputInPlace ? x.ReadOnlySpan : ws.LayerInput[layer].ReadOnlySpan;   // [T, B, I_layer]
            var output = ws.LayerOutput[layer];                 // [T, B, D·W_0]
            for (int dir = 0; dir < d; dir++)
            {
                int slot = layer * d + dir;
                var st = ws.Dir[slot];
                bool backwards = RunsBackwards(dir);
                var states = st.States.Span;                    // [NS, T+1, B, Ws]
                int stride = (t + 1) * bs;
                for (int j = 0; j < ns; j++)
                {
                    var init = states.Slice(j * stride + (backwards ? t * bs : 0), bs);
                    var s0 = j < initialStates.Length ? initialStates[j] : null;
                    if (s0 == null) init.Clear(); else CopyRows(init, ls, s0.ReadOnlySpan.Slice(slot * b * _stateWidths[j]), _stateWidths[j], b);
                }
                var bias = st.BiasRow.Span;                     // [G·H] b_ih (+ b_hh unless the cell keeps it apart)
                if (HasBias)
                {
                    _bIh[slot]!.Value.ReadOnlySpan.CopyTo(bias);
                    if (!Cell.HiddenBiasApart && _bHh[slot] != null) AddInto(bias, _bHh[slot]!.Value.ReadOnlySpan);
                }
                var args = new DirectionForward
                {
                    X = input, InSize = inSize, WIh = _wIh[slot].Value.ReadOnlySpan,
                    Bias = HasBias ? bias : default,
                    WHh = _wHh[slot] == null ? default : _wHh[slot]!.Value.ReadOnlySpan,
                    BHh = HasBias && Cell.HiddenBiasApart && _bHh[slot] != null ? _bHh[slot]!.Value.ReadOnlySpan : default,
                    Extra = ExtraValues(slot), Params = Cell.Params,
                    Batch = b, Steps = t, Hidden = h, OutWidth = w0, StateLd = ls, Reverse = backwards,
                    Gx = st.Gx.Span, States = states, Saved = keep ? st.Saved.Span : default, Scratch = st.Scratch.Span,
                    Lengths = lens, PackGeneration = keep ? 0 : _frozenGeneration,
                };
                _forwardPaths[slot] = _runners[slot].Forward(args, Execution);

                // The last layer's output goes straight into a time-major y (one pass over [T, B, D·W_0] instead of
                // two); CopyLayerOutput rebuilds it from the states when asked.
                ScatterOutput(ws, layer, dir, layer == NumLayers - 1 && !BatchFirst ? y.Span : output.Span);
                // Final states: after the last processed step.
                for (int j = 0; j < ns; j++)
                    CopyRows(finalStates[j].Span.Slice(slot * b * _stateWidths[j]), _stateWidths[j],
                        states.Slice(j * stride + (backwards ? 0 : t * bs), bs), ls, b);
            }
            if (layer + 1 < NumLayers)
            {
                var next = ws.LayerInput[layer + 1].Span;
                output.ReadOnlySpan.CopyTo(next);
                if (keep && Dropout > 0f)
                {
                    var mask = ws.DropoutMask[layer].Span;
                    float scale = 1f / (1f - Dropout);
                    for (int i = 0; i < mask.Length; i++)
                    {
                        mask[i] = DropoutRng.NextFloat() < Dropout ? 0f : scale;
                        next[i] *= mask[i];
                    }
                }
            }
        }

        if (BatchFirst) TransposeInto(y.Span, ws.LayerOutput[NumLayers - 1].ReadOnlySpan, t, b, d * w0);
        _haveActivations = keep;
    }

    private ReadOnlySpan<float> ExtraValues(int slot)
    {
        if (_extra[slot] is not { } first) return default;
        int n = _extraRows * HiddenSize;
        return first.Value.Data.AsSpan(first.Value.Offset, n);
    }

    private Span<float> ExtraGrads(int slot)
    {
        if (_extra[slot] is not { } first) return default;
        int n = _extraRows * HiddenSize;
        return first.Grad.Data.AsSpan(first.Grad.Offset, n);
    }

    private static void ZeroPadded(Span<float> timeMajor, ReadOnlySpan<int> lens, int b, int t, int width)
    {
        for (int step = 0; step < t; step++)
            for (int r = 0; r < b; r++)
                if (step >= lens[r]) timeMajor.Slice((step * b + r) * width, width).Clear();
    }

    // ------------------------------------------------------------------ backward

    /// <summary>
    /// Backpropagates through the last training-mode <c>Forward</c>. dy shaped like y; dhN, dcN: [L·D, B, H]
    /// or null for zero. Parameter gradients accumulate (+=) into <see cref="Parameter.Grad"/>.
    /// Returns new tensors ∂L/∂x, ∂L/∂h0 (and ∂L/∂c0).
    /// </summary>
    public RecurrentGradients Backward(Tensor dy, Tensor? dhN = null, Tensor? dcN = null) =>
        BackwardStates(dy, dcN == null ? (dhN == null ? null : new[] { dhN }) : new[] { dhN, dcN });

    /// <summary>Backward with ∂L/∂(final states) in the cell's order (null list or entries: zero).</summary>
    public RecurrentGradients BackwardStates(Tensor dy, IReadOnlyList<Tensor?>? dFinalStates)
    {
        var ws = _ws ?? throw new InvalidOperationException("Backward needs a training-mode Forward first");
        int b = ws.Batch, t = ws.Steps, ld = NumLayers * Directions, ns = StateCount;
        if (dFinalStates != null && dFinalStates.Count > ns)
            throw new ArgumentException($"{dFinalStates.Count} final-state gradients given, cell {Cell.Name} has {ns} states");
        var dx = BatchFirst ? Tensor.Zeros(b, t, InputSize) : Tensor.Zeros(t, b, InputSize);
        var d0 = new Tensor[ns];
        var dN = new Tensor?[ns];
        for (int j = 0; j < ns; j++)
        {
            d0[j] = Tensor.Zeros(ld, b, _stateWidths[j]);
            dN[j] = dFinalStates != null && j < dFinalStates.Count ? dFinalStates[j] : null;
        }
        Backward(dy, dN, dx, d0);
        return new RecurrentGradients(dx, d0[0], ns > 1 ? d0[1] : null) { States = d0 };
    }

    /// <summary>
    /// Backward into caller-owned gradient tensors: dx, dh0 and dc0 are accumulated into (+=), as are the
    /// parameter gradients. At a repeated (B, T) this allocates nothing.
    /// </summary>
    public void Backward(Tensor dy, Tensor? dhN, Tensor? dcN, Tensor dx, Tensor dh0, Tensor? dc0)
    {
        if (StateCount == 1) { Backward(dy, [dhN], dx, [dh0]); return; }
        if (StateCount > 2) throw new ArgumentException($"cell {Cell.Name} has {StateCount} states: use the overload that takes them all");
        Backward(dy, [dhN, dcN], dx, [dh0, dc0 ?? throw new ArgumentException($"{Cell.Name} needs a dc0 destination")]);
    }

    /// <summary>
    /// Backward into caller-owned tensors: dx and each ∂L/∂(initial state) in <paramref name="dInitialStates"/>
    /// ([L·D, B, W_j], one per state) are accumulated into (+=), as are the parameter gradients.
    /// </summary>
    public void Backward(Tensor dy, ReadOnlySpan<Tensor?> dFinalStates, Tensor dx, ReadOnlySpan<Tensor> dInitialStates) =>
        Backward(dy, dFinalStates, dx, dInitialStates, -1, null);

    /// <summary>
    /// Copies layer <paramref name="layer"/>'s output of the last Forward (before any dropout; 0 at padded steps)
    /// into <paramref name="dst"/>, shaped like y ([B, T, D·W_0] batch-first). A stack that reads an inner layer's
    /// output (the encoder's gated memory units) hands its gradient back through the <c>Backward</c> overload
    /// that takes <c>dLayerOutput</c>.
    /// </summary>
    public void CopyLayerOutput(int layer, Tensor dst)
    {
        var ws = _ws ?? throw new InvalidOperationException("CopyLayerOutput needs a Forward first");
        if ((uint)layer >= (uint)NumLayers) throw new ArgumentOutOfRangeException(nameof(layer), $"layer {layer} is outside 0..{NumLayers - 1}");
        int b = ws.Batch, t = ws.Steps, width = Directions * OutputSize;
        CheckDest(dst, BatchFirst ? [b, t, width] : [t, b, width], "layer output");
        if (BatchFirst) TransposeInto(dst.Span, ws.LayerOutput[layer].ReadOnlySpan, t, b, width);
        else if (layer == NumLayers - 1)
            for (int dir = 0; dir < Directions; dir++) ScatterOutput(ws, layer, dir, dst.Span);
        else ws.LayerOutput[layer].ReadOnlySpan.CopyTo(dst.Span);
    }

    /// <summary>Direction <paramref name="dir"/>'s h of every step of layer <paramref name="layer"/> (from its states)
    /// into its columns of a time-major [T, B, D·W_0] <paramref name="dst"/>, 0 at padded steps.</summary>
    private void ScatterOutput(Workspace ws, int layer, int dir, Span<float> dst)
    {
        int b = ws.Batch, t = ws.Steps, d = Directions, w0 = OutputSize, ls = _stateLd, bs = b * ls;
        var lens = ws.Lengths;
        var hs = ws.Dir[layer * d + dir].States.ReadOnlySpan.Slice(RunsBackwards(dir) ? 0 : bs, t * bs);
        if (d == 1 && ls == w0 && lens.IsEmpty) { hs.CopyTo(dst); return; }
        for (int row = 0; row < t * b; row++)
        {
            var to = dst.Slice(row * d * w0 + dir * w0, w0);
            if (!lens.IsEmpty && row / b >= lens[row % b]) to.Clear();
            else hs.Slice(row * ls, w0).CopyTo(to);
        }
    }

    /// <summary>
    /// Backward as above, plus ∂L/∂(output of layer <paramref name="extraLayer"/>) from a reader outside the stack
    /// (shaped like y; added to what that layer gets from above; −1 / null: none).
    /// </summary>
    public void Backward(Tensor dy, ReadOnlySpan<Tensor?> dFinalStates, Tensor dx, ReadOnlySpan<Tensor> dInitialStates, int extraLayer, Tensor? dLayerOutput)
    {
        if (!_haveActivations || _ws == null)
            throw new InvalidOperationException("Backward needs the activations of a training-mode Forward (set Training = true)");
        var ws = _ws;
        int b = ws.Batch, t = ws.Steps, h = HiddenSize, w0 = OutputSize, ls = _stateLd, d = Directions, ld = NumLayers * d, ns = StateCount, bs = b * ls;
        CheckDest(dy, BatchFirst ? [b, t, d * w0] : [t, b, d * w0], "dy");
        CheckDest(dx, BatchFirst ? [b, t, InputSize] : [t, b, InputSize], "dx");
        if (dFinalStates.Length > ns) throw new ArgumentException($"{dFinalStates.Length} final-state gradients given, cell {Cell.Name} has {ns} states");
        if (dInitialStates.Length != ns) throw new ArgumentException($"{dInitialStates.Length} initial-state gradient destinations given, cell {Cell.Name} has {ns} states");
        for (int j = 0; j < dFinalStates.Length; j++) if (dFinalStates[j] is { } g) CheckDest(g, [ld, b, _stateWidths[j]], _dFinalNames[j]);
        for (int j = 0; j < ns; j++) CheckDest(dInitialStates[j], [ld, b, _stateWidths[j]], _dInitNames[j]);
        var lens = ws.Lengths;

        // dY of the last layer, time-major [T, B, D·W_0]. A time-major dy is read in place (the runners only read it):
        // copying it was a serial pass over [T, B, D·W_0] before any worker started (0.2 ms of a 7 ms backward, GRU
        // 64·100·32·128 on two threads), unless a reader's gradient must be added to the last layer's.
        var dOut = ws.DOutput.Span;                             // [T, B, D·W_0] the layers below the last
        bool dyInPlace = !BatchFirst && !(dLayerOutput != null && extraLayer == NumLayers - 1);
        if (BatchFirst) TransposeInto(dOut, dy.ReadOnlySpan, b, t, d * w0);
        else if (!dyInPlace) dy.ReadOnlySpan.CopyTo(dOut);

        if (dLayerOutput != null)
        {
            if ((uint)extraLayer >= (uint)NumLayers) throw new ArgumentOutOfRangeException(nameof(extraLayer), $"layer {extraLayer} is outside 0..{NumLayers - 1}");
            CheckDest(dLayerOutput, BatchFirst ? [b, t, d * w0] : [t, b, d * w0], "dLayerOutput");
        }
        for (int layer = NumLayers - 1; layer >= 0; layer--)
        {
            int inSize = layer == 0 ? InputSize : d * w0;
            if (layer == extraLayer && dLayerOutput != null)
            {
                // The reader took the output before dropout, so its gradient joins after the mask.
                if (BatchFirst) TransposeAddInto(dOut, dLayerOutput.ReadOnlySpan, b, t, d * w0);
                else AddInto(dOut, dLayerOutput.ReadOnlySpan);
            }
            var dIn = ws.DInput[layer].Span;                    // [T, B, I_layer]
            dIn.Clear();
            for (int dir = 0; dir < d; dir++)
            {
                int slot = layer * d + dir;
                var st = ws.Dir[slot];
                var dState = st.D.Span; var dTmp = st.DTmp.Span; // [NS, B, Ws]
                for (int j = 0; j < ns; j++)
                {
                    var dst = dState.Slice(j * bs, bs);
                    var g = j < dFinalStates.Length ? dFinalStates[j] : null;
                    if (g == null) dst.Clear(); else CopyRows(dst, ls, g.ReadOnlySpan.Slice(slot * b * _stateWidths[j]), _stateWidths[j], b);
                }
                var args = new DirectionBackward
                {
                    X = ws.LayerInput[layer].ReadOnlySpan, InSize = inSize,
                    WIh = _wIh[slot].Value.ReadOnlySpan,
                    WHh = _wHh[slot] == null ? default : _wHh[slot]!.Value.ReadOnlySpan,
                    Extra = ExtraValues(slot), Params = Cell.Params,
                    Batch = b, Steps = t, Hidden = h, OutWidth = w0, StateLd = ls, Direction = dir, Directions = d,
                    Reverse = RunsBackwards(dir), HasBias = HasBias,
                    DOut = dyInPlace && layer == NumLayers - 1 ? dy.ReadOnlySpan : dOut, States = st.States.ReadOnlySpan, Saved = st.Saved.ReadOnlySpan,
                    DGi = st.Gx.Span, DGh = st.DGh == null ? default : st.DGh.Span, D = dState, DTmp = dTmp,
                    Scratch = st.Scratch.Span, DIn = dIn,
                    DWIh = _wIh[slot].Grad.Span, DWHh = _wHh[slot] == null ? default : _wHh[slot]!.Grad.Span,
                    DBIh = HasBias ? _bIh[slot]!.Grad.Span : default,
                    DBHh = HasBias && _bHh[slot] != null ? _bHh[slot]!.Grad.Span : default,
                    DExtra = ExtraGrads(slot), Lengths = lens,
                };
                var (path, inTmp) = _runners[slot].Backward(args, Execution);
                _backwardPaths[slot] = path;
                var result = inTmp ? dTmp : dState;
                for (int j = 0; j < ns; j++)
                {
                    int wj = _stateWidths[j];
                    var dst = dInitialStates[j].Span.Slice(slot * b * wj, b * wj);
                    for (int r = 0; r < b; r++) AddInto(dst.Slice(r * wj, wj), result.Slice(j * bs + r * ls, wj));
                }
            }
            if (layer > 0)
            {
                // The layer below produced this input (through dropout in training).
                dIn.CopyTo(dOut);
                if (Dropout > 0f) MultiplyInto(dOut, ws.DropoutMask[layer - 1].ReadOnlySpan);
            }
        }

        var dIn0 = ws.DInput[0].ReadOnlySpan;
        if (BatchFirst) TransposeAddInto(dx.Span, dIn0, t, b, InputSize);
        else AddInto(dx.Span, dIn0);
    }

    // ------------------------------------------------------------------ helpers

    private (int B, int T) CheckInput(Tensor x)
    {
        if (x.Rank != 3)
            throw new ArgumentException($"input must be rank 3 ({(BatchFirst ? "[B, T, I]" : "[T, B, I]")}), got {x}");
        int b = BatchFirst ? x.Dim(0) : x.Dim(1), t = BatchFirst ? x.Dim(1) : x.Dim(0);
        if (x.Dim(2) != InputSize) throw new ArgumentException($"input has {x.Dim(2)} features, the layer expects input_size {InputSize}");
        if (b <= 0 || t <= 0) throw new ArgumentException($"input {x} has an empty batch or sequence");
        return (b, t);
    }

    private void CheckState(Tensor? s, string name, int b, int width)
    {
        if (s != null && !s.HasShape(NumLayers * Directions, b, width))
            throw new ArgumentException($"{name} must be [{NumLayers * Directions}, {b}, {width}], got {Tensor.ShapeString(s.Shape)}");
    }

    /// <summary>Copies <paramref name="rows"/> rows, min(dstLd, srcLd) floats each, from src (rows <paramref name="srcLd"/>
    /// apart) into dst (rows <paramref name="dstLd"/> apart); one copy when both are contiguous. Into a wider row
    /// (a narrow state in the Ws-strided buffers) the unused columns are zeroed, so no stale value lingers there.</summary>
    private static void CopyRows(Span<float> dst, int dstLd, ReadOnlySpan<float> src, int srcLd, int rows)
    {
        int width = Math.Min(dstLd, srcLd);
        if (dstLd == srcLd) { src.Slice(0, rows * width).CopyTo(dst); return; }
        if (dstLd > srcLd) dst.Slice(0, rows * dstLd).Clear();
        for (int r = 0; r < rows; r++) src.Slice(r * srcLd, width).CopyTo(dst.Slice(r * dstLd, width));
    }

    private static void CheckDest(Tensor t, ReadOnlySpan<int> shape, string name)
    {
        if (!t.HasShape(shape)) throw new ArgumentException($"{name} must be {Tensor.ShapeString(shape)}, got {Tensor.ShapeString(t.Shape)}");
    }

    private Workspace EnsureWorkspace(int b, int t, bool training)
    {
        if (_ws != null && _ws.Batch == b && _ws.Steps == t && (_ws.Training || !training)) return _ws;
        _ws = new Workspace(this, b, t, training, _ws?.Arena);
        return _ws;
    }

    /// <summary>[A, B, C] → [B, A, C].</summary>
    internal static void TransposeInto(Span<float> dst, ReadOnlySpan<float> src, int a, int bDim, int c)
    {
        for (int i = 0; i < a; i++)
            for (int j = 0; j < bDim; j++)
                src.Slice((i * bDim + j) * c, c).CopyTo(dst.Slice((j * a + i) * c, c));
    }

    /// <summary>dst[B, A, C] += src[A, B, C] transposed.</summary>
    internal static void TransposeAddInto(Span<float> dst, ReadOnlySpan<float> src, int a, int bDim, int c)
    {
        for (int i = 0; i < a; i++)
            for (int j = 0; j < bDim; j++)
                AddInto(dst.Slice((j * a + i) * c, c), src.Slice((i * bDim + j) * c, c));
    }

    internal static void AddInto(Span<float> dst, ReadOnlySpan<float> src) =>
        System.Numerics.Tensors.TensorPrimitives.Add(dst, src, dst);

    private static void MultiplyInto(Span<float> dst, ReadOnlySpan<float> src) =>
        System.Numerics.Tensors.TensorPrimitives.Multiply(dst, src, dst);

    /// <summary>Buffers of one layer and direction, sized for one (B, T).</summary>
    private sealed class DirectionState
    {
        public required Tensor Gx, States, Saved, Scratch, BiasRow, D, DTmp;
        public Tensor? DGh;
    }

    /// <summary>
    /// Activations and gradient scratch for one (B, T), carved from one arena that a later workspace
    /// reuses when it is large enough (so alternating batch sizes, e.g. a short last batch, do not reallocate).
    /// An inference workspace carves only what a forward pass without kept activations reads (layer inputs and
    /// outputs, input projections, states, scratch): the saved gates and the gradient buffers, more than half of a
    /// training workspace, stay empty. When the arena must grow it grows to at least 1.5× its size, so a server whose
    /// cases lengthen by a step per request reallocates it a logarithmic number of times, not at every step.
    /// </summary>
    private sealed class Workspace
    {
        public readonly int Batch, Steps;
        /// <summary>Whether the gradient buffers and saved gates are carved (a training-mode Forward).</summary>
        public readonly bool Training;
        public readonly float[] Arena;
        public readonly Tensor[] LayerInput, LayerOutput, DInput, DropoutMask;
        public readonly Tensor DOutput;
        public readonly DirectionState[] Dir;
        private readonly int[] _lengths;
        private bool _padded;
        private int _cursor;

        /// <summary>The lengths of the last Forward, or empty when every row had all T steps.</summary>
        public ReadOnlySpan<int> Lengths => _padded ? _lengths : default;

        public Workspace(RecurrentLayer l, int b, int t, bool training, float[]? previous)
        {
            Batch = b; Steps = t; Training = training;
            _lengths = new int[b];
            var cell = l.Cell;
            int h = l.HiddenSize, w0 = l.OutputSize, ls = l._stateLd, d = l.Directions, g = cell.Gates, sw = cell.SavedWidth, ns = cell.States;
            bool apart = cell.HiddenBiasApart;
            int grad = training ? 1 : 0;                         // 0: the training-only buffers are empty
            long need = 0;
            for (int k = 0; k < l.NumLayers; k++)
            {
                int inSize = k == 0 ? l.InputSize : d * w0;
                need += (1L + grad) * t * b * inSize + (1L + grad) * t * b * d * w0;
            }
            need += (long)grad * t * b * d * w0;
            long perDir = (long)t * b * g * h * (apart ? 1 + grad : 1) + (long)ns * (t + 1) * b * ls + (long)grad * t * b * sw * h
                + (long)b * cell.ScratchWidth * h + g * h + 2L * grad * ns * b * ls;
            need += perDir * l.NumLayers * d;
            if (need > Array.MaxLength) throw new OutOfMemoryException($"workspace for B={b}, T={t} needs {need} floats");
            Arena = previous != null && previous.Length >= need ? previous
                : new float[Math.Max(need, Math.Min(Array.MaxLength, (long)(1.5 * (previous?.Length ?? 0))))];

            LayerInput = new Tensor[l.NumLayers]; LayerOutput = new Tensor[l.NumLayers];
            DInput = new Tensor[l.NumLayers]; DropoutMask = new Tensor[Math.Max(l.NumLayers - 1, 0)];
            for (int k = 0; k < l.NumLayers; k++)
            {
                int inSize = k == 0 ? l.InputSize : d * w0;
                LayerInput[k] = Take(t, b, inSize);
                LayerOutput[k] = Take(t, b, d * w0);
                DInput[k] = Take(grad * t, b, inSize);
                if (k + 1 < l.NumLayers) DropoutMask[k] = Take(grad * t, b, d * w0);
            }
            DOutput = Take(grad * t, b, d * w0);
            Dir = new DirectionState[l.NumLayers * d];
            for (int s = 0; s < Dir.Length; s++)
            {
                // ∂L/∂gx overwrites the input projections: backward never reads them (the gates it
                // needs are in Saved), and at T·B·G·H floats this is the largest buffer after Saved.
                Dir[s] = new DirectionState
                {
                    Gx = Take(t, b, g * h),
                    States = Take(ns, t + 1, b, ls),
                    Saved = Take(grad * t, b, sw * h),
                    Scratch = Take(b, cell.ScratchWidth * h),
                    BiasRow = Take(g * h),
                    DGh = apart ? Take(grad * t, b, g * h) : null,
                    D = Take(grad * ns, b, ls), DTmp = Take(grad * ns, b, ls),
                };
            }
        }

        /// <summary>Checks and keeps per-row lengths; empty when absent or when every row has all T steps.</summary>
        public ReadOnlySpan<int> SetLengths(ReadOnlySpan<int> lengths, int t)
        {
            _padded = false;
            if (lengths.IsEmpty) return default;
            if (lengths.Length != Batch) throw new ArgumentException($"lengths has {lengths.Length} entries, the batch has {Batch} rows");
            for (int r = 0; r < Batch; r++)
            {
                if (lengths[r] < 0 || lengths[r] > t) throw new ArgumentException($"lengths[{r}] = {lengths[r]} is outside 0..{t}");
                _padded |= lengths[r] < t;
            }
            lengths.CopyTo(_lengths);
            return Lengths;
        }

        private Tensor Take(params int[] shape)
        {
            var tensor = new Tensor(Arena, _cursor, shape);
            _cursor += tensor.Length;
            return tensor;
        }
    }
}
