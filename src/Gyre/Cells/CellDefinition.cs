using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Cells;

/// <summary>
/// A cell as the layer, the files and the CLI see it: its registry name and options, its constants (read
/// from the <see cref="ICell"/> struct), its parameter layout and initialisation, and optional interop
/// mappings. The hot loop never calls through it: <see cref="CreateRunner"/> returns the sequence runner
/// specialised for the cell's struct.
/// </summary>
public abstract class CellDefinition
{
    /// <summary>The registry name (lower case), e.g. "gru".</summary>
    public abstract string Name { get; }

    /// <summary>The options this cell was built with (empty for cells without any).</summary>
    public CellOptions Options { get; init; } = CellOptions.Empty;

    /// <summary>G: gate blocks stacked in weight_ih.</summary>
    public abstract int Gates { get; }
    /// <summary>NS: states carried between steps; state 0 is h.</summary>
    public abstract int States { get; }
    /// <summary>S: floats per (row, unit) kept for backward.</summary>
    public abstract int SavedWidth { get; }
    /// <summary>Per-row step scratch in units of H.</summary>
    public abstract int ScratchWidth { get; }
    /// <summary>The shape of weight_hh.</summary>
    public abstract RecurrentWeights Recurrent { get; }
    /// <summary>Whether b_hh stays inside the step (see <see cref="ICell.HiddenBiasApart"/>).</summary>
    public abstract bool HiddenBiasApart { get; }

    /// <summary>State names in order ("h", "c", ...), used in messages and files.</summary>
    public virtual IReadOnlyList<string> StateNames => States switch
    {
        1 => ["h"],
        2 => ["h", "c"],
        _ => [.. Enumerable.Range(0, States).Select(j => j == 0 ? "h" : $"s{j}")],
    };

    /// <summary>
    /// W_j: the width of state <paramref name="state"/> for <paramref name="hidden"/> units (default H). State 0 is h:
    /// the layer's output per direction, the next layer's input per direction and the input of the recurrent
    /// product (weight_hh's K), so a cell that narrows h (LSTM's proj_size) also gives its
    /// <see cref="RecurrentWeightShape"/>. The runner keeps every state's rows max_j W_j floats apart
    /// (<see cref="CellStep.StateLd"/>); cells with fused paths get them only when every W_j = H.
    /// </summary>
    public virtual int StateWidth(int state, int hidden) => hidden;

    /// <summary>Extra per-unit parameters (name, rows): a tensor [rows, H] per layer direction, e.g. a learnable
    /// time constant τ. They follow the biases in the layout and reach the step as <see cref="CellWeights.Extra"/>.</summary>
    public virtual IReadOnlyList<(string Name, int Rows)> ExtraParameters => [];

    /// <summary>The shape of extra parameter <paramref name="index"/>: [H] for one row, else [rows, H]. A cell whose
    /// extra parameter is a matrix with one row (e.g. weight_hr [P, H] with P = 1) says so here.</summary>
    public virtual int[] ExtraParameterShape(int index, int hidden) =>
        ExtraParameters[index].Rows == 1 ? [hidden] : [ExtraParameters[index].Rows, hidden];

    /// <summary>weight_hh's shape for H units, or null when the cell has none.</summary>
    public virtual int[]? RecurrentWeightShape(int hidden) => Recurrent switch
    {
        RecurrentWeights.Dense => [Gates * hidden, hidden],
        RecurrentWeights.Diagonal => [Gates * hidden],
        RecurrentWeights.BlockDiagonal => throw new NotSupportedException($"cell '{Name}' must give its block-diagonal weight_hh shape"),
        _ => null,
    };

    /// <summary>Fills the whole parameter block (layer by layer, direction by direction, in layout order).
    /// Default: PyTorch's U(−1/√H, 1/√H) for every parameter, drawn in layout order.</summary>
    public virtual void Initialize(Span<float> values, Rng rng, int hidden)
    {
        float k = 1f / MathF.Sqrt(hidden);
        rng.Uniform(values, -k, k);
    }

