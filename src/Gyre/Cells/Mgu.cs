using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// Minimal gated unit (Zhou, Wu, Zhang and Zhou, "Minimal Gated Unit for Recurrent Neural Networks", 2016): one
/// gate f does the work of the GRU's reset and update gates. Gate blocks in the weight rows: f, h̃.
/// <code>
/// f  = σ(W_f x + b_if + U_f h + b_hf)
/// h̃  = tanh(W_h x + b_ih̃ + U_h (f ⊙ h) + b_hh̃)
/// h' = (1 − f) ⊙ h + f ⊙ h̃
/// </code>
/// Parameters: weight_ih [2H, I] (W_f; W_h), weight_hh [2H, H] (U_f; U_h), bias_ih [2H], bias_hh [2H],
/// U(−1/√H, 1/√H). State: h. Every bias is additive outside a product, so b_ih + b_hh folds into gx.
/// A step is a two-stage recurrent product, because h̃ reads f ⊙ h: gx_f += h·U_fᵀ, then
/// <see cref="MguGates.GateForward"/> (f, and f ⊙ h into the scratch), then gx_h̃ += (f ⊙ h)·U_hᵀ, then
/// <see cref="MguGates.CandidateForward"/>. Saved per unit: f, h̃ and f ⊙ h (the input of dU_h).
/// Backward mirrors it; ∂L/∂gx equals ∂L/∂gh in every column, so one buffer holds both.
/// Batch 1: the fused step <see cref="RecurrentStepKernels.TwoStageStep{TMath}"/> (both stages as GEMVs over unit blocks, U_f and
/// U_h packed apart, on one core: stage 2 needs every f ⊙ h). ONNX: no native operator, a Scan over the step.
/// </summary>
public readonly unsafe struct MguCellMath : ICell
{
    public static bool HasFusedStep => true;
    public static bool FusedStepSplitsUnits => false;
    public static bool FusedStepPacksGatesApart => true;

    /// <summary>All units at once (<see cref="FusedStepSplitsUnits"/> is false, so [u0, u1) is always [0, H)).</summary>
    public static void FusedStep(float* next, float* prev, nint stateStride, float* saved, float* gx, float* w,
        float* biasHh, int hidden, int u0, int u1)
    {
        System.Diagnostics.Debug.Assert(u0 == 0 && u1 >= hidden);
        RecurrentStepKernels.TwoStageStep<RecurrentStepKernels.MguTwoStage>(next, saved, gx, prev, w, hidden);
    }

    public static int Gates => 2;
    public static int States => 1;
    public static int SavedWidth => 3;
    public static int ScratchWidth => 1;
    public static RecurrentWeights Recurrent => RecurrentWeights.Dense;
    public static bool HiddenBiasApart => false;

    public static void Forward(in CellStep s)
    {
        int r = s.Rows, h = s.Hidden, gh = 2 * h, n = r * h;
        long gLen = (long)(r - 1) * gh + gh, uLen = (long)h * h;
        var fh = new Span<float>(s.Scratch, n);
        // Both stages read the runner's packed W_hhᵀ (no per-step packing; batch 1 is bound by it) when U_h's
        // columns start a packed panel, else the second stage multiplies the unpacked block.
        CellOps.HiddenProductColumns(r, s.Prev, h, s.W, 0, h, h, s.Gx, gh, true);
        MguGates.GateForward(fh, new Span<float>(s.Gx, 2 * n), new ReadOnlySpan<float>(s.Prev, n), r, h);
        if (CellOps.StartsPackedPanel(h)) CellOps.HiddenProductColumns(r, s.Scratch, h, s.W, h, h, h, s.Gx + h, gh, true);
        else CellOps.Multiply(false, true, r, h, h, s.Scratch, h, n, s.W.Whh + h * h, h, uLen, s.Gx + h, gh, gLen - h, true);
        MguGates.CandidateForward(new Span<float>(s.Next, n), s.Saved == null ? default : new Span<float>(s.Saved, 3 * n),
            new ReadOnlySpan<float>(s.Gx, 2 * n), fh, new ReadOnlySpan<float>(s.Prev, n), r, h);
    }

    public static void Backward(in CellBackwardStep s)
    {
        int r = s.Rows, h = s.Hidden, gh = 2 * h, n = r * h;
        long gLen = 2L * n, uLen = (long)h * h;
        var saved = new ReadOnlySpan<float>(s.Saved, 3 * n);
        var dG = new Span<float>(s.DGx, 2 * n);
        var dPrev = new Span<float>(s.DPrev, n);
        var dNext = new ReadOnlySpan<float>(s.DNext, n);
        MguGates.CandidateBackward(dG, dPrev, dNext, saved, r, h);
        // ∂L/∂(f ⊙ h) = dh̃ · U_h into the scratch, then the gate's part.
        CellOps.Multiply(false, false, r, h, h, s.DGx + h, gh, gLen - h, s.W.Whh + h * h, h, uLen, s.Scratch, h, n, false);
        MguGates.GateBackward(dG, dPrev, new ReadOnlySpan<float>(s.Scratch, n), dNext, saved, new ReadOnlySpan<float>(s.Prev, n), r, h);
        CellOps.Multiply(false, false, r, h, h, s.DGx, gh, gLen, s.W.Whh, h, uLen, s.DPrev, h, n, true);
    }

    /// <summary>dU_f += dG_fᵀ · h_prev, dU_h += dG_h̃ᵀ · (f ⊙ h_prev) (the last block of saved).</summary>
    public static void RecurrentWeightGradients(in CellWeightGradients g)
    {
        int h = g.Hidden, gh = 2 * h, rows = g.Rows, sw = 3 * h;
        var dGh = new ReadOnlySpan<float>(g.DGh, checked(rows * gh));
        var dU = new Span<float>(g.DWhh, 2 * h * h);
        Gemm.Multiply(true, false, h, h, rows, dGh, gh, new ReadOnlySpan<float>(g.HPrev, checked(rows * h)), h, dU, h, true);
        Gemm.Multiply(true, false, h, h, rows, dGh.Slice(h), gh, new ReadOnlySpan<float>(g.Saved + 2 * h, checked(rows * sw - 2 * h)), sw,
            dU.Slice(h * h), h, true);
    }
}

/// <summary>The registry entry of <see cref="MguCellMath"/> ("mgu").</summary>
public sealed class MguDefinition : CellDefinition<MguCellMath>
{
    public override string Name => "mgu";
    public override string Equation => "f = σ(W_f x + U_f h + b_f); h̃ = tanh(W_h x + U_h (f ⊙ h) + b_h); h' = (1 − f) ⊙ h + f ⊙ h̃";

    /// <summary>f = σ(gx_f + h·U_fᵀ), h̃ = tanh(gx_h̃ + (f ⊙ h)·U_hᵀ), h' = h + f ⊙ (h̃ − h) (biases folded into gx).</summary>
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        string h = s.State(0), ut = s.ParameterTransposed("weight_hh");
        string f = s.Sigmoid(s.Add(s.Gate(s.Gx, 0), s.Gate(s.MatMul(h, ut), 0)));
        string c = s.Tanh(s.Add(s.Gate(s.Gx, 1), s.Gate(s.MatMul(s.Mul(f, h), ut), 1)));
        s.SetNext(s.Lerp(h, c, f));
        return true;
    }
}
