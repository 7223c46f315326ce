using System.Globalization;
using System.Runtime.InteropServices;

namespace Gyre.Tests.Cli;

/// <summary>
/// Makes SIGINT deliverable to the child processes the Ctrl-C tests start. A non-interactive shell starts a
/// background job with SIGINT ignored, an ignored signal stays ignored across exec, and the .NET runtime keeps an
/// inherited-ignored SIGINT: a test run started that way (`( .ci/run &amp; )`) would hand its children a SIGINT
/// that never arrives, and the Ctrl-C tests would time out testing the harness, not Gyre. Restoring the default
/// disposition in this process (only when it was ignored) gives each child what a terminal user's gyre gets.
/// </summary>
internal static class ChildSignals
{
    private const int Sigint = 2;
    private static readonly Lock Gate = new();

    public static void EnsureSigintDeliverable()
    {
        if (!OperatingSystem.IsLinux()) return;
        lock (Gate)
            if (IsIgnored(Sigint) && Signal(Sigint, 0) == -1)
                throw new InvalidOperationException("SIGINT is ignored in the test process and could not be restored");
    }

    /// <summary>Whether <paramref name="signal"/> is ignored here: bit signal−1 of the SigIgn mask in /proc/self/status.</summary>
    internal static bool IsIgnored(int signal)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("SigIgn:", StringComparison.Ordinal))
                return ((ulong.Parse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture) >> (signal - 1)) & 1) != 0;
        return false;
    }

    // signal(2) with SIG_DFL (0); returns the previous handler or SIG_ERR (−1).
    [DllImport("libc", EntryPoint = "signal")]
    private static extern nint Signal(int signal, nint handler);
}
