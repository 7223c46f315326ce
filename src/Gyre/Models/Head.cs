using Gyre.Layers;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Models;

/// <summary>
/// The output head: z [B, C] → out [B, O] through a Linear (out = z·Wᵀ + b, W [O, C]) and the head's loss.
/// Kinds: "linear" (regression, O targets), "softmax" (O classes, cross-entropy), "svm" (O classes, L2-SVM).
/// Losses are means over the batch, return the loss and write ∂loss/∂out.
/// </summary>
public abstract class Head : ModelLayer
{
    private readonly Linear _linear;
    private readonly ShapeCache<Buffers> _cache;
    private Buffers? _last;

    public int InputSize { get; }
    /// <summary>O: regression targets or classes.</summary>
    public int Outputs { get; }
    /// <summary>The head's name in a <see cref="ModelSpec"/>.</summary>
    public abstract string Kind { get; }
    /// <summary>True for heads whose targets are class labels 0..O−1.</summary>
    public abstract bool Classifies { get; }

    protected Head(int inputSize, int outputs, ulong seed)
    {
        if (outputs <= 0) throw new ArgumentOutOfRangeException(nameof(outputs), $"head outputs must be positive, got {outputs}");
        InputSize = inputSize; Outputs = outputs;
        _linear = new Linear(inputSize, outputs, seed: seed);
        _cache = new((b, _) => new Buffers(b, inputSize, outputs));
    }

    public override IEnumerable<Parameter> Parameters() => _linear.Parameters();

    /// <summary>Builds a head by name.</summary>
    public static Head Create(string kind, int inputSize, int outputs, ulong seed, string loss = "mse", float[]? classWeights = null,
        float labelSmoothing = 0f) => kind switch
    {
        "linear" => new LinearHead(inputSize, outputs, seed, Losses.Parse(loss)),
        "softmax" => new SoftmaxHead(inputSize, outputs, seed, labelSmoothing) { ClassWeights = classWeights },
        "svm" => new SvmHead(inputSize, outputs, seed) { ClassWeights = classWeights },
        _ => throw new ArgumentException($"unknown head '{kind}' (known: linear, softmax, svm)"),
    };

    public static readonly string[] Names = ["linear", "softmax", "svm"];

    /// <summary>out [B, O] of the last Forward (null before the first).</summary>
    public Tensor? LastOutput => _last?.Out;

    /// <summary>z [B, C] → out [B, O].</summary>
    public override Tensor Forward(Tensor z, int[]? lengths)
    {
        if (z.Rank != 2 || z.Dim(1) != InputSize) throw new ArgumentException($"head input must be [B, {InputSize}], got {z}");
        var buf = _last = _cache.For(z.Dim(0), 1);
        buf.Z = z;
        _linear.Forward(z.ReadOnlySpan, buf.Out.Span, z.Dim(0));
        return buf.Out;
    }

    /// <summary>dout [B, O] → dz [B, C]; dW += doutᵀ·z, db += Σ dout.</summary>
    public override Tensor Backward(Tensor dOutput)
    {
        var buf = _last ?? throw new InvalidOperationException("Backward needs a Forward first");
        _linear.Backward(buf.Z!.ReadOnlySpan, dOutput.ReadOnlySpan, buf.DZ.Span, buf.DZ.Dim(0), false);
        return buf.DZ;
    }

    /// <summary>Loss of out [B, O] against class labels [B]; writes ∂loss/∂out.</summary>
    public virtual double Loss(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, Span<float> dOutput) =>
        throw new NotSupportedException($"the {Kind} head takes real-valued targets, not class labels");

    /// <summary>Loss of out [B, O] against targets [B, O]; writes ∂loss/∂out.</summary>
    public virtual double Loss(ReadOnlySpan<float> output, ReadOnlySpan<float> targets, Span<float> dOutput) =>
        throw new NotSupportedException($"the {Kind} head takes class labels, not real-valued targets");

    private sealed class Buffers(int b, int c, int o)
    {
        public readonly Tensor Out = Tensor.Zeros(b, o);        // [B, O]
        public readonly Tensor DZ = Tensor.Zeros(b, c);         // [B, C]
        public Tensor? Z;                                       // [B, C] the pooled input
    }
}
