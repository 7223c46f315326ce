using Gyre.Kernels;

namespace Gyre.Layers;

/// <summary>How a recurrent layer runs its time axis.</summary>
public enum ScanMode
{
    /// <summary>The plain time loop, one step after another (split over hidden units across the team).</summary>
    Sequential,
    /// <summary>All steps at once: Newton's method on F(H) = 0 for nonlinear cells, a parallel scan for linear ones.</summary>
    Parallel,
}

/// <summary>How a layer direction runs its time loop; chosen by <see cref="SequencePaths.Choose"/>.</summary>
public enum SequencePath
{
    /// <summary>Batch 1: the cell's fused step (W_hh·h and the gate math in one pass over unit blocks), units
    /// split over the team from <see cref="ExecutionOptions.ParallelFusedMinHidden"/>.</summary>
    FusedSingleRow,
    /// <summary>Batch above 1: the cell's fused multi-row step (gate math on the GEMM register tile).</summary>
    FusedRows,
    /// <summary>The batch rows divided between the workers of the team (one worker: the plain loop); each
    /// worker steps its rows through all T steps with no synchronisation.</summary>
    RowSplit,
    /// <summary>One worker owns all rows; each step's recurrent product is split over the team by units
    /// (output columns), for batches too small to divide.</summary>
    UnitSplit,
    /// <summary>All steps at once, for cells with a parallel form (<see cref="Cells.ICell.IsLinear"/>: minGRU, minLSTM):
    /// a, b of every step from gx, parallel over (t, row); then one <see cref="LinearRecurrence"/> solve, chunked in
    /// time (<see cref="ExecutionOptions.ScanChunkLength"/>); backward is the transposed solve and the cell's own
    /// step backward over all rows at once. Chosen by <see cref="ExecutionOptions.Scan"/> = <see cref="ScanMode.Parallel"/>.</summary>
    Scan,
    /// <summary>All steps at once for one-state cells whose step has a diagonal Jacobian ∂h_t/∂h_{t−1} (per-unit or
    /// no weight_hh: ParaGRU, IndRNN): Newton's method on F_t(H) = H_t − f(H_{t−1}, x_t) = 0 (ParaRNN, Danieli et al.
    /// 2025). Guess f(0, x_t); each iteration evaluates f and J over all rows at once (J from the cell's own backward
    /// with ∂L/∂next = 1) and solves δ_t = J_t ⊙ δ_{t−1} − F_t with <see cref="LinearRecurrence"/>, until
    /// max |F| ≤ <see cref="ExecutionOptions.NewtonTolerance"/> or <see cref="ExecutionOptions.NewtonMaxIterations"/>
    /// solves (T solves reach the loop's states exactly). Backward as <see cref="Scan"/>, with J for a.</summary>
    Newton,
    /// <summary>All steps at once for cells that read out a wide linear state (<see cref="Cells.ICell.HasLinearState"/>:
    /// GLA, LSSL): a, b of every step from gx, one <see cref="LinearRecurrence"/> solve of s_t = a_t ⊙ s_{t−1} + b_t over
    /// B·W_1 channels, then the cell's own step over all (t, row) at once for the read-out h_t. Backward: a_t from the
    /// saved rows, one transposed solve for ∂L/∂s_t, then the cell's own step backward over all rows at once.</summary>
    StateScan,
}

/// <summary>
/// Execution settings of a recurrent layer (never the results: every path gives the same bits).
/// </summary>
public sealed record ExecutionOptions
{
    /// <summary>The defaults.</summary>
    public static readonly ExecutionOptions Default = new();

    private static readonly AsyncLocal<ExecutionOptions?> Scoped = new();

    /// <summary>The options a <see cref="RecurrentLayer"/> starts with: those of the innermost <see cref="Use"/> scope on
    /// this logical flow (the CLI's <c>--scan</c>), else <see cref="Default"/>. A scope on one flow never reaches
    /// another (concurrent jobs or tests keep their own).</summary>
    public static ExecutionOptions Current => Scoped.Value ?? Default;

