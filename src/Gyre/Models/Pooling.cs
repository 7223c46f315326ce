using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Models;

/// <summary>
/// Pools the encoder's outputs over time, y [B, T, C] → z [B, C], reading only each row's valid steps
/// t &lt; lengths[b]; padded steps get zero gradient. C = D·H. Kinds: "last", "mean", "max", "attention".
/// </summary>
public abstract class Pooling : ModelLayer
{
    /// <summary>C, the width pooled.</summary>
    public int Features { get; }

    /// <summary>The pooling's name in a <see cref="ModelSpec"/>.</summary>
    public abstract string Kind { get; }

    /// <param name="features">C.</param>
    /// <param name="argmax">Whether the parameter-free buffers keep a [B, C] step index (max pooling).</param>
    protected Pooling(int features, bool argmax = false)
    {
        if (features <= 0) throw new ArgumentOutOfRangeException(nameof(features), $"pooled width must be positive, got {features}");
        Features = features;
        _cache = new((b, t) => new PoolBuffers(b, t, features, argmax));
    }

    public override IEnumerable<Parameter> Parameters() => [];

    /// <summary>Builds a pooling by name: last (over <paramref name="directions"/> halves), mean, max, attention.</summary>
    public static Pooling Create(string kind, int features, int directions, int attentionSize, ulong seed) => kind switch
    {
        "last" => new LastPooling(features, directions),
        "mean" => new MeanPooling(features),
        "max" => new MaxPooling(features),
        "attention" => new AttentionPooling(features, attentionSize, seed),
        _ => throw new ArgumentException($"unknown pooling '{kind}' (known: last, mean, max, attention)"),
    };

    public static readonly string[] Names = ["last", "mean", "max", "attention"];

    private readonly ShapeCache<PoolBuffers> _cache;
    private PoolBuffers? _last;

    /// <summary>Checks y and lengths and returns the reused buffers of a parameter-free pooling for this (B, T).</summary>
    private protected PoolBuffers BeginForward(Tensor y, int[]? lengths)
    {
        var (b, t) = CheckInput(y, lengths);
        var buf = _last = _cache.For(b, t);
        buf.Lengths = lengths;
        return buf;
    }

    /// <summary>The last Forward's buffers with ∂L/∂y cleared (padded steps keep zero gradient).</summary>
    private protected PoolBuffers BeginBackward()
    {
        var buf = _last ?? throw new InvalidOperationException("Backward needs a Forward first");
        buf.DY.Span.Clear();
        return buf;
    }

    protected (int B, int T) CheckInput(Tensor y, int[]? lengths)
    {
        if (y.Rank != 3 || y.Dim(2) != Features) throw new ArgumentException($"pooling input must be [B, T, {Features}], got {y}");
        CheckLengths(lengths, y.Dim(0), y.Dim(1));
        return (y.Dim(0), y.Dim(1));
    }
}

/// <summary>
/// The final state of each direction: z[b] = y[b, len_b − 1, forward half] ‖ y[b, 0, reverse half]
/// (the reverse direction ends at step 0). With D = 1 the whole width is the forward half.
/// </summary>
public sealed class LastPooling : Pooling
{
    private readonly int _directions;

    public override string Kind => "last";

    public LastPooling(int features, int directions) : base(features)
    {
        if (directions is not (1 or 2) || features % directions != 0) throw new ArgumentException($"last pooling over {directions} directions of width {features}");
        _directions = directions;
    }

    /// <summary>y [B, T, C] → z [B, C].</summary>
    public override Tensor Forward(Tensor y, int[]? lengths)
    {
        var buf = BeginForward(y, lengths);
        int b = buf.B, t = buf.T;
        int c = Features, h = c / _directions;
        var src = y.ReadOnlySpan; var z = buf.Z.Span;
        for (int i = 0; i < b; i++)
        {
            int len = LengthOf(lengths, i, t);
            src.Slice((i * t + len - 1) * c, h).CopyTo(z.Slice(i * c, h));
            if (_directions == 2) src.Slice(i * t * c + h, h).CopyTo(z.Slice(i * c + h, h));
        }
        return buf.Z;
    }

