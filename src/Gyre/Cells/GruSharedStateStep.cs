using System.Numerics.Tensors;
using Gyre.Kernels;
using Gyre.Layers;

namespace Gyre.Cells;

/// <summary>
/// The GRU's <see cref="SharedStateStep"/> (one layer, plain <c>gru</c>): the pmf decoder's single step computed once
/// per window instead of once per (window, segment) row. Letters: B windows, M segments, Ch channel embeddings, E
/// embedding width, H hidden units, I = 2E + P_out·Ff the decoder input [pos_m ‖ chan_c ‖ future features of segment m].
/// <para>
/// All M segments of window i start from the same state h0_i, so the recurrent pre-activation
/// gh_i = b_hh + W_hh·h0_i is one row per window (B rows, not B·M). The input pre-activation splits along the input's
/// columns, W_ih = [W_pos | W_ch | W_fut]:
/// <code>
/// gx(i, m) = W_pos·pos_m + (b_ih + W_ch·chan_c(i)) + W_fut·fut(i, m)
/// </code>
/// the first two terms from M + Ch unique rows; only the future-feature term (absent when Ff = 0) is a product over
/// all B·M rows. Then the GRU's pointwise gates (<see cref="GruGates"/>) run per row. Backward sums the
/// per-row gate gradients back onto the unique rows before each weight product, so every GEMM has B, M or Ch rows
/// (B·M for W_fut only). Same parameters (the decoder layer's weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0) and
/// the same function as running the layer over the B·M rows, up to the rounding of the split sums.
/// </para>
/// </summary>
internal sealed class GruSharedStateStep : SharedStateStep
{
    private readonly Parameter _wih, _whh, _bih, _bhh;      // [3H, I], [3H, H], [3H], [3H]

    public GruSharedStateStep(RecurrentLayer decoder)
    {
        var block = decoder.Block;
        _wih = block["weight_ih_l0"]; _whh = block["weight_hh_l0"]; _bih = block["bias_ih_l0"]; _bhh = block["bias_hh_l0"];
    }

    public override Workspace CreateWorkspace(int b, int m, int channels, int h, int futureWidth) =>
        new GruWorkspace(b, m, channels, h, futureWidth);

    /// <summary>Buffers of one batch size (allocated once, reused).</summary>
    private sealed class GruWorkspace(int b, int m, int channels, int h, int futureWidth) : Workspace(b * m, futureWidth)
    {
        public readonly float[] GPos = new float[m * 3 * h];                   // [M, 3H]  W_pos·pos_m
        public readonly float[] GChan = new float[channels * 3 * h];           // [Ch, 3H] b_ih + W_ch·chan_c
        public readonly float[] Gh = new float[b * 3 * h];                     // [B, 3H]  b_hh + W_hh·h0
        public readonly float[] Gx = new float[b * m * 3 * h];                 // [B·M, 3H] input pre-activation; ∂L/∂gx in backward
        public readonly float[] Saved = new float[b * m * 4 * h];              // [B·M, 4H] r | z | n | gh_n
        public readonly float[] DGh = new float[b * 3 * h];                    // [B, 3H] ∂L/∂gh summed over a window's segments
        public readonly float[] DGPos = new float[m * 3 * h];                  // [M, 3H]
        public readonly float[] DGChan = new float[channels * 3 * h];          // [Ch, 3H]
        public readonly float[] RowDGh = new float[3 * h];                     // [3H] one row's ∂L/∂gh
        public readonly float[] RowDh = new float[h];                          // [H]  one row's direct ∂L/∂h0 (dh'⊙z)
    }

