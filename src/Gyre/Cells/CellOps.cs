using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// Building blocks cells use inside their step: the dense recurrent products against the packed W_hh and
/// the default dense weight gradient. A product runs on <see cref="StepTeam"/> (split by output columns,
/// never by K, so the bits do not depend on it) when the runner splits units, else on the calling thread.
/// </summary>
public static unsafe class CellOps
{
    /// <summary>S of <typeparamref name="TCell"/> with options <paramref name="p"/> (<see cref="ICell.SavedWidthFor"/> or the constant).</summary>
    public static int SavedWidthOf<TCell>(in CellParams p) where TCell : struct, ICell =>
        TCell.SavedWidthFromParams ? TCell.SavedWidthFor(p) : TCell.SavedWidth;

    /// <summary>Set by the runner on its own thread while it runs a sequence with units split over a team;
    /// null (serial) on every worker of a row split.</summary>
    [ThreadStatic] internal static WorkerTeam? StepTeam;

    /// <summary>c [R, n] (ldc) = (accumulate ? c : 0) + a [R, H] (lda) · W_hhᵀ with W_hhᵀ packed (K = H, N = n).</summary>
    public static void HiddenProduct(int rows, float* a, nint lda, in CellWeights w, int n, int hidden, float* c, nint ldc, bool accumulate) =>
        Gemm.MultiplyPacked(rows, a, lda, w.WhhT, n, hidden, c, ldc, accumulate, StepTeam);

    /// <summary>
    /// c [R, n] (ldc) = (accumulate ? c : 0) + a [R, K] (lda) · (rows [col0, col0 + n) of W_hh)ᵀ through the packed W_hhᵀ:
    /// one stage of a two-stage step (MGU's U_f h, then U_h (f ⊙ h)) without packing the block at every step.
    /// The packed panels are <see cref="Gemm.NR"/> columns wide, so col0 must start a panel
    /// (<see cref="StartsPackedPanel"/>); the first block (col0 = 0) always does.
    /// </summary>
    public static void HiddenProductColumns(int rows, float* a, nint lda, in CellWeights w, int col0, int n, int k, float* c, nint ldc, bool accumulate)
    {
        if (!StartsPackedPanel(col0)) throw new ArgumentException($"column {col0} does not start a packed panel of {Gemm.NR}");
        Gemm.MultiplyPacked(rows, a, lda, w.WhhT + (nint)col0 * k, n, k, c, ldc, accumulate, StepTeam);
    }

    /// <summary>Whether <see cref="HiddenProductColumns"/> can start at column <paramref name="col0"/>.</summary>
    public static bool StartsPackedPanel(int col0) => col0 % Gemm.NR == 0;

    /// <summary>dhPrev [R, H] = (accumulate ? dhPrev : 0) + dG [R, n] · W_hh with W_hh packed (K = n = G·H, N = H).</summary>
    public static void HiddenProductBackward(int rows, float* dG, nint ldg, in CellWeights w, int n, int hidden, float* dhPrev, bool accumulate) =>
        Gemm.MultiplyPacked(rows, dG, ldg, w.WhhPacked, hidden, n, dhPrev, hidden, accumulate, StepTeam);

    /// <summary>dhPrev [R, W] (rows ldh apart) = (accumulate ? dhPrev : 0) + dG [R, n] · W_hh with W_hh [n, W] packed
    /// (K = n, N = W: the width of h, e.g. LSTM's projection P).</summary>
    public static void HiddenProductBackward(int rows, float* dG, nint ldg, in CellWeights w, int n, int width, float* dhPrev, nint ldh, bool accumulate) =>
        Gemm.MultiplyPacked(rows, dG, ldg, w.WhhPacked, width, n, dhPrev, ldh, accumulate, StepTeam);

