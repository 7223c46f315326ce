using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// sLSTM, the scalar-memory cell of xLSTM (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory", eqs. 8–17)
/// in its stabilised form, as FlashRNN runs it. Gate blocks in the weight rows: i, f, z, o (FlashRNN's order).
/// With a_* = W_i* x + b_i* + R_* h + b_h* (PyTorch-style notation; R = weight_hh):
/// <code>
/// log f = logsigmoid(a_f)         (option forget=sigmoid, the default)    or  a_f   (forget=exp)
/// m' = max(log f + m, a_i)        the log-space stabiliser (log i = a_i: the input gate is exp)
/// i' = exp(a_i − m')              f' = exp(log f + m − m')
/// z  = tanh(a_z)                  o  = sigmoid(a_o)
/// c' = f' ⊙ c + i' ⊙ z            n' = f' ⊙ n + i'
/// h' = o ⊙ c' / n'
/// </code>
/// States: h, c, n (normaliser), m (stabiliser); zeros by default. No special case for the first step: m' follows
/// the formula above from m = 0 (h is the same for any m: c and n carry the same factor e^(−m)).
/// <para>
/// Gradients: like FlashRNN's backward, m' is treated as a constant where it is computed (no gradient flows
/// through the max, ∂L/∂m' from later steps and from m_n is dropped). This is exact for h and every loss built
/// from the outputs and h_n, because h does not depend on the stabiliser; the explicit dependence of
/// f' = exp(log f + m − m') on the previous m is kept, so ∂L/∂m0 is exact too. For c_n and n_n the backward is
/// the gradient with m_n frozen: of c_n·e^(m_n − m̄_n) at the current m̄_n (the finite-difference tests use
/// exactly that loss).
/// </para>
/// Parameters: weight_ih [4H, I], weight_hh [4H, H] (heads = n &gt; 1: [n, 4H/n, H/n], one block per head with gate
/// blocks i, f, z, o inside), bias_ih [4H], bias_hh [4H] (both fold into gx), U(−1/√H, 1/√H).
/// Saved per unit: i', f', z, o, ∂log f/∂a_f. Pointwise kernel: <see cref="SlstmGates"/>; dense weight_hh at batch above 1:
/// the fused multi-row step <see cref="RecurrentStepKernels.SlstmRowsStep"/> (the gate math on the GEMM's register tile). No native ONNX operator: export is a Scan over the step (<see cref="SlstmDefinition.EmitStep"/>).
/// </summary>
public readonly unsafe struct SlstmCell<TRec> : ICell where TRec : struct, IRecurrence
{
    public static int Gates => 4;
    public static int States => 4;
    public static int SavedWidth => 5;
    public static int ScratchWidth => 0;
    public static RecurrentWeights Recurrent => TRec.Shape;
    public static bool HiddenBiasApart => false;

    public static void Forward(in CellStep s)
    {
        int r = s.Rows, h = s.Hidden, n = r * h;
        nint st = s.StateStride;
        TRec.Product(r, s.Prev, h, s.W, 4, h, s.Gx, 4 * h, true);
        SlstmGates.Forward(new Span<float>(s.Next, n), new Span<float>(s.Next + st, n), new Span<float>(s.Next + 2 * st, n),
            new Span<float>(s.Next + 3 * st, n), s.Saved == null ? default : new Span<float>(s.Saved, 5 * n),
            new ReadOnlySpan<float>(s.Gx, 4 * n), new ReadOnlySpan<float>(s.Prev + st, n), new ReadOnlySpan<float>(s.Prev + 2 * st, n),
            new ReadOnlySpan<float>(s.Prev + 3 * st, n), r, h, s.W.Params.I0 != 0);
    }

    public static void Backward(in CellBackwardStep s)
    {
        int r = s.Rows, h = s.Hidden, n = r * h;
        nint st = s.StateStride, ds = s.DStride;
        SlstmGates.Backward(new Span<float>(s.DGx, 4 * n), new Span<float>(s.DPrev + ds, n), new Span<float>(s.DPrev + 2 * ds, n),
            new Span<float>(s.DPrev + 3 * ds, n), new ReadOnlySpan<float>(s.DNext, n), new ReadOnlySpan<float>(s.DNext + ds, n),
            new ReadOnlySpan<float>(s.DNext + 2 * ds, n), new ReadOnlySpan<float>(s.Saved, 5 * n),
            new ReadOnlySpan<float>(s.Next + st, n), new ReadOnlySpan<float>(s.Next + 2 * st, n),
            new ReadOnlySpan<float>(s.Prev + st, n), new ReadOnlySpan<float>(s.Prev + 2 * st, n), r, h);
        TRec.ProductBackward(r, s.DGx, 4 * h, s.W, 4, h, s.DPrev, false);
    }

    public static void RecurrentWeightGradients(in CellWeightGradients g) => TRec.Gradients(g);

    /// <summary>dW_hh from ∂L/∂gh and H_prev only (dense or per head, no extra parameters): the backward may run in row groups.</summary>
    public static bool RowGroupGradients => true;

    /// <summary>The dense weight_hh [4H, H] has the LSTM's layout (four gate blocks of H rows), so the fused multi-row step
    /// packs and multiplies it as LSTM's does, with this cell's gate math on the register tile; with heads there is none.</summary>
    public static bool HasFusedRows => TRec.Shape == RecurrentWeights.Dense;

    public static void FusedRowsStep(float* next, float* prev, nint stateStride, float* saved, float* gx, float* w,
        int rows, int hidden, int u0, int u1, float* nextGx, in StepInput input, in CellParams p) =>
        RecurrentStepKernels.SlstmRowsStep(next, prev, stateStride, saved, gx, w, rows, hidden, u0, u1, p.I0 != 0, nextGx, input);
}

