using Xunit;

namespace Gyre.Mpi.Tests;

public sealed class CollectivesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void CheckCommandVerifiesEveryCollective(int ranks)
    {
        var (code, stdout, stderr) = MpiJob.Run(ranks, AppContext.BaseDirectory, "distributed", "check", "--floats", "100003", "--reps", "3");
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains($"ranks {ranks} · collectives ok", stdout);
    }
}
