using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// LSTM, exactly as PyTorch's nn.LSTM (gate blocks in weight rows: i, f, g, o; no peepholes; projection: <see cref="LstmProjCell"/>):
/// <code>
/// i = σ(W_ii x + b_ii + W_hi h + b_hi)     f = σ(W_if x + b_if + W_hf h + b_hf)
/// g = tanh(W_ig x + b_ig + W_hg h + b_hg)  o = σ(W_io x + b_io + W_ho h + b_ho)
/// c' = f ⊙ c + i ⊙ g                       h' = o ⊙ tanh(c')
/// </code>
/// Parameters: weight_ih [4H, I], weight_hh [4H, H], bias_ih [4H], bias_hh [4H], U(−1/√H, 1/√H).
/// States: h, c. Saved per unit: i, f, g, o and tanh(c'). Both biases fold into gx; inside the loop
/// h·W_hhᵀ accumulates onto gx and <see cref="LstmGates"/> does the pointwise part.
/// Fast paths: the fused batch-1 step <see cref="RecurrentStepKernels.LstmStep"/> and the fused multi-row step
/// <see cref="RecurrentStepKernels.LstmRowsStep"/>. ONNX: op LSTM, gates i, o, f, c.
/// </summary>
public readonly unsafe struct LstmCellMath : ICell
{
    public static bool RowGroupGradients => true;

    public static int Gates => 4;
    public static int States => 2;
    public static int SavedWidth => 5;
    public static int ScratchWidth => 0;
    public static RecurrentWeights Recurrent => RecurrentWeights.Dense;
    public static bool HiddenBiasApart => false;

    public static void Forward(in CellStep s) => LstmCell<DenseRecurrence>.Forward(s);

    public static void Backward(in CellBackwardStep s) => LstmCell<DenseRecurrence>.Backward(s);

    public static bool HasFusedStep => true;

    public static void FusedStep(float* next, float* prev, nint stateStride, float* saved, float* gx, float* w,
        float* biasHh, int hidden, int u0, int u1) =>
        RecurrentStepKernels.LstmStep(next, next + stateStride, saved, gx, prev, prev + stateStride, w, hidden, u0, u1);

    public static bool HasFusedRows => true;

    public static void FusedRowsStep(float* next, float* prev, nint stateStride, float* saved, float* gx, float* w,
        int rows, int hidden, int u0, int u1, float* nextGx, in StepInput input, in CellParams p) =>
        RecurrentStepKernels.LstmRowsStep(next, next + stateStride, saved, gx, prev, prev + stateStride, w, rows, hidden, u0, u1, nextGx, input);
}

/// <summary>
/// The LSTM step over a recurrent product <typeparamref name="TRec"/>: <see cref="LstmCellMath"/> runs it with the
/// dense W_hh; with <see cref="HeadsRecurrence"/> it is the LSTM with heads (option heads = n &gt; 1): weight_hh
/// [n, 4H/n, H/n], one block per head, gate blocks i, f, g, o inside each block; every other parameter as the
/// dense LSTM. No fused paths.
/// </summary>
public readonly unsafe struct LstmCell<TRec> : ICell where TRec : struct, IRecurrence
{
    public static bool RowGroupGradients => true;

    public static int Gates => 4;
    public static int States => 2;
    public static int SavedWidth => 5;
    public static int ScratchWidth => 0;
    public static RecurrentWeights Recurrent => TRec.Shape;
    public static bool HiddenBiasApart => false;

    public static void Forward(in CellStep s)
    {
        int r = s.Rows, h = s.Hidden, n = r * h;
        TRec.Product(r, s.Prev, h, s.W, 4, h, s.Gx, 4 * h, true);
        LstmGates.Forward(new Span<float>(s.Next, n), new Span<float>(s.Next + s.StateStride, n),
            s.Saved == null ? default : new Span<float>(s.Saved, 5 * n), new ReadOnlySpan<float>(s.Gx, 4 * n),
            new ReadOnlySpan<float>(s.Prev + s.StateStride, n), r, h);
    }

    public static void Backward(in CellBackwardStep s)
    {
        int r = s.Rows, h = s.Hidden, n = r * h;
        LstmGates.Backward(new Span<float>(s.DGx, 4 * n), new Span<float>(s.DPrev + s.DStride, n), new ReadOnlySpan<float>(s.DNext, n),
            new ReadOnlySpan<float>(s.DNext + s.DStride, n), new ReadOnlySpan<float>(s.Saved, 5 * n),
            new ReadOnlySpan<float>(s.Prev + s.StateStride, n), r, h);
        TRec.ProductBackward(r, s.DGx, 4 * h, s.W, 4, h, s.DPrev, false);
    }

    public static void RecurrentWeightGradients(in CellWeightGradients g) => TRec.Gradients(g);
}