    /// <summary>Fills the parameter block: by default <see cref="Initialize(Span{float}, Rng, int)"/> over all values; a cell
    /// whose parameters start differently (LSSL's HiPPO-LegS) finds them by name here.</summary>
    public virtual void Initialize(ParameterBlock block, Rng rng, int hidden) => Initialize(block.Values, rng, hidden);

    /// <summary>Numeric options the step reads (see <see cref="CellWeights.Params"/>).</summary>
    public virtual CellParams Params => default;

    /// <summary>The ONNX operator this cell maps to, or null when it has none.</summary>
    public virtual OnnxCellMapping? Onnx => null;

    /// <summary>
    /// Writes one step of this cell in ONNX primitive operators (the body of the <c>Scan</c> that exports a cell
    /// without a native operator; see <see cref="IOnnxStep"/>). Returns false when the cell cannot be
    /// expressed, and the exporter refuses it by name.
    /// </summary>
    public virtual bool EmitOnnxStep(IOnnxStep step) => false;

    /// <summary>The step's equations in one line (tables, <c>gyre bench cells</c>); the file header has them in full.</summary>
    public virtual string Equation => "";

    /// <summary>Shapes (B, T, I, H) of this cell's rows in the standard benchmark grid.</summary>
    public virtual IReadOnlyList<(int Batch, int Seq, int Input, int Hidden)> BenchmarkShapes => [];

    /// <summary>Whether the cell has a parallel-in-time form the runner can take with <see cref="Layers.ExecutionOptions.Scan"/>:
    /// a linear step (<see cref="Layers.SequencePath.Scan"/>), states with a diagonal or K×K-block Jacobian (<see cref="Layers.SequencePath.Newton"/>)
    /// or a read-out over a wide linear state (<see cref="Layers.SequencePath.StateScan"/>).</summary>
    public virtual bool HasParallelForm => false;

    /// <summary>The configuration of this cell that <c>gyre bench scan</c> times by default (this one unless a cell needs
    /// options for its grid rows to fit the memory guard).</summary>
    public virtual CellDefinition ScanBenchmarkCell => this;

    /// <summary>
    /// Floats the parallel-in-time forward keeps per (batch, step) row for <paramref name="hidden"/> units: the memory
    /// guard of <c>gyre bench scan</c>. Default: for a wide second state (the state scan) both states and a over it
    /// (3·W_1) plus gx and y ((G + 2)·H); otherwise states, Jacobian and work per state (4·NS·H) plus gx and y.
    /// Cells whose parallel path keeps other buffers count them in their own file.
    /// </summary>
    public virtual long ParallelForwardFloats(int hidden) =>
        States == 2 && StateWidth(1, hidden) > hidden
            ? 3L * StateWidth(1, hidden) + (Gates + 2L) * hidden
            : (long)hidden * (4L * States + Gates + 2);

    /// <summary>Whether <see cref="CreateSharedStateStep"/> gives a step: many rows that start from one shared state
    /// computed with one recurrent product per shared state (the pmf decoder's segments of a window).</summary>
    public virtual bool HasSharedStateStep => false;

    /// <summary>The shared-state step over a one-layer, one-direction <paramref name="layer"/> with biases of this cell;
    /// only called where <see cref="HasSharedStateStep"/> (use <see cref="SharedStateStep.For"/>).</summary>
    internal virtual SharedStateStep CreateSharedStateStep(RecurrentLayer layer) =>
        throw new NotSupportedException($"cell '{this}' has no shared-state step");

    /// <summary>Whether the step is linear in its one state, h' = a ⊙ h + b with a, b from the input projection alone
    /// (<see cref="ICell.IsLinear"/>: minGRU, minLSTM).</summary>
    public virtual bool HasLinearStep => false;

    /// <summary>Linear cells: a, b [R, H] of R rows from gx [R, G·H] (gx may be used as scratch), the coefficients
    /// whose a·h + b the step computes.</summary>
    internal virtual void LinearCoefficients(Span<float> a, Span<float> b, Span<float> gx, int rows, int hidden) =>
        throw new NotSupportedException($"cell '{Name}' is not linear in its state");

    /// <summary>"name" or "name(k=v,...)".</summary>
    public override string ToString() => Options.IsEmpty ? Name : $"{Name}({Options})";

