namespace Gyre.Tests;

/// <summary>
/// What a repeated step allocates on this thread in steady state: the least over several measured calls after a
/// warm-up. A step that allocates does so on every call, so the least is still above zero; the runtime itself
/// allocates on the calling thread now and then (a method promoted by tiered compilation after crossing its call
/// count, data created lazily on first use), which is not the step's doing and made one-call measurements fail
/// once in a while on loaded machines.
/// </summary>
internal static class Allocations
{
    public static long PerCall(Action step, int warmups = 3, int samples = 5)
    {
        for (int i = 0; i < warmups; i++) step();
        long least = long.MaxValue;
        for (int i = 0; i < samples; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            step();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return least;
    }
}
