using System.Diagnostics;
using System.Globalization;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>
/// A real `gyre forecast train` child process (the built CLI) stopped at known moments — SIGKILL mid-epoch, while
/// the checkpoint is half-written, between epochs; SIGINT mid-epoch — then resumed with --resume: the final model
/// file must be byte-identical to an uninterrupted run with the same seed, and no checkpoint, temporary or
/// half-written output may be left. The moments come from the trainer's test-only pause hook (GYRE_TEST_PAUSE).
/// </summary>
public sealed class KillResumeTests : IDisposable
{
    private readonly CliFolder _dir = new();
    private readonly System.Text.StringBuilder _childOut = new();

    private string ChildOut() { lock (_childOut) return _childOut.ToString(); }

    public void Dispose() => _dir.Dispose();

    private string[] Train(string output) =>
        ["forecast", "train", "--data", _dir["d.csv"], "--lookback", "14", "--horizon", "7", "--hidden", "4", "--batch", "16",
         "--epochs", "4", "--patience", "0", "--seed", "5", "--out", output];

    /// <summary>Starts the CLI paused at <paramref name="moment"/>; returns once it waits there (its pause file exists).</summary>
    private async Task<Process> StartPausedAt(string moment)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "Gyre.Cli.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(cli);
        foreach (var a in Train(_dir["m.gyre"])) psi.ArgumentList.Add(a);
        psi.Environment["GYRE_TEST_PAUSE"] = moment;
        psi.Environment["GYRE_TEST_PAUSE_FILE"] = _dir["pause"];
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_childOut) _childOut.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (!File.Exists(_dir["pause"]))
        {
            if (p.HasExited) throw new Xunit.Sdk.XunitException($"gyre exited ({p.ExitCode}) before pausing at {moment}");
            if (clock.Elapsed > TimeSpan.FromSeconds(120)) { p.Kill(true); throw new TimeoutException($"no pause at {moment}"); }
            await Task.Delay(5);
        }
        return p;
    }

    private static async Task WaitExit(Process p)
    {
        try { await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120)); }
        finally { if (!p.HasExited) p.Kill(entireProcessTree: true); }
    }

    private static int Epochs(string checkpoint) =>
        System.Text.Json.JsonDocument.Parse(Gyre.IO.Safetensors.Read(checkpoint).Metadata["trainer"]).RootElement.GetProperty("Epoch").GetInt32() + 1;

    [Theory]
    [InlineData("batch@2", 1, false)]        // mid-epoch 2: the checkpoint holds epoch 1
    [InlineData("checkpoint@2", 1, true)]    // epoch 2's checkpoint half-written under its temporary name
    [InlineData("epoch@2", 2, false)]        // between epochs 2 and 3
    public async Task KilledRunResumesToTheSameBits(string moment, int checkpointed, bool temporaryLeft)
    {
        if (!OperatingSystem.IsLinux()) return;   // CI and development run Linux; SIGKILL is Process.Kill there
        _dir.Daily("d.csv");
        _dir.Ok(Train(_dir["ref.gyre"]));

        using (var p = await StartPausedAt(moment))
        {
            p.Kill();                              // SIGKILL: no handler, no cleanup
            await WaitExit(p);
        }
        File.Delete(_dir["pause"]);
        Assert.Equal(checkpointed, Epochs(_dir["m.gyre.ckpt"]));
        Assert.False(File.Exists(_dir["m.gyre"]), "a killed run wrote its model");
        var temporaries = _dir.Files().Where(f => f.EndsWith(".tmp", StringComparison.Ordinal)).ToArray();
        Assert.Equal(temporaryLeft ? 1 : 0, temporaries.Length);
        if (temporaryLeft)
        {
            // Truly half-written: a reader refuses it, and it is shorter than the checkpoint it would have replaced.
            string tmp = _dir[temporaries[0]];
            Assert.True(new FileInfo(tmp).Length < new FileInfo(_dir["m.gyre.ckpt"]).Length);
            Assert.ThrowsAny<Exception>(() => Gyre.IO.Safetensors.Read(tmp));
        }

        var resumed = _dir.Ok([.. Train(_dir["m.gyre"]), "--resume"]);
        Assert.Contains("wrote", resumed.Out);
        Assert.Equal(File.ReadAllBytes(_dir["ref.gyre"]), File.ReadAllBytes(_dir["m.gyre"]));
        Assert.Equal(["d.csv", "m.gyre", "ref.gyre"], _dir.Files());
    }

    [Fact]
    public async Task CtrlCMidEpochExits130KeepingTheCheckpointAndResumesToTheSameBits()
    {
        if (!OperatingSystem.IsLinux()) return;   // SIGINT through kill(1)
        ChildSignals.EnsureSigintDeliverable();
        _dir.Daily("d.csv");
        _dir.Ok(Train(_dir["ref.gyre"]));

        using (var p = await StartPausedAt("batch@2"))
        {
            using (var kill = Process.Start("kill", ["-INT", p.Id.ToString(CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
            // Let the epoch go on only once the handler has taken the interrupt.
            var clock = Stopwatch.StartNew();
            while (!ChildOut().Contains("stopping after this epoch") && clock.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(5);
            File.Delete(_dir["pause"]);
            await WaitExit(p);
            Assert.Equal(130, p.ExitCode);
        }
        Assert.Contains("interrupted after epoch 2 of 4; the checkpoint", ChildOut());
        // The first Ctrl-C finishes the epoch under way: its checkpoint is whole and nothing else is written.
        Assert.Equal(2, Epochs(_dir["m.gyre.ckpt"]));
        Assert.Equal(["d.csv", "m.gyre.ckpt", "ref.gyre"], _dir.Files());

        _dir.Ok([.. Train(_dir["m.gyre"]), "--resume"]);
        Assert.Equal(File.ReadAllBytes(_dir["ref.gyre"]), File.ReadAllBytes(_dir["m.gyre"]));
        Assert.Equal(["d.csv", "m.gyre", "ref.gyre"], _dir.Files());
    }
}
