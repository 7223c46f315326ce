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
/// Every bias is additive outside a product, so b_ih + b_hh folds into gx. A step is a two-stage
/// recurrent product, because n depends on r: gx[r|z] += h·W_h[r|z]ᵀ, then
/// <see cref="GruResetBeforeGates.ResetForward"/> (r, z, r ⊙ h into the scratch), then gx[n] += (r ⊙ h)·W_hnᵀ,
/// then <see cref="GruResetBeforeGates.CandidateForward"/>. Saved per unit: r, z, n and r ⊙ h (the input of
/// dW_hn). Backward mirrors it; ∂L/∂gx equals ∂L/∂gh in every column, so one buffer holds both.
/// Batch 1: the fused step <see cref="RecurrentStepKernels.TwoStageStep{TMath}"/> (both stages as GEMVs over unit
/// blocks, W_h[r|z] and W_hn packed apart, on one core: stage 2 needs every r ⊙ h).
/// ONNX: op GRU, linear_before_reset = 0.
/// </summary>
public readonly unsafe struct GruResetBeforeCellMath : ICell
{
    public static bool HasFusedStep => true;
    public static bool FusedStepSplitsUnits => false;
    public static bool FusedStepPacksGatesApart => true;

    /// <summary>All units at once (<see cref="FusedStepSplitsUnits"/> is false, so [u0, u1) is always [0, H)).</summary>
    public static void FusedStep(float* next, float* prev, nint stateStride, float* saved, float* gx, float* w,
        float* biasHh, int hidden, int u0, int u1)
    {
        System.Diagnostics.Debug.Assert(u0 == 0 && u1 >= hidden);
        RecurrentStepKernels.TwoStageStep<RecurrentStepKernels.GruResetBeforeTwoStage>(next, saved, gx, prev, w, hidden);
    }

    public static int Gates => 3;
    public static int States => 1;
    public static int SavedWidth => 4;
    public static int ScratchWidth => 1;
    public static RecurrentWeights Recurrent => RecurrentWeights.Dense;
    public static bool HiddenBiasApart => false;

    public static void Forward(in CellStep s)
    {
        int r = s.Rows, h = s.Hidden, gh = 3 * h, n = r * h;
        long gLen = (long)(r - 1) * gh + gh;
        var rh = new Span<float>(s.Scratch, n);
        // Both stages read the runner's packed W_hhᵀ (no per-step packing, which bound batch 1: 85 → ~1.5 ms per 1000
        // steps at H = 128) when W_hn's columns start a packed panel, else the second stage multiplies the unpacked block.
        CellOps.HiddenProductColumns(r, s.Prev, h, s.W, 0, 2 * h, h, s.Gx, gh, true);
        GruResetBeforeGates.ResetForward(rh, new Span<float>(s.Gx, 3 * n), new ReadOnlySpan<float>(s.Prev, n), r, h);
        if (CellOps.StartsPackedPanel(2 * h)) CellOps.HiddenProductColumns(r, s.Scratch, h, s.W, 2 * h, h, h, s.Gx + 2 * h, gh, true);
        else CellOps.Multiply(false, true, r, h, h, s.Scratch, h, n, s.W.Whh + 2 * h * h, h, (long)h * h, s.Gx + 2 * h, gh, gLen - 2 * h, true);
        GruResetBeforeGates.CandidateForward(new Span<float>(s.Next, n), s.Saved == null ? default : new Span<float>(s.Saved, 4 * n),
            new ReadOnlySpan<float>(s.Gx, 3 * n), rh, new ReadOnlySpan<float>(s.Prev, n), r, h);
    }

    public static void Backward(in CellBackwardStep s)
    {
        int r = s.Rows, h = s.Hidden, gh = 3 * h, n = r * h;
        long gLen = 3L * n, wLen = 3L * h * h;
        var saved = new ReadOnlySpan<float>(s.Saved, 4 * n);
        var hPrev = new ReadOnlySpan<float>(s.Prev, n);
        var dG = new Span<float>(s.DGx, 3 * n);
        var dPrev = new Span<float>(s.DPrev, n);
        GruResetBeforeGates.CandidateBackward(dG, dPrev, new ReadOnlySpan<float>(s.DNext, n), saved, hPrev, r, h);
        // ∂L/∂(r ⊙ h) = dn · W_hn into the scratch, then the reset gate's part.
        CellOps.Multiply(false, false, r, h, h, s.DGx + 2 * h, gh, gLen - 2 * h, s.W.Whh + 2 * h * h, h, (long)h * h, s.Scratch, h, n, false);
        GruResetBeforeGates.ResetBackward(dG, dPrev, new ReadOnlySpan<float>(s.Scratch, n), saved, hPrev, r, h);
        CellOps.Multiply(false, false, r, h, 2 * h, s.DGx, gh, gLen, s.W.Whh, h, wLen, s.DPrev, h, n, true);
    }

    /// <summary>W_h[r|z] multiplied h_prev, W_hn multiplied r ⊙ h_prev (the last block of saved).</summary>
    public static void RecurrentWeightGradients(in CellWeightGradients g)
    {
        int h = g.Hidden, gh = 3 * h, rows = g.Rows, sw = 4 * h;
        var dGh = new ReadOnlySpan<float>(g.DGh, checked(rows * gh));
        var dWhh = new Span<float>(g.DWhh, 3 * h * h);
        Gemm.Multiply(true, false, 2 * h, h, rows, dGh, gh, new ReadOnlySpan<float>(g.HPrev, checked(rows * h)), h, dWhh, h, true);
        Gemm.Multiply(true, false, h, h, rows, dGh.Slice(2 * h), gh, new ReadOnlySpan<float>(g.Saved + 3 * h, checked(rows * sw - 3 * h)), sw,
            dWhh.Slice(2 * h * h), h, true);
    }
}

/// <summary>The registry entry of <see cref="GruResetBeforeCellMath"/> ("gru_reset_before").</summary>
public sealed class GruResetBeforeDefinition : CellDefinition<GruResetBeforeCellMath>
{
    public override string Name => "gru_reset_before";
    public override string Equation => "r, z = σ(W x + U h + b); n = tanh(W_n x + U_n (r ⊙ h) + b_n); h' = (1 − z) ⊙ n + z ⊙ h";

    public override OnnxCellMapping Onnx { get; } = new("GRU", [1, 0, 2],
        new Dictionary<string, long> { ["linear_before_reset"] = 0 }, ["Sigmoid", "Tanh"],
        ["direction", "hidden_size", "layout", "linear_before_reset", "activations"]);

    /// <summary>r, z = σ(gx[r|z] + h·W_h[r|z]ᵀ), n = tanh(gx_n + (r ⊙ h)·W_hnᵀ), h' = n + z ⊙ (h − n) (biases folded into gx).</summary>
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        string h = s.State(0), wt = s.ParameterTransposed("weight_hh"), gh = s.MatMul(h, wt);
        string r = s.Sigmoid(s.Add(s.Gate(s.Gx, 0), s.Gate(gh, 0)));
        string z = s.Sigmoid(s.Add(s.Gate(s.Gx, 1), s.Gate(gh, 1)));
        string n = s.Tanh(s.Add(s.Gate(s.Gx, 2), s.Gate(s.MatMul(s.Mul(r, h), wt), 2)));
        s.SetNext(s.Lerp(n, h, z));
        return true;
    }
}
