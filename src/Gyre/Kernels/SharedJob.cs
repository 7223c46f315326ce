using System.Runtime.InteropServices;

namespace Gyre.Kernels;

/// <summary>A managed object whose work of kind <c>work</c> splits into shares by (worker, workers).</summary>
internal interface ISharedWork
{
    void Share(int work, int worker, int workers);
}

/// <summary>
/// Runs an <see cref="ISharedWork"/> on a <see cref="WorkerTeam"/>, whose jobs must be unmanaged structs: the
/// object travels as a GC handle for the duration of one run.
/// </summary>
internal static class SharedJob
{
    public static void Run(WorkerTeam team, ISharedWork target, int work)
    {
        var handle = GCHandle.Alloc(target);
        try
        {
            var job = new Job { Self = GCHandle.ToIntPtr(handle), Work = work };
            team.Run(ref job);
        }
        finally { handle.Free(); }
    }

    private struct Job : IWorkerJob
    {
        public nint Self;
        public int Work;
        public readonly void Execute(int worker, int workers) =>
            ((ISharedWork)GCHandle.FromIntPtr(Self).Target!).Share(Work, worker, workers);
    }
}
