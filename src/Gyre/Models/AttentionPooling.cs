using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Models;

/// <summary>
/// Additive (Bahdanau) attention over time steps, as in the attention-GRU models for predictive maintenance:
/// u_t = tanh(W·y_t + b), e_t = vᵀ·u_t, α = softmax over the valid steps t &lt; len_b (padded steps get α = 0),
/// z = Σ_t α_t·y_t. Parameters proj.weight W [A, C], proj.bias b [A], score.weight v [1, A]
/// (A attention units, C = D·H pooled width).
/// Backward: dα_t = dz·y_t, de_t = α_t(dα_t − Σ_s α_s dα_s), dy_t = α_t·dz + Wᵀ·((v·de_t) ⊙ (1 − u_t²)).
/// </summary>
public sealed class AttentionPooling : Pooling
{
    private readonly Linear _proj, _score;
    private readonly ShapeCache<Buffers> _cache;
    private Buffers? _last;

    public override string Kind => "attention";

    /// <summary>A.</summary>
    public int AttentionSize { get; }

    public AttentionPooling(int features, int attentionSize, ulong seed) : base(features)
    {
        if (attentionSize <= 0) throw new ArgumentOutOfRangeException(nameof(attentionSize), $"attention size must be positive, got {attentionSize}");
        AttentionSize = attentionSize;
        _proj = new Linear(features, attentionSize, seed: seed, prefix: "proj.");
        _score = new Linear(attentionSize, 1, bias: false, seed: seed + 1, prefix: "score.");
        _cache = new((b, t) => new Buffers(b, t, features, attentionSize));
    }

    public override IEnumerable<Parameter> Parameters() => _proj.Parameters().Concat(_score.Parameters());

    /// <summary>Attention weights α [B, T] of the last Forward (0 at padded steps).</summary>
    public Tensor Weights => (_last ?? throw new InvalidOperationException("no Forward yet")).Alpha;

    public override Tensor Forward(Tensor y, int[]? lengths)
    {
        var (b, t) = CheckInput(y, lengths);
        var buf = _last = _cache.For(b, t);
        buf.Y = y; buf.Lengths = lengths;
        int c = Features, rows = b * t;
        var u = buf.U.Span;                                     // [B·T, A]
        _proj.Forward(y.ReadOnlySpan, u, rows);
        System.Numerics.Tensors.TensorPrimitives.Tanh(u, u);
        var e = buf.Alpha.Span;                                 // [B, T] scores, then weights
        _score.Forward(u, e, rows);
        var src = y.ReadOnlySpan; var z = buf.Z.Span;
        for (int i = 0; i < b; i++)
        {
            int len = LengthOf(lengths, i, t);
            var ei = e.Slice(i * t, t);
            // Masked softmax: subtract the valid maximum so exp never overflows; padded steps get exactly 0.
            float max = ei[0];
            for (int s = 1; s < len; s++) max = MathF.Max(max, ei[s]);
            double sum = 0;
            for (int s = 0; s < len; s++) { ei[s] = MathF.Exp(ei[s] - max); sum += ei[s]; }
            float inv = (float)(1.0 / sum);
            for (int s = 0; s < len; s++) ei[s] *= inv;
            ei.Slice(len).Clear();
            var zi = z.Slice(i * c, c);
            zi.Clear();
            for (int s = 0; s < len; s++)
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(src.Slice((i * t + s) * c, c), ei[s], zi, zi);
        }
        return buf.Z;
    }

    public override Tensor Backward(Tensor dOutput)
    {
        var buf = _last ?? throw new InvalidOperationException("Backward needs a Forward first");
        int b = buf.B, t = buf.T, c = Features, a = AttentionSize, rows = b * t;
        var y = buf.Y!.ReadOnlySpan; var dz = dOutput.ReadOnlySpan;
        var alpha = buf.Alpha.ReadOnlySpan; var de = buf.DE.Span; var dy = buf.DY.Span;
        for (int i = 0; i < b; i++)
        {
            int len = LengthOf(buf.Lengths, i, t);
            var dzi = dz.Slice(i * c, c);
            double weighted = 0;
            for (int s = 0; s < len; s++)
            {
                float da = System.Numerics.Tensors.TensorPrimitives.Dot(dzi, y.Slice((i * t + s) * c, c));
                de[i * t + s] = da;
                weighted += (double)alpha[i * t + s] * da;
            }
            for (int s = 0; s < len; s++) de[i * t + s] = alpha[i * t + s] * (de[i * t + s] - (float)weighted);
            for (int s = len; s < t; s++) de[i * t + s] = 0f;
            for (int s = 0; s < t; s++)
                System.Numerics.Tensors.TensorPrimitives.Multiply(dzi, alpha[i * t + s], dy.Slice((i * t + s) * c, c));
        }
        var du = buf.DU.Span;                                   // [B·T, A] ∂L/∂u, then ∂L/∂(W·y + b)
        _score.Backward(buf.U.ReadOnlySpan, de, du, rows, false);
        var u = buf.U.ReadOnlySpan;
        for (int k = 0; k < rows * a; k++) du[k] *= 1f - u[k] * u[k];
        _proj.Backward(y, du, dy, rows, true);
        return buf.DY;
    }

    private sealed class Buffers(int b, int t, int c, int a)
    {
        public readonly int B = b, T = t;
        public readonly Tensor U = Tensor.Zeros(b * t, a);      // [B·T, A] tanh(W·y + b)
        public Tensor DU => _du ??= Tensor.Zeros(B * T, a);     // [B·T, A] (gradients: made by the first Backward of a shape)
        public readonly Tensor Alpha = Tensor.Zeros(b, t);      // [B, T]
        public Tensor DE => _de ??= Tensor.Zeros(B, T);         // [B, T] ∂L/∂e
        public readonly Tensor Z = Tensor.Zeros(b, c);          // [B, C]
        public Tensor DY => _dy ??= Tensor.Zeros(B, T, c);      // [B, T, C]
        private Tensor? _du, _de, _dy;
        public Tensor? Y;                                       // [B, T, C] the encoder's output
        public int[]? Lengths;
    }
}
