using Gyre.Layers;
using Gyre.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Gyre.Models;

/// <summary>
/// A model assembled from parts that share the <see cref="ModelLayer"/> contract:
/// x [B, T, F] → <see cref="InputProjection"/> [B, T, E] → <see cref="RecurrentEncoder"/> [B, T, D·H]
/// → <see cref="Pooling"/> [B, D·H] → <see cref="Models.Head"/> [B, O], with per-row lengths for padded batches.
/// With <see cref="ModelSpec.ConvBranch"/> a second path reads x beside the recurrent one (the LSTM-FCN layout of
/// Karim et al. 2018): <see cref="ConvolutionBlock"/>s → the mean over the valid steps [B, E′], concatenated after
/// the pooled state, so the head reads [B, D·H + E′] and ∂L/∂x is the sum of both paths' gradients.
/// Parameter names: input.*, encoder.* (PyTorch's weight_ih_l0, …), pool.*, branch.*, head.*.
/// Backward is the forward list in reverse; every part's activations are reused per (B, T).
/// </summary>
public sealed partial class SequenceModel : ModelLayer
{
    private readonly ModelLayer[] _parts;
    private readonly string[] _prefixes = ["input.", "encoder.", "pool.", "head."];
    private Tensor? _dOut;                                  // [B, O] ∂loss/∂out of the last Loss
    private readonly ShapeCache<BranchBuffers>? _branchCache;
    private BranchBuffers? _branchLast;

    public ModelSpec Spec { get; }
    public InputProjection Input { get; }
    public RecurrentEncoder Encoder { get; }
    public Pooling Pool { get; }
    public Head Head { get; }
    /// <summary>The convolutional path beside the recurrent one (null: none).</summary>
    public InputProjection? Branch { get; }
    private readonly Pooling? _branchPool;

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
        if (spec.ConvBranch is { } branchKernels)
        {
            int width = spec.ConvBranchWidth > 0 ? spec.ConvBranchWidth : spec.Hidden;
            Branch = new InputProjection("conv", spec.InputSize, width, seed + 5, branchKernels);
            _branchPool = Pooling.Create("mean", width, 1, 0, seed + 6);
            int pooled = Encoder.OutputSize;
            _branchCache = new((b, t) => new BranchBuffers(b, t, spec.InputSize, pooled, width));
        }
        Head = Head.Create(spec.Head, Encoder.OutputSize + (Branch?.OutputSize ?? 0), spec.Outputs, seed + 4, spec.Loss, spec.ClassWeights, spec.LabelSmoothing);
        _parts = [Input, Encoder, Pool, Head];
    }

    private IEnumerable<(string Prefix, ModelLayer Part)> AllParts()
    {
        for (int i = 0; i < _parts.Length - 1; i++) yield return (_prefixes[i], _parts[i]);
        if (Branch != null) yield return ("branch.", Branch);
        yield return (_prefixes[^1], Head);
    }

    public override IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Parameter);

    public override IEnumerable<(string Name, Parameter Parameter)> NamedParameters()
    {
        foreach (var (prefix, part) in AllParts())
            foreach (var p in part.Parameters()) yield return (prefix + p.Name, p);
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
            if (part == Head && Branch != null) h = Concatenate(h, x, lengths);
            h = part.Forward(h, lengths);
        }
        return h;
    }

    /// <summary>z [B, D·H] of the recurrent path and the branch's pooled x [B, E′] side by side [B, D·H + E′].</summary>
    private Tensor Concatenate(Tensor z, Tensor x, int[]? lengths)
    {
        var buf = _branchLast = _branchCache!.For(x.Dim(0), x.Dim(1));
        Branch!.Training = _branchPool!.Training = Training;
        var c = _branchPool.Forward(Branch.Forward(x, lengths), lengths).ReadOnlySpan;     // [B, E′]
        int b = x.Dim(0), d = buf.Pooled, e = buf.Width;
        var zc = buf.Joined.Span;
        for (int i = 0; i < b; i++)
        {
            z.ReadOnlySpan.Slice(i * d, d).CopyTo(zc.Slice(i * (d + e), d));
            c.Slice(i * e, e).CopyTo(zc.Slice(i * (d + e) + d, e));
        }
        return buf.Joined;
    }

    /// <summary>dout [B, O] → dx [B, T, F]; every parameter gradient accumulates.</summary>
    public override Tensor Backward(Tensor dOutput)
    {
        var d = dOutput;
        for (int i = _parts.Length - 1; i >= 0; i--)
        {
            d = _parts[i].Backward(d);
            if (_parts[i] == Head && Branch != null) d = SplitBranch(d);
        }
        if (Branch == null) return d;
        var buf = _branchLast!;
        TensorPrimitives.Add(buf.DX.ReadOnlySpan, d.ReadOnlySpan, buf.DX.Span);
        return buf.DX;
    }

    /// <summary>∂L/∂[z, c] [B, D·H + E′]: runs the branch's backward on the c half (its ∂L/∂x kept for the sum) and returns ∂L/∂z.</summary>
    private Tensor SplitBranch(Tensor dJoined)
    {
        var buf = _branchLast!;
        int b = buf.B, d = buf.Pooled, e = buf.Width;
        var dz = buf.DZ.Span; var dc = buf.DC.Span; var dj = dJoined.ReadOnlySpan;
        for (int i = 0; i < b; i++)
        {
            dj.Slice(i * (d + e), d).CopyTo(dz.Slice(i * d, d));
            dj.Slice(i * (d + e) + d, e).CopyTo(dc.Slice(i * e, e));
        }
        Branch!.Backward(_branchPool!.Backward(buf.DC)).ReadOnlySpan.CopyTo(buf.DX.Span);
        return buf.DZ;
    }

    private sealed class BranchBuffers(int b, int t, int f, int pooled, int width)
    {
        public readonly int B = b, Pooled = pooled, Width = width;
        public readonly Tensor Joined = Tensor.Zeros(b, pooled + width);    // [B, D·H + E′]
        public readonly Tensor DZ = Tensor.Zeros(b, pooled);                // [B, D·H]
        public readonly Tensor DC = Tensor.Zeros(b, width);                 // [B, E′]
        public readonly Tensor DX = Tensor.Zeros(b, t, f);                  // [B, T, F] the branch's ∂L/∂x, then the sum
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
