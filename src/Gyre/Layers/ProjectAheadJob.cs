using System.Diagnostics;
using System.Runtime.CompilerServices;
using Gyre.Cells;
using Gyre.Kernels;

namespace Gyre.Layers;

/// <summary>
/// A batch-1 sequence on one core while the other workers project the inputs of the steps ahead: worker 0 runs the
/// fused recurrence (<see cref="FusedSequenceJob{TCell}"/> on one worker) block by block of
/// <see cref="BlockSteps"/> steps; every worker, worker 0 included when it gets there first, claims whole blocks of
/// gx = bias + x·W_ihᵀ in processing order and projects them. The projection (a quarter of a GRU batch-1 layer at
/// I = 32, H = 128) thus leaves the serial path of the recurrence, and the only exchange between cores is one flag
/// per block, never one per step: the design for hosts where a step's exchange costs more than the split saves
/// (<see cref="SplitChooser"/>).
/// </summary>
/// <remarks>
/// A block's flag goes 0 (free) → 1 (claimed, by compare-and-swap: one writer only) → 2 (projected). Worker 0 finding
/// block j claimed by another worker waits at most <see cref="Patience"/> ticks, then projects it itself into its
/// private buffer and steps from there (a descheduled partner delays a block by the patience once, never the
/// sequence); the partner's copy, written later, is the same bits and is simply not read. The call still ends at the
/// team's join, so a partner descheduled in the middle of a block delays the end once (as in the unit split).
/// <para>
/// Bits: every block is one GEMM call over its rows with the packed W_ihᵀ and the bias as the row start, the same
/// FMA chain per element as the whole-sequence projection (GEMMs never split K; the rowInit form is bit-identical to
/// writing the bias rows and accumulating), so the result equals the one-thread path's.
/// </para>
/// </remarks>
internal unsafe struct ProjectAheadJob<TCell> : IWorkerJob where TCell : struct, ICell
{
    /// <summary>Steps per block: a block of gx (32 × G·H floats) stays in L2 until its steps run, and one flag per
    /// 32 steps is nothing beside the steps.</summary>
    public const int BlockSteps = 32;

    /// <summary>Ints per flag: one cache line each.</summary>
    public const int FlagStride = 16;

    public FusedSequenceJob<TCell> Loop;  // the recurrence; its Gx is the whole [T, G·H] buffer
    public float* X;                      // [T, I]
    public int InSize;
    public float* WIhT;                   // W_ihᵀ packed (PackedMatrix.Pointer: K = I, N = G·H)
    public float* Bias;                   // [G·H] row start of every gx row, or null
    public float* Private;                // [BlockSteps, G·H]: worker 0's copy of a block it could not wait for
    public int* Flags;                    // [blocks, FlagStride]
    public long Patience;                 // ticks worker 0 waits for a block another worker is projecting

    public static int Blocks(int steps) => (steps + BlockSteps - 1) / BlockSteps;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void Execute(int worker, int workers)
    {
        int blocks = Blocks(Loop.Steps);
        if (worker != 0)
        {
            for (int j = 0; j < blocks; j++)
                if (Interlocked.CompareExchange(ref Flags[j * FlagStride], 1, 0) == 0)
                {
                    Project(j, null);
                    Volatile.Write(ref Flags[j * FlagStride], 2);
                }
            return;
        }
        int gh = TCell.Gates * Loop.Hidden;
        for (int j = 0; j < blocks; j++)
        {
            ref int flag = ref Flags[j * FlagStride];
            bool own = true;
            if (Volatile.Read(ref flag) != 2)
            {
                if (Interlocked.CompareExchange(ref flag, 1, 0) == 0) { Project(j, null); Volatile.Write(ref flag, 2); }
                else if (!Arrived(ref flag)) { Project(j, Private); own = false; }
            }
            int s0 = j * BlockSteps, s1 = Math.Min(Loop.Steps, s0 + BlockSteps);
            for (int s = s0; s < s1; s++)
            {
                // The private copy holds the block's rows in time order, first row = the block's earliest time.
                float* gx = own ? null : Private + (nint)((Loop.Reverse ? Loop.Steps - 1 - s : s) - FirstRow(j)) * gh;
                Loop.Step(s, 0, Loop.Hidden, gx);
            }
        }
    }

    /// <summary>First time row of block j (the blocks run in processing order: backwards in time when reversed).</summary>
    private readonly int FirstRow(int j)
    {
        int s0 = j * BlockSteps, s1 = Math.Min(Loop.Steps, s0 + BlockSteps);
        return Loop.Reverse ? Loop.Steps - s1 : s0;
    }

    /// <summary>gx rows of block j into the shared buffer (dst null) or into <paramref name="dst"/>.</summary>
    private readonly void Project(int j, float* dst)
    {
        int s0 = j * BlockSteps, rows = Math.Min(Loop.Steps, s0 + BlockSteps) - s0, t0 = FirstRow(j);
        int gh = TCell.Gates * Loop.Hidden;
        float* c = dst != null ? dst : Loop.Gx + (nint)t0 * gh;
        Gemm.MultiplyPackedSerial(rows, X + (nint)t0 * InSize, InSize, WIhT, gh, InSize, c, gh, false, Bias);
    }

    /// <summary>Waits for a block another worker claimed, at most <see cref="Patience"/> ticks; true when it was projected.</summary>
    private readonly bool Arrived(ref int flag)
    {
        long start = Stopwatch.GetTimestamp();
        while (Volatile.Read(ref flag) != 2)
        {
            Thread.SpinWait(8);
            if (Stopwatch.GetTimestamp() - start > Patience) return Volatile.Read(ref flag) == 2;
        }
        return true;
    }
}

/// <summary>Test switch of <see cref="ProjectAheadJob{TCell}"/>: when set, every block starts claimed by a partner that never
/// finishes, so the recurrence's private path (a late block projected into its own buffer) runs for every block.</summary>
internal static class ProjectAheadTesting
{
    internal static bool AbsentPartner;
}
