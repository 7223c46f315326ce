using Gyre.Mpi;
using Xunit;

namespace Gyre.Tests.Distributed;

/// <summary>What needs no MPI installation: the binding's failure when the library is missing. The collectives
/// and the 1-vs-2-rank training equivalence run under mpirun in tests/Gyre.Mpi.Tests (CI installs Open MPI).</summary>
public sealed class MpiBindingTests
{
    [Fact]
    public void MissingLibraryNamesThePackageToInstall()
    {
        var e = Assert.Throws<MpiUnavailableException>(() => MpiNative.Load("libgyre-no-such-mpi.so.40"));
        Assert.Contains("cannot load libgyre-no-such-mpi.so.40", e.Message);
        Assert.Contains("apt-get install openmpi-bin", e.Message);
    }
}
