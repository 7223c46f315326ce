using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Models;

/// <summary>
/// The input transform: a per-step Linear, x [B, T, F] → [B, T, E], u_t = W·x_t + b (W [E, F], b [E]),
/// or the identity ("none"). Dimensions: B batch, T steps, F input features, E projected width.
/// </summary>
public sealed class InputProjection : ModelLayer
{
    private readonly Linear? _linear;
    private readonly ShapeCache<Buffers> _cache;
    private Buffers? _last;

    /// <summary>F.</summary>
    public int InputSize { get; }
    /// <summary>E (= F for the identity).</summary>
    public int OutputSize { get; }
    /// <summary>"none" or "linear".</summary>
    public string Kind { get; }

    public InputProjection(string kind, int inputSize, int outputSize, ulong seed)
    {
        if (inputSize <= 0) throw new ArgumentOutOfRangeException(nameof(inputSize), $"input size must be positive, got {inputSize}");
        Kind = kind;
        InputSize = inputSize;
        switch (kind)
        {
            case "none": OutputSize = inputSize; break;
            case "linear":
                if (outputSize <= 0) throw new ArgumentOutOfRangeException(nameof(outputSize), $"projection size must be positive, got {outputSize}");
                OutputSize = outputSize;
                _linear = new Linear(inputSize, outputSize, seed: seed);
                break;
            default: throw new ArgumentException($"unknown input transform '{kind}' (known: none, linear)");
        }
        _cache = new((b, t) => new Buffers(b, t, InputSize, OutputSize));
    }

    public override IEnumerable<Parameter> Parameters() => _linear?.Parameters() ?? [];

    /// <summary>x [B, T, F] → u [B, T, E] (x itself for the identity).</summary>
    public override Tensor Forward(Tensor x, int[]? lengths)
    {
        if (x.Rank != 3 || x.Dim(2) != InputSize) throw new ArgumentException($"input must be [B, T, {InputSize}], got {x}");
        if (_linear == null) return x;
        var buf = _last = _cache.For(x.Dim(0), x.Dim(1));
        buf.X = x;
        _linear.Forward(x.ReadOnlySpan, buf.Y.Span, x.Dim(0) * x.Dim(1));
        return buf.Y;
    }

    /// <summary>du [B, T, E] → dx [B, T, F]; dW += duᵀ·x, db += Σ du.</summary>
    public override Tensor Backward(Tensor dOutput)
    {
        if (_linear == null) return dOutput;
        var buf = _last ?? throw new InvalidOperationException("Backward needs a Forward first");
        _linear.Backward(buf.X!.ReadOnlySpan, dOutput.ReadOnlySpan, buf.DX.Span, buf.Rows, false);
        return buf.DX;
    }

    private sealed class Buffers(int b, int t, int f, int e)
    {
        public readonly int Rows = b * t;
        public readonly Tensor Y = Tensor.Zeros(b, t, e);        // [B, T, E]
        public readonly Tensor DX = Tensor.Zeros(b, t, f);       // [B, T, F]
        public Tensor? X;                                        // [B, T, F] the caller's input
    }
}
