namespace Gyre.Training;

/// <summary>
/// Data-parallel training settings a job hands its <see cref="Trainer"/>: this process is rank
/// <see cref="Rank"/> of <see cref="WorldSize"/>, and <see cref="Sync"/> reduces gradients across them
/// (the MPI implementation lives in the Gyre.Mpi assembly, so the core library loads no native code).
/// <para>
/// The batch size a user gives stays the global batch: each rank trains on batch / <see cref="WorldSize"/>
/// examples of every step (the trainer deals the shuffled order round-robin), the reduced gradient is that
/// of the whole global batch, and so N ranks follow the same trajectory as one process, to float32 rounding.
/// </para>
/// </summary>
public sealed record DataParallel(IGradientSync Sync, int Rank, int WorldSize)
{
    /// <summary>Whether this rank writes files and prints (rank 0).</summary>
    public bool IsRoot => Rank == 0;

    /// <summary><paramref name="options"/> for this rank: its rank and world, and its share of the global batch.</summary>
    /// <exception cref="ArgumentException">The global batch does not split evenly over the ranks.</exception>
    public TrainerOptions Apply(TrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (WorldSize <= 0 || Rank < 0 || Rank >= WorldSize) throw new ArgumentException($"rank {Rank} is outside a world of {WorldSize}");
        if (options.Batch % WorldSize != 0)
            throw new ArgumentException($"--batch {options.Batch} does not split evenly over {WorldSize} ranks (the batch is the global batch; use a multiple of {WorldSize})");
        return options with { Rank = Rank, WorldSize = WorldSize, Batch = options.Batch / WorldSize };
    }
}
