using Gyre.Cells;
using System.Text.Json.Serialization;
using Gyre.Layers;
using Gyre.Models;
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
    /// <summary>G: gated memory units (SambaY) after the encoder's recurrent layers (0: none; not written then, so
    /// files without them read as before).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int Gmu { get; init; }
    /// <summary>The encoder layer (0-based) the GMUs read as memory m (null: the last).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? GmuMemory { get; init; }
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
    /// <summary>"direct" (one linear head for all N steps), "recurrent" (a decoder run over the horizon) or "pmf"
    /// (parallel multi-step forecasting: one decoder step per output segment, all segments at once).</summary>
    public string Decoder { get; init; } = "direct";
    /// <summary>Channel embeddings of the pmf decoder: the number of source channels in channel-independent mode, else 1.</summary>
    public int Channels { get; init; } = 1;
    public float Dropout { get; init; }
    public ulong Seed { get; init; }

    /// <summary>pmf only: the decoder step runs the encoder's own GRU (SegRNN uses one GRU for both), so the decoder
    /// has no weights of its own. Needs a one-layer GRU, patching, an even H (the input [pos ‖ chan] is then H wide,
    /// as the segment embeddings the encoder reads) and no future features.</summary>
    public bool SharedDecoder { get; init; }

    /// <summary>The output distribution ("gaussian", "studentt", "negbinomial") whose raw parameters the network emits; "" for none.</summary>
    public string Distribution { get; init; } = "";

    /// <summary>Q: values per target and step: the distribution's parameter count, the quantile count, or 1.</summary>
    public int QuantileCount => Distribution.Length > 0
        ? Training.Distributions.ParameterCount(Training.Losses.Parse(Distribution)) : Math.Max(Quantiles.Length, 1);
    public int PatchCount => Patch > 1 ? Lookback / Patch : Lookback;
    /// <summary>P_out: horizon steps per pmf output segment (the patch length, or the whole horizon without patching).</summary>
    public int SegmentLength => Patch > 1 ? Patch : Horizon;
    /// <summary>M: pmf output segments, ⌈N / P_out⌉ (the last one may reach past the horizon; its extra steps are dropped).</summary>
    public int Segments => (Horizon + SegmentLength - 1) / SegmentLength;
    /// <summary>E: width of the pmf position embedding and of the channel embedding (⌈H/2⌉ each).</summary>
    public int EmbeddingWidth => (Hidden + 1) / 2;
}

/// <summary>
/// The forecasting network: [optional patch embedding] → recurrent encoder → head.
/// <list type="bullet">
/// <item>Encoder: the shared <see cref="RecurrentEncoder"/> (K layers of any cell, then G gated memory units). Its last
/// layer's final states summarise the lookback; with GMUs the summary's h is instead the last GMU's output at the last
/// step, z_G[:, S−1] (the head reads it, a decoder starts from it), and the other states stay the recurrent layers'.</item>
/// <item>Patching: the last S·P lookback steps (S = ⌊L/P⌋) become S tokens, each P·F values embedded by a Linear to H
/// (followed by a ReLU with the pmf decoder, as in SegRNN's segment embedding): one recurrent step per segment.</item>
/// <item>Direct head: Linear([h_last ‖ future features of all N steps]) → N·C·Q values at once.</item>
/// <item>Recurrent decoder: a second recurrent stack, started from the encoder's final states, reads
/// [future features ‖ 1] for each horizon step; a Linear maps each step's output to C·Q values.</item>
/// <item>Parallel multi-step decoder (pmf, SegRNN, Lin et al. 2023): the horizon is cut into M segments of P_out steps.
/// For segment m of a window of channel c the decoder takes ONE recurrent step from the encoder's final states with
/// input [pos_m ‖ chan_c ‖ future features of the segment], pos [M, E] and chan [Channels, E] learned embeddings;
/// all B·M (window, segment) pairs run as one batch, so each gate product is one GEMM. Dropout p on the
/// decoder's output, then a Linear H → P_out·C·Q gives the segment's values.</item>
/// </list>
/// Input x [B, L, F], future [B, N, Ff], channel [B] (pmf only; empty = channel 0); output [B, N, C, Q].
/// </summary>
public sealed class ForecastNetwork : Module
{
    private readonly Linear? _patch;
    private readonly RecurrentEncoder _encoder;
    private readonly RecurrentLayer? _decoder;
    private readonly Linear _head;
    private readonly ParameterBlock? _embed;         // pmf: position [M, E] and channel [Channels, E] embeddings
    private readonly Rng? _outputDropoutRng;          // pmf: dropout on the decoder's output
    private readonly SharedStateStep? _segmentStep;   // pmf with a one-layer decoder whose cell has one: the step shared per window

