using System.Numerics.Tensors;
using Gyre.Kernels;
using Gyre.Layers;

namespace Gyre.Cells;

/// <summary>
/// Gated linear attention (Yang et al. 2024, "Gated Linear Attention Transformers with Hardware-Efficient Training")
/// as a recurrent cell, registry name "gla", option heads = N (default 1; H must be a multiple of N). Its recurrent
/// form: per row and head, a matrix state S [d, d] with d = dk = dv = H/N.
/// Gate blocks in weight_ih rows: q, k, v, a (each H wide, head n at columns n·d of its block).
/// <code>
/// q = gx_q / √d     k = gx_k     v = gx_v
/// log α = logσ(gx_a) / τ,  τ = 16          (α = σ(gx_a)^(1/τ) ∈ (0, 1), as the library layer's gate)
/// S'  = diag(α)·S + kᵀ·v                  (per head: S'[i, j] = α[i]·S[i, j] + k[i]·v[j])
/// h'  = o = q·S'                          (per head: o[j] = Σ_i q[i]·S'[i, j]; h' = [o of every head])
/// </code>
/// States: h [H] (the output, not fed back) and S [N·d·d] (<see cref="GlaDefinition.StateWidth"/>), row-major per
/// head. Parameters: weight_ih [4H, I], bias_ih [4H], all U(−1/√H, 1/√H); no weight_hh, no bias_hh. The paper's
/// low-rank gate (W_α2·W_α1) and output projection W_o are not part of the cell: the gate here is one full-rank
/// block of weight_ih, and the output projection is whatever follows the layer (a head, the next layer).
/// The key size is d = H/N, equal to the value size: the runner's gx is G·H wide with G a constant of the cell, so
/// a key size of its own (3·N·dk + H columns) does not fit the contract.
/// S is linear in itself (S' = a ⊙ S + b, a[i, j] = α[i], b = kᵀv) and h is a read-out of S' that is not fed back, so
/// <c>--scan parallel</c> runs the runner's state scan (<see cref="SequencePath.StateScan"/>) over the B·H²/N state channels.
/// The chunkwise form of the same map, on the same weights, is <see cref="GlaChunkwise"/> (not a runner path).
/// Saved per unit: q, k, v, α, ∂α/∂gx_a = α·(1 − σ(gx_a))/τ. Gate math: <see cref="GlaGates"/> (scalar twin
/// <see cref="Kernels.Reference.GlaGatesReference"/>); the per-head state update and q·S' on TensorPrimitives. Backward from ∂L/∂S' and ∂L/∂o:
/// G = ∂L/∂S' + qᵀ·∂L/∂o, ∂q = ∂L/∂o·S'ᵀ, ∂k = G·vᵀ, ∂v = k·G, ∂α[i] = Σ_j G[i, j]·S[i, j], ∂L/∂S = diag(α)·G.
/// </summary>
public readonly unsafe struct GlaCell : ICell
{
    /// <summary>τ: the gate temperature (the paper's 16: α = σ(a)^(1/16) stays near 1, so the state forgets slowly).</summary>
    public const float Tau = 16f;

    public static int Gates => 4;
    public static int States => 2;
    public static int SavedWidth => 5;
    public static int ScratchWidth => 0;
    public static RecurrentWeights Recurrent => RecurrentWeights.None;
    public static bool HiddenBiasApart => false;
    public static bool HasLinearState => true;

    /// <summary>Per head, a[i, j] = α[i] and b[i, j] = k[i]·v[j] (S' = a ⊙ S + b with the step's roundings), α from
    /// <see cref="GlaGates"/> as in the step; a's and b's rows serve as the kernel's scratch so that gx is only read.</summary>
    public static void LinearStateCoefficients(float* a, float* b, nint ld, float* gx, int rows, int hidden, in CellWeights w)
    {
        int h = hidden, heads = Math.Max(1, w.Params.Heads), d = h / heads;
        for (int r = 0; r < rows; r++)
        {
            float* g = gx + (nint)r * 4 * h, ar = a + r * ld, br = b + r * ld, k = g + h, v = g + 2 * h;
            // α lands in b's first H floats (used up before b is written), the kernel's scaled q in a's (not needed).
            new ReadOnlySpan<float>(g, h).CopyTo(new Span<float>(ar, h));
            new ReadOnlySpan<float>(g + 3 * h, h).CopyTo(new Span<float>(br, h));
            GlaGates.Forward(new Span<float>(ar, h), new Span<float>(br, h), default, 1f / MathF.Sqrt(d));
            for (int e = 0; e < h; e++) new Span<float>(ar + (nint)e * d, d).Fill(br[e]);
            for (int e = 0; e < h; e++)
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(v + e / d * d, d), k[e], new Span<float>(br + (nint)e * d, d));
        }
    }

    /// <summary>a[i, j] = α[i] per head from the saved α.</summary>
    public static void LinearStateDecay(float* a, nint ld, float* saved, int rows, int hidden, in CellWeights w)
    {
        int h = hidden, d = h / Math.Max(1, w.Params.Heads);
        for (int r = 0; r < rows; r++)
        {
            float* al = saved + (nint)r * 5 * h + 3 * h, ar = a + r * ld;
            for (int e = 0; e < h; e++) new Span<float>(ar + (nint)e * d, d).Fill(al[e]);
        }
    }

    public static void Forward(in CellStep s)
    {
        int h = s.Hidden, heads = Math.Max(1, s.W.Params.Heads), d = h / heads, g = 4 * h;
        float scale = 1f / MathF.Sqrt(d);
        for (int r = 0; r < s.Rows; r++)
        {
            float* gx = s.Gx + (nint)r * g;
            float* q = gx, k = gx + h, v = gx + 2 * h, a = gx + 3 * h;
            float* sv = s.Saved == null ? null : s.Saved + (nint)r * 5 * h;
            // gx is scratch: q scaled in place, the gate block becomes α (the saved slope written beside it).
            GlaGates.Forward(new Span<float>(q, h), new Span<float>(a, h), sv == null ? default : new Span<float>(sv + 4 * h, h), scale);
            if (sv != null) new ReadOnlySpan<float>(gx, g).CopyTo(new Span<float>(sv, g));
            float* prevS = s.Prev + s.StateStride + (nint)r * s.StateLd, nextS = s.Next + s.StateStride + (nint)r * s.StateLd;
            float* o = s.Next + (nint)r * s.StateLd;
            for (int n = 0; n < heads; n++)
            {
                nint e = n * d;
                HeadStep(new ReadOnlySpan<float>(prevS + e * d, d * d), new Span<float>(nextS + e * d, d * d), new ReadOnlySpan<float>(q + e, d),
                    new ReadOnlySpan<float>(k + e, d), new ReadOnlySpan<float>(a + e, d), new ReadOnlySpan<float>(v + e, d), new Span<float>(o + e, d));
            }
        }
    }

    /// <summary>One head of one row: S'[i, ·] = α[i]·S[i, ·] + k[i]·v, o = q·S' (S, S' [dk, dv], row-major; they may be
    /// the same buffer).</summary>
    internal static void HeadStep(ReadOnlySpan<float> prev, Span<float> next, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> alpha, ReadOnlySpan<float> v, Span<float> o)
    {
        int dv = v.Length;
        o.Clear();
        for (int i = 0; i < k.Length; i++)
        {
            var row = next.Slice(i * dv, dv);
            // α·S + k·v rounded as the two products and their sum, in this order (the scalar expression's rounding).
            TensorPrimitives.Multiply(prev.Slice(i * dv, dv), alpha[i], row);
            TensorPrimitives.MultiplyAdd(v, k[i], row, row);
            TensorPrimitives.MultiplyAdd(row, q[i], o, o);
        }
    }

    public static void Backward(in CellBackwardStep s)
    {
        int h = s.Hidden, heads = Math.Max(1, s.W.Params.Heads), d = h / heads, g = 4 * h;
        float scale = 1f / MathF.Sqrt(d);
        for (int r = 0; r < s.Rows; r++)
        {
            float* sv = s.Saved + (nint)r * 5 * h;
            float* q = sv, k = sv + h, v = sv + 2 * h, al = sv + 3 * h, slope = sv + 4 * h;
            float* dgx = s.DGx + (nint)r * g;
            float* dq = dgx, dk = dgx + h, dv = dgx + 2 * h, da = dgx + 3 * h;
            float* dO = s.DNext + (nint)r * s.StateLd, dNextS = s.DNext + s.DStride + (nint)r * s.StateLd;
            float* dPrevS = s.DPrev + s.DStride + (nint)r * s.StateLd;
            float* prevS = s.Prev + s.StateStride + (nint)r * s.StateLd, nextS = s.Next + s.StateStride + (nint)r * s.StateLd;
            new Span<float>(s.DPrev + (nint)r * s.StateLd, h).Clear(); // h is not fed back
            new Span<float>(dv, h).Clear();
            for (int n = 0; n < heads; n++)
            {
                var dOn = new ReadOnlySpan<float>(dO + n * d, d);
                var vn = new ReadOnlySpan<float>(v + n * d, d);
                var dvn = new Span<float>(dv + n * d, d);
                for (int i = 0; i < d; i++)
                {
                    int e = n * d + i;
                    var grad = new Span<float>(dPrevS + (nint)e * d, d); // G row i, then ∂L/∂S row i
                    TensorPrimitives.MultiplyAdd(dOn, q[e], new ReadOnlySpan<float>(dNextS + (nint)e * d, d), grad);
                    dq[e] = TensorPrimitives.Dot(dOn, new ReadOnlySpan<float>(nextS + (nint)e * d, d)) * scale;
                    da[e] = TensorPrimitives.Dot(grad, new ReadOnlySpan<float>(prevS + (nint)e * d, d)) * slope[e];
                    dk[e] = TensorPrimitives.Dot(grad, vn);
                    TensorPrimitives.MultiplyAdd(grad, k[e], dvn, dvn);
                    TensorPrimitives.Multiply(grad, al[e], grad);
                }
            }
        }
    }
}

