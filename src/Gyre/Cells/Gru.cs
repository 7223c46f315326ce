using System.Runtime.CompilerServices;
using Gyre.Kernels;
using Gyre.Layers;

namespace Gyre.Cells;

/// <summary>
/// GRU, exactly as PyTorch's nn.GRU (gate blocks in weight rows: r, z, n; reset applied after the
/// recurrent product, "reset-after" / ONNX linear_before_reset = 1):
/// <code>
/// r  = σ(W_ir x + b_ir + W_hr h + b_hr)
/// z  = σ(W_iz x + b_iz + W_hz h + b_hz)
/// n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
/// h' = (1 − z) ⊙ n + z ⊙ h
/// </code>
/// Parameters (PyTorch names and initialisation U(−1/√H, 1/√H)): weight_ih [3H, I], weight_hh [3H, H],
/// bias_ih [3H], bias_hh [3H]. State: h. Saved per unit: r, z, n and W_hn h + b_hn.
/// b_hh stays inside the step because r multiplies (W_hn h + b_hn): gx = x·W_ihᵀ + b_ih, and per step
/// gh = b_hh + h·W_hhᵀ (the scratch), then the pointwise kernel <see cref="GruGates"/>.
/// Fast paths: the fused batch-1 step <see cref="RecurrentStepKernels.GruStep"/> and the fused multi-row step
/// <see cref="RecurrentStepKernels.GruRowsStep"/>. ONNX: op GRU,
/// linear_before_reset = 1, gates z, r, h.
/// </summary>
public readonly unsafe struct GruCellMath : ICell
{
    public static bool RowGroupGradients => true;

    public static int Gates => 3;
    public static int States => 1;
    public static int SavedWidth => 4;
    public static int ScratchWidth => 3;
    public static RecurrentWeights Recurrent => RecurrentWeights.Dense;
    public static bool HiddenBiasApart => true;

    public static void Forward(in CellStep s) => GruCell<DenseRecurrence>.Forward(s);

    public static void Backward(in CellBackwardStep s) => GruCell<DenseRecurrence>.Backward(s);

    public static bool HasFusedStep => true;

    public static void FusedStep(float* next, float* prev, nint stateStride, float* saved, float* gx, float* w,
        float* biasHh, int hidden, int u0, int u1) =>
        RecurrentStepKernels.GruStep(next, saved, gx, prev, w, biasHh, hidden, u0, u1);

    public static bool HasFusedRows => true;

    /// <summary>w: the narrow unit blocks followed by b_hh [3, H] (zeros without a bias), as the runner lays out a cell
    /// whose b_hh is apart; with <paramref name="input"/> the step computes gi = b_ih + x·W_ihᵀ in its own tile.</summary>
    public static void FusedRowsStep(float* next, float* prev, nint stateStride, float* saved, float* gx, float* w,
        int rows, int hidden, int u0, int u1, float* nextGx, in StepInput input, in CellParams p) =>
        RecurrentStepKernels.GruRowsStep(next, saved, gx, prev, w, w + RecurrentStepKernels.PackedLength(hidden, 3), rows, hidden, u0, u1, nextGx, input);
}

