using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Forecasting;

/// <summary>Architecture of a <see cref="ForecastNetwork"/> (stored in the model file).</summary>
public sealed record ForecastNetworkConfig
{
    /// <summary>"gru" or "lstm".</summary>
    public string Cell { get; init; } = "gru";
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

    // Kept from the last training-mode forward for backward.
    private Tensor? _patchIn, _headIn, _decoderOut;
    private int _batch;

    public ForecastNetworkConfig Config { get; }

    /// <summary>The recurrent encoder (batch-first).</summary>
    public RecurrentLayer Encoder => _encoder;

    /// <summary>The output head: [h_last ‖ future] → N·C·Q (direct) or h_t → C·Q (recurrent decoder).</summary>
    public Linear Head => _head;

    public ForecastNetwork(ForecastNetworkConfig config)
    {
        Config = config;
        if (config.Lookback <= 0) throw new ArgumentException($"lookback must be positive, got {config.Lookback}");
        if (config.Horizon <= 0) throw new ArgumentException($"horizon must be positive, got {config.Horizon}");
        if (config.InputFeatures <= 0) throw new ArgumentException("the network needs at least one input feature");
        if (config.Patch > config.Lookback) throw new ArgumentException($"patch {config.Patch} is longer than the lookback {config.Lookback}");
        var kind = CellRegistry.Parse(config.Cell);
        if (kind is not (CellKind.Gru or CellKind.Lstm)) throw new ArgumentException($"forecaster cell must be gru or lstm, got '{config.Cell}'");
        int h = config.Hidden, seed = (int)(config.Seed % int.MaxValue);
        int encIn = config.InputFeatures;
        if (config.Patch > 1)
        {
            _patch = new Linear(config.Patch * config.InputFeatures, h, seed: (ulong)seed + 1);
            encIn = h;
        }
        _encoder = new RecurrentLayer(kind, encIn, h, config.Layers, batchFirst: true, dropout: config.Dropout, seed: (ulong)seed + 2);
        int cq = config.Outputs * config.QuantileCount;
        switch (config.Decoder)
        {
            case "direct":
                _head = new Linear(h + config.Horizon * config.FutureFeatures, config.Horizon * cq, seed: (ulong)seed + 3);
                break;
            case "recurrent":
                _decoder = new RecurrentLayer(kind, config.FutureFeatures + 1, h, config.Layers, batchFirst: true, dropout: config.Dropout, seed: (ulong)seed + 4);
                _head = new Linear(h, cq, seed: (ulong)seed + 3);
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

    /// <summary>x [B, L, F], future [B, N, Ff] (null when Ff = 0) → predictions [B, N, C, Q].</summary>
    public Tensor Forward(Tensor x, Tensor? future)
    {
        var c = Config;
        if (x.Rank != 3 || x.Dim(1) != c.Lookback || x.Dim(2) != c.InputFeatures)
            throw new ArgumentException($"network input must be [B, {c.Lookback}, {c.InputFeatures}], got {x}");
        int b = x.Dim(0), h = c.Hidden, n = c.Horizon, ff = c.FutureFeatures;
        if (ff > 0 && (future == null || !future.HasShape(b, n, ff)))
            throw new ArgumentException($"future features must be [{b}, {n}, {ff}], got {future?.ToString() ?? "none"}");
        _batch = b;
        foreach (var m in Modules()) m.Training = Training;

        Tensor encIn = x;
        if (_patch != null)
        {
            int s = c.PatchCount, pf = c.Patch * c.InputFeatures;
            var patches = Tensor.Zeros(b * s, pf);                         // [B·S, P·F]
            int skip = (c.Lookback - s * c.Patch) * c.InputFeatures;
            for (int i = 0; i < b; i++)
                x.ReadOnlySpan.Slice(i * c.Lookback * c.InputFeatures + skip, s * pf).CopyTo(patches.Span.Slice(i * s * pf, s * pf));
            encIn = _patch.Forward(patches).Reshape(b, s, h);             // [B, S, H]
            _patchIn = patches;
        }
        var enc = _encoder.Forward(encIn);                                 // h_n [K, B, H]
        var hLast = enc.Hidden.Row(c.Layers - 1);                          // [B, H]
        int cq = c.Outputs * c.QuantileCount;

        if (_decoder == null)
        {
            var headIn = Tensor.Zeros(b, h + n * ff);                     // [B, H + N·Ff]
            for (int i = 0; i < b; i++)
            {
                hLast.ReadOnlySpan.Slice(i * h, h).CopyTo(headIn.Span.Slice(i * (h + n * ff), h));
                if (ff > 0) future!.ReadOnlySpan.Slice(i * n * ff, n * ff).CopyTo(headIn.Span.Slice(i * (h + n * ff) + h, n * ff));
            }
            _headIn = headIn;
            return _head.Forward(headIn).Reshape(b, n, c.Outputs, c.QuantileCount);
        }

        var decIn = Tensor.Zeros(b, n, ff + 1);                          // [B, N, Ff + 1]
        for (int i = 0; i < b * n; i++)
        {
            if (ff > 0) future!.ReadOnlySpan.Slice(i * ff, ff).CopyTo(decIn.Span.Slice(i * (ff + 1), ff));
            decIn.Span[i * (ff + 1) + ff] = 1f;
        }
        var dec = _decoder.Forward(decIn, enc.Hidden, enc.Cell);          // y [B, N, H]
        _decoderOut = dec.Output;
        return _head.Forward(dec.Output.Reshape(b * n, h)).Reshape(b, n, c.Outputs, c.QuantileCount);
    }

    /// <summary>Accumulates parameter gradients for ∂L/∂predictions [B, N, C, Q].</summary>
    public void Backward(Tensor dPred)
    {
        var c = Config;
        int b = _batch, h = c.Hidden, n = c.Horizon, ff = c.FutureFeatures, k = c.Layers;
        var dhN = Tensor.Zeros(k, b, h);
        Tensor? dcN = null;
        if (_decoder == null)
        {
            var headIn = _headIn ?? throw new InvalidOperationException("Backward needs a training-mode Forward first");
            var dHeadIn = Tensor.Zeros(headIn.Shape);
            _head.Backward(headIn.ReadOnlySpan, dPred.ReadOnlySpan, dHeadIn.Span, b, false);
            for (int i = 0; i < b; i++)
                dHeadIn.ReadOnlySpan.Slice(i * (h + n * ff), h).CopyTo(dhN.Span.Slice(((k - 1) * b + i) * h, h));
        }
        else
        {
            var decOut = _decoderOut ?? throw new InvalidOperationException("Backward needs a training-mode Forward first");
            var dDecOut = Tensor.Zeros(decOut.Shape);
            _head.Backward(decOut.ReadOnlySpan, dPred.ReadOnlySpan, dDecOut.Span, b * n, false);
            var g = _decoder.Backward(dDecOut);
            dhN = g.Hidden;
            dcN = g.Cell;
        }
        int s = _patch != null ? c.PatchCount : c.Lookback;
        var dEncOut = Tensor.Zeros(b, s, h);
        var dEncIn = _encoder.Backward(dEncOut, dhN, dcN).Input;
        if (_patch != null) _patch.Backward(_patchIn!.ReadOnlySpan, dEncIn.ReadOnlySpan, default, b * s, false);
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
