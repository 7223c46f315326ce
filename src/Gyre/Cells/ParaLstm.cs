using System.Numerics.Tensors;
using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// ParaLSTM (Danieli et al. 2025) as a registered cell ("paralstm"): an LSTM with a coupled input–forget gate,
/// peepholes and diagonal recurrent weights, so ∂(h', c')/∂(h, c) is a 2×2 block per unit. Gate blocks in weight
/// rows: f, g, o. States h, c.
/// <code>
/// f  = σ(W_if x + b_if + b_hf + p_f ⊙ c + a_f ⊙ h)       g = tanh(W_ig x + b_ig + b_hg + a_g ⊙ h)
/// c' = g + f ⊙ (c − g)                                  (input gate 1 − f)
/// o  = σ(W_io x + b_io + b_ho + p_o ⊙ c' + a_o ⊙ h)      h' = o ⊙ tanh c'
/// </code>
/// Parameters: weight_ih [3H, I], weight_hh [3H] = a_f | a_g | a_o, bias_ih [3H], bias_hh [3H] (folded into gx),
/// peephole [2, H] = p_f | p_o; U(−1/√H, 1/√H). Saved per unit: f, g, o, c', tanh c', c. Kernel:
/// <see cref="ParaLstmGates"/> (scalar twin <see cref="Kernels.Reference.ParaLstmReference"/>); dW_hh and the
/// peephole gradients are per-unit sums after the time loop. Parallel in time (<c>--scan parallel</c>): the runner's
/// Newton path with one 2×2 block J_t = ∂(h_t, c_t)/∂(h_{t−1}, c_{t−1}) per unit, taken row by row from
/// <see cref="Backward"/> with ∂L/∂(h', c') = (1, 0) and (0, 1).
/// </summary>
public readonly unsafe struct ParaLstmCell : ICell
{
    public static int Gates => 3;
    public static int States => 2;
    public static int SavedWidth => 6;
    public static int ScratchWidth => 0;
    public static RecurrentWeights Recurrent => RecurrentWeights.Diagonal;
    public static bool HiddenBiasApart => false;

    public static void Forward(in CellStep s)
    {
        int n = s.Rows * s.Hidden, h = s.Hidden;
        ParaLstmGates.Forward(new Span<float>(s.Next, n), new Span<float>(s.Next + s.StateStride, n),
            s.Saved == null ? default : new Span<float>(s.Saved, 6 * n), new ReadOnlySpan<float>(s.Gx, 3 * n),
            new ReadOnlySpan<float>(s.Prev, n), new ReadOnlySpan<float>(s.Prev + s.StateStride, n),
            new ReadOnlySpan<float>(s.W.Whh, 3 * h), new ReadOnlySpan<float>(s.W.Extra, 2 * h), s.Rows, h);
    }

    public static void Backward(in CellBackwardStep s)
    {
        int n = s.Rows * s.Hidden, h = s.Hidden;
        ParaLstmGates.Backward(new Span<float>(s.DGx, 3 * n), new Span<float>(s.DPrev, n), new Span<float>(s.DPrev + s.DStride, n),
            new ReadOnlySpan<float>(s.DNext, n), new ReadOnlySpan<float>(s.DNext + s.DStride, n), new ReadOnlySpan<float>(s.Saved, 6 * n),
            new ReadOnlySpan<float>(s.Prev, n), new ReadOnlySpan<float>(s.W.Whh, 3 * h), new ReadOnlySpan<float>(s.W.Extra, 2 * h), s.Rows, h);
    }

    /// <summary>dW_hh[k·H + j] += Σ δ_k·h_prev; dp_f += Σ δf·c; dp_o += Σ δo·c' (rows in time order).</summary>
    public static void RecurrentWeightGradients(in CellWeightGradients g)
    {
        int h = g.Hidden, gh = 3 * h, sw = g.SavedWidth;
        var dpf = new Span<float>(g.W.ExtraGrad, h);
        var dpo = new Span<float>(g.W.ExtraGrad + h, h);
        for (int row = 0; row < g.Rows; row++)
        {
            float* d = g.DGh + (nint)row * gh, sv = g.Saved + (nint)row * sw;
            var hp = new ReadOnlySpan<float>(g.HPrev + (nint)row * h, h);
            for (int k = 0; k < 3; k++)
            {
                var dw = new Span<float>(g.DWhh + k * h, h);
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(d + k * h, h), hp, dw, dw);
            }
            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(d, h), new ReadOnlySpan<float>(sv + 5 * h, h), dpf, dpf);
            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(d + 2 * h, h), new ReadOnlySpan<float>(sv + 3 * h, h), dpo, dpo);
        }
    }
}

/// <summary>The registry entry of <see cref="ParaLstmCell"/> ("paralstm").</summary>
public sealed class ParaLstmDefinition : CellDefinition<ParaLstmCell>
{
    public override string Name => "paralstm";
    public override string Equation => "f = σ(W_f x + p_f ⊙ c + a_f ⊙ h + b_f); g = tanh(W_g x + a_g ⊙ h + b_g); c' = g + f ⊙ (c − g); o = σ(W_o x + p_o ⊙ c' + a_o ⊙ h + b_o); h' = o ⊙ tanh(c')";

    /// <summary>Newton's forward: x copy, 2 states, 4 Jacobian blocks, 2 work, y, 6 saved and 3 gx floats per (row, unit).</summary>
    public override long ParallelForwardFloats(int hidden) => 19L * hidden;

    public override IReadOnlyList<(string Name, int Rows)> ExtraParameters { get; } = [("peephole", 2)];

    /// <summary>The step of the header with gh = [h | h | h] ⊙ weight_hh and the peephole rows as [1, H] values.</summary>
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        string h = s.State(0), c = s.State(1);
        string gh = s.Mul(s.Op("Concat", [h, h, h], ("axis", 1)), s.Parameter("weight_hh")!);
        string p = s.Reshape(s.Parameter("peephole")!, 1, 2L * s.Hidden);
        string pf = s.Columns(p, 0, s.Hidden), po = s.Columns(p, s.Hidden, s.Hidden);
        string f = s.Sigmoid(s.Add(s.Add(s.Gate(s.Gx, 0), s.Mul(pf, c)), s.Gate(gh, 0)));
        string g = s.Tanh(s.Add(s.Gate(s.Gx, 1), s.Gate(gh, 1)));
        string cNext = s.Lerp(g, c, f);
        string o = s.Sigmoid(s.Add(s.Add(s.Gate(s.Gx, 2), s.Mul(po, cNext)), s.Gate(gh, 2)));
        s.SetNext(s.Mul(o, s.Tanh(cNext)), cNext);
        return true;
    }
}
