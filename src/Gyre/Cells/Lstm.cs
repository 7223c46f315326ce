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

    public static void Forward(in CellStep s)
    {
        int r = s.Rows, h = s.Hidden, n = r * h;
        CellOps.HiddenProduct(r, s.Prev, h, s.W, 4 * h, h, s.Gx, 4 * h, true);
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
        CellOps.HiddenProductBackward(r, s.DGx, 4 * h, s.W, 4 * h, h, s.DPrev, false);
    }

    public static bool HasFusedStep => true;

    public static void FusedStep(float* next, float* prev, nint stateStride, float* saved, float* gx, float* w,
        float* biasHh, int hidden, int u0, int u1) =>
        RecurrentStepKernels.LstmStep(next, next + stateStride, saved, gx, prev, prev + stateStride, w, hidden, u0, u1);

    public static bool HasFusedRows => true;

    public static void FusedRowsStep(float* next, float* prev, nint stateStride, float* saved, float* gx, float* w,
        int rows, int hidden, int u0, int u1, float* nextGx) =>
        RecurrentStepKernels.LstmRowsStep(next, next + stateStride, saved, gx, prev, prev + stateStride, w, rows, hidden, u0, u1, nextGx);
}

/// <summary>The registry entry of <see cref="LstmCellMath"/> ("lstm").</summary>
public sealed class LstmDefinition : CellDefinition<LstmCellMath>
{
    public override string Name => "lstm";

    public override OnnxCellMapping Onnx { get; } = new("LSTM", [0, 3, 1, 2],
        new Dictionary<string, long>(), ["Sigmoid", "Tanh", "Tanh"],
        ["direction", "hidden_size", "layout", "input_forget", "activations"]);

    /// <summary>i, f, o = σ(·), g = tanh(·) of gx + h·W_hhᵀ (biases folded), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').</summary>
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        string h = s.State(0), c = s.State(1), a = s.Add(s.Gx, s.DenseRecurrent(h, withBias: false));
        string i = s.Sigmoid(s.Gate(a, 0)), f = s.Sigmoid(s.Gate(a, 1)), g = s.Tanh(s.Gate(a, 2)), o = s.Sigmoid(s.Gate(a, 3));
        string cNext = s.Add(s.Mul(f, c), s.Mul(i, g));
        s.SetNext(s.Mul(o, s.Tanh(cNext)), cNext);
        return true;
    }

    public override IReadOnlyList<(int, int, int, int)> BenchmarkShapes { get; } =
        [(64, 100, 32, 128), (1, 1000, 32, 128), (16, 256, 256, 256)];
}
