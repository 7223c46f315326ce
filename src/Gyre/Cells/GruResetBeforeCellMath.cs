using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// GRU with the reset gate applied before the recurrent product ("reset-before": ONNX
/// linear_before_reset = 0, Keras reset_after = False, the original Cho et al. 2014 cell). Same gate
/// blocks in the weight rows as PyTorch's GRU (r, z, n) and the same parameter names and shapes:
/// <code>
/// r  = σ(W_ir x + b_ir + W_hr h + b_hr)
/// z  = σ(W_iz x + b_iz + W_hz h + b_hz)
/// n  = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
/// h' = (1 − z) ⊙ n + z ⊙ h
/// </code>
/// Every bias is now additive outside a product, so b_ih + b_hh folds into the input projection
/// gi = x·W_ihᵀ + b_ih + b_hh computed for all steps at once. Inside the loop a step needs two GEMMs,
/// because n depends on r: gi[r|z] += h·W_h[r|z]ᵀ, then <see cref="GruResetBeforeGates.ResetForward"/>
/// (r, z, r ⊙ h), then gi[n] += (r ⊙ h)·W_hnᵀ, then <see cref="GruResetBeforeGates.CandidateForward"/>.
/// Backward mirrors it: ∂L/∂gi equals ∂L/∂gh in every column, so one buffer holds both.
/// </summary>
public static class GruResetBeforeCellMath
{
    public const int Gates = 3;

    /// <summary>Saved per unit: r, z, n and r ⊙ h (the last is the input of dW_hn).</summary>
    public const int SavedWidth = 4;
}
