using System.Diagnostics;
using Gyre.IO;
using Xunit;

namespace Gyre.Mpi.Tests;

/// <summary>
/// Data-parallel training is the same optimisation as one process: with one global batch, 2 ranks (each on
/// half of every batch, gradients all-reduced) end within float32 rounding of a single process.
/// </summary>
public sealed class DataParallelTrainingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gyre-mpi").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Train =
    [
        "forecast", "train", "--data", Path.Combine(AppContext.BaseDirectory, "Data", "co2-concentration.csv"), "--target", "CO2",
        "--lookback", "24", "--horizon", "6", "--hidden", "16", "--batch", "16", "--epochs", "3", "--patience", "0",
        "--seed", "7", "--allow-gaps", "--json",
    ];

    [Fact]
    public void TwoRanksMatchOneProcessAfterThreeEpochs()
    {
        var single = RunSingle([.. Train, "--out", "one.gyre"]);
        Assert.True(single.Code == 0, single.Err);
        var (code, stdout, stderr) = MpiJob.Run(2, _dir, [.. Train, "--out", "two.gyre", "--distributed"]);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.False(File.Exists(Path.Combine(_dir, "two.gyre.ckpt")), "the checkpoint is removed after a finished run");

        var one = Safetensors.Read(Path.Combine(_dir, "one.gyre"));
        var two = Safetensors.Read(Path.Combine(_dir, "two.gyre"));
        Assert.Equal(one.Tensors.Keys.Order(), two.Tensors.Keys.Order());
        double maxDiff = 0;
        foreach (var (name, a) in one.Tensors)
        {
            var b = two.Tensors[name];
            Assert.Equal(a.Shape, b.Shape);
            for (int i = 0; i < a.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(a.ReadOnlySpan[i] - b.ReadOnlySpan[i]));
        }
        Assert.True(maxDiff <= 1e-5, $"max |w1 − w2| = {maxDiff}");

        // The comparison can fail: one epoch less moves the weights far more than the tolerance.
        var shorter = RunSingle([.. Train.Select(a => a == "3" ? "2" : a), "--out", "short.gyre"]);
        Assert.True(shorter.Code == 0, shorter.Err);
        var s = Safetensors.Read(Path.Combine(_dir, "short.gyre"));
        double moved = one.Tensors.Max(kv => Enumerable.Range(0, kv.Value.Length)
            .Max(i => Math.Abs(kv.Value.ReadOnlySpan[i] - s.Tensors[kv.Key].ReadOnlySpan[i])));
        Assert.True(moved > 1e-3, $"an epoch moved the weights by only {moved}");
    }

    [Fact]
    public void ClassifierOnTwoRanksMatchesOneProcess()
    {
        string[] train =
        [
            "classify", "train", "--data", Path.Combine(AppContext.BaseDirectory, "Data", "classification", "GunPoint_TRAIN.ts"),
            "--epochs", "3", "--batch", "16", "--hidden", "16", "--augment", "0", "--test-augment", "0", "--seed", "5", "--json",
        ];
        var single = RunSingle([.. train, "--out", "c1.gyre"]);
        Assert.True(single.Code == 0, single.Err);
        var (code, stdout, stderr) = MpiJob.Run(2, _dir, [.. train, "--out", "c2.gyre", "--distributed"]);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        var one = Safetensors.Read(Path.Combine(_dir, "c1.gyre"));
        var two = Safetensors.Read(Path.Combine(_dir, "c2.gyre"));
        double maxDiff = one.Tensors.Max(kv => Enumerable.Range(0, kv.Value.Length)
            .Max(i => (double)Math.Abs(kv.Value.ReadOnlySpan[i] - two.Tensors[kv.Key].ReadOnlySpan[i])));
        Assert.True(maxDiff <= 1e-5, $"max |w1 − w2| = {maxDiff}");
    }

    [Fact]
    public void AGlobalBatchThatDoesNotSplitIsBadInput()
    {
        var (code, _, stderr) = MpiJob.Run(2, _dir, [.. Train.Select(a => a == "16" ? "15" : a), "--out", "odd.gyre", "--distributed"]);
        Assert.NotEqual(0, code);
        Assert.Contains("--batch 15 does not split evenly over 2 ranks", stderr);
        Assert.False(File.Exists(Path.Combine(_dir, "odd.gyre")));
    }

    private (int Code, string Out, string Err) RunSingle(string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = _dir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(MpiJob.GyreDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["CI"] = "true";
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, o.Result, e.Result);
    }
}
