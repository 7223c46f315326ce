namespace Gyre.Cells;

/// <summary>
/// Elman RNN, as PyTorch's nn.RNN: h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or ReLU.
/// The output h' itself is all backward needs (tanh' = 1 − h'², ReLU' = [h' &gt; 0]).
/// </summary>
public static class RnnCellMath
{
    public const int Gates = 1;
    public const int SavedWidth = 0;

    /// <summary>h = act(pre) in place over one step's [R, H] block.</summary>
    public static void Forward(Span<float> h, ReadOnlySpan<float> pre, bool relu)
    {
        if (relu)
            for (int i = 0; i < pre.Length; i++) h[i] = pre[i] > 0f ? pre[i] : 0f;
        else
            Kernels.Activations.Tanh(h, pre);
    }

    /// <summary>dPre = dh ⊙ act'(h) from the step's output h.</summary>
    public static void Backward(Span<float> dPre, ReadOnlySpan<float> dh, ReadOnlySpan<float> h, bool relu)
    {
        if (relu)
            for (int i = 0; i < dh.Length; i++) dPre[i] = h[i] > 0f ? dh[i] : 0f;
        else
            for (int i = 0; i < dh.Length; i++) dPre[i] = dh[i] * (1f - h[i] * h[i]);
    }
}