/// <summary>The registry entry of <see cref="LstmCellMath"/> ("lstm").</summary>
public sealed class LstmDefinition : CellDefinition<LstmCellMath>
{
    public override string Name => "lstm";
    public override string Equation => "i, f, o = σ(W x + U h + b); g = tanh(W_g x + U_g h + b_g); c' = f ⊙ c + i ⊙ g; h' = o ⊙ tanh(c')";

    public override OnnxCellMapping Onnx { get; } = new("LSTM", [0, 3, 1, 2],
        new Dictionary<string, long>(), ["Sigmoid", "Tanh", "Tanh"],
        ["direction", "hidden_size", "layout", "input_forget", "activations"]);

    /// <summary>i, f, o = σ(·), g = tanh(·) of gx + h·W_hhᵀ (biases folded), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').</summary>
    public override bool EmitOnnxStep(IOnnxStep s) => EmitStep(s, s.DenseRecurrent(s.State(0), withBias: false));

    /// <summary>The step given the recurrent product gh = h·W_hhᵀ (biases are in gx).</summary>
    internal static bool EmitStep(IOnnxStep s, string gh)
    {
        var (h, c) = EmitGates(s, gh);
        s.SetNext(h, c);
        return true;
    }

    /// <summary>o ⊙ tanh(c') and c' from gx + gh (the gates of every LSTM variant).</summary>
    internal static (string H, string C) EmitGates(IOnnxStep s, string gh)
    {
        string c = s.State(1), a = s.Add(s.Gx, gh);
        string i = s.Sigmoid(s.Gate(a, 0)), f = s.Sigmoid(s.Gate(a, 1)), g = s.Tanh(s.Gate(a, 2)), o = s.Sigmoid(s.Gate(a, 3));
        string cNext = s.Add(s.Mul(f, c), s.Mul(i, g));
        return (s.Mul(o, s.Tanh(cNext)), cNext);
    }

    public override IReadOnlyList<(int, int, int, int)> BenchmarkShapes { get; } =
        [(64, 100, 32, 128), (1, 1000, 32, 128), (16, 256, 256, 256)];

    /// <summary>"lstm" with option heads = n (default 1: this dense cell) or proj_size = P (default 0: none; 0 &lt; P &lt; H,
    /// checked when the layer is built, see <see cref="LstmProjDefinition"/>). heads and proj_size do not combine.</summary>
    internal static CellDefinition FromOptions(CellOptions o)
    {
        o.OnlyKnown("lstm", "heads", "proj_size");
        int heads = HeadsDefinition.Heads("lstm", o), proj = o.Int("proj_size", 0);
        if (proj < 0) throw new ArgumentException($"cell 'lstm': proj_size must be 0 (none) or positive, got {proj}");
        if (proj > 0 && heads > 1) throw new ArgumentException("cell 'lstm': proj_size and heads do not combine");
        return proj > 0 ? new LstmProjDefinition(proj) : heads == 1 ? new LstmDefinition() : new LstmHeadsDefinition(heads);
    }
}

