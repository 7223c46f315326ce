using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// minLSTM (Feng et al. 2024, "Were RNNs all we needed?"), registry name "minlstm": forget and input gates from x
/// alone, normalised to sum to one (the paper's length-independent scaling), no output gate and no cell state
/// apart from h. Gate blocks in weight_ih rows: f, i, h̃.
/// <code>
/// f  = σ(W_if x + b_if),  i = σ(W_ii x + b_ii)
/// f′ = f / (f + i),  i′ = 1 − f′          (= σ(k_f − k_i) where both pre-activations are below −80)
/// h̃  = g(W_ih x + b_ih),  g(v) = v + ½ (v ≥ 0), σ(v) (v &lt; 0)
/// h' = f′ ⊙ h + i′ ⊙ h̃
/// </code>
/// The paper computes f′ in log space (−softplus(log i − log f)) for its log-space scan; here f/(f + i) of the two
/// σ (which keep full relative accuracy into their tails) is the same value, and the tail rule covers the one
/// place where the sum would vanish. g as in <see cref="MinGruCell"/>, for the same reason, in both modes.
/// Parameters: weight_ih [3H, I], bias_ih [3H], U(−1/√H, 1/√H); no weight_hh, no bias_hh. State: h.
/// Saved per unit: f′, 1 − f, 1 − i, h̃, g′. Kernel: <see cref="MinGates"/>. Parallel form: a = f′, b = i′ ⊙ h̃.
/// </summary>
public readonly unsafe struct MinLstmCell : ICell
{
    public static int Gates => 3;
    public static int States => 1;
    public static int SavedWidth => 5;
    public static int ScratchWidth => 0;
    public static RecurrentWeights Recurrent => RecurrentWeights.None;
    public static bool HiddenBiasApart => false;

    public static void Forward(in CellStep s) => MinStep.Forward(s, lstm: true);
    public static void Backward(in CellBackwardStep s) => MinStep.Backward(s, lstm: true);
    public static bool IsLinear => true;
    public static void LinearCoefficients(float* a, float* b, float* saved, float* gx, int rows, int hidden, in CellWeights w) =>
        MinStep.Coefficients(a, b, saved, gx, rows, hidden, lstm: true);
}

/// <summary>The registry entry of <see cref="MinLstmCell"/> ("minlstm").</summary>
public sealed class MinLstmDefinition : CellDefinition<MinLstmCell>
{
    public override string Name => "minlstm";
    public override string Equation => "f, i = σ(W x + b); f′ = f / (f + i); h̃ = g(W_h x + b_h); h' = f′ ⊙ h + (1 − f′) ⊙ h̃";

    /// <summary>The linear scan's forward: x copy, 3 gx, 5 saved, state and a floats per (row, unit).</summary>
    public override long ParallelForwardFloats(int hidden) => 11L * hidden;

    /// <summary>f′ = f/(f + i) (σ(k_f − k_i) in the deep tail), h̃ = g(gx_h), h' = f′ ⊙ h + (1 − f′) ⊙ h̃.</summary>
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        string kf = s.Gate(s.Gx, 0), ki = s.Gate(s.Gx, 1);
        string f = s.Sigmoid(kf), i = s.Sigmoid(ki), tail = s.Constant(MinGates.TailBelow);
        string deep = s.Op("And", [s.Op("Less", [kf, tail]), s.Op("Less", [ki, tail])]);
        string a = s.Op("Where", [deep, s.Sigmoid(s.Sub(kf, ki)), s.Div(f, s.Add(f, i))]);
        MinStep.EmitNext(s, a, s.Sub(s.Constant(1f), a), MinStep.G(s, s.Gate(s.Gx, 2)));
        return true;
    }
}
