using System.Diagnostics;
using System.Runtime.CompilerServices;
using Gyre.Cells;
using Gyre.Kernels;

namespace Gyre.Layers;

/// <summary>
/// A whole sequence of fused steps split by hidden units over a team, with no barrier between steps: batch 1
/// with the cell's fused step, or a few rows (too few to split by rows) with its fused multi-row step. The hidden
/// units are cut into one share per worker (<see cref="Cut"/>); share j of step t writes units [u0_j, u1_j) of
/// every row of state slot t + 1 and needs all of slot t. Each share has a progress count
/// <c>done[j]</c> (steps of share j written, raised only, by whoever wrote them), so a worker waits only for the
/// shares it reads, never for a worker. A worker computes its own share at the frontier f = min_j done[j]; when
/// it is ahead and another share of step f is missing, it waits at most as long as a share takes it and then
/// computes that share itself (ski rental: waiting longer than doing it never pays).
/// </summary>
/// <remarks>
/// Why this is safe: every share of every step is the same chain of operations whoever computes it (the fused
/// step reads gx, the weights and slot t, and writes only slot t + 1 and that step's saved rows), so a share
/// computed twice, even at the same time, writes the same bits twice; a slot is read only after every share of
/// it was written once; done[j] rises by compare-and-swap, so a late duplicate never lowers it.
/// <para>
/// Why: on a machine shared with other processes the partner core is sometimes descheduled for a whole time
/// slice. A per-step barrier then stalled every step that met it (1000 GRU steps at H = 128 took 1.3 to 9 ms
/// from run to run); here the worker that is left goes on alone at one-thread speed, and the late worker joins
/// at the frontier when it runs again (it skips the steps already done). Only the end of the call still waits
/// for every worker to leave (the team's join), once per sequence instead of once per step.
/// </para>
/// <para>
/// Whether the owner of a missing share is running: the owner announces each of its shares when it starts it
/// (started[j]) and records it when done (own[j], the last count it published itself). It counts as present when
/// it has started this step's share or finished the previous one itself, and then waiting is worthwhile; otherwise
/// (another worker covered its last share and it has not started this one: descheduled) the share is covered at
/// once, so a worker left alone pays no patience per step.
/// </para>
/// Pointers are into pinned buffers. Progress is 32 ints per worker (done at 32·j; own at 32·j + 16 and started at
/// 32·j + 17, written by the owner only, on another cache line); shares without units start done (done = T).
/// </remarks>
internal unsafe struct FusedSequenceJob<TCell> : IWorkerJob where TCell : struct, ICell
{
    /// <summary>Ints of progress per worker.</summary>
    public const int ProgressStride = 32;

    public bool Reverse;
    public int Batch, Hidden, Steps; // Batch 1: the fused step; above 1: the fused multi-row step
    public float* W, BiasHh;         // packed W_hh unit blocks (wide at batch 1, narrow above); b_hh [G, Hp] or null
    public float* Gx;                // [T, B, G·H] input projections
    public float* States;            // [NS, T+1, B, H]
    public float* Saved;             // [T, B, S·H] or null (inference)
    public CellParams Params;        // the cell's options, for the multi-row step
    public int* Progress;            // [workers, 32]: done at 0, own at 16, started at 17
    /// <summary>How long a worker waits for a missing share, as a multiple of the time a recent share took it
    /// (1: wait as long as doing it; 0: cover at once).</summary>
    public double Patience;

    /// <summary>First unit of share j of <paramref name="workers"/> (j = workers: the end): at batch 1 whole unit blocks of
    /// <see cref="RecurrentStepKernels.Share"/>, end Hp; above, whole 16-unit blocks of the multi-row step (H a multiple of 16).</summary>
    public static int Cut(int batch, int hidden, int j, int workers)
    {
        if (batch == 1) return j >= workers ? RecurrentStepKernels.PaddedUnits(hidden) : RecurrentStepKernels.Share(hidden, j, workers).Start;
        int blocks = hidden / RecurrentStepKernels.Lanes;
        return (int)((long)blocks * Math.Min(j, workers) / workers) * RecurrentStepKernels.Lanes;
    }

