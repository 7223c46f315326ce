using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// IndRNN, Li et al. 2018 ("Independently Recurrent Neural Network"): each unit sees only its own past,
/// through a per-unit recurrent weight u:
/// <code>
/// h' = act(W_ih x + b_ih + u' ⊙ h + b_hh)      u' = clamp(u, −bound, bound)     act = ReLU (default) or tanh
/// </code>
/// Options: nonlinearity = relu | tanh; bound = a positive number (|u| ≤ bound keeps the gradient over T
/// steps between bound^T and its inverse; none by default). Outside the bound the clamp passes no gradient to u.
/// Parameters: weight_ih [H, I], weight_hh [H] (u, <see cref="RecurrentWeights.Diagonal"/>), bias_ih [H],
/// bias_hh [H], all U(−1/√H, 1/√H). State: h. Nothing saved (act' comes from h'). Both biases fold into gx, and
/// the step is one pointwise kernel, <see cref="IndRnnGates"/> (scalar twin <see cref="Kernels.Reference.IndRnnReference"/>);
/// du = Σ over steps and rows of ∂L/∂pre ⊙ h_prev, after the time loop.
/// </summary>
public readonly unsafe struct IndRnnCell<TAct> : ICell where TAct : struct, IRnnNonlinearity
{
    public static int Gates => 1;
    public static int States => 1;
    public static int SavedWidth => 0;
    public static int ScratchWidth => 0;
    public static RecurrentWeights Recurrent => RecurrentWeights.Diagonal;
    public static bool HiddenBiasApart => false;

    public static void Forward(in CellStep s)
    {
        int n = s.Rows * s.Hidden;
        IndRnnGates.Forward(new Span<float>(s.Next, n), new ReadOnlySpan<float>(s.Gx, n), new ReadOnlySpan<float>(s.W.Whh, s.Hidden),
            new ReadOnlySpan<float>(s.Prev, n), s.Rows, s.Hidden, TAct.Relu, s.W.Params.F0);
    }

    public static void Backward(in CellBackwardStep s)
    {
        int n = s.Rows * s.Hidden;
        IndRnnGates.Backward(new Span<float>(s.DGx, n), new Span<float>(s.DPrev, n), new ReadOnlySpan<float>(s.DNext, n),
            new ReadOnlySpan<float>(s.Next, n), new ReadOnlySpan<float>(s.W.Whh, s.Hidden), s.Rows, s.Hidden, TAct.Relu, s.W.Params.F0);
    }

    /// <summary>du [H] += Σ_rows ∂L/∂pre ⊙ h_prev where |u| ≤ bound; rows in order (fixed reduction order).</summary>
    public static void RecurrentWeightGradients(in CellWeightGradients g)
    {
        int h = g.Hidden;
        float bound = g.W.Params.F0;
        var du = new Span<float>(g.DWhh, h);
        for (int j = 0; j < h; j++)
        {
            // Outside the bound the clamp is constant in u: no gradient (and none added to what du already holds).
            if (!float.IsPositiveInfinity(bound) && !(Math.Abs(g.W.Whh[j]) <= bound)) continue;
            float sum = 0f;
            for (int r = 0; r < g.Rows; r++) sum += g.DGh[(nint)r * h + j] * g.HPrev[(nint)r * h + j];
            du[j] += sum;
        }
    }
}

/// <summary>The registry entry of <see cref="IndRnnCell{TAct}"/> ("indrnn"; options nonlinearity, bound).</summary>
public sealed class IndRnnDefinition : CellDefinition
{
    private readonly CellDefinition _inner;
    private readonly float _bound;
    private readonly bool _relu;

    private IndRnnDefinition(CellOptions options)
    {
        options.OnlyKnown("indrnn", "nonlinearity", "bound");
        _bound = options.Float("bound", float.PositiveInfinity);
        if (!(_bound > 0f)) throw new ArgumentException($"cell 'indrnn': bound must be positive, got '{options["bound"]}'");
        _relu = (options["nonlinearity"] ?? "relu") == "relu";
        _inner = (options["nonlinearity"] ?? "relu") switch
        {
            "relu" => new Typed<ReluNonlinearity>(),
            "tanh" => new Typed<TanhNonlinearity>(),
            var s => throw new ArgumentException($"cell 'indrnn': nonlinearity must be relu or tanh, got '{s}'"),
        };
        Options = options;
    }

    /// <summary>Builds "indrnn" from its options.</summary>
    internal static CellDefinition FromOptions(CellOptions options) => new IndRnnDefinition(options);

    public override string Name => "indrnn";
    public override string Equation => "h' = act(W x + u ⊙ h + b), act = ReLU or tanh, |u| ≤ bound";
    public override int Gates => _inner.Gates;
    public override int States => _inner.States;
    public override int SavedWidth => _inner.SavedWidth;
    public override int ScratchWidth => _inner.ScratchWidth;
    public override RecurrentWeights Recurrent => _inner.Recurrent;
    public override bool HiddenBiasApart => _inner.HiddenBiasApart;

    /// <summary>F0: the bound on |u| (+∞ when none).</summary>
    public override CellParams Params => new() { F0 = _bound };

    internal override Layers.ISequenceRunner CreateRunner() => _inner.CreateRunner();

    /// <summary>h' = act(gx + clamp(u, −bound, bound) ⊙ h) (biases folded into gx; u [H] broadcast over rows).</summary>
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        string u = s.Parameter("weight_hh") ?? throw new InvalidOperationException("indrnn has a weight_hh");
        if (!float.IsPositiveInfinity(_bound)) u = s.Min(s.Max(u, s.Constant(-_bound)), s.Constant(_bound));
        string pre = s.Add(s.Gx, s.Mul(s.State(0), u));
        s.SetNext(_relu ? s.Relu(pre) : s.Tanh(pre));
        return true;
    }

    private sealed class Typed<TAct> : CellDefinition<IndRnnCell<TAct>> where TAct : struct, IRnnNonlinearity
    {
        public override string Name => "indrnn";
    }
}