    /// <summary>C [M, N] (+)= op(A)·op(B) on <see cref="StepTeam"/> (unpacked operands, e.g. a block of W_hh).</summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float* a, int lda, long aLength,
        float* b, int ldb, long bLength, float* c, int ldc, long cLength, bool accumulate) =>
        Gemm.Multiply(transA, transB, m, n, k, new ReadOnlySpan<float>(a, checked((int)aLength)), lda,
            new ReadOnlySpan<float>(b, checked((int)bLength)), ldb, new Span<float>(c, checked((int)cLength)), ldc, accumulate,
            StepTeam ?? Serial);

    /// <summary>A one-worker team: multiplies on the calling thread.</summary>
    internal static readonly WorkerTeam Serial = new(1);

    /// <summary>Floats (rows × width) of a step's pointwise pass from which it is split over <see cref="StepTeam"/>:
    /// below, one dispatch (about a microsecond) costs more than half the pass saves.</summary>
    internal const long PointwiseSplitMin = 4096;

    /// <summary>
    /// Runs a step's pointwise pass over rows [0, R): split by rows over <see cref="StepTeam"/> when the runner splits
    /// units (the product already runs there, and a pass left on one thread is the serial part of every step), else
    /// on the calling thread. Each row is computed by one worker with the same operations: same bits either way.
    /// </summary>
    internal static void SplitRows<TPass>(in TPass pass, int rows, int width) where TPass : unmanaged, IRowsPass
    {
        var team = StepTeam;
        if (team is null || team.Size == 1 || rows < 2 || (long)rows * width < PointwiseSplitMin) { pass.Run(0, rows); return; }
        var job = new RowsJob<TPass> { Pass = pass, Rows = rows };
        team.Run(ref job);
    }

    private struct RowsJob<TPass> : IWorkerJob where TPass : unmanaged, IRowsPass
    {
        public TPass Pass;
        public int Rows;

        public readonly void Execute(int worker, int workers)
        {
            int r0 = (int)((long)Rows * worker / workers), r1 = (int)((long)Rows * (worker + 1) / workers);
            if (r0 < r1) Pass.Run(r0, r1);
        }
    }

    /// <summary>Dense dW_hh [G·H, W_0] += dGhᵀ [G·H, N] · H_prev [N, W_0] (W_0 = H unless the cell narrows h).</summary>
    public static void DenseRecurrentGradients(in CellWeightGradients g)
    {
        int gh = g.Gates * g.Hidden, w0 = g.HWidth, ld = checked((int)g.HPrevLd);
        Gemm.Multiply(true, false, gh, w0, g.Rows, new ReadOnlySpan<float>(g.DGh, checked(g.Rows * gh)), gh,
            new ReadOnlySpan<float>(g.HPrev, checked((g.Rows - 1) * ld + w0)), ld,
            new Span<float>(g.DWhh, checked(gh * w0)), w0, true);
    }
}

/// <summary>
/// The recurrent product of a cell as a type, so one cell struct serves dense and block-diagonal weight_hh
/// (<see cref="DenseRecurrence"/>, <see cref="HeadsRecurrence"/>) with no branch in the step.
/// </summary>
/// <summary>A pointwise pass over rows [r0, r1) of one step (see <see cref="CellOps.SplitRows{TPass}"/>).</summary>
internal interface IRowsPass
{
    void Run(int r0, int r1);
}

public unsafe interface IRecurrence
{
    /// <summary>The weight_hh shape this product reads.</summary>
    static abstract RecurrentWeights Shape { get; }

    /// <summary>c [R, G·H] (ldc) = (accumulate ? c : 0) + a [R, H] (lda) · W_hhᵀ.</summary>
    static abstract void Product(int rows, float* a, nint lda, in CellWeights w, int gates, int hidden, float* c, nint ldc, bool accumulate);

    /// <summary>dhPrev [R, H] = (accumulate ? dhPrev : 0) + dG [R, G·H] (ldg) · W_hh.</summary>
    static abstract void ProductBackward(int rows, float* dG, nint ldg, in CellWeights w, int gates, int hidden, float* dhPrev, bool accumulate);

    /// <summary>dW_hh += the product's weight gradient over all steps (see <see cref="CellWeightGradients"/>).</summary>
    static abstract void Gradients(in CellWeightGradients g);
}

