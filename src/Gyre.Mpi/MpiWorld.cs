using System.Diagnostics;

namespace Gyre.Mpi;

/// <summary>
/// MPI_COMM_WORLD of an Open MPI job: rank, size and the collectives data-parallel training needs
/// (barrier, broadcast, in-place sum all-reduce, all-gather). One per process: MPI may be initialised
/// once, so <see cref="Start"/> hands out the same instance until it is disposed (MPI_Finalize).
/// <para>
/// Calls may come from any thread but never two at once (MPI_THREAD_SERIALIZED): the trainer calls the
/// collectives from its own loop only, while the worker team runs the kernels between them.
/// </para>
/// </summary>
public sealed unsafe class MpiWorld : IDisposable
{
    private static MpiWorld? _current;
    private static readonly object Gate = new();
    private readonly MpiNative _mpi;
    private const int MaxCount = 1 << 30;   // MPI counts are int: larger buffers go in pieces
    private bool _disposed;

    /// <summary>This process's rank in MPI_COMM_WORLD, 0 … <see cref="Size"/> − 1.</summary>
    public int Rank { get; }

    /// <summary>The number of processes in the job.</summary>
    public int Size { get; }

    /// <summary>Seconds spent inside collectives since start (for the all-reduce share of a step).</summary>
    public double CommunicationSeconds { get; private set; }

    /// <summary>Bytes this rank handed to all-reduce since start.</summary>
    public long AllReducedBytes { get; private set; }

    private MpiWorld(MpiNative mpi)
    {
        _mpi = mpi;
        int initialized = 0, provided = 0, rank = 0, size = 0;
        mpi.Check(mpi.Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0)
            mpi.Check(mpi.InitThread(null, null, MpiNative.ThreadSerialized, &provided), "MPI_Init_thread");
        mpi.Check(mpi.CommRank(mpi.CommWorld, &rank), "MPI_Comm_rank");
        mpi.Check(mpi.CommSize(mpi.CommWorld, &size), "MPI_Comm_size");
        Rank = rank; Size = size;
    }

    /// <summary>
    /// Initialises MPI (or returns the live world). Throws <see cref="MpiUnavailableException"/> naming the
    /// Debian package when Open MPI is missing.
    /// </summary>
    public static MpiWorld Start(string library = MpiNative.DefaultLibrary)
    {
        lock (Gate)
        {
            if (_current is { _disposed: false }) return _current;
            if (_current != null) throw new InvalidOperationException("MPI was finalised in this process and cannot be started again");
            _current = new MpiWorld(MpiNative.Load(library));
            return _current;
        }
    }

    /// <summary>True when this process was started by mpirun/mpiexec (Open MPI sets OMPI_COMM_WORLD_SIZE).</summary>
    public static bool LaunchedByMpirun => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") != null
        || Environment.GetEnvironmentVariable("PMIX_RANK") != null;

    public void Barrier()
    {
        long start = Stopwatch.GetTimestamp();
        _mpi.Check(_mpi.Barrier(_mpi.CommWorld), "MPI_Barrier");
        CommunicationSeconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>Copies <paramref name="data"/> of rank <paramref name="root"/> into every rank's <paramref name="data"/>.</summary>
    public void Broadcast(Span<float> data, int root = 0)
    {
        CheckRoot(root);
        fixed (float* p = data)
            for (int offset = 0; offset < data.Length; offset += MaxCount)
                _mpi.Check(_mpi.Bcast(p + offset, Math.Min(MaxCount, data.Length - offset), _mpi.Float, root, _mpi.CommWorld), "MPI_Bcast");
    }

    /// <summary>Broadcasts raw bytes (e.g. a serialised checkpoint or a file name) from <paramref name="root"/>.</summary>
    public void Broadcast(Span<byte> data, int root = 0)
    {
        CheckRoot(root);
        fixed (byte* p = data)
            for (int offset = 0; offset < data.Length; offset += MaxCount)
                _mpi.Check(_mpi.Bcast(p + offset, Math.Min(MaxCount, data.Length - offset), _mpi.Byte, root, _mpi.CommWorld), "MPI_Bcast");
    }

    /// <summary>data ← Σ over ranks of data, in place (MPI_Allreduce with MPI_IN_PLACE, MPI_SUM, MPI_FLOAT).</summary>
    public void AllReduceSum(Span<float> data)
    {
        long start = Stopwatch.GetTimestamp();
        fixed (float* p = data)
            for (int offset = 0; offset < data.Length; offset += MaxCount)
                _mpi.Check(_mpi.Allreduce((void*)MpiNative.InPlace, p + offset, Math.Min(MaxCount, data.Length - offset),
                    _mpi.Float, _mpi.Sum, _mpi.CommWorld), "MPI_Allreduce");
        CommunicationSeconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
        AllReducedBytes += (long)data.Length * sizeof(float);
    }

    /// <summary>data ← Σ over ranks of data for doubles (losses, counts), in place.</summary>
    public void AllReduceSum(Span<double> data)
    {
        fixed (double* p = data)
            _mpi.Check(_mpi.Allreduce((void*)MpiNative.InPlace, p, data.Length, _mpi.Double, _mpi.Sum, _mpi.CommWorld), "MPI_Allreduce");
    }

    /// <summary>The largest of every rank's <paramref name="value"/>.</summary>
    public double AllReduceMax(double value)
    {
        double v = value;
        _mpi.Check(_mpi.Allreduce((void*)MpiNative.InPlace, &v, 1, _mpi.Double, _mpi.Max, _mpi.CommWorld), "MPI_Allreduce");
        return v;
    }

    /// <summary>all[r·n … (r+1)·n) ← rank r's <paramref name="mine"/> (n floats each), on every rank.</summary>
    public void AllGather(ReadOnlySpan<float> mine, Span<float> all)
    {
        if (all.Length != (long)mine.Length * Size)
            throw new ArgumentException($"all-gather needs {mine.Length}·{Size} destination floats, got {all.Length}");
        fixed (float* s = mine) fixed (float* d = all)
            _mpi.Check(_mpi.Allgather(s, mine.Length, _mpi.Float, d, mine.Length, _mpi.Float, _mpi.CommWorld), "MPI_Allgather");
    }

    /// <summary>Ends every rank of the job with <paramref name="code"/> (a rank that failed alone would otherwise hang the others in a collective).</summary>
    public void Abort(int code) => _mpi.Abort(_mpi.CommWorld, code);

    private void CheckRoot(int root)
    {
        if ((uint)root >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(root), $"root {root} is not a rank of a {Size}-process job");
    }

    /// <summary>MPI_Finalize (once; later calls do nothing).</summary>
    public void Dispose()
    {
        lock (Gate)
        {
            if (_disposed) return;
            _disposed = true;
            int finalized = 0;
            _mpi.Finalized(&finalized);
            if (finalized == 0) _mpi.Check(_mpi.Finalize(), "MPI_Finalize");
        }
    }
}
