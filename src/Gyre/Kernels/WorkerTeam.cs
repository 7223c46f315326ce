using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Gyre.Kernels;

/// <summary>
/// One share of a parallel job. <see cref="WorkerTeam.Run{TJob}"/> calls <c>Execute(w, workers)</c> once for
/// every w in [0, workers), each on its own thread; the job splits its work from (w, workers) alone.
/// </summary>
public interface IWorkerJob
{
    void Execute(int worker, int workers);
}

/// <summary>
/// A fixed team of threads created once: the caller of <see cref="Run{TJob}"/> is worker 0 and
/// <see cref="Size"/> − 1 dedicated background threads are the rest. A dispatch allocates nothing: the
/// job is an unmanaged struct passed by pointer, workers spin briefly for the next job (a recurrent
/// time loop dispatches every few microseconds) and then park on a monitor so an idle team costs no CPU.
/// </summary>
/// <remarks>
/// Kernels must split work so that every output element is computed by one worker in a fixed order
/// (split rows or columns, never a reduction axis): results are then bit-identical for any team size.
/// A nested or concurrent <see cref="Run{TJob}"/> on a busy team runs every share on the calling thread.
/// </remarks>
public sealed unsafe class WorkerTeam : IDisposable
{
    /// <summary>Environment variable that overrides the size of <see cref="Shared"/>.</summary>
    public const string ThreadsVariable = "GYRE_NUM_THREADS";

    // Long enough to bridge the gap between two time steps of a recurrent layer, short enough that an
    // idle team gives its cores back almost at once on a machine shared with other processes.
    private static readonly long SpinTicks = Stopwatch.Frequency / 20_000; // 50 µs

    private static WorkerTeam? _shared;

    /// <summary>
    /// The process-wide team: <c>GYRE_NUM_THREADS</c> threads when that is a positive integer,
    /// otherwise <see cref="Environment.ProcessorCount"/>. Created on first use.
    /// </summary>
    public static WorkerTeam Shared
    {
        get
        {
            if (_shared is { } team) return team;
            var created = new WorkerTeam(DefaultSize());
            var raced = Interlocked.CompareExchange(ref _shared, created, null);
            if (raced is null) return created;
            created.Dispose();
            return raced;
        }
    }

    // One seat per worker and job, each on its own cache line: opened by the dispatch, taken by the worker before it
    // runs its share, or closed by the caller of a claimed job (RunClaimed) that finished before the worker came.
    private const int SeatStride = 16, SeatOpen = 0, SeatTaken = 1, SeatClosed = 2;
    private readonly int[] _seats;

    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private void* _job;
    private delegate*<void*, int, int, void> _invoke;
    private long _generation;
    private int _remaining;
    private int _sleepers;
    private int _busy;
    private volatile bool _disposed;
    private Exception? _error;

    /// <summary>A team of <paramref name="threads"/> workers (the caller included), 1 ≤ threads ≤ 1024.</summary>
    public WorkerTeam(int threads)
    {
        if (threads < 1 || threads > 1024) throw new ArgumentOutOfRangeException(nameof(threads), $"worker team size {threads} is outside 1..1024");
        Size = threads;
        _seats = new int[threads * SeatStride];
        for (int w = 0; w < threads; w++) _seats[w * SeatStride] = SeatTaken;
        _threads = new Thread[threads - 1];
        for (int i = 1; i < threads; i++)
        {
            int worker = i;
            var t = new Thread(() => WorkerLoop(worker)) { IsBackground = true, Name = $"Gyre worker {worker}" };
            _threads[i - 1] = t;
            t.Start();
        }
    }

    /// <summary>Number of workers, the calling thread included.</summary>
    public int Size { get; }

    [ThreadStatic] private static int t_inJob;

    /// <summary>Whether this thread is running a share of a job (of any team): a parallel kernel called from there runs on
    /// this thread alone (<see cref="Gemm"/> checks it), instead of dispatching onto a second team beside the running one.</summary>
    internal static bool InJob => t_inJob != 0;

    /// <summary>
    /// Runs <c>job.Execute(w, Size)</c> for every worker w, w = 0 on the calling thread, and returns when all
    /// are done. The first exception thrown by any share is rethrown here after every share has finished.
    /// </summary>
    public void Run<TJob>(ref TJob job) where TJob : unmanaged, IWorkerJob
    {
        int size = Size;
        if (size == 1) { job.Execute(0, 1); return; }
        if (!TryRunConcurrently(ref job))
        {
            // Nested or concurrent use: same shares, same results, one thread.
            for (int w = 0; w < size; w++) job.Execute(w, size);
        }
    }

