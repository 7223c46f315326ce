using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Forecasting;

/// <summary>Architecture of a <see cref="ForecastNetwork"/> (stored in the model file).</summary>
public sealed record ForecastNetworkConfig
{
    /// <summary>The recurrent cell as <see cref="CellDefinition.ToString"/> writes it: "gru", "lstm", "slstm(forget=exp,heads=4)", ...</summary>
    public string Cell { get; init; } = CellRegistry.Default;
    /// <summary>F: features per lookback step (targets first, then past and future covariates).</summary>
    public int InputFeatures { get; init; }
    /// <summary>Ff: known-future features per horizon step (0 = none).</summary>
    public int FutureFeatures { get; init; }
    public int Hidden { get; init; } = 64;
    public int Layers { get; init; } = 1;
    /// <summary>L: lookback steps.</summary>
    public int Lookback { get; init; }
    /// <summary>N: horizon steps.</summary>
    public int Horizon { get; init; }
    /// <summary>C: target channels predicted per step.</summary>
    public int Outputs { get; init; } = 1;
    /// <summary>Quantile levels; empty for a point forecast.</summary>
    public float[] Quantiles { get; init; } = [];
    /// <summary>P: lookback steps per patch (≤ 1 = no patching).</summary>
    public int Patch { get; init; }
    /// <summary>"direct" (one linear head for all N steps) or "recurrent" (a decoder run over the horizon).</summary>
    public string Decoder { get; init; } = "direct";
    public float Dropout { get; init; }
    public ulong Seed { get; init; }

    public int QuantileCount => Math.Max(Quantiles.Length, 1);
    public int PatchCount => Patch > 1 ? Lookback / Patch : Lookback;
}

/// <summary>
/// The forecasting network: [optional patch embedding] → recurrent encoder → head.
/// <list type="bullet">
/// <item>Patching: the last S·P lookback steps (S = ⌊L/P⌋) become S tokens, each P·F values embedded by a Linear to H.</item>
/// <item>Direct head: Linear([h_last ‖ future features of all N steps]) → N·C·Q values at once.</item>
/// <item>Recurrent decoder: a second recurrent stack, started from the encoder's final states, reads
/// [future features ‖ 1] for each horizon step; a Linear maps each step's output to C·Q values.</item>
/// </list>
/// Input x [B, L, F], future [B, N, Ff]; output [B, N, C, Q].
/// </summary>
public sealed class ForecastNetwork : Module
{
    private readonly Linear? _patch;
    private readonly RecurrentLayer _encoder;
    private readonly RecurrentLayer? _decoder;
    private readonly Linear _head;


    public ForecastNetworkConfig Config { get; }

    /// <summary>The recurrent encoder (batch-first).</summary>
    public RecurrentLayer Encoder => _encoder;

    /// <summary>The output head: [h_last ‖ future] → N·C·Q (direct) or h_t → C·Q (recurrent decoder).</summary>
    public Linear Head => _head;

    /// <summary>The patch embedding P·F → H (null without patching).</summary>
    public Linear? PatchEmbedding => _patch;

    /// <summary>The recurrent decoder over the horizon (batch-first; null with the direct head).</summary>
    public RecurrentLayer? Decoder => _decoder;

    public ForecastNetwork(ForecastNetworkConfig config)
    {
        Config = config;
        if (config.Lookback <= 0) throw new ArgumentException($"lookback must be positive, got {config.Lookback}");
        if (config.Horizon <= 0) throw new ArgumentException($"horizon must be positive, got {config.Horizon}");
        if (config.InputFeatures <= 0) throw new ArgumentException("the network needs at least one input feature");
        if (config.Patch > config.Lookback) throw new ArgumentException($"patch {config.Patch} is longer than the lookback {config.Lookback}");
        var cell = CellRegistry.FromText(config.Cell);
        int h = config.Hidden, w0 = cell.StateWidth(0, h), seed = (int)(config.Seed % int.MaxValue);
        int encIn = config.InputFeatures;
        if (config.Patch > 1)
        {
            _patch = new Linear(config.Patch * config.InputFeatures, h, seed: (ulong)seed + 1);
            encIn = h;
        }
        _encoder = new RecurrentLayer(cell, encIn, h, config.Layers, batchFirst: true, dropout: config.Dropout, seed: (ulong)seed + 2);
        int cq = config.Outputs * config.QuantileCount;
        switch (config.Decoder)
        {
            case "direct":
                _head = new Linear(w0 + config.Horizon * config.FutureFeatures, config.Horizon * cq, seed: (ulong)seed + 3);
                break;
            case "recurrent":
                _decoder = new RecurrentLayer(cell, config.FutureFeatures + 1, h, config.Layers, batchFirst: true, dropout: config.Dropout, seed: (ulong)seed + 4);
                _head = new Linear(w0, cq, seed: (ulong)seed + 3);
                break;
            default:
                throw new ArgumentException($"decoder must be 'direct' or 'recurrent', got '{config.Decoder}'");
        }
    }

