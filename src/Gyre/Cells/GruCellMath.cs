using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// GRU, exactly as PyTorch's nn.GRU (gate blocks in weight rows: r, z, n; reset applied after the
/// recurrent product, "reset-after" / ONNX linear_before_reset = 1):
/// <code>
/// r  = σ(W_ir x + b_ir + W_hr h + b_hr)
/// z  = σ(W_iz x + b_iz + W_hz h + b_hz)
/// n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
/// h' = (1 − z) ⊙ n + z ⊙ h
/// </code>
/// Per step the driver computes gi = x·W_ihᵀ + b_ih for all steps at once and gh = h·W_hhᵀ + b_hh
/// inside the loop; the gate math is the fused kernel <see cref="GruGates"/>.
/// </summary>
public static class GruCellMath
{
    public const int Gates = 3;

    /// <summary>Saved per unit: r, z, n and W_hn h + b_hn.</summary>
    public const int SavedWidth = 4;
}
