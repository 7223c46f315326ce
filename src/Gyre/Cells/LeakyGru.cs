using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// Leaky-integrator GRU: PyTorch's GRU step (<see cref="GruCellMath"/>, gate blocks r, z, n, reset after the product)
/// as the update of a unit that moves toward it at a learnable per-unit rate.
/// <code>
/// u  = GRU(x, h) = (1 − z) ⊙ n + z ⊙ h
/// τ  = 1 + e^ρ ≥ 1                                 (ρ learnable per unit)
/// h' = (1 − 1/τ) ⊙ h + (1/τ) ⊙ u                   (1/τ = σ(−ρ))
/// </code>
/// τ = 1 + e^ρ keeps τ above 1 with no clamp and makes the rate a plain sigmoid (see <see cref="LeakyRnnCell"/>).
/// Parameters: the GRU's weight_ih [3H, I], weight_hh [3H, H], bias_ih [3H], bias_hh [3H], then rho [H]
/// (<c>rho_l{k}</c>); U(−1/√H, 1/√H). State: h. b_hh stays apart (r multiplies W_hn h + b_hn).
/// Saved per unit (S = 6): the GRU kernel's r, z, n, W_hn h + b_hn, then u and, written by backward,
/// rec = ∂L/∂h' ⊙ (u − h) for dρ after the loop. The kernels (<see cref="GruGates"/>, <see cref="LeakyGates"/>)
/// run row by row because a saved row is 6H, not the GRU kernel's 4H. Scratch [R, 5H]: b_hh + h·W_hhᵀ [R, 3H],
/// u or ∂L/∂u [R, H], the GRU part of ∂L/∂h [R, H]. No fused paths. ONNX: a Scan over the step.
/// </summary>
public readonly unsafe struct LeakyGruCell : ICell
{
    public static int Gates => 3;
    public static int States => 1;
    public static int SavedWidth => 6;
    public static int ScratchWidth => 5;
    public static RecurrentWeights Recurrent => RecurrentWeights.Dense;
    public static bool HiddenBiasApart => true;

    public static void Forward(in CellStep s)
    {
        int r = s.Rows, h = s.Hidden, gh = 3 * h, n = r * h;
        bool bias = s.W.BiasHh != null;
        if (bias)
        {
            var b = new ReadOnlySpan<float>(s.W.BiasHh, gh);
            for (int i = 0; i < r; i++) b.CopyTo(new Span<float>(s.Scratch + (nint)i * gh, gh));
        }
        CellOps.HiddenProduct(r, s.Prev, h, s.W, gh, h, s.Scratch, gh, bias);
        float* u = s.Scratch + 3 * n;
        if (s.Saved == null)
            GruGates.Forward(new Span<float>(u, n), default, new ReadOnlySpan<float>(s.Gx, 3 * n), new ReadOnlySpan<float>(s.Scratch, 3 * n),
                new ReadOnlySpan<float>(s.Prev, n), r, h);
        else
            for (int i = 0; i < r; i++)
            {
                float* saved = s.Saved + i * 6 * h;
                GruGates.Forward(new Span<float>(u + i * h, h), new Span<float>(saved, 4 * h), new ReadOnlySpan<float>(s.Gx + i * gh, gh),
                    new ReadOnlySpan<float>(s.Scratch + i * gh, gh), new ReadOnlySpan<float>(s.Prev + i * h, h), 1, h);
                new ReadOnlySpan<float>(u + i * h, h).CopyTo(new Span<float>(saved + 4 * h, h));
            }
        LeakyGates.Forward(new Span<float>(s.Next, n), new ReadOnlySpan<float>(u, n), new ReadOnlySpan<float>(s.Prev, n),
            new ReadOnlySpan<float>(s.W.Extra, h), r, h);
    }

    public static void Backward(in CellBackwardStep s)
    {
        int r = s.Rows, h = s.Hidden, gh = 3 * h, n = r * h;
        var rho = new ReadOnlySpan<float>(s.W.Extra, h);
        float* du = s.Scratch + 3 * n, dGru = s.Scratch + 4 * n;
        for (int i = 0; i < r; i++)
        {
            float* saved = s.Saved + i * 6 * h;
            var hPrev = new ReadOnlySpan<float>(s.Prev + i * h, h);
            LeakyGates.Backward(new Span<float>(du + i * h, h), new Span<float>(s.DPrev + i * h, h), new Span<float>(saved + 5 * h, h),
                new ReadOnlySpan<float>(s.DNext + i * h, h), new ReadOnlySpan<float>(saved + 4 * h, h), hPrev, rho, 1, h);
            GruGates.Backward(new Span<float>(s.DGx + i * gh, gh), new Span<float>(s.DGh + i * gh, gh), new Span<float>(dGru + i * h, h),
                new ReadOnlySpan<float>(du + i * h, h), new ReadOnlySpan<float>(saved, 4 * h), hPrev, 1, h);
        }
        var dPrev = new Span<float>(s.DPrev, n);
        System.Numerics.Tensors.TensorPrimitives.Add(dPrev, new ReadOnlySpan<float>(dGru, n), dPrev);
        CellOps.HiddenProductBackward(r, s.DGh, gh, s.W, gh, h, s.DPrev, true);
    }

    /// <summary>dW_hh += dGhᵀ · H_prev; dρ from the recorded rec (saved column 5H…).</summary>
    public static void RecurrentWeightGradients(in CellWeightGradients g)
    {
        CellOps.DenseRecurrentGradients(g);
        int h = g.Hidden;
        LeakyGates.RhoGradient(new Span<float>(g.W.ExtraGrad, h), new ReadOnlySpan<float>(g.Saved + 5 * h, Math.Max((g.Rows - 1) * 6 * h + h, 0)),
            6 * h, g.Rows, new ReadOnlySpan<float>(g.W.Extra, h), h);
    }
}

/// <summary>The registry entry of <see cref="LeakyGruCell"/> ("leaky_gru").</summary>
public sealed class LeakyGruDefinition : CellDefinition<LeakyGruCell>
{
    public override string Name => "leaky_gru";
    public override string Equation => "u = GRU(x, h); τ = 1 + e^ρ; h' = (1 − 1/τ) ⊙ h + (1/τ) ⊙ u";
    public override IReadOnlyList<(string Name, int Rows)> ExtraParameters => [("rho", 1)];

    /// <summary>u = the GRU step (<see cref="GruDefinition.EmitUpdate"/>), h' = h + σ(−ρ) ⊙ (u − h).</summary>
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        string h = s.State(0), u = GruDefinition.EmitUpdate(s, s.DenseRecurrent(h, withBias: true));
        s.SetNext(s.Lerp(h, u, s.Sigmoid(s.Neg(s.Parameter("rho")!))));
        return true;
    }
}
