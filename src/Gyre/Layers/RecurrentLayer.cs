using Gyre.Cells;
using Gyre.Kernels;
using Gyre.Tensors;

namespace Gyre.Layers;

/// <summary>What a recurrent layer returns: the last layer's outputs and the final states.</summary>
/// <param name="Output">y: [B, T, D·H] when batch-first, else [T, B, D·H] (forward ‖ reverse).</param>
/// <param name="Hidden">h_n: [L·D, B, H].</param>
/// <param name="Cell">c_n: [L·D, B, H] for LSTM, else null.</param>
public sealed record RecurrentOutput(Tensor Output, Tensor Hidden, Tensor? Cell);

/// <summary>Gradients with respect to a recurrent layer's inputs.</summary>
/// <param name="Input">∂L/∂x, shaped as x.</param>
/// <param name="Hidden">∂L/∂h0: [L·D, B, H].</param>
/// <param name="Cell">∂L/∂c0 for LSTM, else null.</param>
public sealed record RecurrentGradients(Tensor Input, Tensor Hidden, Tensor? Cell);

/// <summary>
/// The multi-layer, optionally bidirectional recurrent driver behind <see cref="Gru"/>, <see cref="Lstm"/>
/// and <see cref="Rnn"/>: PyTorch's nn.RNNBase semantics, parameter names and shapes.
/// <para>
/// Dimension letters: B batch, T sequence length, I input size of the layer, H hidden size,
/// G gate blocks (3 GRU, 4 LSTM, 1 RNN), D directions (1 or 2), L layers.
/// </para>
/// Internally everything is time-major ([T, B, ·]) so that one time step is a contiguous [B, ·] block.
/// The input projection of a layer is one GEMM over all T·B rows; only h·W_hhᵀ and the fused gate
/// kernel run inside the time loop. Activations live in a workspace sized for (B, T) and reused
/// across calls; a call at the same (B, T) allocates nothing but its returned tensors
/// (and nothing at all through the overloads that take destinations).
/// Not thread-safe: one forward/backward at a time per layer instance.
/// <para>
/// Beyond PyTorch: <see cref="CellKind.GruResetBefore"/> (ONNX linear_before_reset = 0, Keras
/// reset_after = False) and <see cref="ReverseOnly"/> stacks (ONNX direction "reverse").
/// </para>
/// </summary>
public partial class RecurrentLayer : Module
{
    private readonly ParameterBlock _block;
    private readonly Parameter[] _wIh, _wHh;
    private readonly Parameter?[] _bIh, _bHh;
    private Workspace? _ws;
    private bool _haveActivations;
    private readonly bool _singleCellNames;
    private RecurrentStepWeights[]? _stepWeights;

    public CellKind Kind { get; }
    public int InputSize { get; }
    public int HiddenSize { get; }
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

    public int Directions => Bidirectional ? 2 : 1;
    internal int GateCount => CellRegistry.Gates(Kind);

    /// <summary>Whether direction <paramref name="dir"/> (0 forward slot, 1 reverse slot) walks time backwards.</summary>
    private bool RunsBackwards(int dir) => dir == 1 || ReverseOnly;