    public ForecastNetworkConfig Config { get; }

    /// <summary>The encoder's recurrent layers (batch-first).</summary>
    public RecurrentLayer Encoder => _encoder.Layer;

    /// <summary>The whole encoder: the recurrent layers and the gated memory units after them.</summary>
    public RecurrentEncoder EncoderStack => _encoder;

    /// <summary>The output head: [h_last ‖ future] → N·C·Q (direct), h_t → C·Q (recurrent decoder) or h_m → P_out·C·Q (pmf).</summary>
    public Linear Head => _head;

    /// <summary>The patch embedding P·F → H (null without patching).</summary>
    public Linear? PatchEmbedding => _patch;

    /// <summary>The decoder stack (recurrent and pmf decoders; batch-first), null for the direct head.</summary>
    public RecurrentLayer? Decoder => _decoder;

    private bool Pmf => Config.Decoder == "pmf";

    private bool _layerDecoderStep;

    /// <summary>Whether the pmf decoder step goes through its cell's <see cref="SharedStateStep"/> (unless <see cref="LayerDecoderStep"/>).</summary>
    internal bool HasSharedStateStep => _segmentStep is not null;

    /// <summary>Runs the pmf decoder through the decoder layer over all B·M rows even where a <see cref="SharedStateStep"/>
    /// computes the same step once per window (the reference the shared step is tested against).</summary>
    internal bool LayerDecoderStep
    {
        get => _layerDecoderStep;
        set
        {
            if (value && _decoder is null) throw new InvalidOperationException("a shared pmf decoder has no decoder layer");
            _layerDecoderStep = value; _byBatch.Clear(); _buffers = null;
        }
    }

