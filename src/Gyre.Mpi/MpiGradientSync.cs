using System.Diagnostics;
using Gyre.Training;

namespace Gyre.Mpi;

/// <summary>
/// Data-parallel synchronisation for <see cref="Trainer"/> over MPI, as Horovod and DDP's MPI backend do it:
/// rank 0's weights are broadcast once at the start, and after every backward the flat gradient block is
/// summed across ranks by in-place all-reduces of <see cref="BucketFloats"/> floats each, then divided by the
/// number of ranks. Every rank trained on an equal share of one global batch (the trainer deals the
/// shuffled order round-robin), so the result is the gradient of the global batch's mean loss.
/// <para>
/// Buckets bound the size of one MPI message (large enough to reach full bandwidth, small enough not to
/// need a second gradient-sized buffer in the transport). The reduction runs after the whole backward,
/// not overlapped with it: a recurrent layer's weight gradients are only complete once its time loop has
/// finished, and these models are small enough that the all-reduce is a few percent of a step
/// (docs/distributed.md has the measurements).
/// </para>
/// With two ranks every rank receives the bit-identical sum (IEEE addition commutes); for more ranks Open MPI's
/// algorithms also hand every rank the same reduced buffer, and the broadcast at each (re)start resets any drift.
/// </summary>
public sealed class MpiGradientSync(MpiWorld world, int bucketFloats = MpiGradientSync.DefaultBucketFloats) : IGradientSync
{
    /// <summary>Default bucket: 4 Mi floats (16 MB), past the size where a loopback all-reduce reaches full bandwidth.</summary>
    public const int DefaultBucketFloats = 1 << 22;

    public MpiWorld World { get; } = world ?? throw new ArgumentNullException(nameof(world));

    /// <summary>Floats per all-reduce call.</summary>
    public int BucketFloats { get; } = bucketFloats > 0 ? bucketFloats
        : throw new ArgumentOutOfRangeException(nameof(bucketFloats), $"bucket size must be positive, got {bucketFloats}");

    /// <summary>Seconds spent in gradient all-reduces (for the all-reduce share of a step).</summary>
    public double ReduceSeconds { get; private set; }

    /// <summary>Gradient synchronisations so far.</summary>
    public long Steps { get; private set; }

    public void SynchronizeParameters(Span<float> values) => World.Broadcast(values, root: 0);

    public double MeanOverRanks(double value)
    {
        Span<double> v = [value];
        World.AllReduceSum(v);
        return v[0] / World.Size;
    }

    public void SynchronizeGradients(Span<float> gradients)
    {
        long start = Stopwatch.GetTimestamp();
        for (int offset = 0; offset < gradients.Length; offset += BucketFloats)
            World.AllReduceSum(gradients.Slice(offset, Math.Min(BucketFloats, gradients.Length - offset)));
        if (World.Size > 1)
            System.Numerics.Tensors.TensorPrimitives.Multiply(gradients, 1f / World.Size, gradients);
        ReduceSeconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
        Steps++;
    }
}