    /// <summary>Makes <paramref name="options"/> the starting options of every layer built until the returned scope
    /// is disposed (on this logical flow only); a layer's own <see cref="RecurrentLayer.Execution"/> still wins.</summary>
    public static IDisposable Use(ExecutionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var previous = Scoped.Value;
        Scoped.Value = options;
        return new Restore(previous);
    }

    private sealed class Restore(ExecutionOptions? previous) : IDisposable
    {
        public void Dispose() => Scoped.Value = previous;
    }

    /// <summary>"sequential" | "parallel" | "auto" (null) → <see cref="ScanMode"/>; a one-line error otherwise.</summary>
    public static ScanMode? ParseScan(string text) => text.Trim().ToLowerInvariant() switch
    {
        "sequential" => ScanMode.Sequential,
        "parallel" => ScanMode.Parallel,
        "auto" => null,
        _ => throw new ArgumentException($"scan must be sequential, parallel or auto, got '{text}'"),
    };

    /// <summary>Workers; null: <see cref="Gemm.Team"/>, else <see cref="WorkerTeam.Shared"/>.</summary>
    public WorkerTeam? Team { get; init; }

    /// <summary>Whether the cells' fused paths may run (off: the row / unit split with the pointwise kernels).</summary>
    public bool AllowFused { get; init; } = true;

    /// <summary>Forces a path (tests, benchmarks); one the shapes or the cell do not allow is an error.</summary>
    public SequencePath? Path { get; init; }

    /// <summary>
    /// Batch rows each worker must get before a sequence is split by rows (two 6-row GEMM tiles): below that
    /// a step's product is split over the team instead (N panels at small batch).
    /// </summary>
    public int RowSplitMinRows { get; init; } = 12;

    /// <summary>
    /// Whether a fused multi-row sequence split by rows hands its rows out as blocks that workers claim a few steps at
    /// a time (the least advanced first), so that a core the host runs slower takes fewer steps instead of the other
    /// waiting for its fixed half; used where the step's packed weights fit in half the L2 (<c>FusedRowsJob.Plan</c>).
    /// Speed only: the bits are those of the fixed split (tested).
    /// </summary>
    public bool FusedRowBlocks { get; init; } = true;

    /// <summary>
    /// Hidden sizes from which the fused paths split units over a team (batch 1, and batches too small to split by
    /// rows). The split has no per-step barrier (<see cref="FusedSequenceJob{TCell}"/>): a worker left alone goes
    /// on at one-thread speed, so a descheduled partner no longer stalls every step (the barrier it replaced took
    /// 1.3 to 9 ms per 1000 GRU steps at H = 128 from run to run). GRU, batch 1, T = 1000, H = 128 on a quiet
    /// 2-vCPU Zen 5: 0.97–1.0 ms split against 1.36–1.42 ms on one thread; at H = 64 there is one unit block, nothing
    /// to split (2026-12-01). On another Zen 5 host the split lost to one thread at the same shape (2026-12-02), so
    /// by default the layer times both and keeps the faster (<see cref="TimeFusedSplit"/>).
    /// </summary>
    public int ParallelFusedMinHidden { get; init; } = 128;

    /// <summary>
    /// Whether a layer times the fused unit split against one thread on its own calls (in trials of ≥ 64 steps, per class
    /// of call length) and keeps the faster
    /// (<see cref="SplitChooser"/>; default true); false: always split when <see cref="ParallelFusedMinHidden"/> allows.
    /// The split pays half a step's work against an exchange of the state between cores every step, and that
    /// exchange costs ten times more on some hosts than on others (a cache-line round trip of 1.5 µs against 0.2 µs
    /// between the two vCPUs of two Zen 5 machines), so no shape threshold is right everywhere. Either arm gives
    /// the same bits: only the time changes.
    /// </summary>
    public bool TimeFusedSplit { get; init; } = true;

