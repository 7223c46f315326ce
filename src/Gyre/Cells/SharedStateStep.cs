using Gyre.Layers;

namespace Gyre.Cells;

/// <summary>
/// One step of a cell over B·M rows in B groups of M, where the rows of group i all start from the same state h0_i
/// (the pmf decoder's M segments of a window). Letters: B groups, M rows per group, Ch channel embeddings, E embedding
/// width, H hidden units; the input of row (i, m) is [pos_m ‖ chan_c(i) ‖ future features of (i, m)], I = 2E + P_out·Ff.
/// A cell offers one through <see cref="CellDefinition.HasSharedStateStep"/> when it can compute the recurrent
/// product once per group and the input product from the M + Ch unique rows; the layer over all B·M rows is the
/// reference it must equal (up to the rounding of the split sums).
/// </summary>
internal abstract class SharedStateStep
{
    /// <summary>The step of <paramref name="layer"/>'s cell when the layer is one layer, one direction, with biases,
    /// and its cell has one; otherwise null (the caller runs the layer over all rows).</summary>
    public static SharedStateStep? For(RecurrentLayer layer) =>
        layer.NumLayers == 1 && !layer.Bidirectional && layer.HasBias && layer.Cell.HasSharedStateStep ? layer.Cell.CreateSharedStateStep(layer) : null;

    /// <summary>Buffers of one batch size (allocated once, reused).</summary>
    public abstract class Workspace(int rows, int futureWidth)
    {
        /// <summary>[B·M, P_out·Ff] the future features of every row (0 past the horizon), filled by the caller.</summary>
        public readonly float[] Future = new float[rows * futureWidth];
    }

    /// <summary>The buffers for <paramref name="b"/> groups of <paramref name="m"/> rows.</summary>
    public abstract Workspace CreateWorkspace(int b, int m, int channels, int h, int futureWidth);

    /// <summary>
    /// y [B·M, H] from h0 [B, H], pos [M, E], chan [Ch, E], channel [B] and (when P_out·Ff &gt; 0) ws.Future; keeps
    /// what backward needs in <paramref name="ws"/> when <paramref name="training"/>.
    /// </summary>
    public abstract void Forward(Workspace ws, Span<float> y, ReadOnlySpan<float> h0, ReadOnlySpan<float> pos, ReadOnlySpan<float> chan,
        ReadOnlySpan<int> channel, int b, int m, int channels, int e, int futureWidth, bool training);

    /// <summary>
    /// Backward of the last training <see cref="Forward"/> for ∂L/∂y [B·M, H]: accumulates (+=) the layer's weight
    /// gradients, ∂L/∂pos [M, E], ∂L/∂chan [Ch, E] and ∂L/∂h0 [B, H].
    /// </summary>
    public abstract void Backward(Workspace ws, ReadOnlySpan<float> dy, ReadOnlySpan<float> h0, ReadOnlySpan<float> pos, ReadOnlySpan<float> chan,
        ReadOnlySpan<int> channel, Span<float> dh0, Span<float> dPos, Span<float> dChan, int b, int m, int channels, int e, int futureWidth);
}
