using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Models;

/// <summary>
/// One block of the convolutional input transform (the FCN block of Wang, Yan &amp; Oates 2017, with a per-step
/// layer norm in place of batch norm so that no result depends on the batch): x [B, T, F] → y [B, T, E],
/// <code>
/// a_t = b + Σ_{j&lt;K} Σ_f W[e, j·F + f] · x_{t + j − ⌊(K−1)/2⌋, f}      ("same" padding, as PyTorch's padding="same")
/// n_t = (a_t − μ(a_t)) / √(σ²(a_t) + ε)                                  (over the E channels of step t)
/// y_t = max(0, γ ⊙ n_t + β)
/// </code>
/// where x_s = 0 outside a row's valid steps 0 ≤ s &lt; L_b, so a padded step never reaches a valid one and a
/// sequence gives the same result alone or in any padded batch; y_t = 0 for t ≥ L_b. Dimensions: B batch, T steps,
/// F input channels, K kernel width, E output channels. W [E, K·F] is PyTorch's Conv1d weight [E, F, K] with the two
/// inner axes swapped (index j·F + f), so the convolution is one GEMM over an im2col copy of the input (x_col
/// [B·T, K·F]) through the shared <see cref="Linear"/>; initialised as PyTorch's Conv1d (U(±1/√(K·F))), γ = 1, β = 0.
/// </summary>
public sealed class ConvolutionBlock : ModelLayer
{
    private const float Epsilon = 1e-5f;                     // PyTorch's LayerNorm default
    private readonly Linear _conv;
    private readonly ParameterBlock _norm;
    private readonly ShapeCache<Buffers> _cache;
    private Buffers? _last;

    public int InputSize { get; }
    public int OutputSize { get; }
    public int Kernel { get; }
    /// <summary>Steps read before t: ⌊(K−1)/2⌋ (the rest, K − 1 − this, after it).</summary>
    public int PadBefore => (Kernel - 1) / 2;

    public ConvolutionBlock(int inputSize, int outputSize, int kernel, ulong seed, string prefix = "")
    {
        if (inputSize <= 0 || outputSize <= 0) throw new ArgumentOutOfRangeException(nameof(inputSize), $"convolution sizes must be positive, got {inputSize} -> {outputSize}");
        if (kernel is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(kernel), $"convolution kernel width must be in 1..64, got {kernel}");
        InputSize = inputSize; OutputSize = outputSize; Kernel = kernel;
        _conv = new Linear(kernel * inputSize, outputSize, seed: seed, prefix: prefix + "conv.");
        _norm = new ParameterBlock([(prefix + "norm.weight", [outputSize]), (prefix + "norm.bias", [outputSize])]);
        _norm.Parameters[0].Value.Fill(1f);
        _cache = new((b, t) => new Buffers(b, t, inputSize, outputSize, kernel));
    }

    public override IEnumerable<Parameter> Parameters() => _conv.Parameters().Concat(_norm.Parameters);

    /// <summary>x [B, T, F] → y [B, T, E] (zero at padded steps).</summary>
    public override Tensor Forward(Tensor x, int[]? lengths)
    {
        if (x.Rank != 3 || x.Dim(2) != InputSize) throw new ArgumentException($"convolution input must be [B, T, {InputSize}], got {x}");
        int B = x.Dim(0), T = x.Dim(1), F = InputSize, E = OutputSize, K = Kernel, KF = K * F;
        CheckLengths(lengths, B, T);
        var buf = _last = _cache.For(B, T);
        buf.Lengths = lengths;
        var xs = x.ReadOnlySpan;
        var col = buf.Col.Span;                              // [B·T, K·F]
        for (int b = 0; b < B; b++)
        {
            int L = LengthOf(lengths, b, T);
            for (int t = 0; t < T; t++)
            {
                var row = col.Slice((b * T + t) * KF, KF);
                if (t >= L) { row.Clear(); continue; }
                for (int j = 0; j < K; j++)
                {
                    int s = t + j - PadBefore;
                    if (s >= 0 && s < L) xs.Slice((b * T + s) * F, F).CopyTo(row.Slice(j * F, F));
                    else row.Slice(j * F, F).Clear();
                }
            }
        }
        _conv.Forward(col, buf.A.Span, B * T);
        var a = buf.A.Span; var n = buf.N.Span; var y = buf.Y.Span; var inv = buf.InvStd.Span;
        var gamma = _norm.Parameters[0].Value.ReadOnlySpan; var beta = _norm.Parameters[1].Value.ReadOnlySpan;
        for (int b = 0; b < B; b++)
        {
            int L = LengthOf(lengths, b, T);
            for (int t = 0; t < T; t++)
            {
                int r = b * T + t;
                var nr = n.Slice(r * E, E); var yr = y.Slice(r * E, E);
                if (t >= L) { nr.Clear(); yr.Clear(); inv[r] = 0f; continue; }
                var ar = a.Slice(r * E, E);
                // Mean and variance accumulated in double: E terms of similar size, cheap, and the norm's
                // gradient divides by the standard deviation, so its error would be amplified.
                double sum = 0, sq = 0;
                for (int e = 0; e < E; e++) sum += ar[e];
                double mean = sum / E;
                for (int e = 0; e < E; e++) { double d = ar[e] - mean; sq += d * d; }
                float istd = (float)(1.0 / Math.Sqrt(sq / E + Epsilon));
                inv[r] = istd;
                for (int e = 0; e < E; e++)
                {
                    float v = (float)(ar[e] - mean) * istd;
                    nr[e] = v;
                    yr[e] = MathF.Max(0f, gamma[e] * v + beta[e]);
                }
            }
        }
        return buf.Y;
    }

