namespace Gyre.Cells;

/// <summary>
/// Elman RNN, as PyTorch's nn.RNN: h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or ReLU (option
/// nonlinearity; registered as rnn_tanh and rnn_relu, "rnn" alone is tanh).
/// Parameters: weight_ih [H, I], weight_hh [H, H], bias_ih [H], bias_hh [H], U(−1/√H, 1/√H). State: h.
/// Nothing is saved: the output h' itself is all backward needs (tanh' = 1 − h'², ReLU' = [h' &gt; 0]).
/// </summary>
public static class RnnCellMath
{
    /// <summary>h = act(pre) in place over one step's [R, H] block (<see cref="Kernels.RnnGates"/>).</summary>
    public static void Forward(Span<float> h, ReadOnlySpan<float> pre, bool relu) => Kernels.RnnGates.Forward(h, pre, relu);

    /// <summary>dPre = dh ⊙ act'(h) from the step's output h (<see cref="Kernels.RnnGates"/>).</summary>
    public static void Backward(Span<float> dPre, ReadOnlySpan<float> dh, ReadOnlySpan<float> h, bool relu) =>
        Kernels.RnnGates.Backward(dPre, dh, h, relu);

    internal static unsafe void Forward(in CellStep s, bool relu)
    {
        int r = s.Rows, h = s.Hidden, n = r * h;
        CellOps.HiddenProduct(r, s.Prev, h, s.W, h, h, s.Gx, h, true);
        Forward(new Span<float>(s.Next, n), new ReadOnlySpan<float>(s.Gx, n), relu);
    }

    internal static unsafe void Backward(in CellBackwardStep s, bool relu)
    {
        int r = s.Rows, h = s.Hidden, n = r * h;
        Backward(new Span<float>(s.DGx, n), new ReadOnlySpan<float>(s.DNext, n), new ReadOnlySpan<float>(s.Next, n), relu);
        CellOps.HiddenProductBackward(r, s.DGx, h, s.W, h, h, s.DPrev, false);
    }
}

/// <summary>The RNN's nonlinearity as a type, so each is its own specialised cell.</summary>
public interface IRnnNonlinearity
{
    /// <summary>True for ReLU, false for tanh.</summary>
    static abstract bool Relu { get; }
}

/// <summary>tanh.</summary>
public readonly struct TanhNonlinearity : IRnnNonlinearity { public static bool Relu => false; }

/// <summary>ReLU.</summary>
public readonly struct ReluNonlinearity : IRnnNonlinearity { public static bool Relu => true; }

/// <summary>Elman RNN with nonlinearity <typeparamref name="TAct"/> (<see cref="RnnCellMath"/>).</summary>
public readonly struct RnnCell<TAct> : ICell where TAct : struct, IRnnNonlinearity
{
    public static int Gates => 1;
    public static int States => 1;
    public static int SavedWidth => 0;
    public static int ScratchWidth => 0;
    public static RecurrentWeights Recurrent => RecurrentWeights.Dense;
    public static bool HiddenBiasApart => false;
    public static void Forward(in CellStep s) => RnnCellMath.Forward(s, TAct.Relu);
    public static void Backward(in CellBackwardStep s) => RnnCellMath.Backward(s, TAct.Relu);
}

/// <summary>The registry entry of RnnCell&lt;TanhNonlinearity&gt; ("rnn_tanh"; "rnn" with nonlinearity=tanh).</summary>
public sealed class RnnTanhDefinition : CellDefinition<RnnCell<TanhNonlinearity>>
{
    public override string Name => "rnn_tanh";
    public override string Equation => "h' = tanh(W x + U h + b)";

    /// <summary>h' = tanh(gx + h·W_hhᵀ) (biases folded into gx).</summary>
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        s.SetNext(s.Tanh(s.Add(s.Gx, s.DenseRecurrent(s.State(0), withBias: false))));
        return true;
    }
}

/// <summary>The registry entry of RnnCell&lt;ReluNonlinearity&gt; ("rnn_relu"; "rnn" with nonlinearity=relu).</summary>
public sealed class RnnReluDefinition : CellDefinition<RnnCell<ReluNonlinearity>>
{
    public override string Name => "rnn_relu";
    public override string Equation => "h' = ReLU(W x + U h + b)";

    /// <summary>h' = ReLU(gx + h·W_hhᵀ) (biases folded into gx).</summary>
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        s.SetNext(s.Relu(s.Add(s.Gx, s.DenseRecurrent(s.State(0), withBias: false))));
        return true;
    }

    /// <summary>"rnn" with option nonlinearity = tanh (default) or relu.</summary>
    internal static CellDefinition FromOptions(CellOptions o)
    {
        o.OnlyKnown("rnn", "nonlinearity");
        return (o["nonlinearity"] ?? "tanh") switch
        {
            "tanh" => new RnnTanhDefinition(),
            "relu" => new RnnReluDefinition(),
            var s => throw new ArgumentException($"cell 'rnn': nonlinearity must be tanh or relu, got '{s}'"),
        };
    }
}