    public ForecastNetwork(ForecastNetworkConfig config)
    {
        Config = config;
        if (config.Lookback <= 0) throw new ArgumentException($"lookback must be positive, got {config.Lookback}");
        if (config.Horizon <= 0) throw new ArgumentException($"horizon must be positive, got {config.Horizon}");
        if (config.InputFeatures <= 0) throw new ArgumentException("the network needs at least one input feature");
        if (config.Patch > config.Lookback) throw new ArgumentException($"patch {config.Patch} is longer than the lookback {config.Lookback}");
        if (config.Channels <= 0) throw new ArgumentException($"channels must be positive, got {config.Channels}");
        var cell = CellRegistry.FromText(config.Cell);
        int h = config.Hidden, w0 = cell.StateWidth(0, h), seed = (int)(config.Seed % int.MaxValue);
        int encIn = config.InputFeatures;
        if (config.Patch > 1)
        {
            _patch = new Linear(config.Patch * config.InputFeatures, h, seed: (ulong)seed + 1);
            encIn = h;
        }
        _encoder = new RecurrentEncoder(config.Cell, encIn, h, config.Layers, bidirectional: false, config.Dropout, (ulong)seed + 2,
            config.Gmu, config.GmuMemory ?? -1);
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
            case "pmf":
                // One decoder step from the encoder's states: they must be H wide (no LSTM projection).
                if (w0 != h) throw new ArgumentException("the pmf decoder takes no --proj-size");
                int e = config.EmbeddingWidth, ps = config.SegmentLength;
                if (config.SharedDecoder)
                {
                    _segmentStep = SharedStateStep.For(_encoder.Layer);
                    if (_segmentStep is null || config.Patch <= 1 || h % 2 != 0 || config.FutureFeatures > 0 || config.Gmu > 0)
                        throw new ArgumentException("a shared pmf decoder needs a one-layer encoder whose cell has a shared-state step, without memory units, --patch, an even --hidden and no future features");
                }
                else _decoder = new RecurrentLayer(cell, 2 * e + ps * config.FutureFeatures, h, config.Layers, batchFirst: true, dropout: config.Dropout, seed: (ulong)seed + 4);
                _head = new Linear(h, ps * cq, seed: (ulong)seed + 3);
                _embed = new ParameterBlock([("position", [config.Segments, e]), ("channel", [config.Channels, e])]);
                // Standard normal, as SegRNN initialises its embeddings: at the scale of the decoder's other inputs.
                new Rng((ulong)seed + 5).Normal(_embed.Values, 0f, 1f);
                _outputDropoutRng = new Rng((ulong)seed + 6);
                if (_decoder is not null) _segmentStep = SharedStateStep.For(_decoder);
                break;
            default:
                throw new ArgumentException($"decoder must be 'direct', 'recurrent' or 'pmf', got '{config.Decoder}'");
        }
    }

    public override IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Parameter);

    public override IEnumerable<(string Name, Parameter Parameter)> NamedParameters()
    {
        if (_patch != null) foreach (var p in _patch.Parameters()) yield return ("patch." + p.Name, p);
        foreach (var p in _encoder.Parameters()) yield return ("encoder." + p.Name, p);
        if (_decoder != null) foreach (var p in _decoder.Parameters()) yield return ("decoder." + p.Name, p);
        if (_embed != null) foreach (var p in _embed.Parameters) yield return ("embedding." + p.Name, p);
        foreach (var p in _head.Parameters()) yield return ("head." + p.Name, p);
    }

    /// <summary>
    /// x [B, L, F], future [B, N, Ff] (null when Ff = 0), channel [B] (the pmf decoder's channel index per window;
    /// empty = 0) → predictions [B, N, C, Q]. The returned tensor is the network's own buffer, valid until the next
    /// call; at a repeated batch size nothing large is allocated.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? future, ReadOnlySpan<int> channel = default)
    {
        var c = Config;
        if (x.Rank != 3 || x.Dim(1) != c.Lookback || x.Dim(2) != c.InputFeatures)
            throw new ArgumentException($"network input must be [B, {c.Lookback}, {c.InputFeatures}], got {x}");
        int b = x.Dim(0), h = _encoder.Layer.OutputSize, n = c.Horizon, ff = c.FutureFeatures, k = c.Layers;
        if (ff > 0 && (future == null || !future.HasShape(b, n, ff)))
            throw new ArgumentException($"future features must be [{b}, {n}, {ff}], got {future?.ToString() ?? "none"}");
        if (!channel.IsEmpty && channel.Length != b) throw new ArgumentException($"{channel.Length} channel indices for a batch of {b}");
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
            if (Pmf) Relu(buf.PatchOut.Span);
            encIn = buf.PatchOut;
        }
        var encY = _encoder.Forward(encIn, null, buf.EncStates);           // y [B, S, W_0]; h_n, … [K, B, W_j]
        int steps = encY.Dim(1);
        if (c.Gmu > 0)
        {
            // The summary's h is the last GMU's output at the last step: it replaces the top layer's final h.
            var hTop = buf.EncStates[0].Span.Slice((k - 1) * b * h, b * h);
            for (int i = 0; i < b; i++) encY.ReadOnlySpan.Slice((i * steps + steps - 1) * h, h).CopyTo(hTop.Slice(i * h, h));
        }
        return Decode(buf, future, channel, b);
    }

    /// <summary>
    /// The head (or decoder) alone, from given encoder final states: <paramref name="encoderState"/> [B, W_0], the state
    /// of a one-layer, one-state encoder after a window (e.g. kept by a <see cref="SlidingLinearWindow"/>), future
    /// [B, N, Ff] and channel as in <see cref="Forward"/> → predictions [B, N, C, Q]. Equals <see cref="Forward"/> on
    /// that window when the state is the encoder's over it. Inference only.
    /// </summary>
    public Tensor ForwardFromEncoderState(ReadOnlySpan<float> encoderState, Tensor? future, ReadOnlySpan<int> channel = default)
    {
        var c = Config;
        if (c.Layers != 1 || _encoder.Layer.StateCount != 1 || c.Gmu > 0)
            throw new InvalidOperationException($"the head runs from a given state only for a one-layer, one-state encoder without GMU layers (this one: {c.Layers} layers of {_encoder.Layer.Cell}, {c.Gmu} GMU)");
        int h = _encoder.Layer.OutputSize, n = c.Horizon, ff = c.FutureFeatures;
        if (encoderState.Length == 0 || encoderState.Length % h != 0)
            throw new ArgumentException($"encoder states must be [B, {h}], got {encoderState.Length} values");
        int b = encoderState.Length / h;
        if (ff > 0 && (future == null || !future.HasShape(b, n, ff)))
            throw new ArgumentException($"future features must be [{b}, {n}, {ff}], got {future?.ToString() ?? "none"}");
        if (!channel.IsEmpty && channel.Length != b) throw new ArgumentException($"{channel.Length} channel indices for a batch of {b}");
        Training = false;
        var buf = BuffersFor(b);
        foreach (var m in Modules()) m.Training = false;
        encoderState.CopyTo(buf.EncStates[0].Span);
        return Decode(buf, future, channel, b);
    }

    // The head or decoder from the encoder's final states in buf.EncStates.
    private Tensor Decode(Buffers buf, Tensor? future, ReadOnlySpan<int> channel, int b)
    {
        var c = Config;
        int h = _encoder.Layer.OutputSize, n = c.Horizon, ff = c.FutureFeatures, k = c.Layers;
        var hLast = buf.EncStates[0].ReadOnlySpan.Slice((k - 1) * b * h, b * h);   // [B, W_0]

        if (Pmf) return ForwardPmf(buf, future, channel, b);
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

    /// <summary>The pmf decoder: one recurrent step for all B·M (window, segment) pairs, from the encoder's final states.</summary>
    private Tensor ForwardPmf(Buffers buf, Tensor? future, ReadOnlySpan<int> channel, int b)
    {
        var c = Config;
        int n = c.Horizon, ff = c.FutureFeatures, m = c.Segments, e = c.EmbeddingWidth, ps = c.SegmentLength, cq = c.Outputs * c.QuantileCount;
        var pos = _embed!.Values.AsSpan(0, m * e);                          // [M, E]
        var chan = _embed.Values.AsSpan(m * e, c.Channels * e);             // [Channels, E]
        for (int i = 0; i < b; i++)
        {
            int ch = channel.IsEmpty ? 0 : channel[i];
            if ((uint)ch >= (uint)c.Channels) throw new ArgumentException($"channel index {ch} outside 0..{c.Channels - 1}");
            buf.Channel![i] = ch;
        }
        if (buf.Segment is { } ws)
        {
            // The future features of each (window, segment), zero past the horizon; the embeddings enter as unique rows.
            var fut = ws.Future.AsSpan();                                   // [B·M, P_out·Ff]
            fut.Clear();
            if (ff > 0)
                for (int i = 0; i < b; i++)
                    for (int j = 0; j < m; j++)
                        future!.ReadOnlySpan.Slice((i * n + j * ps) * ff, Math.Min(ps, n - j * ps) * ff).CopyTo(fut.Slice((i * m + j) * ps * ff));
            _segmentStep!.Forward(ws, buf.DecY!.Span, buf.EncStates[0].ReadOnlySpan, pos, chan, buf.Channel, b, m, c.Channels, e, ps * ff, Training);
        }
        else ForwardPmfLayer(buf, future, pos, chan, b);
        var y = buf.DecY!.Span;
        if (Training && c.Dropout > 0f)
        {
            var mask = buf.DropMask!.Span;                                  // [B·M, H]
            float scale = 1f / (1f - c.Dropout);
            for (int i = 0; i < mask.Length; i++) mask[i] = _outputDropoutRng!.NextFloat() < c.Dropout ? 0f : scale;
            for (int i = 0; i < y.Length; i++) y[i] *= mask[i];
        }
        _head.Forward(buf.DecY.ReadOnlySpan, buf.SegOut!.Span, b * m);     // [B, M, P_out, C, Q]
        var seg = buf.SegOut.ReadOnlySpan;
        var pred = buf.Pred.Span;                                           // [B, N, C, Q]
        for (int i = 0; i < b; i++)
            seg.Slice(i * m * ps * cq, n * cq).CopyTo(pred.Slice(i * n * cq, n * cq));
        return buf.Pred;
    }

    /// <summary>The pmf decoder step through the decoder layer itself: each (window, segment) row gets its own input
    /// row and its own copy of the window's states (any cell, any depth; the reference for <see cref="SharedStateStep"/>).</summary>
    private void ForwardPmfLayer(Buffers buf, Tensor? future, ReadOnlySpan<float> pos, ReadOnlySpan<float> chan, int b)
    {
        var c = Config;
        int h = c.Hidden, n = c.Horizon, ff = c.FutureFeatures, k = c.Layers, m = c.Segments, e = c.EmbeddingWidth, ps = c.SegmentLength;
        int din = 2 * e + ps * ff;
        var decIn = buf.DecIn!.Span;                                        // [B·M, 1, 2E + P_out·Ff]
        decIn.Clear();                                                      // future features past the horizon stay 0
        for (int i = 0; i < b; i++)
        {
            int ch = buf.Channel![i];
            for (int j = 0; j < m; j++)
            {
                var row = decIn.Slice((i * m + j) * din, din);
                pos.Slice(j * e, e).CopyTo(row);
                chan.Slice(ch * e, e).CopyTo(row.Slice(e));
                if (ff > 0)
                {
                    int steps = Math.Min(ps, n - j * ps);
                    future!.ReadOnlySpan.Slice((i * n + j * ps) * ff, steps * ff).CopyTo(row.Slice(2 * e));
                }
            }
        }
        // Every segment starts from its window's final encoder states: repeat them M times.
        for (int st = 0; st < buf.EncStates.Length; st++)
        {
            var src = buf.EncStates[st].ReadOnlySpan;                       // [K, B, H]
            var dst = buf.DecStates![st].Span;                              // [K, B·M, H]
            for (int l = 0; l < k; l++)
                for (int i = 0; i < b; i++)
                    for (int j = 0; j < m; j++)
                        src.Slice((l * b + i) * h, h).CopyTo(dst.Slice((l * b * m + i * m + j) * h, h));
        }
        _decoder!.Forward(buf.DecIn, buf.DecStates!, buf.DecY!, buf.DecFinal!, default);   // y [B·M, 1, H]
    }

    internal static void Relu(Span<float> v)
    {
        for (int i = 0; i < v.Length; i++) if (!(v[i] > 0f)) v[i] = 0f;
    }

    /// <summary>Accumulates parameter gradients for ∂L/∂predictions [B, N, C, Q] of the last training-mode Forward.</summary>
    public void Backward(Tensor dPred)
    {
        var buf = _buffers ?? throw new InvalidOperationException("Backward needs a training-mode Forward first");
        var c = Config;
        int b = buf.Batch, h = _encoder.Layer.OutputSize, n = c.Horizon, ff = c.FutureFeatures, k = c.Layers;
        var dN = buf.DEncStates;                                            // [K, B, W_j] each: ∂L/∂(encoder final states)
        foreach (var d in dN) d.Span.Clear();
        var dhN = dN[0];
        if (Pmf) BackwardPmf(buf, dPred);
        else if (_decoder == null)
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
        // Only the final states feed the head or decoder: ∂L/∂y of the encoder is zero, except with GMUs, whose
        // last-step output stood in for the top layer's final h: that gradient moves to dy at the last step.
        if (c.Gmu > 0)
        {
            int steps = buf.DEncY.Dim(1);
            var dTop = dhN.Span.Slice((k - 1) * b * h, b * h);
            var dy = buf.DEncY.Span;                                        // [B, S, W_0]
            for (int i = 0; i < b; i++) dTop.Slice(i * h, h).CopyTo(dy.Slice((i * steps + steps - 1) * h, h));
            dTop.Clear();
        }
        var dEncIn = _encoder.Backward(buf.DEncY, buf.DEncStatesIn);       // [B, S, I_enc]
        if (_patch != null)
        {
            if (Pmf)
            {
                // ReLU: the gradient passes where the embedding was positive.
                var dIn = dEncIn.Span; var act = buf.PatchOut!.ReadOnlySpan;
                for (int i = 0; i < dIn.Length; i++) if (!(act[i] > 0f)) dIn[i] = 0f;
            }
            _patch.Backward(buf.Patches!.ReadOnlySpan, dEncIn.ReadOnlySpan, default, b * c.PatchCount, false);
        }
    }

    /// <summary>Backward of <see cref="ForwardPmf"/>: into the head, the decoder, the embeddings and ∂L/∂(encoder final states).</summary>
    private void BackwardPmf(Buffers buf, Tensor dPred)
    {
        var c = Config;
        int b = buf.Batch, h = c.Hidden, n = c.Horizon, k = c.Layers, m = c.Segments, e = c.EmbeddingWidth, ps = c.SegmentLength;
        int din = 2 * e + ps * c.FutureFeatures, cq = c.Outputs * c.QuantileCount;
        var dSeg = buf.DSegOut!.Span;                                       // [B, M, P_out, C, Q]; steps past N get 0
        dSeg.Clear();
        for (int i = 0; i < b; i++)
            dPred.ReadOnlySpan.Slice(i * n * cq, n * cq).CopyTo(dSeg.Slice(i * m * ps * cq, n * cq));
        _head.Backward(buf.DecY!.ReadOnlySpan, dSeg, buf.DDecY!.Span, b * m, false);   // dy [B·M, H]
        if (c.Dropout > 0f)
        {
            var dy = buf.DDecY.Span; var mask = buf.DropMask!.ReadOnlySpan;
            for (int i = 0; i < dy.Length; i++) dy[i] *= mask[i];
        }
        var dPos = _embed!.Grads.AsSpan(0, m * e);                          // [M, E]
        var dChan = _embed.Grads.AsSpan(m * e, c.Channels * e);             // [Channels, E]
        if (buf.Segment is { } ws)
        {
            _segmentStep!.Backward(ws, buf.DDecY.ReadOnlySpan, buf.EncStates[0].ReadOnlySpan, _embed.Values.AsSpan(0, m * e),
                _embed.Values.AsSpan(m * e, c.Channels * e), buf.Channel, buf.DEncStates[0].Span, dPos, dChan, b, m, c.Channels, e, ps * c.FutureFeatures);
            return;
        }
        buf.DDecIn!.Span.Clear();
        foreach (var d in buf.DDecStates!) d.Span.Clear();
        _decoder!.Backward(buf.DDecY, default, buf.DDecIn, buf.DDecStates);
        // The M copies of each window's final states: their gradients sum.
        for (int st = 0; st < buf.DEncStates.Length; st++)
        {
            var src = buf.DDecStates[st].ReadOnlySpan;                      // [K, B·M, H]
            var dst = buf.DEncStates[st].Span;                              // [K, B, H]
            for (int l = 0; l < k; l++)
                for (int i = 0; i < b; i++)
                {
                    var acc = dst.Slice((l * b + i) * h, h);
                    for (int j = 0; j < m; j++)
                    {
                        var g = src.Slice((l * b * m + i * m + j) * h, h);
                        for (int u = 0; u < h; u++) acc[u] += g[u];
                    }
                }
        }
        var dIn = buf.DDecIn.ReadOnlySpan;
        for (int i = 0; i < b; i++)
        {
            int ch = buf.Channel![i];
            for (int j = 0; j < m; j++)
            {
                var row = dIn.Slice((i * m + j) * din, din);
                var dp = dPos.Slice(j * e, e); var dc = dChan.Slice(ch * e, e);
                for (int u = 0; u < e; u++) { dp[u] += row[u]; dc[u] += row[e + u]; }
            }
        }
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
            _byBatch[b] = buf = new Buffers(Config, b, _encoder.Layer, _layerDecoderStep ? null : _segmentStep);
        }
        return _buffers = buf;
    }

    /// <summary>Activations and gradients of one batch size, reused across calls (DEncY stays zero but for GMUs' last step).
    /// NS state tensors [K, B, W_j] each where the cell has NS states (h first; W_j = H unless the cell narrows a state).</summary>
    private sealed class Buffers
    {
        public readonly int Batch;
        public readonly Tensor? Patches, PatchOut, HeadIn, DHeadIn, DecIn, DecY, DDecY, DDecIn, SegOut, DSegOut, DropMask;
        public readonly Tensor Pred, DEncY;
        public readonly Tensor[] EncStates, DEncStates;
        public readonly Tensor[]? DecStates, DecFinal, DDecStates;
        public readonly Tensor?[] DEncStatesIn;     // DEncStates as the encoder's ∂L/∂(final states)
        public readonly int[]? Channel;             // [B] pmf: the channel of each window in the last Forward
        public readonly SharedStateStep.Workspace? Segment;  // pmf through the cell's shared-state step

        public Buffers(ForecastNetworkConfig c, int b, RecurrentLayer encoder, SharedStateStep? segmentStep)
        {
            Batch = b;
            int h = encoder.OutputSize, n = c.Horizon, ff = c.FutureFeatures, k = c.Layers, s = c.Patch > 1 ? c.PatchCount : c.Lookback;
            Tensor[] States(int rows) => [.. Enumerable.Range(0, encoder.StateCount).Select(j => Tensor.Zeros(k, rows, encoder.StateWidth(j)))];
            if (c.Patch > 1) { Patches = Tensor.Zeros(b * s, c.Patch * c.InputFeatures); PatchOut = Tensor.Zeros(b, s, c.Hidden); }
            EncStates = States(b);
            Pred = Tensor.Zeros(b, n, c.Outputs, c.QuantileCount);
            DEncStates = States(b); DEncStatesIn = [.. DEncStates];
            DEncY = Tensor.Zeros(b, s, h);
            switch (c.Decoder)
            {
                case "direct":
                    HeadIn = Tensor.Zeros(b, h + n * ff); DHeadIn = Tensor.Zeros(b, h + n * ff);
                    break;
                case "pmf":
                    int bm = b * c.Segments, din = 2 * c.EmbeddingWidth + c.SegmentLength * ff, seg = c.SegmentLength * c.Outputs * c.QuantileCount;
                    DecY = Tensor.Zeros(bm, 1, h); DDecY = Tensor.Zeros(bm, 1, h);
                    if (segmentStep is not null) Segment = segmentStep.CreateWorkspace(b, c.Segments, c.Channels, h, c.SegmentLength * ff);
                    else { DecIn = Tensor.Zeros(bm, 1, din); DecStates = States(bm); DecFinal = States(bm); DDecIn = Tensor.Zeros(bm, 1, din); DDecStates = States(bm); }
                    SegOut = Tensor.Zeros(bm, seg); DSegOut = Tensor.Zeros(bm, seg); DropMask = Tensor.Zeros(bm, h);
                    Channel = new int[b];
                    break;
                default:
                    DecIn = Tensor.Zeros(b, n, ff + 1); DecY = Tensor.Zeros(b, n, h); DecStates = States(b);
                    DDecY = Tensor.Zeros(b, n, h); DDecIn = Tensor.Zeros(b, n, ff + 1);
                    break;
            }
        }
    }

    /// <summary>States of the dropout generators (for checkpoints).</summary>
    public string[] SaveRngState()
    {
        var states = Recurrent().Select(r => r.DropoutRng.SaveState());
        return (_outputDropoutRng is null ? states : states.Append(_outputDropoutRng.SaveState())).ToArray();
    }

    public void RestoreRngState(string[] states)
    {
        var layers = Recurrent().ToArray();
        int expected = layers.Length + (_outputDropoutRng is null ? 0 : 1);
        if (states.Length != expected) throw new InvalidDataException($"checkpoint holds {states.Length} RNG states for {expected} dropout generators");
        for (int i = 0; i < layers.Length; i++) layers[i].DropoutRng.Restore(states[i]);
        _outputDropoutRng?.Restore(states[^1]);
    }

    private IEnumerable<RecurrentLayer> Recurrent()
    {
        yield return _encoder.Layer;
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
