using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// LSTM, exactly as PyTorch's nn.LSTM (gate blocks in weight rows: i, f, g, o; no peepholes):
/// <code>
/// i = σ(W_ii x + b_ii + W_hi h + b_hi)     f = σ(W_if x + b_if + W_hf h + b_hf)
/// g = tanh(W_ig x + b_ig + W_hg h + b_hg)  o = σ(W_io x + b_io + W_ho h + b_ho)
/// c' = f ⊙ c + i ⊙ g                       h' = o ⊙ tanh(c')
/// </code>
/// Both biases fold into the input projection computed for all steps at once; inside the loop
/// h·W_hhᵀ accumulates onto it and <see cref="LstmGates"/> does the pointwise part.
/// </summary>
public static class LstmCellMath
{
    public const int Gates = 4;

    /// <summary>Saved per unit: i, f, g, o and tanh(c').</summary>
    public const int SavedWidth = 5;
}
