using Gyre.Forecasting;
using Gyre.Kernels;
using Gyre.Tests.Kernels;
using Xunit;

namespace Gyre.Tests.Forecasting;

/// <summary>Same seed, same bits, whatever the thread count (runs alone: it changes the GEMM team).</summary>
[Collection(nameof(GemmTuningCollection))]
public class ThreadDeterminismTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrainingGivesTheSameBitsOnOneAndTwoThreads(bool stateful)
    {
        // Wide enough that the GEMMs cross the threading threshold (a stateful model's head reads B·T rows at once).
        var o = ForecasterTests.Small(epochs: 2) with { Hidden = 128, Batch = 64, Lookback = 36, Layers = 2, Stateful = stateful, Norm = stateful ? "last" : null };
        var saved = Gemm.Team;
        try
        {
            float[] Train(int threads)
            {
                using var team = new WorkerTeam(threads);
                Gemm.Team = team;
                var f = Forecaster.Fit(ForecasterTests.Bundled("co2-concentration.csv"), o);
                return f.Network.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()).ToArray();
            }
            Assert.Equal(Train(1), Train(2));
        }
        finally { Gemm.Team = saved; }
    }
}
