using Gyre.Kernels;
using Gyre.Models;
using Gyre.Tensors;

namespace Gyre.Layers;

/// <summary>
/// The gated memory unit (GMU) of SambaY (Ren et al. 2025): a stack layer that gates a memory read-out taken
/// from an earlier layer of the same stack by the current layer's input,
/// <code>
/// y = σ(W_g·x + b_g) ⊙ m          x [B, T, D_x], m [B, T, D_m] → y [B, T, D_m]
/// ∂L/∂m = dy ⊙ g,  da = dy ⊙ m ⊙ g(1 − g),  ∂L/∂x = da·W_g,  dW_g += daᵀ·x,  db_g += Σ da
/// </code>
/// with g = σ(a), a = W_g·x + b_g. Parameters weight [D_m, D_x] and bias [D_m], initialised as PyTorch's
/// nn.Linear (U(−1/√D_x, 1/√D_x)). It has no state and no time loop — every step is independent — so it is a
/// layer of the encoder's stack (<see cref="RecurrentEncoder"/>), not a recurrent cell: one GEMM covers all B·T
/// rows and the gate runs on the <see cref="GmuGates"/> SIMD kernel.
/// Dimensions: B batch, T steps, D_x input width, D_m memory width.
/// <para>Padding: steps t ≥ lengths[b] give y = 0 and receive zero gradient (∂L/∂x, ∂L/∂m and the weights).</para>
/// </summary>
public sealed class GatedMemoryUnit : Module
{
    private readonly Linear _gate;
    private readonly ShapeCache<Buffers> _cache;
    private Buffers? _last;

    /// <summary>D_x.</summary>
    public int InputSize { get; }
    /// <summary>D_m (the width of m and y).</summary>
    public int MemorySize { get; }
    /// <summary>W_g [D_m, D_x].</summary>
    public Parameter Weight => _gate.Weight;
    /// <summary>b_g [D_m].</summary>
    public Parameter Bias => _gate.Bias!;

    /// <param name="inputSize">D_x.</param>
    /// <param name="memorySize">D_m.</param>
    /// <param name="seed">Initialisation seed.</param>
    /// <param name="prefix">Prepended to the parameter names ("weight", "bias").</param>
    public GatedMemoryUnit(int inputSize, int memorySize, ulong seed, string prefix = "")
    {
        if (inputSize <= 0 || memorySize <= 0) throw new ArgumentOutOfRangeException(nameof(inputSize), $"GMU sizes must be positive, got D_x = {inputSize}, D_m = {memorySize}");
        InputSize = inputSize; MemorySize = memorySize;
        _gate = new Linear(inputSize, memorySize, bias: true, seed: seed, prefix: prefix);
        _cache = new((b, t) => new Buffers(b, t, inputSize, memorySize));
    }

    public override IEnumerable<Parameter> Parameters() => _gate.Parameters();

    /// <summary>y [B, T, D_m] = σ(W_g·x + b_g) ⊙ m for x [B, T, D_x], m [B, T, D_m]; 0 at padded steps. Returns the
    /// layer's own buffer (valid until its next Forward); x and m must stay unchanged until <see cref="Backward"/>.</summary>
    public Tensor Forward(Tensor x, Tensor memory, int[]? lengths)
    {
        if (x.Rank != 3 || x.Dim(2) != InputSize) throw new ArgumentException($"GMU input must be [B, T, {InputSize}], got {x}");
        int b = x.Dim(0), t = x.Dim(1), n = b * t * MemorySize;
        if (memory.Rank != 3 || memory.Dim(0) != b || memory.Dim(1) != t || memory.Dim(2) != MemorySize)
            throw new ArgumentException($"GMU memory must be [{b}, {t}, {MemorySize}], got {memory}");
        ModelLayer.CheckLengths(lengths, b, t);
        var buf = _last = _cache.For(b, t);
        buf.X = x; buf.M = memory; buf.Lengths = lengths;
        _gate.Forward(x.ReadOnlySpan, buf.Gate.Span, b * t);                        // a = W_g·x + b_g, one GEMM for all B·T rows
        GmuGates.Forward(buf.Y.Span, buf.Gate.Span, buf.Gate.ReadOnlySpan, memory.ReadOnlySpan, n);   // g = σ(a) in place
        ClearPadded(buf.Y.Span, lengths, b, t, MemorySize);
        return buf.Y;
    }

    /// <summary>dy [B, T, D_m] → (∂L/∂x [B, T, D_x], ∂L/∂m [B, T, D_m]) in the layer's own buffers (overwritten);
    /// dW_g and db_g accumulate (+=).</summary>
    public (Tensor DX, Tensor DMemory) Backward(Tensor dy)
    {
        var buf = _last ?? throw new InvalidOperationException("GMU Backward needs a Forward first");
        int b = buf.B, t = buf.T, rows = b * t;
        if (dy.Rank != 3 || dy.Dim(0) != b || dy.Dim(1) != t || dy.Dim(2) != MemorySize)
            throw new ArgumentException($"GMU dy must be [{b}, {t}, {MemorySize}], got {dy}");
        GmuGates.Backward(buf.DA.Span, buf.DM.Span, dy.ReadOnlySpan, buf.Gate.ReadOnlySpan, buf.M!.ReadOnlySpan, rows * MemorySize);
        ClearPadded(buf.DA.Span, buf.Lengths, b, t, MemorySize);                    // padded steps feed nothing back
        ClearPadded(buf.DM.Span, buf.Lengths, b, t, MemorySize);
        _gate.Backward(buf.X!.ReadOnlySpan, buf.DA.ReadOnlySpan, buf.DX.Span, rows, accumulateDx: false);
        return (buf.DX, buf.DM);
    }

    private static void ClearPadded(Span<float> batchFirst, int[]? lengths, int b, int t, int width)
    {
        if (lengths == null) return;
        for (int r = 0; r < b; r++)
            if (lengths[r] < t) batchFirst.Slice((r * t + lengths[r]) * width, (t - lengths[r]) * width).Clear();
    }

    // The gradient buffers are made by the first Backward of a shape: inference never needs them.
    private sealed class Buffers(int b, int t, int dx, int dm)
    {
        public readonly int B = b, T = t;
        public readonly Tensor Gate = Tensor.Zeros(b, t, dm);     // [B, T, D_m] a, then g = σ(a) in place
        public readonly Tensor Y = Tensor.Zeros(b, t, dm);        // [B, T, D_m]
        public Tensor DA => _da ??= Tensor.Zeros(B, T, dm);       // [B, T, D_m] ∂L/∂a
        public Tensor DM => _dm ??= Tensor.Zeros(B, T, dm);       // [B, T, D_m] ∂L/∂m
        public Tensor DX => _dx ??= Tensor.Zeros(B, T, dx);       // [B, T, D_x]
        private Tensor? _da, _dm, _dx;
        public Tensor? X, M;                                      // the caller's x [B, T, D_x] and m [B, T, D_m]
        public int[]? Lengths;
    }
}
