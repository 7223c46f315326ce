using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// LSTM, exactly as PyTorch's nn.LSTM (gate blocks in weight rows: i, f, g, o; no peepholes, no projection):
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
        int rows, int hidden, int u0, int u1, float* nextGx) =>
        RecurrentStepKernels.LstmRowsStep(next, next + stateStride, saved, gx, prev, prev + stateStride, w, rows, hidden, u0, u1, nextGx);
}

/// <summary>
/// The LSTM step over a recurrent product <typeparamref name="TRec"/>: <see cref="LstmCellMath"/> runs it with the
/// dense W_hh; with <see cref="HeadsRecurrence"/> it is the LSTM with heads (option heads = n &gt; 1): weight_hh
/// [n, 4H/n, H/n], one block per head, gate blocks i, f, g, o inside each block; every other parameter as the
/// dense LSTM. No fused paths.
/// </summary>
public readonly unsafe struct LstmCell<TRec> : ICell where TRec : struct, IRecurrence
{
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

    public override OnnxCellMapping Onnx { get; } = new("LSTM", [0, 3, 1, 2],
        new Dictionary<string, long>(), ["Sigmoid", "Tanh", "Tanh"],
        ["direction", "hidden_size", "layout", "input_forget", "activations"]);

    /// <summary>i, f, o = σ(·), g = tanh(·) of gx + h·W_hhᵀ (biases folded), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').</summary>
    public override bool EmitOnnxStep(IOnnxStep s) => EmitStep(s, s.DenseRecurrent(s.State(0), withBias: false));

    /// <summary>The step given the recurrent product gh = h·W_hhᵀ (biases are in gx).</summary>
    internal static bool EmitStep(IOnnxStep s, string gh)
    {
        string c = s.State(1), a = s.Add(s.Gx, gh);
        string i = s.Sigmoid(s.Gate(a, 0)), f = s.Sigmoid(s.Gate(a, 1)), g = s.Tanh(s.Gate(a, 2)), o = s.Sigmoid(s.Gate(a, 3));
        string cNext = s.Add(s.Mul(f, c), s.Mul(i, g));
        s.SetNext(s.Mul(o, s.Tanh(cNext)), cNext);
        return true;
    }

    public override IReadOnlyList<(int, int, int, int)> BenchmarkShapes { get; } =
        [(64, 100, 32, 128), (1, 1000, 32, 128), (16, 256, 256, 256)];

    /// <summary>"lstm" with option heads = n (default 1: this dense cell).</summary>
    internal static CellDefinition FromOptions(CellOptions o)
    {
        o.OnlyKnown("lstm", "heads");
        int heads = HeadsDefinition.Heads("lstm", o);
        return heads == 1 ? new LstmDefinition() : new LstmHeadsDefinition(heads);
    }
}

/// <summary>"lstm" with heads = n &gt; 1 (<see cref="LstmCell{TRec}"/> over <see cref="HeadsRecurrence"/>).</summary>
public sealed class LstmHeadsDefinition(int heads) : HeadsDefinition<LstmCell<HeadsRecurrence>>("lstm", heads)
{
    public override bool EmitOnnxStep(IOnnxStep s) => LstmDefinition.EmitStep(s, s.HeadsRecurrent(s.State(0), 4, HeadCount));
}
