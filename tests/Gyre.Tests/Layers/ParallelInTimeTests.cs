using Gyre.Kernels;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;
using Xunit.Abstractions;
using static Gyre.Tests.Layers.GradientCheckTests;

namespace Gyre.Tests.Layers;

/// <summary>
/// ParaGRU and ParaLSTM: the sequential loop against PyTorch-numerics layers, Newton's method against the
/// sequential loop (up to T = 16384), the iteration cap, bits across team sizes, and every gradient against
/// finite differences in both scan modes with random upstream gradients.
/// </summary>
public class ParallelInTimeTests(ITestOutputHelper output)
{
    static ParallelRecurrentLayer Make(string cell, int i, int h, ulong seed = 3) =>
        cell == "paragru" ? new ParaGru(i, h, seed) : new ParaLstm(i, h, seed);

    [Fact]
    public void ParaGru_Sequential_IsAGruWithDiagonalRecurrentWeights()
    {
        int i = 3, h = 5, b = 2, t = 9;
        var para = new ParaGru(i, h, seed: 4);
        var gru = new Gru(i, h, batchFirst: true) { Training = false };
        var diag = Tensor.Zeros(3 * h, h);
        var a = para.StateDict()["weight_hh"].ReadOnlySpan;
        for (int r = 0; r < 3 * h; r++) diag[r, r % h] = a[r];
        gru.LoadStateDict(new Dictionary<string, Tensor>
        {
            ["weight_ih_l0"] = para.StateDict()["weight_ih"], ["bias_ih_l0"] = para.StateDict()["bias_ih"],
            ["weight_hh_l0"] = diag, ["bias_hh_l0"] = para.StateDict()["bias_hh"],
        });
        var rng = new Rng(1);
        var x = Random(rng, [b, t, i]);
        var h0 = Random(rng, [b, h]);
        var mine = para.Forward(x, h0);
        var torch = gru.Forward(x, h0.Reshape(1, b, h));
        Assert.True(MaxDiff(mine.Output, torch.Output) < 1e-5f, $"outputs differ by {MaxDiff(mine.Output, torch.Output)}");
        Assert.True(MaxDiff(mine.Hidden, torch.Hidden.Reshape(b, h)) < 1e-5f);
    }

    [Theory]
    [InlineData("paragru", 1, 8, 16384, 0)]
    [InlineData("paralstm", 1, 8, 16384, 0)]
    [InlineData("paragru", 3, 20, 1000, 64)]
    [InlineData("paralstm", 2, 300, 700, 0)]
    [InlineData("paralstm", 2, 7, 500, 33)]
    public void Newton_EqualsSequential(string cell, int b, int h, int t, int chunk)
    {
        var layer = Make(cell, 4, h);
        layer.ChunkLength = chunk;
        layer.Training = false;
        var rng = new Rng(2);
        var x = Random(rng, [b, t, 4]);
        var h0 = Random(rng, [b, h]);
        var c0 = layer.Block == 2 ? Random(rng, [b, h]) : null;
        var seq = layer.Forward(x, h0, c0);
        layer.Scan = ScanMode.Parallel;
        var par = layer.Forward(x, h0, c0);
        output.WriteLine($"{cell} B={b} H={h} T={t}: {layer.LastIterations} Newton iterations, residual {layer.LastResidual:G3}, max |Δy| {MaxDiff(seq.Output, par.Output):G3}");
        Assert.InRange(layer.LastIterations, 1, layer.MaxIterations - 1);
        Assert.True(layer.LastResidual <= layer.Tolerance);
        Assert.True(MaxDiff(seq.Output, par.Output) <= 1e-5f, $"max |Δy| = {MaxDiff(seq.Output, par.Output)}");
        Assert.True(MaxDiff(seq.Hidden, par.Hidden) <= 1e-5f);
        if (c0 != null) Assert.True(MaxDiff(seq.Cell!, par.Cell!) <= 1e-5f);
    }

    [Fact]
    public void Newton_StopsAtTheIterationCap_AndTStepsAreExact()
    {
        var layer = new ParaGru(2, 6, seed: 5);
        foreach (var p in layer.Parameters()) new Rng(8).Uniform(p.Value.Span, -1.5f, 1.5f);
        var x = Random(new Rng(3), [1, 40, 2]);
        var seq = layer.Forward(x);
        layer.Scan = ScanMode.Parallel;
        layer.MaxIterations = 1;
        var capped = layer.Forward(x);
        Assert.Equal(1, layer.LastIterations);
        Assert.True(layer.LastResidual > layer.Tolerance);
        Assert.True(MaxDiff(seq.Output, capped.Output) > 1e-4f);
        // Newton on the triangular system makes at least one more step exact per iteration.
        layer.MaxIterations = 40;
        layer.Tolerance = 0f;
        var exact = layer.Forward(x);
        Assert.True(MaxDiff(seq.Output, exact.Output) <= 1e-6f, $"max |Δy| = {MaxDiff(seq.Output, exact.Output)}");
    }

