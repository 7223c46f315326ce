namespace Gyre.Kernels.Reference;

/// <summary>
/// Scalar twin of <see cref="RnnGates"/>: the Elman RNN's pointwise step over a flat block,
/// <code>
/// forward:  h' = act(pre)                                   act = ReLU (0 ≥ pre → +0; NaN stays NaN) or tanh
/// backward: dpre = dh' ⊙ act'(h')                           ReLU' = [h' &gt; 0] (NaN passes dh'), tanh' = 1 − h'²
/// </code>
/// </summary>
public static class RnnReference
{
    /// <summary>h[i] = act(pre[i]) (h may be pre).</summary>
    public static void Forward(Span<float> h, ReadOnlySpan<float> pre, bool relu)
    {
        for (int i = 0; i < pre.Length; i++) h[i] = relu ? (0f >= pre[i] ? 0f : pre[i]) : GateReference.Tanh(pre[i]);
    }

    /// <summary>dPre[i] = dh[i] ⊙ act'(h[i]) from the step's output h (dPre may be dh).</summary>
    public static void Backward(Span<float> dPre, ReadOnlySpan<float> dh, ReadOnlySpan<float> h, bool relu)
    {
        for (int i = 0; i < dh.Length; i++) dPre[i] = relu ? (0f >= h[i] ? 0f : dh[i]) : dh[i] * (1f - h[i] * h[i]);
    }
}
