using System.CommandLine;
using Gyre.Mpi;
using Gyre.Training;

namespace Gyre.Cli.Commands;

/// <summary>
/// The <c>--distributed</c> side of a training command: under mpirun, this process joins the MPI job, trains
/// on its share of every global batch, and only rank 0 prints and writes files. Without the option nothing
/// MPI-related is loaded (Gyre.Mpi's types are touched only inside <see cref="Start"/>).
/// </summary>
internal sealed class DistributedRun : IDisposable
{
    public static Option<bool> Flag() => new("--distributed")
    {
        Description = "Data-parallel training over MPI: start as `mpirun -np N gyre … --distributed`; --batch stays the global batch",
    };

    public static Option<int> BucketOption() => new("--bucket-mb")
    {
        Description = "With --distributed: megabytes of gradients per all-reduce",
        DefaultValueFactory = _ => MpiGradientSync.DefaultBucketFloats * sizeof(float) >> 20,
    };

    private static MpiWorld? _live;
    private readonly MpiWorld? _world;

    /// <summary>Data-parallel settings for the trainer, or null for a single-process run.</summary>
    public DataParallel? Parallel { get; }

    /// <summary>Where this rank writes: the command's context on rank 0, a silent one elsewhere.</summary>
    public CliContext Context { get; }

    /// <summary>Whether this process prints and writes files.</summary>
    public bool IsRoot => Parallel?.IsRoot ?? true;

    private DistributedRun(CliContext context, MpiWorld? world, DataParallel? parallel)
    {
        _world = world; Parallel = parallel;
        // Other ranks log nothing (their errors still reach stderr through the command line's own error handling).
        Context = parallel is null || parallel.IsRoot ? context : new CliContext(TextWriter.Null, TextWriter.Null, context.Cancel);
    }

    /// <summary>Joins the MPI job when <paramref name="distributed"/>; a one-line error names the package when Open MPI is missing.</summary>
    public static DistributedRun Start(bool distributed, int bucketMb, CliContext context)
    {
        if (!distributed) return new DistributedRun(context, null, null);
        if (bucketMb <= 0) throw new Data.GyreDataException($"--bucket-mb must be positive, got {bucketMb}");
        return Join(bucketMb, context);
    }

    // Apart from Start so that a run without --distributed never loads the Gyre.Mpi types.
    private static DistributedRun Join(int bucketMb, CliContext context)
    {
        MpiWorld world;
        try { world = MpiWorld.Start(); }
        catch (MpiUnavailableException e) { throw new Data.GyreDataException($"--distributed: {e.Message}"); }
        _live = world;
        var sync = new MpiGradientSync(world, (int)Math.Min((long)bucketMb << 20 >> 2, int.MaxValue));
        return new DistributedRun(context, world, new DataParallel(sync, world.Rank, world.Size));
    }

    /// <summary>One line after training on rank 0: ranks, time spent in gradient all-reduces and its share of the run.</summary>
    public void Report(TextWriter log, TimeSpan elapsed)
    {
        if (Parallel?.Sync is not MpiGradientSync sync || !IsRoot) return;
        double share = elapsed.TotalSeconds > 0 ? sync.ReduceSeconds / elapsed.TotalSeconds : 0;
        log.WriteLine(System.FormattableString.Invariant(
            $"distributed: {sync.World.Size} ranks, {sync.Steps} steps, gradient all-reduce {sync.ReduceSeconds:F2} s of {elapsed.TotalSeconds:F1} s training ({share:P1})"));
    }

    /// <summary>After a failure on one rank: end the whole job (the other ranks would wait in a collective forever).</summary>
    public static void AbortIfRunning(int code)
    {
        if (_live is { Size: > 1 } world) world.Abort(code);
    }

    public void Dispose()
    {
        _world?.Dispose();
        _live = null;
    }
}
