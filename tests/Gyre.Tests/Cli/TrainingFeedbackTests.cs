using System.Diagnostics;
using Gyre.Forecasting;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>What training says while it works: settings, comparable losses, an ETA that counts early stopping, the stop, Ctrl-C.</summary>
public sealed class TrainingFeedbackTests : IDisposable
{
    private readonly CliFolder _dir = new();
    public void Dispose() => _dir.Dispose();

    private static readonly string[] Small = ["--lookback", "14", "--horizon", "7", "--hidden", "8", "--seed", "3"];

    [Fact]
    public void Train_prints_settings_then_an_early_stop_eta_and_the_restored_epoch()
    {
        string data = _dir.Daily("d.csv", 200);
        var r = _dir.Ok(["forecast", "train", "--data", data, .. Small, "--epochs", "200", "--patience", "2", "--lr", "0.05", "--out", _dir["m.gyre"]]);
        var lines = r.Out.Split('\n');
        var settings = Assert.Single(lines, l => l.StartsWith("settings: ", StringComparison.Ordinal));
        Assert.Contains("--lookback 14, --horizon 7, --hidden 8, --epochs 200, --lr 0.05, --patience 2, --seed 3; defaults: ", settings);
        Assert.Contains("--cell gru", settings);
        Assert.Contains("--scaler standard", settings);
        Assert.Contains(lines, l => l.StartsWith("epoch 1/200", StringComparison.Ordinal) && l.Contains("early stop at epoch 3 unless val improves"));
        var f = Forecaster.Load(_dir["m.gyre"]);
        int best = f.History.Last(e => e.Best).Epoch, last = f.History[^1].Epoch;
        Assert.True(last < 200, "early stopping never ended this run; the test needs one that stops");
        Assert.Equal(best + 2, last);
        Assert.Contains($"stopped at epoch {last} of 200: no validation improvement for 2 epochs (--patience); best epoch {best} (val ", r.Out);
    }

    [Fact]
    public void With_instance_norm_train_and_validation_losses_share_a_scale()
    {
        var f = Forecaster.Fit(Gyre.Tests.Forecasting.ForecasterTests.Bundled("co2-concentration.csv"), new ForecastOptions
        {
            Targets = ["CO2"], Lookback = 36, Horizon = 12, Hidden = 16, Epochs = 3, InstanceNorm = true, Seed = 1,
        });
        foreach (var e in f.History)
        {
            double ratio = e.TrainLoss / e.ValLoss!.Value;
            Assert.True(ratio is > 0.1 and < 10, $"epoch {e.Epoch}: train {e.TrainLoss} vs val {e.ValLoss}");
        }
    }

    [Fact]
    public async Task Ctrl_c_stops_after_the_epoch_and_says_how_to_resume()
    {
        if (!OperatingSystem.IsLinux()) return;   // SIGINT through kill(1); CI and development run Linux
        ChildSignals.EnsureSigintDeliverable();
        string data = _dir.Daily("d.csv", 400);
        string cli = Path.Combine(AppContext.BaseDirectory, "Gyre.Cli.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { cli, "forecast", "train", "--data", data, "--epochs", "100000", "--patience", "0", "--hidden", "8", "--lookback", "14", "--horizon", "7", "--out", _dir["m.gyre"] })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = new System.Text.StringBuilder();
        var sawEpoch = new TaskCompletionSource();
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            if (e.Data.StartsWith("epoch 2/", StringComparison.Ordinal)) sawEpoch.TrySetResult();
        };
        p.BeginOutputReadLine();
        string err = "";
        var errTask = p.StandardError.ReadToEndAsync();
        try
        {
            await sawEpoch.Task.WaitAsync(TimeSpan.FromSeconds(120));
            using (var kill = Process.Start("kill", ["-INT", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            err = await errTask;
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
        string text;
        lock (output) text = output.ToString();
        Assert.Equal(130, p.ExitCode);
        Assert.Contains("stopping after this epoch", text);
        Assert.Matches(@"interrupted after epoch \d+ of 100000; the checkpoint .*m\.gyre\.ckpt keeps it: resume with `gyre forecast train --data .*d\.csv --epochs 100000 .* --resume`", text);
        Assert.True(File.Exists(_dir["m.gyre.ckpt"]), "no checkpoint to resume from");
        Assert.False(File.Exists(_dir["m.gyre"]), "a model was written by an interrupted run");
        Assert.DoesNotContain("unexpected", err);
    }
}