/// <summary>
/// The GRU step over a recurrent product <typeparamref name="TRec"/>: <see cref="GruCellMath"/> runs it with the
/// dense W_hh; with <see cref="HeadsRecurrence"/> it is the GRU with heads (option heads = n &gt; 1): weight_hh
/// [n, 3H/n, H/n], one block per head, gate blocks r, z, n inside each block; every other parameter as the
/// dense GRU (b_hh [3H] stays apart). No fused paths.
/// </summary>
public readonly unsafe struct GruCell<TRec> : ICell where TRec : struct, IRecurrence
{
    public static bool RowGroupGradients => true;

    public static int Gates => 3;
    public static int States => 1;
    public static int SavedWidth => 4;
    public static int ScratchWidth => 3;
    public static RecurrentWeights Recurrent => TRec.Shape;
    public static bool HiddenBiasApart => true;

    // Inlined into the runner's time loop (compiled fully optimised at once): as a separate method the step starts as
    // tier-0 code and a short run pays for it (GRU B 64 T 100 H 256 training: 5 % slower than the enum-switched layer).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Forward(in CellStep s)
    {
        int r = s.Rows, h = s.Hidden, gh = 3 * h, n = r * h;
        bool bias = s.W.BiasHh != null;
        if (bias)
        {
            var b = new ReadOnlySpan<float>(s.W.BiasHh, gh);
            for (int i = 0; i < r; i++) b.CopyTo(new Span<float>(s.Scratch + (nint)i * gh, gh));
        }
        TRec.Product(r, s.Prev, h, s.W, 3, h, s.Scratch, gh, bias);
        CellOps.SplitRows(new GruGatesPass { Next = s.Next, Saved = s.Saved, Gx = s.Gx, Gh = s.Scratch, Prev = s.Prev, Hidden = h }, r, gh);
    }

    /// <summary><see cref="GruGates.Forward"/> of rows [r0, r1).</summary>
    private struct GruGatesPass : IRowsPass
    {
        public float* Next, Saved, Gx, Gh, Prev;   // [R, H], [R, 4H] or null, [R, 3H], [R, 3H], [R, H]
        public int Hidden;

        public readonly void Run(int r0, int r1)
        {
            nint h = Hidden, n = (r1 - r0) * h;
            GruGates.Forward(new Span<float>(Next + r0 * h, (int)n), Saved == null ? default : new Span<float>(Saved + 4 * r0 * h, 4 * (int)n),
                new ReadOnlySpan<float>(Gx + 3 * r0 * h, 3 * (int)n), new ReadOnlySpan<float>(Gh + 3 * r0 * h, 3 * (int)n),
                new ReadOnlySpan<float>(Prev + r0 * h, (int)n), r1 - r0, Hidden);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Backward(in CellBackwardStep s)
    {
        int r = s.Rows, h = s.Hidden, n = r * h;
        GruGates.Backward(new Span<float>(s.DGx, 3 * n), new Span<float>(s.DGh, 3 * n), new Span<float>(s.DPrev, n),
            new ReadOnlySpan<float>(s.DNext, n), new ReadOnlySpan<float>(s.Saved, 4 * n), new ReadOnlySpan<float>(s.Prev, n), r, h);
        TRec.ProductBackward(r, s.DGh, 3 * h, s.W, 3, h, s.DPrev, true);
    }

    public static void RecurrentWeightGradients(in CellWeightGradients g) => TRec.Gradients(g);
}

/// <summary>The registry entry of <see cref="GruCellMath"/> ("gru").</summary>
public sealed class GruDefinition : CellDefinition<GruCellMath>
{
    public override string Name => "gru";
    public override string Equation => "r, z = σ(W x + U h + b); n = tanh(W_n x + r ⊙ (U_n h + b_hn)); h' = (1 − z) ⊙ n + z ⊙ h";

    public override OnnxCellMapping Onnx { get; } = new("GRU", [1, 0, 2],
        new Dictionary<string, long> { ["linear_before_reset"] = 1 }, ["Sigmoid", "Tanh"],
        ["direction", "hidden_size", "layout", "linear_before_reset", "activations"]);

    public override bool EmitOnnxStep(IOnnxStep s) => EmitStep(s, s.DenseRecurrent(s.State(0), withBias: true));

    /// <summary>r, z = σ(gx[r|z] + gh[r|z]), n = tanh(gx_n + r ⊙ gh_n), h' = n + z ⊙ (h − n), given gh = h·W_hhᵀ + b_hh.</summary>
    internal static bool EmitStep(IOnnxStep s, string gh)
    {
        s.SetNext(EmitUpdate(s, gh));
        return true;
    }

    /// <summary>The GRU's next h (see <see cref="EmitStep"/>) as a value, for cells built on the GRU step.</summary>
    internal static string EmitUpdate(IOnnxStep s, string gh)
    {
        string h = s.State(0);
        string r = s.Sigmoid(s.Add(s.Gate(s.Gx, 0), s.Gate(gh, 0)));
        string z = s.Sigmoid(s.Add(s.Gate(s.Gx, 1), s.Gate(gh, 1)));
        string n = s.Tanh(s.Add(s.Gate(s.Gx, 2), s.Mul(r, s.Gate(gh, 2))));
        return s.Lerp(n, h, z);
    }

    public override IReadOnlyList<(int, int, int, int)> BenchmarkShapes { get; } =
        [(64, 100, 32, 128), (64, 100, 128, 256), (1, 1000, 32, 128), (256, 50, 64, 64), (16, 1024, 768, 768)];

    /// <summary>The plain GRU (no options) has one: <see cref="GruSharedStateStep"/>.</summary>
    public override bool HasSharedStateStep => Options.IsEmpty;

    internal override SharedStateStep CreateSharedStateStep(RecurrentLayer layer) => new GruSharedStateStep(layer);

    /// <summary>"gru" with option heads = n (default 1: this dense cell).</summary>
    internal static CellDefinition FromOptions(CellOptions o)
    {
        o.OnlyKnown("gru", "heads");
        int heads = HeadsDefinition.Heads("gru", o);
        return heads == 1 ? new GruDefinition() : new GruHeadsDefinition(heads);
    }
}

/// <summary>"gru" with heads = n &gt; 1 (<see cref="GruCell{TRec}"/> over <see cref="HeadsRecurrence"/>).</summary>
public sealed class GruHeadsDefinition(int heads) : HeadsDefinition<GruCell<HeadsRecurrence>>("gru", heads)
{
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        string gh = s.HeadsRecurrent(s.State(0), 3, HeadCount);
        return GruDefinition.EmitStep(s, s.Parameter("bias_hh") is { } b ? s.Add(gh, b) : gh);
    }
}