/// <summary>Dense weight_hh [G·H, H] through the runner's packed forms (<see cref="CellOps.HiddenProduct"/>).</summary>
public readonly unsafe struct DenseRecurrence : IRecurrence
{
    public static RecurrentWeights Shape => RecurrentWeights.Dense;

    public static void Product(int rows, float* a, nint lda, in CellWeights w, int gates, int hidden, float* c, nint ldc, bool accumulate) =>
        CellOps.HiddenProduct(rows, a, lda, w, gates * hidden, hidden, c, ldc, accumulate);

    public static void ProductBackward(int rows, float* dG, nint ldg, in CellWeights w, int gates, int hidden, float* dhPrev, bool accumulate) =>
        CellOps.HiddenProductBackward(rows, dG, ldg, w, gates * hidden, hidden, dhPrev, accumulate);

    public static void Gradients(in CellWeightGradients g) => CellOps.DenseRecurrentGradients(g);
}

/// <summary>
/// Block-diagonal weight_hh [n, G·d, d] with d = H/n (n = <see cref="CellParams.Heads"/>), as FlashRNN's heads:
/// head k's units k·d … k·d + d − 1 see only that head's units, gate g of unit k·d + j reads row g·d + j of
/// block k. Gate pre-activations keep the dense layout [R, G·H] (gate-major), so the pointwise kernels are
/// the dense cell's. One product per (head, gate); n = 1 is a dense [G·H, H] matrix stored as [1, G·H, H].
/// </summary>
public readonly unsafe struct HeadsRecurrence : IRecurrence
{
    public static RecurrentWeights Shape => RecurrentWeights.BlockDiagonal;

    /// <summary>weight_hh [n, G·H/n, H/n]; a one-line error when H is not a multiple of n.</summary>
    public static int[] WeightShape(string cell, int gates, int hidden, int heads)
    {
        if (heads < 1) throw new ArgumentException($"cell '{cell}': heads must be at least 1, got {heads}");
        if (hidden % heads != 0) throw new ArgumentException($"cell '{cell}': hidden size {hidden} is not a multiple of heads={heads}");
        int d = hidden / heads;
        return [heads, gates * d, d];
    }

    // Span lengths that cover an [R, cols] slice with leading dimension ld.
    private static long Extent(int rows, nint ld, int cols) => (long)(rows - 1) * ld + cols;

    public static void Product(int rows, float* a, nint lda, in CellWeights w, int gates, int hidden, float* c, nint ldc, bool accumulate)
    {
        int n = w.Params.Heads, d = hidden / n, gh = gates * hidden;
        for (int k = 0; k < n; k++)
            for (int g = 0; g < gates; g++)
                CellOps.Multiply(false, true, rows, d, d, a + k * d, (int)lda, Extent(rows, lda, d),
                    w.Whh + (nint)(k * gates + g) * d * d, d, (long)d * d, c + g * hidden + k * d, (int)ldc, Extent(rows, ldc, d), accumulate);
    }

    public static void ProductBackward(int rows, float* dG, nint ldg, in CellWeights w, int gates, int hidden, float* dhPrev, bool accumulate)
    {
        int n = w.Params.Heads, d = hidden / n;
        for (int k = 0; k < n; k++)
            for (int g = 0; g < gates; g++)
                CellOps.Multiply(false, false, rows, d, d, dG + g * hidden + k * d, (int)ldg, Extent(rows, ldg, d),
                    w.Whh + (nint)(k * gates + g) * d * d, d, (long)d * d, dhPrev + k * d, hidden, Extent(rows, hidden, d), accumulate || g > 0);
    }

    /// <summary>dW[k, g·d + j, i] += Σ_rows dG[·, g·H + k·d + j] · hPrev[·, k·d + i].</summary>
    public static void Gradients(in CellWeightGradients g)
    {
        int n = g.W.Params.Heads, h = g.Hidden, d = h / n, gates = g.Gates, gh = gates * h;
        for (int k = 0; k < n; k++)
            for (int q = 0; q < gates; q++)
                Gemm.Multiply(true, false, d, d, g.Rows,
                    new ReadOnlySpan<float>(g.DGh + q * h + k * d, checked((int)Extent(g.Rows, gh, d))), gh,
                    new ReadOnlySpan<float>(g.HPrev + k * d, checked((int)Extent(g.Rows, h, d))), h,
                    new Span<float>(g.DWhh + (nint)(k * gates + q) * d * d, d * d), d, true);
    }
}