    [Theory]
    [InlineData("paragru", ScanMode.Sequential)]
    [InlineData("paragru", ScanMode.Parallel)]
    [InlineData("paralstm", ScanMode.Sequential)]
    [InlineData("paralstm", ScanMode.Parallel)]
    public void Backward_MatchesFiniteDifferences(string cell, ScanMode scan)
    {
        int i = 3, h = 4, b = 2, t = 6;
        var layer = Make(cell, i, h);
        layer.Scan = scan;
        layer.Tolerance = 0f;      // Newton runs to the cap: T = 6 iterations already make it exact
        layer.MaxIterations = 10;
        layer.ChunkLength = 2;     // chunked solves on both passes
        var rng = new Rng(42);
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        bool lstm = layer.Block == 2;
        var x = Random(rng, [b, t, i]);
        var h0 = Random(rng, [b, h]);
        var c0 = lstm ? Random(rng, [b, h]) : null;
        var dy = Random(rng, [b, t, h]);
        var dhT = Random(rng, [b, h]);
        var dcT = lstm ? Random(rng, [b, h]) : null;
        double Loss()
        {
            var o = layer.Forward(x, h0, c0);
            double l = Dot(o.Output, dy) + Dot(o.Hidden, dhT);
            if (lstm) l += Dot(o.Cell!, dcT!);
            return l;
        }
        Loss();
        layer.ZeroGrad();
        var g = layer.Backward(dy, dhT, dcT);
        CheckTensor("x", x, g.Input, Loss, cell);
        CheckTensor("h0", h0, g.Hidden, Loss, cell);
        if (lstm) CheckTensor("c0", c0!, g.Cell!, Loss, cell);
        foreach (var p in layer.Parameters()) CheckTensor(p.Name, p.Value, p.Grad, Loss, cell);
    }

    [Theory]
    [InlineData("paragru")]
    [InlineData("paralstm")]
    public void SameBits_ForAnyTeamSize(string cell)
    {
        (float[] Y, float[] Dx, float[] Grads, int Iterations) RunWith(int threads)
        {
            using var team = new WorkerTeam(threads);
            var layer = Make(cell, 3, 40);
            layer.Team = team;
            layer.Scan = ScanMode.Parallel;
            layer.ChunkLength = 16;
            var rng = new Rng(6);
            var x = Random(rng, [2, 150, 3]);
            var o = layer.Forward(x);
            var g = layer.Backward(Random(rng, [2, 150, 40]), Random(rng, [2, 40]));
            var grads = layer.Parameters().SelectMany(p => p.Grad.ReadOnlySpan.ToArray()).ToArray();
            return (o.Output.ReadOnlySpan.ToArray(), g.Input.ReadOnlySpan.ToArray(), grads, layer.LastIterations);
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

    [Fact]
    public void RegisteredCell_RunsTheSameGruInEveryRecurrentLayer()
    {
        // "paragru" through the cell contract (sequence runner, sequential) against the standalone layer.
        int i = 3, h = 6, b = 2, t = 8;
        var para = new ParaGru(i, h, seed: 9);
        var layer = new RecurrentLayer(Gyre.Cells.CellRegistry.Get("paragru"), i, h, batchFirst: true);
        var sd = para.StateDict();
        layer.LoadStateDict(new Dictionary<string, Tensor>
        {
            ["weight_ih_l0"] = sd["weight_ih"], ["weight_hh_l0"] = sd["weight_hh"], ["bias_ih_l0"] = sd["bias_ih"], ["bias_hh_l0"] = sd["bias_hh"],
        });
        var rng = new Rng(12);
        var x = Random(rng, [b, t, i]);
        var h0 = Random(rng, [b, h]);
        var dy = Random(rng, [b, t, h]);
        var dhT = Random(rng, [b, h]);
        var mine = para.Forward(x, h0);
        var viaCell = layer.Forward(x, h0.Reshape(1, b, h));
        Assert.True(MaxDiff(mine.Output, viaCell.Output) < 1e-5f, $"outputs differ by {MaxDiff(mine.Output, viaCell.Output)}");
        para.ZeroGrad(); layer.ZeroGrad();
        var g1 = para.Backward(dy, dhT);
        var g2 = layer.Backward(dy, dhT.Reshape(1, b, h));
        Assert.True(MaxDiff(g1.Input, g2.Input) < 1e-5f);
        Assert.True(MaxDiff(g1.Hidden, g2.Hidden.Reshape(b, h)) < 1e-5f);
        var lsd = layer.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad);
        foreach (var (name, p) in para.NamedParameters())
            Assert.True(MaxDiff(p.Grad, lsd[name + "_l0"]) < 1e-4f, $"{name}: gradients differ by {MaxDiff(p.Grad, lsd[name + "_l0"])}");
    }

    [Fact]
    public void RegisteredCell_StackedAndBidirectional_MatchesFiniteDifferences()
    {
        var rng = new Rng(42);
        var layer = new RecurrentLayer(Gyre.Cells.CellRegistry.Get("paragru"), 3, 4, numLayers: 2, batchFirst: true, bidirectional: true, seed: 7);
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        CheckLayer(layer, rng, "paragru", 2, 5);
    }

    [Fact]
    public void BadShapes_Throw()
    {
        var layer = new ParaLstm(3, 4);
        Assert.Throws<ArgumentException>(() => layer.Forward(Tensor.Zeros(2, 5, 2)));
        Assert.Throws<ArgumentException>(() => layer.Forward(Tensor.Zeros(2, 5, 3), Tensor.Zeros(1, 4)));
        Assert.Throws<ArgumentException>(() => new ParaGru(3, 4).Forward(Tensor.Zeros(2, 5, 3), null, Tensor.Zeros(2, 4)));
        Assert.Throws<InvalidOperationException>(() => new ParaGru(3, 4).Backward(Tensor.Zeros(2, 5, 4)));
        layer.Forward(Tensor.Zeros(2, 5, 3));
        Assert.Throws<ArgumentException>(() => layer.Backward(Tensor.Zeros(2, 4, 4)));
    }
}
