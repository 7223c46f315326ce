using Gyre.Kernels;
using Gyre.Tensors;

namespace Gyre.Layers;

/// <summary>
/// Fully connected layer, PyTorch's nn.Linear: y[N, O] = x[N, I]·Wᵀ + b, weight [O, I], bias [O],
/// both initialised U(−1/√I, 1/√I) (what PyTorch's default Kaiming-uniform init amounts to).
/// </summary>
public sealed class Linear : Module
{
    private readonly ParameterBlock _block;
    private Tensor? _input;

    public int InputSize { get; }
    public int OutputSize { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public Linear(int inputSize, int outputSize, bool bias = true, ulong seed = 0, string prefix = "")
    {
        if (inputSize <= 0 || outputSize <= 0) throw new ArgumentOutOfRangeException(nameof(inputSize), $"Linear sizes must be positive, got {inputSize} -> {outputSize}");
        InputSize = inputSize; OutputSize = outputSize;
        var layout = new List<(string, int[])> { (prefix + "weight", [outputSize, inputSize]) };
        if (bias) layout.Add((prefix + "bias", [outputSize]));
        _block = new ParameterBlock(layout);
        Weight = _block.Parameters[0];
        Bias = bias ? _block.Parameters[1] : null;
        float k = 1f / MathF.Sqrt(inputSize);
        new Rng(seed).Uniform(_block.Values, -k, k);
    }

    public override IEnumerable<Parameter> Parameters() => _block.Parameters;

    /// <summary>y[N, O] = x[N, I]·Wᵀ + b into <paramref name="y"/>; keeps x for backward in training mode.</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        int i = InputSize, o = OutputSize;
        if (Bias != null) for (int r = 0; r < rows; r++) Bias.Value.ReadOnlySpan.CopyTo(y.Slice(r * o, o));
        Gemm.Multiply(false, true, rows, o, i, x, i, Weight.Value.ReadOnlySpan, i, y, o, Bias != null);
    }

    public Tensor Forward(Tensor x)
    {
        if (x.Dim(-1) != InputSize) throw new ArgumentException($"Linear expects {InputSize} features, got {x}");
        int rows = x.Length / InputSize;
        var shape = x.Shape; shape[^1] = OutputSize;
        var y = Tensor.Zeros(shape);
        Forward(x.ReadOnlySpan, y.Span, rows);
        _input = Training ? x : null;
        return y;
    }

    /// <summary>
    /// Backward for input x [N, I] and upstream dy [N, O]: dW += dyᵀ·x, db += Σ dy, and
    /// dx[N, I] (+)= dy·W when <paramref name="dx"/> is not empty.
    /// </summary>
    public void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, int rows, bool accumulateDx)
    {
        int i = InputSize, o = OutputSize;
        Gemm.Multiply(true, false, o, i, rows, dy, o, x, i, Weight.Grad.Span, i, true);
        if (Bias != null) ColumnSums.Accumulate(Bias.Grad.Span[..o], dy, o, rows);
        if (!dx.IsEmpty) Gemm.Multiply(false, false, rows, i, o, dy, o, Weight.Value.ReadOnlySpan, i, dx, i, accumulateDx);
    }

    public Tensor Backward(Tensor dy)
    {
        var x = _input ?? throw new InvalidOperationException("Linear.Backward needs a training-mode Forward first");
        int rows = x.Length / InputSize;
        var dx = Tensor.Zeros(x.Shape);
        Backward(x.ReadOnlySpan, dy.ReadOnlySpan, dx.Span, rows, false);
        return dx;
    }
}