    internal abstract ISequenceRunner CreateRunner();
}

/// <summary>A <see cref="CellDefinition"/> whose constants and runner come from the cell struct <typeparamref name="TCell"/>.</summary>
public abstract class CellDefinition<TCell> : CellDefinition where TCell : struct, ICell
{
    public sealed override int Gates => TCell.Gates;
    public sealed override int States => TCell.States;
    public sealed override int SavedWidth => CellOps.SavedWidthOf<TCell>(Params);
    public sealed override int ScratchWidth => TCell.ScratchWidth;
    public sealed override RecurrentWeights Recurrent => TCell.Recurrent;
    public sealed override bool HiddenBiasApart => TCell.HiddenBiasApart;
    public override bool HasParallelForm => SequenceRunner<TCell>.ParallelPath != null;
    public sealed override bool HasLinearStep => TCell.IsLinear;
    internal sealed override ISequenceRunner CreateRunner() => new SequenceRunner<TCell>();

    internal sealed override unsafe void LinearCoefficients(Span<float> a, Span<float> b, Span<float> gx, int rows, int hidden)
    {
        if (!TCell.IsLinear) throw new NotSupportedException($"cell '{Name}' is not linear in its state");
        int n = rows * hidden;
        if (a.Length < n || b.Length < n || gx.Length < n * TCell.Gates)
            throw new ArgumentException($"coefficients of {rows} rows need a, b [{rows}, {hidden}] and gx [{rows}, {TCell.Gates * hidden}]");
        var w = new CellWeights { Params = Params };
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pg = gx)
            TCell.LinearCoefficients(pa, pb, null, pg, rows, hidden, w);
    }
}

/// <summary>
/// A cell with FlashRNN-style heads: weight_hh [n, G·H/n, H/n] (<see cref="HeadsRecurrence"/>), option heads = n
/// (&gt; 1; heads = 1 is the dense cell), <see cref="CellParams.Heads"/> = n. No native ONNX operator: export is a Scan over the step (<see cref="OnnxStepOps.HeadsRecurrent"/>).
/// </summary>
public abstract class HeadsDefinition<TCell> : CellDefinition<TCell> where TCell : struct, ICell
{
    private readonly string _name;

    /// <summary>n: heads.</summary>
    public int HeadCount { get; }

    protected HeadsDefinition(string name, int heads, CellOptions? otherOptions = null)
    {
        if (heads < 2) throw new ArgumentOutOfRangeException(nameof(heads), $"cell '{name}': a heads cell has at least 2 heads, got {heads}");
        _name = name; HeadCount = heads;
        Options = CellOptions.From((otherOptions ?? CellOptions.Empty).Keys.Select(k => new KeyValuePair<string, string>(k, otherOptions![k]!))
            .Append(new("heads", heads.ToString(System.Globalization.CultureInfo.InvariantCulture))));
    }

    public sealed override string Name => _name;
    public override int[]? RecurrentWeightShape(int hidden) => HeadsRecurrence.WeightShape(Name, Gates, hidden, HeadCount);
    public override CellParams Params => new() { Heads = HeadCount };
}

/// <summary>The heads option shared by the cells that have one.</summary>
public static class HeadsDefinition
{
    /// <summary>Option heads (default 1); a one-line error naming the cell when it is below 1.</summary>
    public static int Heads(string cell, CellOptions o)
    {
        int heads = o.Int("heads", 1);
        if (heads < 1) throw new ArgumentException($"cell '{cell}': heads must be at least 1, got {heads}");
        return heads;
    }
}

/// <summary>
/// How a cell maps onto an ONNX recurrent operator (GRU / LSTM): the op type, the permutation of PyTorch's gate
/// blocks into ONNX's (<c>TorchToOnnx[onnxBlock] = torchBlock</c>), the integer attributes that identify the
/// cell (written on export, matched on import; ONNX's default for a missing one is 0), and the default
/// activations list (the only one supported).
/// </summary>
public sealed record OnnxCellMapping(string OpType, int[] TorchToOnnx, IReadOnlyDictionary<string, long> Attributes,
    string[] Activations, string[] KnownAttributes);