    public override IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Parameter);

    public override IEnumerable<(string Name, Parameter Parameter)> NamedParameters()
    {
        if (_patch != null) foreach (var p in _patch.Parameters()) yield return ("patch." + p.Name, p);
        foreach (var p in _encoder.Parameters()) yield return ("encoder." + p.Name, p);
        if (_decoder != null) foreach (var p in _decoder.Parameters()) yield return ("decoder." + p.Name, p);
        foreach (var p in _head.Parameters()) yield return ("head." + p.Name, p);
    }

    /// <summary>
    /// x [B, L, F], future [B, N, Ff] (null when Ff = 0) → predictions [B, N, C, Q]. The returned tensor is
    /// the network's own buffer, valid until the next call; at a repeated batch size nothing large is allocated.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? future)
    {
        var c = Config;
        if (x.Rank != 3 || x.Dim(1) != c.Lookback || x.Dim(2) != c.InputFeatures)
            throw new ArgumentException($"network input must be [B, {c.Lookback}, {c.InputFeatures}], got {x}");
        int b = x.Dim(0), h = _encoder.OutputSize, n = c.Horizon, ff = c.FutureFeatures, k = c.Layers;
        if (ff > 0 && (future == null || !future.HasShape(b, n, ff)))
            throw new ArgumentException($"future features must be [{b}, {n}, {ff}], got {future?.ToString() ?? "none"}");
        var buf = BuffersFor(b);
        foreach (var m in Modules()) m.Training = Training;

        Tensor encIn = x;
        if (_patch != null)
        {
            int s = c.PatchCount, pf = c.Patch * c.InputFeatures;
            var patches = buf.Patches!.Span;                                // [B·S, P·F]
            int skip = (c.Lookback - s * c.Patch) * c.InputFeatures;
            for (int i = 0; i < b; i++)
                x.ReadOnlySpan.Slice(i * c.Lookback * c.InputFeatures + skip, s * pf).CopyTo(patches.Slice(i * s * pf, s * pf));
            _patch.Forward(patches, buf.PatchOut!.Span, b * s);             // [B, S, H]
            encIn = buf.PatchOut;
        }
        _encoder.Forward(encIn, default, buf.EncY, buf.EncStates, default); // h_n, … [K, B, W_j]
        var hLast = buf.EncStates[0].ReadOnlySpan.Slice((k - 1) * b * h, b * h);   // [B, W_0]

        if (_decoder == null)
        {
            int w = h + n * ff;
            var headIn = buf.HeadIn!.Span;                                  // [B, W_0 + N·Ff]
            for (int i = 0; i < b; i++)
            {
                hLast.Slice(i * h, h).CopyTo(headIn.Slice(i * w, h));
                if (ff > 0) future!.ReadOnlySpan.Slice(i * n * ff, n * ff).CopyTo(headIn.Slice(i * w + h, n * ff));
            }
            _head.Forward(headIn, buf.Pred.Span, b);
            return buf.Pred;
        }

        var decIn = buf.DecIn!.Span;                                        // [B, N, Ff + 1]
        for (int i = 0; i < b * n; i++)
        {
            if (ff > 0) future!.ReadOnlySpan.Slice(i * ff, ff).CopyTo(decIn.Slice(i * (ff + 1), ff));
            decIn[i * (ff + 1) + ff] = 1f;
        }
        _decoder.Forward(buf.DecIn, buf.EncStates, buf.DecY!, buf.DecStates!, default);   // y [B, N, W_0]
        _head.Forward(buf.DecY!.ReadOnlySpan, buf.Pred.Span, b * n);
        return buf.Pred;
    }

    /// <summary>Accumulates parameter gradients for ∂L/∂predictions [B, N, C, Q] of the last training-mode Forward.</summary>
    public void Backward(Tensor dPred)
    {
        var buf = _buffers ?? throw new InvalidOperationException("Backward needs a training-mode Forward first");
        var c = Config;
        int b = buf.Batch, h = _encoder.OutputSize, n = c.Horizon, ff = c.FutureFeatures, k = c.Layers;
        var dN = buf.DEncStates;                                            // [K, B, W_j] each: ∂L/∂(encoder final states)
        foreach (var d in dN) d.Span.Clear();
        var dhN = dN[0];
        if (_decoder == null)
        {
            int w = h + n * ff;
            var dHeadIn = buf.DHeadIn!.Span;                                // [B, W_0 + N·Ff]
            _head.Backward(buf.HeadIn!.ReadOnlySpan, dPred.ReadOnlySpan, dHeadIn, b, false);
            for (int i = 0; i < b; i++)
                dHeadIn.Slice(i * w, h).CopyTo(dhN.Span.Slice(((k - 1) * b + i) * h, h));
        }
        else
        {
            _head.Backward(buf.DecY!.ReadOnlySpan, dPred.ReadOnlySpan, buf.DDecY!.Span, b * n, false);
            buf.DDecIn!.Span.Clear();
            // The decoder starts from the encoder's final states: its ∂L/∂(initial states) are the encoder's ∂L/∂(final states).
            _decoder.Backward(buf.DDecY, default, buf.DDecIn, dN);
        }
        buf.DEncIn.Span.Clear();
        foreach (var d in buf.DEncStates0) d.Span.Clear();
        // Only the final states feed the head or decoder: ∂L/∂y of the encoder is zero.
        _encoder.Backward(buf.DEncY, buf.DEncStatesIn, buf.DEncIn, buf.DEncStates0);
        if (_patch != null) _patch.Backward(buf.Patches!.ReadOnlySpan, buf.DEncIn.ReadOnlySpan, default, b * c.PatchCount, false);
    }

    private Buffers? _buffers;                                  // of the last Forward (Backward uses them)
    private readonly Dictionary<int, Buffers> _byBatch = [];

    /// <summary>
    /// Buffers for batch size <paramref name="b"/>. Training alternates with validation batches of another
    /// size, so a few sizes are kept; beyond four (an evaluation's ragged last batches) the cache starts over.
    /// </summary>
    private Buffers BuffersFor(int b)
    {
        if (!_byBatch.TryGetValue(b, out var buf))
        {
            if (_byBatch.Count >= 4) _byBatch.Clear();
            _byBatch[b] = buf = new Buffers(Config, b, _encoder);
        }
        return _buffers = buf;
    }

    /// <summary>Activations and gradients of one batch size, reused across calls (DEncY stays zero).
    /// NS state tensors [K, B, W_j] each where the cell has NS states (h first; W_j = H unless the cell narrows a state).</summary>
    private sealed class Buffers
    {
        public readonly int Batch;
        public readonly Tensor? Patches, PatchOut, HeadIn, DHeadIn, DecIn, DecY, DDecY, DDecIn;
        public readonly Tensor EncY, Pred, DEncY, DEncIn;
        public readonly Tensor[] EncStates, DEncStates, DEncStates0;
        public readonly Tensor[]? DecStates;
        public readonly Tensor?[] DEncStatesIn;     // DEncStates as the encoder's ∂L/∂(final states)

        public Buffers(ForecastNetworkConfig c, int b, RecurrentLayer encoder)
        {
            Batch = b;
            int h = encoder.OutputSize, n = c.Horizon, ff = c.FutureFeatures, k = c.Layers, s = c.Patch > 1 ? c.PatchCount : c.Lookback;
            int encIn = encoder.InputSize;
            Tensor[] States() => [.. Enumerable.Range(0, encoder.StateCount).Select(j => Tensor.Zeros(k, b, encoder.StateWidth(j)))];
            if (c.Patch > 1) { Patches = Tensor.Zeros(b * s, c.Patch * c.InputFeatures); PatchOut = Tensor.Zeros(b, s, c.Hidden); }
            EncY = Tensor.Zeros(b, s, h); EncStates = States();
            Pred = Tensor.Zeros(b, n, c.Outputs, c.QuantileCount);
            DEncStates = States(); DEncStatesIn = [.. DEncStates];
            DEncY = Tensor.Zeros(b, s, h); DEncIn = Tensor.Zeros(b, s, encIn);
            DEncStates0 = States();
            if (c.Decoder == "direct") { HeadIn = Tensor.Zeros(b, h + n * ff); DHeadIn = Tensor.Zeros(b, h + n * ff); }
            else
            {
                DecIn = Tensor.Zeros(b, n, ff + 1); DecY = Tensor.Zeros(b, n, h); DecStates = States();
                DDecY = Tensor.Zeros(b, n, h); DDecIn = Tensor.Zeros(b, n, ff + 1);
            }
        }
    }

    /// <summary>States of the dropout generators (for checkpoints).</summary>
    public string[] SaveRngState() => Recurrent().Select(r => r.DropoutRng.SaveState()).ToArray();

    public void RestoreRngState(string[] states)
    {
        var layers = Recurrent().ToArray();
        if (states.Length != layers.Length) throw new InvalidDataException($"checkpoint holds {states.Length} RNG states for {layers.Length} recurrent stacks");
        for (int i = 0; i < layers.Length; i++) layers[i].DropoutRng.Restore(states[i]);
    }

    private IEnumerable<RecurrentLayer> Recurrent()
    {
        yield return _encoder;
        if (_decoder != null) yield return _decoder;
    }

    private IEnumerable<Module> Modules()
    {
        if (_patch != null) yield return _patch;
        yield return _encoder;
        if (_decoder != null) yield return _decoder;
        yield return _head;
    }
}