    /// <summary>
    /// How long a worker of the fused unit split waits for a share of the previous step that another worker
    /// owns before it computes that share itself, as a multiple of the time a recent share took it (1: as long
    /// as doing it; 0: never wait). A share computed twice gives the same bits, so
    /// this changes only the time: waiting longer than doing the work never pays, while covering too eagerly
    /// duplicates work the owner is about to finish.
    /// </summary>
    public double FusedSplitPatience { get; init; } = 1.0;

    /// <summary>
    /// Input sizes up to which the fused multi-row path projects x inside the time loop, one [rows, G·H]
    /// block per step into a buffer that stays in cache, instead of one [T·B, G·H] GEMM before it. At small
    /// I that GEMM is bound by writing gx to memory and reading it back (LSTM B = 64, I = 32, H = 128: 1.9 ms
    /// for 0.2 GFLOP, 13 MB of gx; 8.0 → 7.3 ms for the layer); at I = 256 it is compute-bound and the big
    /// GEMM is faster (measured 2026-11-30).
    /// </summary>
    public int ProjectInStepMaxInput { get; init; } = 128;

    /// <summary>
    /// How the time axis runs for a cell with a parallel form: <see cref="ScanMode.Sequential"/> (the time loop),
    /// <see cref="ScanMode.Parallel"/> (the cell's <see cref="SequencePath.Scan"/>, <see cref="SequencePath.Newton"/> or
    /// <see cref="SequencePath.StateScan"/>; an error for a cell without one), or null
    /// (auto): the time loop. On the CPUs measured (two cores, bench/README.md and README "Parallel in time") the
    /// parallel solve never beat the loop: the loop already runs on both cores and the scan does more work, so auto
    /// chooses it only when asked. Never changes a result beyond rounding (≤ 1e-5 at T = 4096, tested).
    /// </summary>
    public ScanMode? Scan { get; init; }

    /// <summary>
    /// Chunk length L of the parallel scan's <see cref="LinearRecurrence"/> solve; 0 (default) picks it from the
    /// channels M = B·H alone (so the bits never depend on the team): the plain loop split over 512-channel blocks
    /// from M = 1024 (no extra work, two blocks to share), else chunks of 256 steps so that workers share the time axis.
    /// </summary>
    public int ScanChunkLength { get; init; }

    /// <summary>
    /// Steps per chunk of the backward time loop, after each of which that chunk's weight gradients (dW_hh, dW_ih, the
    /// biases) and dX run while its ∂L/∂g is still in cache; 0 (default) picks it from the shape alone
    /// (<c>SequenceRunner.BackwardChunkSteps</c>), so the order of those sums, and their bits, never depend on the team.
    /// </summary>
    public int BackwardChunkSteps { get; init; }

    /// <summary>
    /// Batch rows per row group of the backward loop, for cells whose weight gradients allow it (GRU, LSTM): each group
    /// runs its loop and its own weight gradients on one worker (SequenceRunner.RowGroups.cs), as many groups as the
    /// machine has processors (at most 8), none below two groups' rows; 0: no groups. The groups come from the batch,
    /// this and the machine, never the team, so the bits are the same for any thread count (another value, or a machine
    /// with another processor count, sums the gradients in another order).
    /// </summary>
    public int BackwardGroupRows { get; init; } = 32;

    /// <summary>Most row groups (<see cref="BackwardGroupRows"/>); 0: the machine's processors, at most 8. Tests set it to
    /// run several groups on any machine.</summary>
    internal int BackwardMaxGroups { get; init; }

    /// <summary>Newton stops once max_t |F_t| ≤ this (float32: 1e-6 is a few ulp of states of order 1).</summary>
    public float NewtonTolerance { get; init; } = 1e-6f;

    /// <summary>Newton's cap on linear solves.</summary>
    public int NewtonMaxIterations { get; init; } = 100;

    // From M alone, never from the team size, so the bits do not depend on the thread count.
    internal int ResolveScanChunk(int channels) => ScanChunkLength > 0 ? ScanChunkLength : channels >= 1024 ? 0 : 256;

