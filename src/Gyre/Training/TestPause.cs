namespace Gyre.Training;

/// <summary>
/// TEST-ONLY hook, for tests that run <c>gyre … train</c> as a child process and must stop it at a known moment
/// (a SIGKILL while the checkpoint is half-written cannot be timed from outside). Never set it otherwise.
/// <para><c>GYRE_TEST_PAUSE=MOMENT@EPOCH</c> names the moment: <c>batch</c> (epoch EPOCH's first batch stepped,
/// mid-epoch), <c>checkpoint</c> (epoch EPOCH's checkpoint temporary half-written: header and half the tensors,
/// flushed, not yet renamed) or <c>epoch</c> (epoch EPOCH's checkpoint in place, the next epoch not begun).
/// <c>GYRE_TEST_PAUSE_FILE=PATH</c>: on reaching the moment the process creates PATH and waits while it exists
/// (at most two minutes), so the test knows the moment, may kill or interrupt the process there, and deletes PATH
/// to let it go on.</para>
/// When the variables are unset (always, outside those tests) each call is one test of a static field.
/// </summary>
internal static class TestPause
{
    private static readonly (string Moment, int Epoch, string File)? Armed = Read();

    private static (string, int, string)? Read()
    {
        string? spec = Environment.GetEnvironmentVariable("GYRE_TEST_PAUSE"), file = Environment.GetEnvironmentVariable("GYRE_TEST_PAUSE_FILE");
        if (spec is null || file is null) return null;
        var parts = spec.Split('@');
        return parts.Length == 2 && int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int epoch)
            ? (parts[0], epoch, file) : null;
    }

    /// <summary>Pauses here when the hook names <paramref name="moment"/> of 1-based <paramref name="epoch"/>.</summary>
    public static void At(string moment, int epoch)
    {
        if (Armed is not { } a || a.Moment != moment || a.Epoch != epoch) return;
        File.WriteAllText(a.File, $"{moment}@{epoch}");
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (File.Exists(a.File) && waited.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(5);
    }
}
