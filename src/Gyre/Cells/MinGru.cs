using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// minGRU (Feng et al. 2024, "Were RNNs all we needed?"), registry name "mingru": the GRU with its gates computed
/// from x alone, so the step is linear in h and the whole sequence is one linear recurrence. Gate blocks in
/// weight_ih rows: z, h̃.
/// <code>
/// z  = σ(W_iz x + b_iz)
/// h̃  = g(W_ih x + b_ih),  g(v) = v + ½ (v ≥ 0), σ(v) (v &lt; 0)
/// h' = (1 − z) ⊙ h + z ⊙ h̃
/// </code>
/// g is the paper's activation of its log-space form (it keeps h̃ &gt; 0 there); Gyre uses it in both modes so
/// the sequential loop and the parallel scan compute the same function. The paper scans in log space because its
/// scan divides by the running product of the (1 − z); <see cref="LinearRecurrence"/> never divides (chunks
/// carry products of at most L coefficients in (0, 1), which can only underflow towards the true zero), so the
/// scan here runs in linear space with the same equations.
/// Parameters: weight_ih [2H, I], bias_ih [2H], U(−1/√H, 1/√H); no weight_hh, no bias_hh. State: h.
/// Saved per unit: z, h̃, g′. Kernel: <see cref="MinGates"/> (scalar twin <see cref="Kernels.Reference.MinGatesReference"/>).
/// Parallel form: <see cref="ICell.IsLinear"/>, a = 1 − z, b = z ⊙ h̃.
/// </summary>
public readonly unsafe struct MinGruCell : ICell
{
    public static int Gates => 2;
    public static int States => 1;
    public static int SavedWidth => 3;
    public static int ScratchWidth => 0;
    public static RecurrentWeights Recurrent => RecurrentWeights.None;
    public static bool HiddenBiasApart => false;

    public static void Forward(in CellStep s) => MinStep.Forward(s, lstm: false);
    public static void Backward(in CellBackwardStep s) => MinStep.Backward(s, lstm: false);
    public static bool IsLinear => true;
    public static void LinearCoefficients(float* a, float* b, float* saved, float* gx, int rows, int hidden, in CellWeights w) =>
        MinStep.Coefficients(a, b, saved, gx, rows, hidden, lstm: false);
}

/// <summary>The step of <see cref="MinGruCell"/> and <see cref="MinLstmCell"/> on the <see cref="MinGates"/> kernels.</summary>
internal static unsafe class MinStep
{
    public static void Forward(in CellStep s, bool lstm)
    {
        int n = s.Rows * s.Hidden;
        MinGates.Forward(new Span<float>(s.Next, n), s.Saved == null ? default : new Span<float>(s.Saved, MinGates.SavedWidth(lstm) * n),
            new ReadOnlySpan<float>(s.Gx, MinGates.Gates(lstm) * n), new ReadOnlySpan<float>(s.Prev, n), s.Rows, s.Hidden, lstm);
    }

    public static void Backward(in CellBackwardStep s, bool lstm)
    {
        int n = s.Rows * s.Hidden;
        MinGates.Backward(new Span<float>(s.DGx, MinGates.Gates(lstm) * n), new Span<float>(s.DPrev, n), new ReadOnlySpan<float>(s.DNext, n),
            new ReadOnlySpan<float>(s.Saved, MinGates.SavedWidth(lstm) * n), new ReadOnlySpan<float>(s.Prev, n), s.Rows, s.Hidden, lstm);
    }

    public static void Coefficients(float* a, float* b, float* saved, float* gx, int rows, int hidden, bool lstm)
    {
        int n = rows * hidden;
        MinGates.Coefficients(new Span<float>(a, n), new Span<float>(b, n), saved == null ? default : new Span<float>(saved, MinGates.SavedWidth(lstm) * n),
            new ReadOnlySpan<float>(gx, MinGates.Gates(lstm) * n), rows, hidden, lstm);
    }

    /// <summary>g(v) = relu(v) + σ(min(v, 0)): v + ½ for v ≥ 0, σ(v) below (one formula, no branch, for ONNX).</summary>
    public static string G(IOnnxStep s, string v) => s.Add(s.Relu(v), s.Sigmoid(s.Min(v, s.Constant(0f))));

    /// <summary>h' = a ⊙ h + b with b = (1 − a) ⊙ h̃.</summary>
    public static void EmitNext(IOnnxStep s, string a, string z, string hTilde) =>
        s.SetNext(s.Add(s.Mul(a, s.State(0)), s.Mul(z, hTilde)));
}

/// <summary>The registry entry of <see cref="MinGruCell"/> ("mingru").</summary>
public sealed class MinGruDefinition : CellDefinition<MinGruCell>
{
    public override string Name => "mingru";
    public override string Equation => "z = σ(W_z x + b_z); h̃ = g(W_h x + b_h), g(v) = v + ½ (v ≥ 0), σ(v) (v < 0); h' = (1 − z) ⊙ h + z ⊙ h̃";

    /// <summary>The linear scan's forward: x copy, 2 gx, 3 saved, state and a floats per (row, unit).</summary>
    public override long ParallelForwardFloats(int hidden) => 8L * hidden;

    /// <summary>z = σ(gx_z), h̃ = g(gx_h), h' = (1 − z) ⊙ h + z ⊙ h̃.</summary>
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        string z = s.Sigmoid(s.Gate(s.Gx, 0));
        MinStep.EmitNext(s, s.Sub(s.Constant(1f), z), z, MinStep.G(s, s.Gate(s.Gx, 1)));
        return true;
    }
}
