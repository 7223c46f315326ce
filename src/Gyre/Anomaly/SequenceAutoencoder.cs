using Gyre.Layers;
using Gyre.Models;
using Gyre.Tensors;

namespace Gyre.Anomaly;

/// <summary>
/// A recurrent sequence autoencoder (Malhotra et al., "LSTM-based encoder-decoder for multi-sensor anomaly
/// detection", 2016), assembled from the shared model parts:
/// x [B, W, C + P] (values and P covariates) → encoder (recurrent, C + P → H) [B, W, H] → last step z [B, H] → z repeated at every step [B, W, H]
/// → decoder (recurrent, H → H) [B, W, H] → per-step linear H → C → x̂ [B, W, C]. Encoder and decoder are the shared
/// <see cref="RecurrentEncoder"/> with the same stack: K layers, then G gated memory units.
/// The bottleneck z is one H-vector per window, so only the shapes seen in training come back well.
/// Parameter names: encoder.*, decoder.* (PyTorch's weight_ih_l0, …), output.*.
/// </summary>
public sealed class SequenceAutoencoder : ModelLayer
{
    private readonly ModelLayer[] _parts;
    private readonly string[] _prefixes = ["encoder.", "decoder.", "output."];
    private Tensor? _repeated, _dz;                     // [B, W, H], [B, H]

    public int Channels { get; }
    /// <summary>P: covariates read beside the values, not reconstructed.</summary>
    public int Covariates { get; }
    public int Hidden { get; }
    public RecurrentEncoder Encoder { get; }
    public LastPooling Pool { get; }
    public RecurrentEncoder Decoder { get; }
    public InputProjection Output { get; }

    /// <param name="cell">A registered cell, "name" or "name(k=v,…)".</param>
    /// <param name="channels">C.</param>
    /// <param name="covariates">P.</param>
    /// <param name="hidden">H.</param>
    /// <param name="seed">Initialisation seed.</param>
    /// <param name="layers">K recurrent layers of the encoder and of the decoder.</param>
    /// <param name="gmu">G gated memory units after each stack's recurrent layers.</param>
    /// <param name="gmuMemory">The layer (0-based) they read as memory; −1: the last.</param>
    public SequenceAutoencoder(string cell, int channels, int covariates, int hidden, ulong seed, int layers = 1, int gmu = 0, int gmuMemory = -1)
    {
        Channels = channels;
        Covariates = covariates;
        Hidden = hidden;
        Encoder = new RecurrentEncoder(cell, channels + covariates, hidden, layers, false, 0f, seed + 1, gmu, gmuMemory);
        Pool = new LastPooling(hidden, 1);
        Decoder = new RecurrentEncoder(cell, hidden, hidden, layers, false, 0f, seed + 2, gmu, gmuMemory);
        Output = new InputProjection("linear", hidden, channels, seed + 3);
        _parts = [Encoder, Decoder, Output];
    }

    public override IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Parameter);

    public override IEnumerable<(string Name, Parameter Parameter)> NamedParameters()
    {
        for (int i = 0; i < _parts.Length; i++)
            foreach (var p in _parts[i].Parameters()) yield return (_prefixes[i] + p.Name, p);
    }

    /// <summary>x [B, W, C + P] → x̂ [B, W, C] (the output part's buffer). Lengths are not supported (fixed windows).</summary>
    public override Tensor Forward(Tensor x, int[]? lengths)
    {
        if (lengths != null) throw new ArgumentException("the sequence autoencoder reads fixed-length windows");
        int b = x.Dim(0), w = x.Dim(1), h = Hidden;
        foreach (var p in new ModelLayer[] { Encoder, Pool, Decoder, Output }) p.Training = Training;
        var z = Pool.Forward(Encoder.Forward(x, null), null).ReadOnlySpan;   // [B, H]
        if (_repeated is null || !_repeated.HasShape(b, w, h)) { _repeated = Tensor.Zeros(b, w, h); _dz = Tensor.Zeros(b, h); }
        var rep = _repeated.Span;
        for (int i = 0; i < b; i++)
            for (int t = 0; t < w; t++) z.Slice(i * h, h).CopyTo(rep.Slice((i * w + t) * h, h));
        return Output.Forward(Decoder.Forward(_repeated, null), null);
    }

    /// <summary>dx̂ [B, W, C] → dx [B, W, C + P]; the repeat's gradient is the sum over steps.</summary>
    public override Tensor Backward(Tensor dOutput)
    {
        var dRep = Decoder.Backward(Output.Backward(dOutput)).ReadOnlySpan;   // [B, W, H]
        int b = dOutput.Dim(0), w = dOutput.Dim(1), h = Hidden;
        var dz = _dz!.Span;
        dz.Clear();
        for (int i = 0; i < b; i++)
            for (int t = 0; t < w; t++)
            {
                var src = dRep.Slice((i * w + t) * h, h);
                var dst = dz.Slice(i * h, h);
                for (int j = 0; j < h; j++) dst[j] += src[j];
            }
        return Encoder.Backward(Pool.Backward(_dz!));
    }

    public string[] SaveRngState() => [Encoder.Layer.DropoutRng.SaveState(), Decoder.Layer.DropoutRng.SaveState()];

    public void RestoreRngState(string[] states)
    {
        if (states.Length != 2) throw new InvalidDataException($"checkpoint holds {states.Length} RNG states for 2 recurrent stacks");
        Encoder.Layer.DropoutRng.Restore(states[0]);
        Decoder.Layer.DropoutRng.Restore(states[1]);
    }
}
