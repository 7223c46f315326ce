using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Models;

/// <summary>
/// The input transform, x [B, T, F] → [B, T, E]: the identity ("none"), a per-step Linear ("linear",
/// u_t = W·x_t + b, W [E, F], b [E]), or a stack of <see cref="ConvolutionBlock"/>s ("conv": convolution over
/// time → layer norm → ReLU, one block per kernel width, each E channels wide), which gives every encoder step
/// a view of its neighbourhood. Dimensions: B batch, T steps, F input features, E projected width.
/// </summary>
public sealed class InputProjection : ModelLayer
{
    private readonly Linear? _linear;
    private readonly ConvolutionBlock[] _blocks = [];
    private readonly ShapeCache<Buffers> _cache;
    private Buffers? _last;

    /// <summary>F.</summary>
    public int InputSize { get; }
    /// <summary>E (= F for the identity).</summary>
    public int OutputSize { get; }
    /// <summary>"none", "linear" or "conv".</summary>
    public string Kind { get; }
    /// <summary>Kernel widths of the convolution blocks, first to last (empty unless "conv").</summary>
    public int[] Kernels { get; } = [];

    /// <summary>Input transforms by name.</summary>
    public static readonly string[] Names = ["none", "linear", "conv"];

    /// <summary>The convolution blocks' kernel widths when none are given (FCN's 8, 5, 3).</summary>
    public static readonly int[] DefaultKernels = [8, 5, 3];

    public InputProjection(string kind, int inputSize, int outputSize, ulong seed, int[]? kernels = null)
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
            case "conv":
                if (outputSize <= 0) throw new ArgumentOutOfRangeException(nameof(outputSize), $"convolution width must be positive, got {outputSize}");
                OutputSize = outputSize;
                Kernels = kernels is { Length: > 0 } ? [.. kernels] : DefaultKernels;
                _blocks = new ConvolutionBlock[Kernels.Length];
                for (int i = 0; i < _blocks.Length; i++)
                    _blocks[i] = new ConvolutionBlock(i == 0 ? inputSize : outputSize, outputSize, Kernels[i], seed + (ulong)i, prefix: $"{i}.");
                break;
            default: throw new ArgumentException($"unknown input transform '{kind}' (known: {string.Join(", ", Names)})");
        }
        _cache = new((b, t) => new Buffers(b, t, InputSize, OutputSize));
    }

    public override IEnumerable<Parameter> Parameters() => _linear?.Parameters() ?? _blocks.SelectMany(b => b.Parameters());

    /// <summary>x [B, T, F] → u [B, T, E] (x itself for the identity).</summary>
    public override Tensor Forward(Tensor x, int[]? lengths)
    {
        if (x.Rank != 3 || x.Dim(2) != InputSize) throw new ArgumentException($"input must be [B, T, {InputSize}], got {x}");
        if (_blocks.Length > 0)
        {
            var h = x;
            foreach (var block in _blocks) { block.Training = Training; h = block.Forward(h, lengths); }
            return h;
        }
        if (_linear == null) return x;
        var buf = _last = _cache.For(x.Dim(0), x.Dim(1));
        buf.X = x;
        _linear.Forward(x.ReadOnlySpan, buf.Y.Span, x.Dim(0) * x.Dim(1));
        return buf.Y;
    }

    /// <summary>du [B, T, E] → dx [B, T, F]; dW += duᵀ·x, db += Σ du.</summary>
    public override Tensor Backward(Tensor dOutput)
    {
        if (_blocks.Length > 0)
        {
            var d = dOutput;
            for (int i = _blocks.Length - 1; i >= 0; i--) d = _blocks[i].Backward(d);
            return d;
        }
        if (_linear == null) return dOutput;
        var buf = _last ?? throw new InvalidOperationException("Backward needs a Forward first");
        _linear.Backward(buf.X!.ReadOnlySpan, dOutput.ReadOnlySpan, buf.DX.Span, buf.Rows, false);
        return buf.DX;
    }

    private sealed class Buffers(int b, int t, int f, int e)
    {
        public readonly int Rows = b * t;
        public readonly Tensor Y = Tensor.Zeros(b, t, e);        // [B, T, E]
        public Tensor DX => _dx ??= Tensor.Zeros(b, t, f);       // [B, T, F] made by the first Backward of a shape: inference never needs it
        private Tensor? _dx;
        public Tensor? X;                                        // [B, T, F] the caller's input
    }
}