/// <summary>The registry entry of <see cref="GlaCell"/> ("gla", option heads).</summary>
public sealed class GlaDefinition : CellDefinition<GlaCell>
{
    private GlaDefinition(CellOptions options)
    {
        options.OnlyKnown("gla", "heads");
        HeadCount = HeadsDefinition.Heads("gla", options);
        Options = options;
    }

    /// <summary>Builds "gla" from its options.</summary>
    internal static CellDefinition FromOptions(CellOptions options) => new GlaDefinition(options);

    /// <summary>N: heads.</summary>
    public int HeadCount { get; }

    public override string Name => "gla";
    public override string Equation => "S' = diag(α) S + kᵀv, h' = q S' per head, α = σ(a)^(1/16)";
    public override IReadOnlyList<string> StateNames => ["h", "s"];
    public override CellParams Params => new() { Heads = HeadCount };

    /// <summary>16 heads: the state (H²/16 floats a row) is then as wide as LSSL's 16 states per channel, so the scan
    /// benchmark's grid rows fit its memory guard.</summary>
    public override CellDefinition ScanBenchmarkCell => HeadCount == 16 ? this : new GlaDefinition(CellOptions.Parse("heads=16"));

    /// <summary>W_0 = H (the output o); W_1 = N·d·d = H²/N (the matrix state of every head).</summary>
    public override int StateWidth(int state, int hidden)
    {
        if (hidden % HeadCount != 0) throw new ArgumentException($"cell 'gla': hidden size {hidden} must be a multiple of heads = {HeadCount}");
        return state == 0 ? hidden : hidden / HeadCount * hidden;
    }

    /// <summary>The step per head as batched MatMuls: S' = α ⊙ S + k ⊗ v ([R, N, d, d]), o = q·S' ([R, N, 1, d]).</summary>
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        int h = s.Hidden, n = HeadCount, d = h / n;
        string q = s.Mul(s.Gate(s.Gx, 0), s.Constant(1f / MathF.Sqrt(d)));
        string k = s.Gate(s.Gx, 1), v = s.Gate(s.Gx, 2), a = s.Gate(s.Gx, 3);
        // log σ(a) = −softplus(−a): finite for every a.
        string alpha = s.Exp(s.Div(s.Neg(s.Softplus(s.Neg(a))), s.Constant(GlaCell.Tau)));
        string state = s.Reshape(s.State(1), 0, n, d, d);
        string next = s.Add(s.Mul(s.Reshape(alpha, 0, n, d, 1), state), s.Mul(s.Reshape(k, 0, n, d, 1), s.Reshape(v, 0, n, 1, d)));
        string o = s.MatMul(s.Reshape(q, 0, n, 1, d), next);
        s.SetNext(s.Reshape(o, 0, h), s.Reshape(next, 0, n * d * d));
        return true;
    }
}