    /// <summary>
    /// Like <see cref="Run{TJob}"/> for a job whose shares claim their work from a common pool (every share takes
    /// whatever is left, <see cref="Gemm.Chunks"/>), so that when worker 0's share returns nothing is left for a worker
    /// that has not started: the call then returns without waiting for it (its share is dropped; a worker that did
    /// start is waited for). On a machine shared with other processes a descheduled worker thus costs the call its
    /// help, never a wait until the host runs it again.
    /// </summary>
    internal void RunClaimed<TJob>(ref TJob job) where TJob : unmanaged, IWorkerJob
    {
        int size = Size;
        if (size == 1) { job.Execute(0, 1); return; }
        if (!TryRunConcurrently(ref job, claimed: true))
            for (int w = 0; w < size; w++) job.Execute(w, size);
    }

    /// <summary>
    /// Like <see cref="Run{TJob}"/>, but when the team is busy (nested or concurrent use) runs nothing and
    /// returns false, for jobs whose shares must run at the same time (they meet at spin barriers).
    /// </summary>
    internal bool TryRunConcurrently<TJob>(ref TJob job) where TJob : unmanaged, IWorkerJob => TryRunConcurrently(ref job, claimed: false);

    private bool TryRunConcurrently<TJob>(ref TJob job, bool claimed) where TJob : unmanaged, IWorkerJob
    {
        int size = Size;
        if (size == 1) { job.Execute(0, 1); return true; }
        if (_disposed) throw new ObjectDisposedException(nameof(WorkerTeam), "worker team is disposed");
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0) return false;
        try
        {
            fixed (TJob* p = &job)
            {
                _job = p;
                _invoke = &Invoker<TJob>.Invoke;
                _error = null;
                Volatile.Write(ref _remaining, size - 1);
                // Released after _job and _invoke: a worker that takes its seat reads this job.
                for (int w = 1; w < size; w++) Volatile.Write(ref _seats[w * SeatStride], SeatOpen);
                Interlocked.Increment(ref _generation);
                // Dekker pair with the parking worker: it raises _sleepers, then re-checks _generation.
                if (Volatile.Read(ref _sleepers) != 0)
                    lock (_gate) Monitor.PulseAll(_gate);

                t_inJob++;
                try { job.Execute(0, size); }
                catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
                finally { t_inJob--; }
                if (claimed)
                    for (int w = 1; w < size; w++)
                        if (Interlocked.CompareExchange(ref _seats[w * SeatStride], SeatClosed, SeatOpen) == SeatOpen)
                            Interlocked.Decrement(ref _remaining);

                var spin = new SpinWait();
                while (Volatile.Read(ref _remaining) != 0) spin.SpinOnce(sleep1Threshold: -1);
                _job = null;
            }
        }
        finally { Volatile.Write(ref _busy, 0); }
        if (_error is { } error) { _error = null; ExceptionDispatchInfo.Capture(error).Throw(); }
        return true;
    }

    /// <summary>Stops the dedicated threads (after any running job). <see cref="Shared"/> is never disposed.</summary>
    public void Dispose()
    {
        if (_disposed || ReferenceEquals(this, _shared)) return;
        _disposed = true;
        Interlocked.Increment(ref _generation);
        lock (_gate) Monitor.PulseAll(_gate);
    }

    private void WorkerLoop(int worker)
    {
        long seen = 0;
        while (true)
        {
            seen = WaitForJob(seen);
            if (_disposed) return;
            // The seat of the current job (possibly a newer one than the generation just seen, which it then runs:
            // _job is that job's); closed when the caller finished a claimed job without this worker.
            if (Interlocked.CompareExchange(ref _seats[worker * SeatStride], SeatTaken, SeatOpen) != SeatOpen) continue;
            t_inJob++;
            try { _invoke(_job, worker, Size); }
            catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
            finally { t_inJob--; }
            Interlocked.Decrement(ref _remaining);
        }
    }

    private long WaitForJob(long seen)
    {
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            for (int i = 0; i < 64; i++)
            {
                long g = Volatile.Read(ref _generation);
                if (g != seen) return g;
                Thread.SpinWait(8);
            }
            if (Stopwatch.GetTimestamp() - start > SpinTicks) break;
        }
        Interlocked.Increment(ref _sleepers);
        long now;
        lock (_gate)
        {
            while ((now = Volatile.Read(ref _generation)) == seen) Monitor.Wait(_gate);
        }
        Interlocked.Decrement(ref _sleepers);
        return now;
    }

    private static int DefaultSize()
    {
        string? text = Environment.GetEnvironmentVariable(ThreadsVariable);
        if (int.TryParse(text, out int n) && n >= 1) return Math.Min(n, 1024);
        return Math.Max(1, Environment.ProcessorCount);
    }

    private static class Invoker<TJob> where TJob : unmanaged, IWorkerJob
    {
        public static void Invoke(void* job, int worker, int workers) => ((TJob*)job)->Execute(worker, workers);
    }
}