    /// <summary>Builds the layer with PyTorch's initialisation: every parameter U(−1/√H, 1/√H).</summary>
    public RecurrentLayer(CellKind kind, int inputSize, int hiddenSize, int numLayers = 1, bool bias = true,
        bool batchFirst = false, float dropout = 0f, bool bidirectional = false, ulong seed = 0,
        bool singleCellNames = false, bool reverseOnly = false)
    {
        if (inputSize <= 0) throw new ArgumentOutOfRangeException(nameof(inputSize), $"input_size must be positive, got {inputSize}");
        if (hiddenSize <= 0) throw new ArgumentOutOfRangeException(nameof(hiddenSize), $"hidden_size must be positive, got {hiddenSize}");
        if (numLayers <= 0) throw new ArgumentOutOfRangeException(nameof(numLayers), $"num_layers must be positive, got {numLayers}");
        if (dropout is < 0f or >= 1f || float.IsNaN(dropout)) throw new ArgumentOutOfRangeException(nameof(dropout), $"dropout must be in [0, 1), got {dropout}");
        if (reverseOnly && bidirectional) throw new ArgumentException("reverseOnly applies to unidirectional layers only (a bidirectional layer already runs both ways)", nameof(reverseOnly));
        ReverseOnly = reverseOnly; _singleCellNames = singleCellNames;
        Kind = kind; InputSize = inputSize; HiddenSize = hiddenSize; NumLayers = numLayers;
        Bidirectional = bidirectional; HasBias = bias; BatchFirst = batchFirst; Dropout = dropout;
        DropoutRng = new Rng(seed ^ 0x5DEECE66DUL);

        int g = GateCount, h = hiddenSize, d = Directions;
        var layout = new List<(string, int[])>();
        for (int layer = 0; layer < numLayers; layer++)
            for (int dir = 0; dir < d; dir++)
            {
                int inSize = layer == 0 ? inputSize : d * h;
                string suffix = singleCellNames ? "" : $"_l{layer}{(dir == 1 ? "_reverse" : "")}";
                layout.Add(($"weight_ih{suffix}", [g * h, inSize]));
                layout.Add(($"weight_hh{suffix}", [g * h, h]));
                if (bias)
                {
                    layout.Add(($"bias_ih{suffix}", [g * h]));
                    layout.Add(($"bias_hh{suffix}", [g * h]));
                }
            }
        _block = new ParameterBlock(layout);
        int slots = numLayers * d;
        _wIh = new Parameter[slots]; _wHh = new Parameter[slots];
        _bIh = new Parameter?[slots]; _bHh = new Parameter?[slots];
        int per = bias ? 4 : 2;
        for (int s = 0; s < slots; s++)
        {
            _wIh[s] = _block.Parameters[s * per];
            _wHh[s] = _block.Parameters[s * per + 1];
            if (bias) { _bIh[s] = _block.Parameters[s * per + 2]; _bHh[s] = _block.Parameters[s * per + 3]; }
        }
        float k = 1f / MathF.Sqrt(h);
        new Rng(seed).Uniform(_block.Values, -k, k);
    }

    public override IEnumerable<Parameter> Parameters() => _block.Parameters;

    /// <summary>All parameter values and gradients as two contiguous blocks (for optimizers).</summary>
    public ParameterBlock Block => _block;

    // ------------------------------------------------------------------ forward

    /// <summary>
    /// Runs the layer. x: [B, T, I] (batch-first) or [T, B, I]; h0, c0: [L·D, B, H] or null for zeros.
    /// In <see cref="Module.Training"/> mode the activations are kept for <see cref="Backward(Tensor, Tensor?, Tensor?)"/>.
    /// </summary>
    public RecurrentOutput Forward(Tensor x, Tensor? h0 = null, Tensor? c0 = null)
    {
        var (b, t) = CheckInput(x);
        int h = HiddenSize, ld = NumLayers * Directions;
        var y = BatchFirst ? Tensor.Zeros(b, t, Directions * h) : Tensor.Zeros(t, b, Directions * h);
        var hN = Tensor.Zeros(ld, b, h);
        var cN = Kind == CellKind.Lstm ? Tensor.Zeros(ld, b, h) : null;
        Forward(x, h0, c0, y, hN, cN);
        return new RecurrentOutput(y, hN, cN);
    }