/// <summary>
/// The registry entry "slstm": options forget = sigmoid (default) | exp and heads = n (default 1, dense weight_hh).
/// </summary>
public static class SlstmDefinition
{
    /// <summary>The cell for options forget and heads.</summary>
    public static CellDefinition FromOptions(CellOptions o)
    {
        o.OnlyKnown("slstm", "forget", "heads");
        bool exp = (o["forget"] ?? "sigmoid") switch
        {
            "sigmoid" => false,
            "exp" => true,
            var f => throw new ArgumentException($"cell 'slstm': forget must be sigmoid or exp, got '{f}'"),
        };
        int heads = HeadsDefinition.Heads("slstm", o);
        return heads == 1 ? new SlstmDenseDefinition(exp) : new SlstmHeadsDefinition(heads, exp);
    }

    internal static readonly IReadOnlyList<string> StateNames = ["h", "c", "n", "m"];
    internal static CellOptions ForgetOption(bool exp) => exp ? CellOptions.Parse("forget=exp") : CellOptions.Empty;

    /// <summary>The stabilised step in ONNX operators (equations in the header), given gh = h·R (biases are in gx);
    /// logsigmoid(a) = −softplus(−a).</summary>
    internal static bool EmitStep(IOnnxStep s, string gh, bool expForget)
    {
        string c = s.State(1), n = s.State(2), m = s.State(3), a = s.Add(s.Gx, gh);
        string ai = s.Gate(a, 0), af = s.Gate(a, 1);
        string logF = expForget ? af : s.Neg(s.Softplus(s.Neg(af)));
        string logFm = s.Add(logF, m);
        string mNext = s.Max(logFm, ai);
        string i = s.Exp(s.Sub(ai, mNext)), f = s.Exp(s.Sub(logFm, mNext));
        string z = s.Tanh(s.Gate(a, 2)), o = s.Sigmoid(s.Gate(a, 3));
        string cNext = s.Add(s.Mul(f, c), s.Mul(i, z));
        string nNext = s.Add(s.Mul(f, n), i);
        s.SetNext(s.Mul(o, s.Div(cNext, nNext)), cNext, nNext, mNext);
        return true;
    }
}

/// <summary>sLSTM with a dense weight_hh [4H, H].</summary>
public sealed class SlstmDenseDefinition : CellDefinition<SlstmCell<DenseRecurrence>>
{
    private readonly bool _exp;

    /// <summary>The cell with a sigmoid (default) or exponential forget gate.</summary>
    public SlstmDenseDefinition(bool expForget = false)
    {
        _exp = expForget;
        Options = SlstmDefinition.ForgetOption(expForget);
    }

    public override string Name => "slstm";
    public override string Equation => "m' = max(log f + m, a_i); i' = e^(a_i − m'), f' = e^(log f + m − m'); c' = f' ⊙ c + i' ⊙ tanh(a_z); n' = f' ⊙ n + i'; h' = σ(a_o) ⊙ c'/n'";
    public override IReadOnlyList<string> StateNames => SlstmDefinition.StateNames;
    public override CellParams Params => new() { I0 = _exp ? 1 : 0 };
    public override bool EmitOnnxStep(IOnnxStep s) => SlstmDefinition.EmitStep(s, s.DenseRecurrent(s.State(0), withBias: false), _exp);
}

/// <summary>sLSTM with heads: weight_hh [n, 4H/n, H/n].</summary>
public sealed class SlstmHeadsDefinition(int heads, bool expForget = false)
    : HeadsDefinition<SlstmCell<HeadsRecurrence>>("slstm", heads, SlstmDefinition.ForgetOption(expForget))
{
    public override IReadOnlyList<string> StateNames => SlstmDefinition.StateNames;
    public override CellParams Params => new() { Heads = HeadCount, I0 = expForget ? 1 : 0 };
    public override bool EmitOnnxStep(IOnnxStep s) => SlstmDefinition.EmitStep(s, s.HeadsRecurrent(s.State(0), 4, HeadCount), expForget);
}