/// <summary>
/// LSTM with a projected hidden state, as PyTorch's nn.LSTM(proj_size = P), 0 &lt; P &lt; H:
/// <code>
/// i, f, g, o, c' as <see cref="LstmCellMath"/> with W_h· [·H, P] reading the P-wide h
/// h' = W_hr (o ⊙ tanh(c'))                  (W_hr [P, H], no bias)
/// </code>
/// States: h [P] (the layer's output, so y is [·, D·P] and the next layer reads D·P), c [H].
/// Parameters per layer and direction: weight_ih [4H, I], weight_hh [4H, P], bias_ih [4H], bias_hh [4H], then
/// weight_hr [P, H] (PyTorch's order and names, weight_hr_l{k}[_reverse]); U(−1/√H, 1/√H) for all, as PyTorch.
/// Saved per unit (S = 7, row [7H]): i, f, g, o, tanh(c') (the LSTM kernels' five), h̃ = o ⊙ tanh(c') (the input
/// of W_hr), and ∂L/∂h' (P floats), which backward records so dW_hr = Σ ∂L/∂h'ᵀ h̃ is one GEMM after the time loop
/// (no write shared between the row split's workers). The 7H rows are not the kernels' 5H rows, so
/// <see cref="LstmGates"/> runs row by row. Scratch: [R, H] (h̃ in inference; ∂L/∂h̃ in backward). No fused paths.
/// ONNX: no native operator (ONNX LSTM has no projection): a Scan over the step.
/// </summary>
public readonly unsafe struct LstmProjCell : ICell
{
    /// <summary>W_hr [P, H], the first P·H floats of Extra: packed once per call for h̃·W_hrᵀ.</summary>
    public static int PackedExtraColumns(in CellParams p) => p.I0;

    public static int Gates => 4;
    public static int States => 2;
    public static int SavedWidth => 7;
    public static int ScratchWidth => 1;
    public static RecurrentWeights Recurrent => RecurrentWeights.Dense;
    public static bool HiddenBiasApart => false;

    public static void Forward(in CellStep s)
    {
        int r = s.Rows, h = s.Hidden, p = s.W.Params.I0;
        nint ls = s.StateLd, sw = 7 * h;
        // gx += h·W_hhᵀ with K = P; c rows are H = StateLd wide, so c is a contiguous [R, H].
        CellOps.HiddenProduct(r, s.Prev, ls, s.W, 4 * h, p, s.Gx, 4 * h, true);
        float* cPrev = s.Prev + s.StateStride, cNext = s.Next + s.StateStride, hTilde;
        nint ldt;
        if (s.Saved == null)
        {
            hTilde = s.Scratch; ldt = h;
            LstmGates.Forward(new Span<float>(hTilde, r * h), new Span<float>(cNext, r * h), default,
                new ReadOnlySpan<float>(s.Gx, 4 * r * h), new ReadOnlySpan<float>(cPrev, r * h), r, h);
        }
        else
        {
            hTilde = s.Saved + 5 * h; ldt = sw;
            for (int i = 0; i < r; i++)
                LstmGates.Forward(new Span<float>(hTilde + i * sw, h), new Span<float>(cNext + i * h, h), new Span<float>(s.Saved + i * sw, 5 * h),
                    new ReadOnlySpan<float>(s.Gx + i * 4 * h, 4 * h), new ReadOnlySpan<float>(cPrev + i * h, h), 1, h);
        }
        // h' [R, P] = h̃ [R, H] · W_hrᵀ, with W_hr packed once per call by the runner (PackedExtraColumns).
        if (s.W.ExtraPacked != null) Gemm.MultiplyPacked(r, hTilde, ldt, s.W.ExtraPacked, p, h, s.Next, ls, false, CellOps.StepTeam);
        else CellOps.Multiply(false, true, r, p, h, hTilde, (int)ldt, (r - 1) * ldt + h, s.W.Extra, h, (long)p * h,
            s.Next, (int)ls, (r - 1) * ls + p, false);
    }

    public static void Backward(in CellBackwardStep s)
    {
        int r = s.Rows, h = s.Hidden, p = s.W.Params.I0;
        nint ls = s.StateLd, sw = 7 * h;
        float* dh = s.DNext, dcNext = s.DNext + s.DStride, dcPrev = s.DPrev + s.DStride, cPrev = s.Prev + s.StateStride;
        for (int i = 0; i < r; i++)
            new ReadOnlySpan<float>(dh + i * ls, p).CopyTo(new Span<float>(s.Saved + i * sw + 6 * h, p));
        // ∂L/∂h̃ [R, H] = ∂L/∂h' [R, P] · W_hr.
        CellOps.Multiply(false, false, r, h, p, dh, (int)ls, (r - 1) * ls + p, s.W.Extra, h, (long)p * h, s.Scratch, h, (long)r * h, false);
        for (int i = 0; i < r; i++)
            LstmGates.Backward(new Span<float>(s.DGx + i * 4 * h, 4 * h), new Span<float>(dcPrev + i * h, h),
                new ReadOnlySpan<float>(s.Scratch + i * h, h), new ReadOnlySpan<float>(dcNext + i * h, h),
                new ReadOnlySpan<float>(s.Saved + i * sw, 5 * h), new ReadOnlySpan<float>(cPrev + i * h, h), 1, h);
        CellOps.HiddenProductBackward(r, s.DGx, 4 * h, s.W, 4 * h, p, s.DPrev, ls, false);
    }

    /// <summary>dW_hh [4H, P] += dGhᵀ · H_prev; dW_hr [P, H] += Σ_rows ∂L/∂h'ᵀ · h̃ (saved columns 6H… and 5H…).</summary>
    public static void RecurrentWeightGradients(in CellWeightGradients g)
    {
        CellOps.DenseRecurrentGradients(g);
        int h = g.Hidden, p = g.W.Params.I0, sw = 7 * h, n = g.Rows;
        Gemm.Multiply(true, false, p, h, n, new ReadOnlySpan<float>(g.Saved + 6 * h, (n - 1) * sw + p), sw,
            new ReadOnlySpan<float>(g.Saved + 5 * h, (n - 1) * sw + h), sw, new Span<float>(g.W.ExtraGrad, p * h), h, true);
    }
}