    /// <summary>Sets every share's progress before a call: shares without units are done from the start.</summary>
    public static void ResetProgress(int* progress, int batch, int hidden, int steps, int workers)
    {
        for (int j = 0; j < workers; j++)
        {
            int u0 = Cut(batch, hidden, j, workers), u1 = Cut(batch, hidden, j + 1, workers);
            progress[j * ProgressStride] = u0 < u1 ? 0 : steps;
            progress[j * ProgressStride + 16] = progress[j * ProgressStride + 17] = 0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void Execute(int worker, int workers)
    {
        if (workers == 1)
        {
            for (int s = 0; s < Steps; s++) Step(s, 0, Hidden);
            return;
        }
        // The shares' unit ranges, once (Share walks the blocks).
        int* cuts = stackalloc int[workers + 1];
        for (int j = 0; j <= workers; j++) cuts[j] = Cut(Batch, Hidden, j, workers);
        int* done = Progress + worker * ProgressStride;
        long last = 0;
        while (true)
        {
            // The frontier and the first share missing there.
            int frontier = int.MaxValue, missing = -1;
            for (int j = 0; j < workers; j++)
            {
                int d = Volatile.Read(ref Progress[j * ProgressStride]);
                if (d < frontier) { frontier = d; missing = j; }
            }
            if (frontier >= Steps) return;
            int share = Volatile.Read(ref *done) == frontier ? worker : missing;
            if (share != worker && Arrived(share, frontier, last)) continue;
            if (share == worker) Volatile.Write(ref Progress[worker * ProgressStride + 17], frontier + 1);
            // The time a share takes, sampled every 16th step: two clock reads are tens of ns against a 0.5 µs share.
            long t0 = last == 0 || (frontier & 15) == 0 ? Stopwatch.GetTimestamp() : 0;
            if (cuts[share] < cuts[share + 1]) Step(frontier, cuts[share], Math.Min(cuts[share + 1], Hidden));
            if (t0 != 0) last = Math.Max(1, Stopwatch.GetTimestamp() - t0);
            Raise(ref Progress[share * ProgressStride], frontier + 1);
            if (share == worker) Raise(ref Progress[share * ProgressStride + 16], frontier + 1);
        }
    }

    /// <summary>Waits for share <paramref name="share"/> of step <paramref name="step"/> while its owner looks present,
    /// at most Patience × <paramref name="last"/> ticks (the time a recent share took this worker); true when it
    /// arrived (the caller rereads), false when the caller should compute it.</summary>
    private readonly bool Arrived(int share, int step, long last)
    {
        ref int done = ref Progress[share * ProgressStride];
        if (Volatile.Read(ref done) != step) return true;
        // Present: the owner has started this step's share, or finished the previous one itself.
        if (Volatile.Read(ref Progress[share * ProgressStride + 17]) <= step && Volatile.Read(ref Progress[share * ProgressStride + 16]) != step) return false;
        long patience = (long)(Patience * last);
        if (patience <= 0) return false;
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            for (int i = 0; i < 16; i++)
            {
                if (Volatile.Read(ref done) != step) return true;
                Thread.SpinWait(4);
            }
            if (Stopwatch.GetTimestamp() - start > patience) return Volatile.Read(ref done) != step;
        }
    }

    /// <summary>value = max(value, target), atomically.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Raise(ref int value, int target)
    {
        int seen = Volatile.Read(ref value);
        while (seen < target)
        {
            int was = Interlocked.CompareExchange(ref value, target, seen);
            if (was == seen) return;
            seen = was;
        }
    }

    /// <summary>Units [u0, u1) of every row of processing step <paramref name="s"/>; at batch 1 <paramref name="gx"/>
    /// may name where that step's gates are (<see cref="ProjectAheadJob{TCell}"/>'s private block), else Gx's row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal readonly void Step(int s, int u0, int u1, float* gx = null)
    {
        nint bh = (nint)Batch * Hidden, g = TCell.Gates, sw = TCell.SavedWidth, stride = (Steps + 1) * bh;
        int step = Reverse ? Steps - 1 - s : s;
        nint prev = Reverse ? step + 1 : step, next = Reverse ? step : step + 1;
        float* saved = Saved == null ? null : Saved + step * sw * bh;
        if (Batch == 1) TCell.FusedStep(States + next * bh, States + prev * bh, stride, saved, gx != null ? gx : Gx + step * g * bh, W, BiasHh, Hidden, u0, u1);
        else
        {
            // The step after this one, whose gates the kernel prefetches (null after the last step).
            float* nextGx = s + 1 < Steps ? Gx + (Reverse ? step - 1 : step + 1) * g * bh : null;
            TCell.FusedRowsStep(States + next * bh, States + prev * bh, stride, saved, Gx + step * g * bh, W, Batch, Hidden, u0, u1, nextGx, default, Params);
        }
    }
}