    /// <inheritdoc/>
    /// <remarks>Keeps the gate values r | z | n | gh_n in the workspace's saved rows.</remarks>
    public override void Forward(Workspace workspace, Span<float> y, ReadOnlySpan<float> h0, ReadOnlySpan<float> pos, ReadOnlySpan<float> chan,
        ReadOnlySpan<int> channel, int b, int m, int channels, int e, int futureWidth, bool training)
    {
        var ws = (GruWorkspace)workspace;
        int h = _whh.Value.Dim(1), g = 3 * h, din = 2 * e + futureWidth;
        var wih = _wih.Value.ReadOnlySpan;
        // W_ih stored [3H, I]: the column blocks are B operands with ldb = I at offsets 0, E and 2E.
        Gemm.Multiply(false, true, m, g, e, pos, e, wih, din, ws.GPos, g, false);
        Gemm.Multiply(false, true, channels, g, e, chan, e, wih[e..], din, ws.GChan, g, _bih.Value.ReadOnlySpan);
        Gemm.Multiply(false, true, b, g, h, h0, h, _whh.Value.ReadOnlySpan, h, ws.Gh, g, _bhh.Value.ReadOnlySpan);
        var gx = ws.Gx.AsSpan(0, b * m * g);
        if (futureWidth > 0) Gemm.Multiply(false, true, b * m, g, futureWidth, ws.Future, futureWidth, wih[(2 * e)..], din, gx, g, false);
        var saved = ws.Saved.AsSpan();
        for (int i = 0; i < b; i++)
        {
            var gc = ws.GChan.AsSpan(channel[i] * g, g);
            var gh = ws.Gh.AsSpan(i * g, g);
            var hp = h0.Slice(i * h, h);
            for (int j = 0; j < m; j++)
            {
                int row = i * m + j;
                var gxr = gx.Slice(row * g, g);
                if (futureWidth > 0) TensorPrimitives.Add(gxr, ws.GPos.AsSpan(j * g, g), gxr);
                else ws.GPos.AsSpan(j * g, g).CopyTo(gxr);
                TensorPrimitives.Add(gxr, gc, gxr);
                GruGates.Forward(y.Slice(row * h, h), training ? saved.Slice(row * 4 * h, 4 * h) : default, gxr, gh, hp, 1, h);
            }
        }
    }

    /// <inheritdoc/>
    /// <remarks>The four weight gradients: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0.</remarks>
    public override void Backward(Workspace workspace, ReadOnlySpan<float> dy, ReadOnlySpan<float> h0, ReadOnlySpan<float> pos, ReadOnlySpan<float> chan,
        ReadOnlySpan<int> channel, Span<float> dh0, Span<float> dPos, Span<float> dChan, int b, int m, int channels, int e, int futureWidth)
    {
        var ws = (GruWorkspace)workspace;
        int h = _whh.Value.Dim(1), g = 3 * h, din = 2 * e + futureWidth;
        var dgx = ws.Gx.AsSpan(0, b * m * g);                           // overwrites the forward's gx (no longer needed)
        var dgh = ws.DGh.AsSpan(0, b * g);
        dgh.Clear();
        Array.Clear(ws.DGPos);
        Array.Clear(ws.DGChan);
        for (int i = 0; i < b; i++)
        {
            var hp = h0.Slice(i * h, h);
            var dghi = dgh.Slice(i * g, g);
            var dh0i = dh0.Slice(i * h, h);
            var dgc = ws.DGChan.AsSpan(channel[i] * g, g);
            for (int j = 0; j < m; j++)
            {
                int row = i * m + j;
                var dgxr = dgx.Slice(row * g, g);
                GruGates.Backward(dgxr, ws.RowDGh, ws.RowDh, dy.Slice(row * h, h), ws.Saved.AsSpan(row * 4 * h, 4 * h), hp, 1, h);
                TensorPrimitives.Add(dghi, ws.RowDGh, dghi);
                TensorPrimitives.Add(dh0i, ws.RowDh, dh0i);
                var dgp = ws.DGPos.AsSpan(j * g, g);
                TensorPrimitives.Add(dgp, dgxr, dgp);
                TensorPrimitives.Add(dgc, dgxr, dgc);
            }
        }
        var wih = _wih.Value.ReadOnlySpan;
        var dwih = _wih.Grad.Span;
        // Every row's ∂L/∂gx reaches b_ih once, and each row is in exactly one channel's sum.
        var dbih = _bih.Grad.Span;
        ColumnSums.Accumulate(dbih, ws.DGChan, g, channels);
        Gemm.Multiply(true, false, g, e, m, ws.DGPos, g, pos, e, dwih, din, true);
        Gemm.Multiply(true, false, g, e, channels, ws.DGChan, g, chan, e, dwih[e..], din, true);
        if (futureWidth > 0) Gemm.Multiply(true, false, g, futureWidth, b * m, dgx, g, ws.Future, futureWidth, dwih[(2 * e)..], din, true);
        Gemm.Multiply(false, false, m, e, g, ws.DGPos, g, wih, din, dPos, e, true);
        Gemm.Multiply(false, false, channels, e, g, ws.DGChan, g, wih[e..], din, dChan, e, true);
        var dbhh = _bhh.Grad.Span;
        ColumnSums.Accumulate(dbhh, dgh, g, b);
        Gemm.Multiply(true, false, g, h, b, dgh, g, h0, h, _whh.Grad.Span, h, true);
        Gemm.Multiply(false, false, b, h, g, dgh, g, _whh.Value.ReadOnlySpan, h, dh0, h, true);
    }
}