/// <summary>"lstm" with proj_size = P (<see cref="LstmProjCell"/>).</summary>
public sealed class LstmProjDefinition : CellDefinition<LstmProjCell>
{
    /// <summary>P: the width of h.</summary>
    public int ProjSize { get; }

    public LstmProjDefinition(int projSize)
    {
        if (projSize < 1) throw new ArgumentOutOfRangeException(nameof(projSize), $"cell 'lstm': proj_size must be positive, got {projSize}");
        ProjSize = projSize;
        Options = CellOptions.From([new("proj_size", projSize.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
    }

    public override string Name => "lstm";
    public override string Equation => "LSTM on a P-wide h: i, f, o = σ(W x + U h + b); g = tanh(·); c' = f ⊙ c + i ⊙ g; h' = W_hr (o ⊙ tanh(c'))";
    public override CellParams Params => new() { I0 = ProjSize };

    /// <summary>h is P wide, c is H wide; a one-line error when P ≥ H (PyTorch's rule).</summary>
    public override int StateWidth(int state, int hidden) =>
        ProjSize >= hidden ? throw new ArgumentException($"cell 'lstm': proj_size {ProjSize} must be smaller than the hidden size {hidden}")
        : state == 0 ? ProjSize : hidden;

    public override int[]? RecurrentWeightShape(int hidden) => [4 * hidden, StateWidth(0, hidden)];
    public override IReadOnlyList<(string Name, int Rows)> ExtraParameters => [("weight_hr", ProjSize)];
    public override int[] ExtraParameterShape(int index, int hidden) => [ProjSize, hidden];

    /// <summary>The LSTM step on the P-wide h, then h' = (o ⊙ tanh(c'))·W_hrᵀ.</summary>
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        var (hTilde, cNext) = LstmDefinition.EmitGates(s, s.DenseRecurrent(s.State(0), withBias: false));
        s.SetNext(s.MatMul(hTilde, s.ParameterTransposed("weight_hr")), cNext);
        return true;
    }
}

/// <summary>"lstm" with heads = n &gt; 1 (<see cref="LstmCell{TRec}"/> over <see cref="HeadsRecurrence"/>).</summary>
public sealed class LstmHeadsDefinition(int heads) : HeadsDefinition<LstmCell<HeadsRecurrence>>("lstm", heads)
{
    public override bool EmitOnnxStep(IOnnxStep s) => LstmDefinition.EmitStep(s, s.HeadsRecurrent(s.State(0), 4, HeadCount));
}
