using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// Leaky-integrator tanh RNN: an Elman unit whose state moves toward its update at a learnable per-unit rate.
/// <code>
/// u  = tanh(W_ih x + b_ih + W_hh h + b_hh)        (PyTorch's nn.RNN update)
/// τ  = 1 + e^ρ ≥ 1                                 (ρ learnable per unit; τ &gt; 1 for every real ρ)
/// h' = (1 − 1/τ) ⊙ h + (1/τ) ⊙ u                   (1/τ = σ(−ρ))
/// </code>
/// τ = 1 + e^ρ keeps τ above 1 with no clamp and makes the rate a plain sigmoid, α = 1/τ = σ(−ρ); τ → 1 (ρ → −∞)
/// is the plain RNN, large τ a slow unit.
/// Parameters: weight_ih [H, I], weight_hh [H, H], bias_ih [H], bias_hh [H], then rho [H] (<c>rho_l{k}</c>), all
/// U(−1/√H, 1/√H) (ρ ≈ 0: τ ≈ 2 at the start). State: h. Saved per unit: u and, written by backward,
/// rec = ∂L/∂h' ⊙ (u − h), from which dρ = −Σ α(1 − α) rec is one pass after the time loop
/// (<see cref="LeakyGates.RhoGradient"/>; no write shared between the row split's workers).
/// Kernels: <see cref="LeakyGates"/> (the blend, row by row because saved interleaves u and rec). No fused paths.
/// ONNX: a Scan over the step.
/// </summary>
public readonly unsafe struct LeakyRnnCell : ICell
{
    public static int Gates => 1;
    public static int States => 1;
    public static int SavedWidth => 2;
    public static int ScratchWidth => 1;
    public static RecurrentWeights Recurrent => RecurrentWeights.Dense;
    public static bool HiddenBiasApart => false;

    public static void Forward(in CellStep s)
    {
        int r = s.Rows, h = s.Hidden, n = r * h;
        CellOps.HiddenProduct(r, s.Prev, h, s.W, h, h, s.Gx, h, true);
        var u = new Span<float>(s.Gx, n);
        Activations.Tanh(u, u);
        LeakyGates.Forward(new Span<float>(s.Next, n), u, new ReadOnlySpan<float>(s.Prev, n), new ReadOnlySpan<float>(s.W.Extra, h), r, h);
        if (s.Saved != null)
            for (int i = 0; i < r; i++) u.Slice(i * h, h).CopyTo(new Span<float>(s.Saved + i * 2 * h, h));
    }

    public static void Backward(in CellBackwardStep s)
    {
        int r = s.Rows, h = s.Hidden;
        var rho = new ReadOnlySpan<float>(s.W.Extra, h);
        for (int i = 0; i < r; i++)
        {
            float* saved = s.Saved + i * 2 * h, du = s.Scratch + i * h;
            LeakyGates.Backward(new Span<float>(du, h), new Span<float>(s.DPrev + i * h, h), new Span<float>(saved + h, h),
                new ReadOnlySpan<float>(s.DNext + i * h, h), new ReadOnlySpan<float>(saved, h), new ReadOnlySpan<float>(s.Prev + i * h, h), rho, 1, h);
            RnnCellMath.Backward(new Span<float>(s.DGx + i * h, h), new ReadOnlySpan<float>(du, h), new ReadOnlySpan<float>(saved, h), relu: false);
        }
        CellOps.HiddenProductBackward(r, s.DGx, h, s.W, h, h, s.DPrev, true);
    }

    /// <summary>dW_hh += dGᵀ · H_prev; dρ from the recorded rec (saved column H…).</summary>
    public static void RecurrentWeightGradients(in CellWeightGradients g)
    {
        CellOps.DenseRecurrentGradients(g);
        int h = g.Hidden;
        LeakyGates.RhoGradient(new Span<float>(g.W.ExtraGrad, h), new ReadOnlySpan<float>(g.Saved + h, Math.Max((g.Rows - 1) * 2 * h + h, 0)),
            2 * h, g.Rows, new ReadOnlySpan<float>(g.W.Extra, h), h);
    }
}

/// <summary>The registry entry of <see cref="LeakyRnnCell"/> ("leaky_rnn").</summary>
public sealed class LeakyRnnDefinition : CellDefinition<LeakyRnnCell>
{
    public override string Name => "leaky_rnn";
    public override string Equation => "u = tanh(W x + U h + b); τ = 1 + e^ρ; h' = (1 − 1/τ) ⊙ h + (1/τ) ⊙ u";
    public override IReadOnlyList<(string Name, int Rows)> ExtraParameters => [("rho", 1)];

    /// <summary>u = tanh(gx + h·W_hhᵀ), h' = h + σ(−ρ) ⊙ (u − h).</summary>
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        string h = s.State(0), u = s.Tanh(s.Add(s.Gx, s.DenseRecurrent(h, withBias: false)));
        s.SetNext(s.Lerp(h, u, s.Sigmoid(s.Neg(s.Parameter("rho")!))));
        return true;
    }
}
