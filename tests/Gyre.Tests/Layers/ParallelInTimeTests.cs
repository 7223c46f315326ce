using Gyre.Cells;
using Gyre.Kernels;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;
using Xunit.Abstractions;
using static Gyre.Tests.Layers.GradientCheckTests;

namespace Gyre.Tests.Layers;

/// <summary>
/// ParaGRU and ParaLSTM as registered cells in the one runner: paragru's loop against a GRU (PyTorch numerics) with
/// a diagonal weight_hh, Newton against the loop up to T = 16384 (odd H, chunked solves), the iteration cap and
/// tolerance, and the same bits for any team size. Finite differences in both paths: <see cref="ParallelCellsTests"/>.
/// </summary>
public class ParallelInTimeTests(ITestOutputHelper output)
{
    static RecurrentLayer Make(string cell, int i, int h, ExecutionOptions e, ulong seed = 3) =>
        new(CellRegistry.Get(cell), i, h, batchFirst: true, seed: seed) { Execution = e, Training = false };

    [Fact]
    public void ParaGru_Sequential_IsAGruWithDiagonalRecurrentWeights()
    {
        int i = 3, h = 5, b = 2, t = 9;
        var para = Make("paragru", i, h, new ExecutionOptions { Scan = ScanMode.Sequential }, seed: 4);
        var sd = para.StateDict();
        var gru = new Gru(i, h, batchFirst: true) { Training = false };
        var diag = Tensor.Zeros(3 * h, h);
        var a = sd["weight_hh_l0"].ReadOnlySpan;
        for (int r = 0; r < 3 * h; r++) diag[r, r % h] = a[r];
        gru.LoadStateDict(new Dictionary<string, Tensor>
        {
            ["weight_ih_l0"] = sd["weight_ih_l0"], ["bias_ih_l0"] = sd["bias_ih_l0"],
            ["weight_hh_l0"] = diag, ["bias_hh_l0"] = sd["bias_hh_l0"],
        });
        var rng = new Rng(1);
        var x = Random(rng, [b, t, i]);
        var h0 = Random(rng, [1, b, h]);
        var mine = para.Forward(x, h0);
        var torch = gru.Forward(x, h0);
        Assert.True(MaxDiff(mine.Output, torch.Output) < 1e-5f, $"outputs differ by {MaxDiff(mine.Output, torch.Output)}");
        Assert.True(MaxDiff(mine.Hidden, torch.Hidden) < 1e-5f);
    }

    [Theory]
    [InlineData("paragru", 1, 8, 16384, 0)]
    [InlineData("paralstm", 1, 8, 16384, 0)]
    [InlineData("paragru", 3, 20, 1000, 64)]
    [InlineData("paralstm", 2, 300, 700, 0)]
    [InlineData("paralstm", 2, 7, 500, 33)]
    public void Newton_EqualsSequential(string cell, int b, int h, int t, int chunk)
    {
        using var team = new WorkerTeam(2);
        var rng = new Rng(2);
        var x = Random(rng, [b, t, 4]);
        var h0 = Random(rng, [1, b, h]);
        var c0 = cell == "paralstm" ? Random(rng, [1, b, h]) : null;
        var seq = Make(cell, 4, h, new ExecutionOptions { Scan = ScanMode.Sequential, Team = team }).Forward(x, h0, c0);
        var layer = Make(cell, 4, h, new ExecutionOptions { Scan = ScanMode.Parallel, ScanChunkLength = chunk, Team = team });
        var par = layer.Forward(x, h0, c0);
        Assert.Equal(SequencePath.Newton, layer.LastForwardPaths[0]);
        int its = layer.LastNewtonIterations[0];
        output.WriteLine($"{cell} B={b} H={h} T={t}: {its} Newton iterations, max |Δy| {MaxDiff(seq.Output, par.Output):G3}");
        Assert.InRange(its, 1, layer.Execution.NewtonMaxIterations - 1);
        Assert.True(MaxDiff(seq.Output, par.Output) <= 1e-5f, $"max |Δy| = {MaxDiff(seq.Output, par.Output)}");
        Assert.True(MaxDiff(seq.Hidden, par.Hidden) <= 1e-5f);
        if (c0 != null) Assert.True(MaxDiff(seq.Cell!, par.Cell!) <= 1e-5f);
    }

    [Theory]
    [InlineData("paragru")]
    [InlineData("paralstm")]
    public void Newton_StopsAtTheIterationCap_AndTStepsAreExact(string cell)
    {
        var x = Random(new Rng(3), [1, 40, 2]);
        RecurrentLayer Stiff(ExecutionOptions e)
        {
            var layer = Make(cell, 2, 6, e with { Team = new WorkerTeam(1) }, seed: 5);
            foreach (var p in layer.Parameters()) new Rng(8).Uniform(p.Value.Span, -1.5f, 1.5f);
            return layer;
        }
        var seq = Stiff(new ExecutionOptions { Scan = ScanMode.Sequential }).Forward(x);
        var cappedLayer = Stiff(new ExecutionOptions { Scan = ScanMode.Parallel, NewtonMaxIterations = 1 });
        var capped = cappedLayer.Forward(x);
        Assert.Equal(1, cappedLayer.LastNewtonIterations[0]);
        Assert.True(MaxDiff(seq.Output, capped.Output) > 1e-4f, $"one iteration already within {MaxDiff(seq.Output, capped.Output)}");
        // Newton on the triangular system makes at least one more step exact per iteration: T = 40 iterations suffice.
        var exact = Stiff(new ExecutionOptions { Scan = ScanMode.Parallel, NewtonMaxIterations = 40, NewtonTolerance = 0f }).Forward(x);
        Assert.True(MaxDiff(seq.Output, exact.Output) <= 1e-6f, $"max |Δy| = {MaxDiff(seq.Output, exact.Output)}");
    }

    [Theory]
    [InlineData("paragru")]
    [InlineData("paralstm")]
    public void SameBits_ForAnyTeamSize(string cell)
    {
        (float[] Y, float[] Dx, float[] Grads, int Iterations) RunWith(int threads)
        {
            using var team = new WorkerTeam(threads);
            var layer = Make(cell, 3, 40, new ExecutionOptions { Scan = ScanMode.Parallel, ScanChunkLength = 16, Team = team });
            layer.Training = true;
            var rng = new Rng(6);
            var x = Random(rng, [2, 150, 3]);
            var o = layer.Forward(x);
            int its = layer.LastNewtonIterations[0];
            var g = layer.Backward(Random(rng, [2, 150, 40]), Random(rng, [1, 2, 40]));
            var grads = layer.Parameters().SelectMany(p => p.Grad.ReadOnlySpan.ToArray()).ToArray();
            return (o.Output.ReadOnlySpan.ToArray(), g.Input.ReadOnlySpan.ToArray(), grads, its);
        }
        var one = RunWith(1);
        foreach (int n in new[] { 2, 3 })
        {
            var other = RunWith(n);
            Assert.Equal(one.Iterations, other.Iterations);
            Assert.Equal(one.Y, other.Y);
            Assert.Equal(one.Dx, other.Dx);
            Assert.Equal(one.Grads, other.Grads);
        }
    }
}
