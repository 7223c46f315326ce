using System.Diagnostics;

namespace Gyre.Mpi.Tests;

/// <summary>Starts <c>gyre</c> (the Gyre.Cli assembly next to this test) as an MPI job on this machine.</summary>
internal static class MpiJob
{
    public static string GyreDll => Path.Combine(AppContext.BaseDirectory, "Gyre.Cli.dll");

    /// <summary>Runs <c>mpirun -np <paramref name="ranks"/> dotnet Gyre.Cli.dll ARGS</c>; returns exit code and output.</summary>
    public static (int Code, string Out, string Err) Run(int ranks, string workDir, params string[] args)
    {
        var psi = new ProcessStartInfo("mpirun")
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // Root in CI containers; more ranks than cores on small machines; loopback TCP and shared memory only.
        foreach (var a in new[] { "--allow-run-as-root", "--oversubscribe", "--mca", "btl", "self,vader,tcp", "--mca", "btl_tcp_if_include", "lo",
                     "--mca", "oob_tcp_if_include", "lo", "-np", ranks.ToString(), "dotnet", GyreDll })
            psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["CI"] = "true";
        Process p;
        try { p = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("mpirun not found: these tests need Open MPI (apt-get install openmpi-bin)", e);
        }
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"mpirun -np {ranks} gyre {string.Join(' ', args)} did not finish in 5 minutes");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