    /// <summary>
    /// Runs the layer into caller-owned destinations (y shaped like the output, hN and cN [L·D, B, H]);
    /// at a repeated (B, T) this allocates nothing.
    /// </summary>
    public void Forward(Tensor x, Tensor? h0, Tensor? c0, Tensor y, Tensor hN, Tensor? cN)
    {
        var (b, t) = CheckInput(x);
        int h = HiddenSize, d = Directions, ld = NumLayers * d, g = GateCount;
        CheckState(h0, "h0", b); CheckState(c0, "c0", b);
        if (c0 != null && Kind != CellKind.Lstm) throw new ArgumentException("c0 is only for LSTM");
        CheckDest(y, BatchFirst ? [b, t, d * h] : [t, b, d * h], "y");
        CheckDest(hN, [ld, b, h], "h_n");
        if (Kind == CellKind.Lstm) CheckDest(cN ?? throw new ArgumentException("LSTM needs a c_n destination"), [ld, b, h], "c_n");

        var ws = EnsureWorkspace(b, t);
        bool keep = Training;
        _haveActivations = false;

        // [T, B, I] time-major copy of the input (layer 0's input buffer).
        if (BatchFirst) TransposeInto(ws.LayerInput[0].Span, x.ReadOnlySpan, b, t, InputSize);
        else x.ReadOnlySpan.CopyTo(ws.LayerInput[0].Span);

        for (int layer = 0; layer < NumLayers; layer++)
        {
            int inSize = layer == 0 ? InputSize : d * h;
            var input = ws.LayerInput[layer];                   // [T, B, I_layer]
            var output = ws.LayerOutput[layer];                 // [T, B, D·H]
            for (int dir = 0; dir < d; dir++)
            {
                int slot = layer * d + dir;
                var st = ws.Dir[slot];
                bool backwards = RunsBackwards(dir);
                ForwardDirection(st, slot, backwards, input.ReadOnlySpan, inSize, b, t,
                    h0 == null ? default : h0.ReadOnlySpan.Slice(slot * b * h, b * h),
                    c0 == null ? default : c0.ReadOnlySpan.Slice(slot * b * h, b * h), keep);
                // Scatter this direction's states into the [T, B, D·H] output.
                var states = st.Hs.ReadOnlySpan.Slice(backwards ? 0 : b * h, t * b * h);
                var outSpan = output.Span;
                for (int row = 0; row < t * b; row++)
                    states.Slice(row * h, h).CopyTo(outSpan.Slice(row * d * h + dir * h, h));
                // Final state: after the last processed step.
                st.Hs.ReadOnlySpan.Slice(backwards ? 0 : t * b * h, b * h).CopyTo(hN.Span.Slice(slot * b * h, b * h));
                if (cN != null) st.Cs!.ReadOnlySpan.Slice(backwards ? 0 : t * b * h, b * h).CopyTo(cN.Span.Slice(slot * b * h, b * h));
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

        var last = ws.LayerOutput[NumLayers - 1].ReadOnlySpan;
        if (BatchFirst) TransposeInto(y.Span, last, t, b, d * h);
        else last.CopyTo(y.Span);
        _haveActivations = keep;
    }

    private void ForwardDirection(DirectionState st, int slot, bool reverse, ReadOnlySpan<float> x, int inSize,
        int b, int t, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, bool keep)
    {
        int h = HiddenSize, g = GateCount, gh = g * h, rows = t * b;
        var wIh = _wIh[slot].Value.ReadOnlySpan;                // [G·H, I]
        var wHh = _wHh[slot].Value.ReadOnlySpan;                // [G·H, H]
        var gx = st.Gx.Span;                                    // [T, B, G·H]
        bool gru = Kind == CellKind.Gru;

        // One GEMM accumulates x·W_ihᵀ over all T·B rows onto the bias. The reset-after GRU keeps b_hh apart
        // because r multiplies (W_hn h + b_hn); every other cell folds it in here.
        var bias = HasBias ? st.BiasRow.Span : default;        // [G·H]
        if (HasBias)
        {
            _bIh[slot]!.Value.ReadOnlySpan.CopyTo(bias);
            if (!gru) AddInto(bias, _bHh[slot]!.Value.ReadOnlySpan);
        }
        // The fused multi-row LSTM projects x itself (per step at small I, RunFusedRows).
        bool fusedRows = RecurrentStepWeights.UseFusedRows(Kind, b, h);
        if (fusedRows) { }
        else if (HasBias && inSize > Gemm.InPlaceMaxK)
            // Compute-bound: each tile starts from the bias row (LSTM B=16 I=256 H=256: −0.8 ms of 26).
            Gemm.Multiply(false, true, rows, gh, inSize, x, inSize, wIh, inSize, gx, gh, bias);
        else if (HasBias)
        {
            // Small K, bound by gx's memory traffic: the streaming pass that writes the bias rows first was
            // measured faster than starting each tile from the bias (GRU B=64 I=32 H=128: 6.2 vs 6.5 ms).
            for (int r = 0; r < rows; r++) bias.CopyTo(gx.Slice(r * gh, gh));
            Gemm.Multiply(false, true, rows, gh, inSize, x, inSize, wIh, inSize, gx, gh, true);
        }
        else Gemm.Multiply(false, true, rows, gh, inSize, x, inSize, wIh, inSize, gx, gh, false);

        // States in processing convention: Hs[t] holds h before step t (forward) / after step t (reverse);
        // see the class notes. Forward: h_prev(t) = Hs[t], h(t) = Hs[t+1]; reverse: h_prev(t) = Hs[t+1], h(t) = Hs[t].
        var hs = st.Hs.Span;                                    // [T+1, B, H]
        var cs = st.Cs == null ? default : st.Cs.Span;          // [T+1, B, H]
        int bh = b * h;
        var hInit = hs.Slice(reverse ? t * bh : 0, bh);
        if (h0.IsEmpty) hInit.Clear(); else h0.CopyTo(hInit);
        if (Kind == CellKind.Lstm)
        {
            var cInit = cs.Slice(reverse ? t * bh : 0, bh);
            if (c0.IsEmpty) cInit.Clear(); else c0.CopyTo(cInit);
        }

        var saved = st.Saved.Span;                              // [T, B, S·H]
        int sw = CellRegistry.SavedWidth(Kind) * h;
        var ghBuf = st.Gh.Span;                                 // [B, G·H] (GRU)
        var bHh = HasBias ? _bHh[slot]!.Value.ReadOnlySpan : default;
        var rh = st.Rh == null ? default : st.Rh.Span;          // [B, H] r ⊙ h (reset-before GRU)
        bool relu = Kind == CellKind.RnnRelu;

        var stepWeights = StepWeights(slot);
        if (RecurrentStepWeights.UseFused(Kind, b))
        {
            stepWeights.RunFused(Kind, wHh, gru ? bHh : default, h, t, reverse, gx, hs, cs,
                keep ? saved : default, Gemm.Team ?? WorkerTeam.Shared);
            return;
        }
        if (fusedRows)
        {
            stepWeights.RunFusedRows(x, inSize, wIh, bias, wHh, b, h, t, reverse, gx, hs, cs, keep ? saved : default,
                Gemm.Team ?? WorkerTeam.Shared);
            return;
        }
        stepWeights.PackForGemm(wHh, g, h);
        var wHhPacked = stepWeights.HiddenToGates;              // W_hhᵀ packed once for all steps
        var team = Gemm.Team ?? WorkerTeam.Shared;
        if (RecurrentStepWeights.UseBatchSplit(Kind, b, team))
        {
            stepWeights.RunBatchSplit(Kind, HasBias, bHh, b, h, t, reverse, gx, hs, cs, keep ? saved : default, ghBuf, team);
            return;
        }

        for (int s = 0; s < t; s++)
        {
            int step = reverse ? t - 1 - s : s;
            var hPrev = hs.Slice((reverse ? step + 1 : step) * bh, bh);
            var hNext = hs.Slice((reverse ? step : step + 1) * bh, bh);
            var gStep = gx.Slice(step * b * gh, b * gh);
            var savedStep = keep && sw > 0 ? saved.Slice(step * b * sw, b * sw) : default;
            switch (Kind)
            {
                case CellKind.Gru:
                    if (HasBias) for (int r = 0; r < b; r++) bHh.CopyTo(ghBuf.Slice(r * gh, gh));
                    Gemm.Multiply(false, b, hPrev, h, wHhPacked, ghBuf, gh, HasBias);
                    GruGates.Forward(hNext, savedStep, gStep, ghBuf, hPrev, b, h);
                    break;
                case CellKind.GruResetBefore:
                    // n needs r first, so the recurrent product is two GEMMs around the reset kernel.
                    Gemm.Multiply(false, true, b, 2 * h, h, hPrev, h, wHh, h, gStep, gh, true);
                    GruResetBeforeGates.ResetForward(rh, gStep, hPrev, b, h);
                    Gemm.Multiply(false, true, b, h, h, rh, h, wHh.Slice(2 * h * h), h, gStep.Slice(2 * h), gh, true);
                    GruResetBeforeGates.CandidateForward(hNext, savedStep, gStep, rh, hPrev, b, h);
                    break;
                case CellKind.Lstm:
                    Gemm.Multiply(false, b, hPrev, h, wHhPacked, gStep, gh, true);
                    var cPrev = cs.Slice((reverse ? step + 1 : step) * bh, bh);
                    var cNext = cs.Slice((reverse ? step : step + 1) * bh, bh);
                    LstmGates.Forward(hNext, cNext, savedStep, gStep, cPrev, b, h);
                    break;
                default:
                    Gemm.Multiply(false, b, hPrev, h, wHhPacked, gStep, gh, true);
                    RnnCellMath.Forward(hNext, gStep, relu);
                    break;
            }
        }
    }

    // ------------------------------------------------------------------ backward

    /// <summary>
    /// Backpropagates through the last training-mode <c>Forward</c>. dy shaped like y; dhN, dcN: [L·D, B, H]
    /// or null for zero. Parameter gradients accumulate (+=) into <see cref="Parameter.Grad"/>.
    /// Returns new tensors ∂L/∂x, ∂L/∂h0 (and ∂L/∂c0).
    /// </summary>
    public RecurrentGradients Backward(Tensor dy, Tensor? dhN = null, Tensor? dcN = null)
    {
        var ws = _ws ?? throw new InvalidOperationException("Backward needs a training-mode Forward first");
        int b = ws.Batch, t = ws.Steps, ld = NumLayers * Directions;
        var dx = BatchFirst ? Tensor.Zeros(b, t, InputSize) : Tensor.Zeros(t, b, InputSize);
        var dh0 = Tensor.Zeros(ld, b, HiddenSize);
        var dc0 = Kind == CellKind.Lstm ? Tensor.Zeros(ld, b, HiddenSize) : null;
        Backward(dy, dhN, dcN, dx, dh0, dc0);
        return new RecurrentGradients(dx, dh0, dc0);
    }

    /// <summary>
    /// Backward into caller-owned gradient tensors: dx, dh0 and dc0 are accumulated into (+=), as are the
    /// parameter gradients. At a repeated (B, T) this allocates nothing.
    /// </summary>
    public void Backward(Tensor dy, Tensor? dhN, Tensor? dcN, Tensor dx, Tensor dh0, Tensor? dc0)
    {
        if (!_haveActivations || _ws == null)
            throw new InvalidOperationException("Backward needs the activations of a training-mode Forward (set Training = true)");
        var ws = _ws;
        int b = ws.Batch, t = ws.Steps, h = HiddenSize, d = Directions, ld = NumLayers * d;
        CheckDest(dy, BatchFirst ? [b, t, d * h] : [t, b, d * h], "dy");
        CheckDest(dx, BatchFirst ? [b, t, InputSize] : [t, b, InputSize], "dx");
        CheckDest(dh0, [ld, b, h], "dh0");
        if (dhN != null) CheckDest(dhN, [ld, b, h], "dh_n");
        if (Kind == CellKind.Lstm)
        {
            if (dcN != null) CheckDest(dcN, [ld, b, h], "dc_n");
            CheckDest(dc0 ?? throw new ArgumentException("LSTM needs a dc0 destination"), [ld, b, h], "dc0");
        }

        // dY of the last layer, time-major [T, B, D·H].
        var dOut = ws.DOutput.Span;
        if (BatchFirst) TransposeInto(dOut, dy.ReadOnlySpan, b, t, d * h);
        else dy.ReadOnlySpan.CopyTo(dOut);

        for (int layer = NumLayers - 1; layer >= 0; layer--)
        {
            int inSize = layer == 0 ? InputSize : d * h;
            var dIn = ws.DInput[layer].Span;                    // [T, B, I_layer]
            dIn.Clear();
            for (int dir = 0; dir < d; dir++)
            {
                int slot = layer * d + dir;
                BackwardDirection(ws.Dir[slot], slot, dir, RunsBackwards(dir), ws.LayerInput[layer].ReadOnlySpan, inSize, b, t,
                    dOut, dIn,
                    dhN == null ? default : dhN.ReadOnlySpan.Slice(slot * b * h, b * h),
                    dcN == null ? default : dcN.ReadOnlySpan.Slice(slot * b * h, b * h),
                    dh0.Span.Slice(slot * b * h, b * h), dc0 == null ? default : dc0.Span.Slice(slot * b * h, b * h));
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

    private void BackwardDirection(DirectionState st, int slot, int dir, bool reverse, ReadOnlySpan<float> x, int inSize,
        int b, int t, ReadOnlySpan<float> dOut, Span<float> dIn, ReadOnlySpan<float> dhN, ReadOnlySpan<float> dcN,
        Span<float> dh0, Span<float> dc0)
    {
        int h = HiddenSize, g = GateCount, gh = g * h, d = Directions, bh = b * h, rows = t * b;
        int sw = CellRegistry.SavedWidth(Kind) * h;
        var wIh = _wIh[slot].Value.ReadOnlySpan;                // [G·H, I]
        var wHh = _wHh[slot].Value.ReadOnlySpan;                // [G·H, H]
        var hs = st.Hs.ReadOnlySpan;                            // [T+1, B, H]
        var cs = st.Cs == null ? default : st.Cs.ReadOnlySpan;  // [T+1, B, H]
        var saved = st.Saved.ReadOnlySpan;                      // [T, B, S·H]
        var dGi = st.DGi.Span;                                  // [T, B, G·H] ∂L/∂(x·W_ihᵀ + b_ih)
        var dGh = Kind == CellKind.Gru ? st.DGh!.Span : dGi;    // [T, B, G·H] ∂L/∂(h·W_hhᵀ + b_hh)
        var dh = st.Dh.Span; var dhTmp = st.DhTmp.Span;         // [B, H]
        var dc = st.Dc.Span; var dcTmp = st.DcTmp.Span;         // [B, H]
        var dRh = st.Rh == null ? default : st.Rh.Span;         // [B, H] ∂L/∂(r ⊙ h) (reset-before GRU)
        bool relu = Kind == CellKind.RnnRelu;

        var stepWeights = StepWeights(slot);
        stepWeights.PackForBackward(wHh, g, h);
        var wHhPacked = stepWeights.GatesToHidden;              // W_hh packed once for all steps

        if (dhN.IsEmpty) dh.Clear(); else dhN.CopyTo(dh);
        if (Kind == CellKind.Lstm) { if (dcN.IsEmpty) dc.Clear(); else dcN.CopyTo(dc); }

        // Batch rows never interact in the time loop: with a team, each worker runs it for its own rows
        // (RecurrentStep.cs) and the loop below is skipped.
        int firstStep = t - 1;
        var team = Gemm.Team ?? WorkerTeam.Shared;
        if (RecurrentStepWeights.UseBatchSplit(Kind, b, team))
        {
            stepWeights.RunBackwardBatchSplit(Kind, b, h, t, reverse, d, dOut, hs, cs, saved, dGi, dGh, dh, dhTmp, dc, dcTmp, team);
            if (t % 2 == 1) { dh = dhTmp; dc = dcTmp; }         // where the last of the per-step swaps left them
            firstStep = -1;
        }
        for (int s = firstStep; s >= 0; s--)
        {
            int step = reverse ? t - 1 - s : s;
            // dh += this direction's slice of dY at this step.
            for (int r = 0; r < b; r++)
                AddInto(dh.Slice(r * h, h), dOut.Slice((step * b + r) * d * h + dir * h, h));
            var hPrev = hs.Slice((reverse ? step + 1 : step) * bh, bh);
            var dGiStep = dGi.Slice(step * b * gh, b * gh);
            switch (Kind)
            {
                case CellKind.Gru:
                    {
                        var dGhStep = dGh.Slice(step * b * gh, b * gh);
                        GruGates.Backward(dGiStep, dGhStep, dhTmp, dh, saved.Slice(step * b * sw, b * sw), hPrev, b, h);
                        Gemm.Multiply(false, b, dGhStep, gh, wHhPacked, dhTmp, h, true);
                        break;
                    }
                case CellKind.GruResetBefore:
                    {
                        var savedStep = saved.Slice(step * b * sw, b * sw);
                        GruResetBeforeGates.CandidateBackward(dGiStep, dhTmp, dh, savedStep, hPrev, b, h);
                        Gemm.Multiply(false, false, b, h, h, dGiStep.Slice(2 * h), gh, wHh.Slice(2 * h * h), h, dRh, h, false);
                        GruResetBeforeGates.ResetBackward(dGiStep, dhTmp, dRh, savedStep, hPrev, b, h);
                        Gemm.Multiply(false, false, b, h, 2 * h, dGiStep, gh, wHh, h, dhTmp, h, true);
                        break;
                    }
                case CellKind.Lstm:
                    {
                        var cPrev = cs.Slice((reverse ? step + 1 : step) * bh, bh);
                        LstmGates.Backward(dGiStep, dcTmp, dh, dc, saved.Slice(step * b * sw, b * sw), cPrev, b, h);
                        Gemm.Multiply(false, b, dGiStep, gh, wHhPacked, dhTmp, h, false);
                        var swapC = dc; dc = dcTmp; dcTmp = swapC;
                        break;
                    }
                default:
                    {
                        var hOut = hs.Slice((reverse ? step : step + 1) * bh, bh);
                        RnnCellMath.Backward(dGiStep, dh, hOut, relu);
                        Gemm.Multiply(false, b, dGiStep, gh, wHhPacked, dhTmp, h, false);
                        break;
                    }
            }
            var swap = dh; dh = dhTmp; dhTmp = swap;
        }
        AddInto(dh0, dh);
        if (Kind == CellKind.Lstm) AddInto(dc0, dc);

        // Weight gradients for all steps at once: dW_hh += dGhᵀ·H_prev, dW_ih += dGiᵀ·X, dX += dGi·W_ih.
        var hPrevAll = hs.Slice(reverse ? bh : 0, rows * h);    // [T, B, H] h_prev of each step, time order
        var dWhh = _wHh[slot].Grad.Span;                        // [G·H, H]
        if (Kind == CellKind.GruResetBefore)
        {
            // W_h[r|z] multiplied h_prev, W_hn multiplied r ⊙ h_prev (the last block of saved).
            Gemm.Multiply(true, false, 2 * h, h, rows, dGh, gh, hPrevAll, h, dWhh, h, true);
            Gemm.Multiply(true, false, h, h, rows, dGh.Slice(2 * h), gh, saved.Slice(3 * h), sw, dWhh.Slice(2 * h * h), h, true);
        }
        else Gemm.Multiply(true, false, gh, h, rows, dGh, gh, hPrevAll, h, dWhh, h, true);
        Gemm.Multiply(true, false, gh, inSize, rows, dGi, gh, x, inSize, _wIh[slot].Grad.Span, inSize, true);
        if (HasBias)
        {
            ColumnSumsInto(_bIh[slot]!.Grad.Span, dGi, rows, gh);
            ColumnSumsInto(_bHh[slot]!.Grad.Span, dGh, rows, gh);
        }
        Gemm.Multiply(false, false, rows, inSize, gh, dGi, gh, wIh, inSize, dIn, inSize, true);
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

    private void CheckState(Tensor? s, string name, int b)
    {
        if (s != null && !s.HasShape(NumLayers * Directions, b, HiddenSize))
            throw new ArgumentException($"{name} must be [{NumLayers * Directions}, {b}, {HiddenSize}], got {Tensor.ShapeString(s.Shape)}");
    }

    private static void CheckDest(Tensor t, ReadOnlySpan<int> shape, string name)
    {
        if (!t.HasShape(shape)) throw new ArgumentException($"{name} must be {Tensor.ShapeString(shape)}, got {Tensor.ShapeString(t.Shape)}");
    }

    private RecurrentStepWeights StepWeights(int slot)
    {
        _stepWeights ??= new RecurrentStepWeights[NumLayers * Directions];
        return _stepWeights[slot] ??= new RecurrentStepWeights();
    }

    private Workspace EnsureWorkspace(int b, int t)
    {
        if (_ws != null && _ws.Batch == b && _ws.Steps == t) return _ws;
        _ws = new Workspace(this, b, t, _ws?.Arena);
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

    /// <summary>dst[N] += Σ_rows src[rows, N], rows summed in order (fixed reduction order).</summary>
    private static void ColumnSumsInto(Span<float> dst, ReadOnlySpan<float> src, int rows, int n)
    {
        for (int r = 0; r < rows; r++) AddInto(dst, src.Slice(r * n, n));
    }

    /// <summary>Buffers of one layer and direction, sized for one (B, T).</summary>
    private sealed class DirectionState
    {
        public required Tensor Gx, Hs, Saved, Gh, BiasRow, DGi, Dh, DhTmp, Dc, DcTmp;
        public Tensor? Cs, DGh, Rh;
    }

    /// <summary>
    /// Activations and gradient scratch for one (B, T), carved from one arena that a later workspace
    /// reuses when it is large enough (so alternating batch sizes, e.g. a short last batch, do not reallocate).
    /// </summary>
    private sealed class Workspace
    {
        public readonly int Batch, Steps;
        public readonly float[] Arena;
        public readonly Tensor[] LayerInput, LayerOutput, DInput, DropoutMask;
        public readonly Tensor DOutput;
        public readonly DirectionState[] Dir;
        private int _cursor;

        public Workspace(RecurrentLayer l, int b, int t, float[]? previous)
        {
            Batch = b; Steps = t;
            int h = l.HiddenSize, d = l.Directions, g = l.GateCount, sw = CellRegistry.SavedWidth(l.Kind);
            bool lstm = l.Kind == CellKind.Lstm, gru = l.Kind == CellKind.Gru, resetBefore = l.Kind == CellKind.GruResetBefore;
            long need = 0;
            for (int k = 0; k < l.NumLayers; k++)
            {
                int inSize = k == 0 ? l.InputSize : d * h;
                need += 2L * t * b * inSize + 2L * t * b * d * h;
            }
            need += (long)t * b * d * h;
            long perDir = (long)t * b * g * h * (gru ? 2 : 1) + 2L * (t + 1) * b * h + (long)t * b * sw * h + (long)b * g * h + g * h + 4L * b * h
                + (resetBefore ? (long)b * h : 0);
            need += perDir * l.NumLayers * d;
            if (need > Array.MaxLength) throw new OutOfMemoryException($"workspace for B={b}, T={t} needs {need} floats");
            Arena = previous != null && previous.Length >= need ? previous : new float[need];

            LayerInput = new Tensor[l.NumLayers]; LayerOutput = new Tensor[l.NumLayers];
            DInput = new Tensor[l.NumLayers]; DropoutMask = new Tensor[Math.Max(l.NumLayers - 1, 0)];
            for (int k = 0; k < l.NumLayers; k++)
            {
                int inSize = k == 0 ? l.InputSize : d * h;
                LayerInput[k] = Take(t, b, inSize);
                LayerOutput[k] = Take(t, b, d * h);
                DInput[k] = Take(t, b, inSize);
                if (k + 1 < l.NumLayers) DropoutMask[k] = Take(t, b, d * h);
            }
            DOutput = Take(t, b, d * h);
            Dir = new DirectionState[l.NumLayers * d];
            for (int s = 0; s < Dir.Length; s++)
            {
                // ∂L/∂gi overwrites the input projections: backward never reads them (the gates it
                // needs are in Saved), and at T·B·G·H floats this is the largest buffer after Saved.
                var gx = Take(t, b, g * h);
                Dir[s] = new DirectionState
                {
                    Gx = gx,
                    Hs = Take(t + 1, b, h),
                    Cs = lstm ? Take(t + 1, b, h) : null,
                    Saved = Take(t, b, sw * h),
                    Gh = Take(b, g * h),
                    BiasRow = Take(g * h),
                    DGi = gx,
                    DGh = gru ? Take(t, b, g * h) : null,
                    Rh = resetBefore ? Take(b, h) : null,
                    Dh = Take(b, h), DhTmp = Take(b, h),
                    Dc = Take(b, h), DcTmp = Take(b, h),
                };
            }
        }

        private Tensor Take(params int[] shape)
        {
            var tensor = new Tensor(Arena, _cursor, shape);
            _cursor += tensor.Length;
            return tensor;
        }
    }
}