    internal WorkerTeam ResolveTeam() => Team ?? Gemm.Team ?? WorkerTeam.Shared;
}

/// <summary>The choice of <see cref="SequencePath"/>, in one place.</summary>
public static class SequencePaths
{
    /// <summary>
    /// The path of one layer direction, from the shapes, the cell's fast paths and the options:
    /// <list type="number">
    /// <item>the cell's parallel path (<see cref="SequencePath.Scan"/>, <see cref="SequencePath.Newton"/> or <see cref="SequencePath.StateScan"/>, an error when
    /// it has none) when <see cref="ExecutionOptions.Scan"/> is <see cref="ScanMode.Parallel"/> or the path is forced to it;
    /// else a forced <see cref="ExecutionOptions.Path"/> (an error when not possible);</item>
    /// <item>forward, no padded rows, fused allowed and the fused kernels accelerated (<see cref="RecurrentStepKernels.IsSupported"/>): batch 1 with a fused step →
    /// <see cref="SequencePath.FusedSingleRow"/>; batch above 1 with a fused multi-row step and H a multiple
    /// of 16 → <see cref="SequencePath.FusedRows"/> (fused paths do not mask padded steps);</item>
    /// <item>a team of W &gt; 1 and at least <see cref="ExecutionOptions.RowSplitMinRows"/>·W rows →
    /// <see cref="SequencePath.RowSplit"/> over W workers;</item>
    /// <item>a team of W &gt; 1 → <see cref="SequencePath.UnitSplit"/>; one worker → <see cref="SequencePath.RowSplit"/>
    /// with one worker (the plain loop).</item>
    /// </list>
    /// Backward has no fused paths: it takes rule 3 or 4 (after a fused forward too).
    /// </summary>
    public static SequencePath Choose(bool backward, bool hasFusedStep, bool hasFusedRows, int batch, int hidden,
        bool padded, ExecutionOptions options, int teamSize, SequencePath? parallelPath = null)
    {
        // Rule 0: the parallel form when asked for (forward and backward alike, padded rows included).
        if (options.Path is SequencePath.Scan or SequencePath.Newton or SequencePath.StateScan || options.Scan == ScanMode.Parallel)
        {
            if (parallelPath is not { } parallel) throw new ArgumentException("scan parallel is not possible here: the cell has no parallel-in-time form");
            if (options.Path is SequencePath.Scan or SequencePath.Newton or SequencePath.StateScan && options.Path != parallel)
                throw new ArgumentException($"execution path {options.Path} is not this cell's parallel form ({parallel})");
            if (options.Path is null or SequencePath.Scan or SequencePath.Newton or SequencePath.StateScan) return parallel;
        }
        bool fusedStep = !backward && !padded && hasFusedStep && batch == 1 && RecurrentStepKernels.IsSupported;
        bool fusedRows = !backward && !padded && hasFusedRows && batch > 1 && hidden % RecurrentStepKernels.Lanes == 0
            && RecurrentStepKernels.IsSupported;
        if (options.Path is { } forced)
        {
            bool ok = forced switch
            {
                SequencePath.FusedSingleRow => fusedStep || backward,
                SequencePath.FusedRows => fusedRows || backward,
                _ => true,
            };
            if (!ok) throw new ArgumentException($"execution path {forced} is not possible here (batch {batch}, hidden {hidden}, padded {padded}, cell fast paths {hasFusedStep}/{hasFusedRows}, fused kernels accelerated {RecurrentStepKernels.IsSupported})");
            if (!backward || forced is SequencePath.RowSplit or SequencePath.UnitSplit) return forced;
        }
        else if (options.AllowFused && (fusedStep || fusedRows)) return fusedStep ? SequencePath.FusedSingleRow : SequencePath.FusedRows;
        if (teamSize > 1 && batch >= options.RowSplitMinRows * teamSize) return SequencePath.RowSplit;
        return teamSize > 1 ? SequencePath.UnitSplit : SequencePath.RowSplit;
    }
}
