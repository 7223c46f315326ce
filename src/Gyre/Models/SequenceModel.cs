using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Models;

/// <summary>
/// A model assembled from parts that share the <see cref="ModelLayer"/> contract:
/// x [B, T, F] → <see cref="InputProjection"/> [B, T, E] → <see cref="RecurrentEncoder"/> [B, T, D·H]
/// → <see cref="Pooling"/> [B, D·H] → <see cref="Models.Head"/> [B, O], with per-row lengths for padded batches.
/// Parameter names: input.*, encoder.* (PyTorch's weight_ih_l0, …), pool.*, head.*.
/// Backward is the forward list in reverse; every part's activations are reused per (B, T).
/// </summary>
public sealed partial class SequenceModel : ModelLayer
{
    private readonly ModelLayer[] _parts;
    private readonly string[] _prefixes = ["input.", "encoder.", "pool.", "head."];
    private Tensor? _dOut;                                  // [B, O] ∂loss/∂out of the last Loss

    public ModelSpec Spec { get; }
    public InputProjection Input { get; }
    public RecurrentEncoder Encoder { get; }
    public Pooling Pool { get; }
    public Head Head { get; }

    public SequenceModel(ModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        Spec = spec;
        ulong seed = spec.Seed;
        Input = new InputProjection(spec.Input, spec.InputSize, spec.InputProjection > 0 ? spec.InputProjection : spec.Hidden, seed + 1, spec.ConvKernels);
        Encoder = new RecurrentEncoder(spec.Cell, Input.OutputSize, spec.Hidden, spec.Layers, spec.Bidirectional, spec.Dropout, seed + 2,
            spec.Gmu, spec.GmuMemory ?? -1);
        Pool = Pooling.Create(spec.Pool, Encoder.OutputSize, Encoder.Directions, spec.AttentionSize > 0 ? spec.AttentionSize : spec.Hidden, seed + 3);
        Head = Head.Create(spec.Head, Encoder.OutputSize, spec.Outputs, seed + 4, spec.Loss, spec.ClassWeights, spec.LabelSmoothing);
        _parts = [Input, Encoder, Pool, Head];
    }

    public override IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Parameter);

    public override IEnumerable<(string Name, Parameter Parameter)> NamedParameters()
    {
        for (int i = 0; i < _parts.Length; i++)
            foreach (var p in _parts[i].Parameters()) yield return (_prefixes[i] + p.Name, p);
    }

    /// <summary>x [B, T, F] with lengths [B] (null: all T) → out [B, O] (the head's buffer).</summary>
    public override Tensor Forward(Tensor x, int[]? lengths)
    {
        if (x.Rank != 3 || x.Dim(2) != Spec.InputSize) throw new ArgumentException($"model input must be [B, T, {Spec.InputSize}], got {x}");
        CheckLengths(lengths, x.Dim(0), x.Dim(1));
        var h = x;
        foreach (var part in _parts)
        {
            part.Training = Training;
            h = part.Forward(h, lengths);
        }
        return h;
    }

    /// <summary>dout [B, O] → dx [B, T, F]; every parameter gradient accumulates.</summary>
    public override Tensor Backward(Tensor dOutput)
    {
        var d = dOutput;
        for (int i = _parts.Length - 1; i >= 0; i--) d = _parts[i].Backward(d);
        return d;
    }

    /// <summary>Head loss of the last Forward against class labels [B]; ∂loss/∂out kept for <see cref="BackwardLoss"/>.</summary>
    public double Loss(ReadOnlySpan<int> labels) => Head.Loss(LastOutput(labels.Length).ReadOnlySpan, labels, _dOut!.Span);

    /// <summary>Head loss of the last Forward against targets [B, O]; ∂loss/∂out kept for <see cref="BackwardLoss"/>.</summary>
    public double Loss(ReadOnlySpan<float> targets) => Head.Loss(LastOutput(targets.Length / Spec.Outputs).ReadOnlySpan, targets, _dOut!.Span);

    /// <summary>Backward from the gradient of the last <see cref="Loss(ReadOnlySpan{int})"/>.</summary>
    public Tensor BackwardLoss() => Backward(_dOut ?? throw new InvalidOperationException("BackwardLoss needs a Loss first"));

    private Tensor LastOutput(int b)
    {
        var head = Head.LastOutput ?? throw new InvalidOperationException("Loss needs a Forward first");
        if (head.Dim(0) != b) throw new ArgumentException($"{b} targets for a batch of {head.Dim(0)}");
        if (_dOut == null || _dOut.Dim(0) != b) _dOut = Tensor.Zeros(b, Spec.Outputs);
        return head;
    }

    /// <summary>Index of the largest output of each row (the predicted class) into <paramref name="classes"/> [B].</summary>
    public static void ArgMax(Tensor output, Span<int> classes)
    {
        int o = output.Dim(1);
        var v = output.ReadOnlySpan;
        for (int i = 0; i < output.Dim(0); i++) classes[i] = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(v.Slice(i * o, o));
    }

    /// <summary>States of the dropout generator (for checkpoints).</summary>
    public string[] SaveRngState() => [Encoder.Layer.DropoutRng.SaveState()];

    public void RestoreRngState(string[] states)
    {
        if (states.Length != 1) throw new InvalidDataException($"checkpoint holds {states.Length} RNG states for 1 recurrent stack");
        Encoder.Layer.DropoutRng.Restore(states[0]);
    }
}