    /// <summary>dz [B, C] → dy [B, T, C], nonzero only at the two steps read.</summary>
    public override Tensor Backward(Tensor dOutput)
    {
        var buf = BeginBackward();
        int b = buf.B, t = buf.T, c = Features, h = c / _directions;
        var dy = buf.DY.Span; var dz = dOutput.ReadOnlySpan;
        for (int i = 0; i < b; i++)
        {
            int len = LengthOf(buf.Lengths, i, t);
            dz.Slice(i * c, h).CopyTo(dy.Slice((i * t + len - 1) * c, h));
            if (_directions == 2) dz.Slice(i * c + h, h).CopyTo(dy.Slice(i * t * c + h, h));
        }
        return buf.DY;
    }
}

/// <summary>Mean over valid steps: z[b] = (1/len_b) Σ_{t &lt; len_b} y[b, t]; ∂z/∂y[b, t] = 1/len_b.</summary>
public sealed class MeanPooling : Pooling
{
    public override string Kind => "mean";

    public MeanPooling(int features) : base(features) { }

    /// <summary>y [B, T, C] → z [B, C]; steps summed in time order (fixed reduction order).</summary>
    public override Tensor Forward(Tensor y, int[]? lengths)
    {
        var buf = BeginForward(y, lengths);
        int b = buf.B, t = buf.T;
        int c = Features;
        var src = y.ReadOnlySpan; var z = buf.Z.Span;
        for (int i = 0; i < b; i++)
        {
            int len = LengthOf(lengths, i, t);
            var zi = z.Slice(i * c, c);
            src.Slice(i * t * c, c).CopyTo(zi);
            for (int s = 1; s < len; s++) System.Numerics.Tensors.TensorPrimitives.Add(zi, src.Slice((i * t + s) * c, c), zi);
            System.Numerics.Tensors.TensorPrimitives.Multiply(zi, 1f / len, zi);
        }
        return buf.Z;
    }

    public override Tensor Backward(Tensor dOutput)
    {
        var buf = BeginBackward();
        int b = buf.B, t = buf.T, c = Features;
        var dy = buf.DY.Span; var dz = dOutput.ReadOnlySpan;
        for (int i = 0; i < b; i++)
        {
            int len = LengthOf(buf.Lengths, i, t);
            for (int s = 0; s < len; s++)
                System.Numerics.Tensors.TensorPrimitives.Multiply(dz.Slice(i * c, c), 1f / len, dy.Slice((i * t + s) * c, c));
        }
        return buf.DY;
    }
}

/// <summary>
/// Max over valid steps per feature: z[b, c] = max_{t &lt; len_b} y[b, t, c]; the gradient goes to the first
/// step that attains the maximum.
/// </summary>
public sealed class MaxPooling : Pooling
{
    public override string Kind => "max";

    public MaxPooling(int features) : base(features, argmax: true) { }

    public override Tensor Forward(Tensor y, int[]? lengths)
    {
        var buf = BeginForward(y, lengths);
        int b = buf.B, t = buf.T, c = Features;
        var src = y.ReadOnlySpan; var z = buf.Z.Span; var arg = buf.ArgMax.AsSpan();
        for (int i = 0; i < b; i++)
        {
            int len = LengthOf(lengths, i, t);
            for (int j = 0; j < c; j++)
            {
                int best = 0; float m = src[i * t * c + j];
                for (int s = 1; s < len; s++)
                {
                    float v = src[(i * t + s) * c + j];
                    if (v > m) { m = v; best = s; }
                }
                z[i * c + j] = m;
                arg[i * c + j] = best;
            }
        }
        return buf.Z;
    }

    public override Tensor Backward(Tensor dOutput)
    {
        var buf = BeginBackward();
        int b = buf.B, t = buf.T, c = Features;
        var dy = buf.DY.Span; var dz = dOutput.ReadOnlySpan;
        for (int i = 0; i < b; i++)
            for (int j = 0; j < c; j++)
                dy[(i * t + buf.ArgMax[i * c + j]) * c + j] = dz[i * c + j];
        return buf.DY;
    }
}

/// <summary>Buffers of a parameter-free pooling for one (B, T).</summary>
internal sealed class PoolBuffers(int b, int t, int c, bool argmax = false)
{
    public readonly int B = b, T = t;
    public readonly Tensor Z = Tensor.Zeros(b, c);                 // [B, C]
    // Made by the first Backward of a shape: inference never needs it.
    public Tensor DY => _dy ??= Tensor.Zeros(B, T, c);             // [B, T, C]
    private Tensor? _dy;
    public readonly int[] ArgMax = argmax ? new int[b * c] : [];  // [B, C] step of each maximum
    public int[]? Lengths;
}