    /// <summary>
    /// dy [B, T, E] → dx [B, T, F]; dγ += Σ dz ⊙ n, dβ += Σ dz, dW and db through the GEMM (dz = dy where y &gt; 0, else 0;
    /// da = (γ ⊙ dz − mean(γ ⊙ dz) − n · mean(γ ⊙ dz ⊙ n)) / √(σ² + ε)); padded steps get zero gradient.
    /// </summary>
    public override Tensor Backward(Tensor dOutput)
    {
        var buf = _last ?? throw new InvalidOperationException("Backward needs a Forward first");
        int B = buf.B, T = buf.T, F = InputSize, E = OutputSize, K = Kernel, KF = K * F;
        if (dOutput.Length != B * T * E) throw new ArgumentException($"convolution output gradient must be [{B}, {T}, {E}], got {dOutput}");
        var dy = dOutput.ReadOnlySpan; var n = buf.N.ReadOnlySpan; var y = buf.Y.ReadOnlySpan; var inv = buf.InvStd.ReadOnlySpan;
        var da = buf.DA.Span; var dn = buf.DN.Span;
        var gamma = _norm.Parameters[0].Value.ReadOnlySpan;
        var dGamma = _norm.Parameters[0].Grad.Span; var dBeta = _norm.Parameters[1].Grad.Span;
        for (int b = 0; b < B; b++)
        {
            int L = LengthOf(buf.Lengths, b, T);
            for (int t = 0; t < T; t++)
            {
                int r = b * T + t;
                var dar = da.Slice(r * E, E);
                if (t >= L) { dar.Clear(); continue; }
                var nr = n.Slice(r * E, E); var yr = y.Slice(r * E, E); var dyr = dy.Slice(r * E, E);
                double sumDn = 0, sumDnN = 0;
                for (int e = 0; e < E; e++)
                {
                    float dz = yr[e] > 0f ? dyr[e] : 0f;
                    dGamma[e] += dz * nr[e];
                    dBeta[e] += dz;
                    float g = dz * gamma[e];
                    dn[e] = g;
                    sumDn += g;
                    sumDnN += g * nr[e];
                }
                float meanDn = (float)(sumDn / E), meanDnN = (float)(sumDnN / E), istd = inv[r];
                for (int e = 0; e < E; e++) dar[e] = (dn[e] - meanDn - nr[e] * meanDnN) * istd;
            }
        }
        var dcol = buf.DCol.Span;
        _conv.Backward(buf.Col.ReadOnlySpan, da, dcol, B * T, false);
        var dx = buf.DX.Span;                                // [B, T, F]
        dx.Clear();
        for (int b = 0; b < B; b++)
        {
            int L = LengthOf(buf.Lengths, b, T);
            for (int t = 0; t < L; t++)
                for (int j = 0; j < K; j++)
                {
                    int s = t + j - PadBefore;
                    if (s >= 0 && s < L)
                        TensorPrimitives.Add(dx.Slice((b * T + s) * F, F), dcol.Slice((b * T + t) * KF + j * F, F), dx.Slice((b * T + s) * F, F));
                }
        }
        return buf.DX;
    }

    private sealed class Buffers(int b, int t, int f, int e, int k)
    {
        public readonly int B = b, T = t;
        public readonly Tensor Col = Tensor.Zeros(b * t, k * f);    // [B·T, K·F] im2col copy of x
        public readonly Tensor DCol = Tensor.Zeros(b * t, k * f);   // [B·T, K·F]
        public readonly Tensor A = Tensor.Zeros(b * t, e);          // [B·T, E] convolution output
        public readonly Tensor DA = Tensor.Zeros(b * t, e);         // [B·T, E]
        public readonly Tensor N = Tensor.Zeros(b * t, e);          // [B·T, E] normalised a
        public readonly Tensor InvStd = Tensor.Zeros(b * t);        // [B·T] 1/√(σ² + ε)
        public readonly Tensor DN = Tensor.Zeros(e);                // [E] γ ⊙ dz of one step
        public readonly Tensor Y = Tensor.Zeros(b, t, e);           // [B, T, E]
        public readonly Tensor DX = Tensor.Zeros(b, t, f);          // [B, T, F]
        public int[]? Lengths;
    }
}
