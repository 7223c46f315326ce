using System.Numerics.Tensors;
using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// ParaGRU (Danieli et al. 2025) as a registered cell ("paragru"): PyTorch's GRU with a diagonal recurrent
/// weight, so ∂h'/∂h is diagonal (what lets the runner run it parallel in time by Newton, <c>--scan parallel</c>):
/// <code>
/// r  = σ(W_ir x + b_ir + a_r ⊙ h + b_hr)
/// z  = σ(W_iz x + b_iz + a_z ⊙ h + b_hz)
/// n  = tanh(W_in x + b_in + r ⊙ (a_n ⊙ h + b_hn))
/// h' = (1 − z) ⊙ n + z ⊙ h
/// </code>
/// Parameters: weight_ih [3H, I], weight_hh [3H] = a_r | a_z | a_n, bias_ih [3H], bias_hh [3H], U(−1/√H, 1/√H).
/// State: h. Saved per unit: r, z, n and a_n ⊙ h + b_hn. The step is the GRU's pointwise kernel
/// <see cref="GruGates"/> with gh = b_hh + a ⊙ h in place of b_hh + W_hh·h; backward adds Σ_g dgh_g ⊙ a_g to ∂L/∂h
/// and dW_hh[g, j] = Σ_rows dgh[row, g, j]·h_prev[row, j]. Parallel form: one state and a diagonal Jacobian, so
/// <see cref="Layers.ExecutionOptions.Scan"/> = Parallel runs it by Newton's method in the sequence runner
/// (<see cref="Layers.SequencePath.Newton"/>; J from this backward with ∂L/∂h' = 1).
/// </summary>
public readonly unsafe struct ParaGruCell : ICell
{
    public static int Gates => 3;
    public static int States => 1;
    public static int SavedWidth => 4;
    public static int ScratchWidth => 3;
    public static RecurrentWeights Recurrent => RecurrentWeights.Diagonal;
    public static bool HiddenBiasApart => true;

    public static void Forward(in CellStep s)
    {
        int r = s.Rows, h = s.Hidden, gh = 3 * h, n = r * h;
        float* a = s.W.Whh, b = s.W.BiasHh;
        // gh = a ⊙ h + b_hh per gate block on TensorPrimitives' SIMD loops (the pointwise gate math is GruGates).
        for (int row = 0; row < r; row++)
        {
            var hp = new ReadOnlySpan<float>(s.Prev + (nint)row * h, h);
            for (int g = 0; g < 3; g++)
            {
                var dst = new Span<float>(s.Scratch + (nint)row * gh + g * h, h);
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(a + g * h, h), hp, dst);
                if (b != null) TensorPrimitives.Add(dst, new ReadOnlySpan<float>(b + g * h, h), dst);
            }
        }
        GruGates.Forward(new Span<float>(s.Next, n), s.Saved == null ? default : new Span<float>(s.Saved, 4 * n),
            new ReadOnlySpan<float>(s.Gx, 3 * n), new ReadOnlySpan<float>(s.Scratch, 3 * n), new ReadOnlySpan<float>(s.Prev, n), r, h);
    }

    public static void Backward(in CellBackwardStep s)
    {
        int r = s.Rows, h = s.Hidden, gh = 3 * h, n = r * h;
        GruGates.Backward(new Span<float>(s.DGx, 3 * n), new Span<float>(s.DGh, 3 * n), new Span<float>(s.DPrev, n),
            new ReadOnlySpan<float>(s.DNext, n), new ReadOnlySpan<float>(s.Saved, 4 * n), new ReadOnlySpan<float>(s.Prev, n), r, h);
        float* a = s.W.Whh;
        for (int row = 0; row < r; row++)
        {
            var dp = new Span<float>(s.DPrev + (nint)row * h, h);
            for (int g = 0; g < 3; g++)
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(s.DGh + (nint)row * gh + g * h, h), new ReadOnlySpan<float>(a + g * h, h), dp, dp);
        }
    }

    public static void RecurrentWeightGradients(in CellWeightGradients g)
    {
        int h = g.Hidden, gh = 3 * h;
        for (int row = 0; row < g.Rows; row++)
        {
            var hp = new ReadOnlySpan<float>(g.HPrev + (nint)row * h, h);
            for (int k = 0; k < 3; k++)
            {
                var dw = new Span<float>(g.DWhh + k * h, h);
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(g.DGh + (nint)row * gh + k * h, h), hp, dw, dw);
            }
        }
    }
}

/// <summary>The registry entry of <see cref="ParaGruCell"/> ("paragru").</summary>
public sealed class ParaGruDefinition : CellDefinition<ParaGruCell>
{
    public override string Name => "paragru";

    /// <summary>Newton's forward: x copy, state, Jacobian, work, y, 4 saved and 3 gx floats per (row, unit).</summary>
    public override long ParallelForwardFloats(int hidden) => 12L * hidden;
    public override string Equation => "GRU with diagonal U: r, z = σ(W x + a ⊙ h + b); n = tanh(W_n x + r ⊙ (a_n ⊙ h + b_hn)); h' = (1 − z) ⊙ n + z ⊙ h";

    /// <summary>As the GRU's step with gh = [h | h | h] ⊙ weight_hh + b_hh (the diagonal product, broadcast over rows).</summary>
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        string h = s.State(0);
        string gh = s.Mul(s.Op("Concat", [h, h, h], ("axis", 1)), s.Parameter("weight_hh")!);
        if (s.Parameter("bias_hh") is { } b) gh = s.Add(gh, b);
        string r = s.Sigmoid(s.Add(s.Gate(s.Gx, 0), s.Gate(gh, 0)));
        string z = s.Sigmoid(s.Add(s.Gate(s.Gx, 1), s.Gate(gh, 1)));
        string n = s.Tanh(s.Add(s.Gate(s.Gx, 2), s.Mul(r, s.Gate(gh, 2))));
        s.SetNext(s.Lerp(n, h, z));
        return true;
    }
}
