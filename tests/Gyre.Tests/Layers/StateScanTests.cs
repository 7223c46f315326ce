using Gyre.Cells;
using Gyre.Kernels;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;
using static Gyre.Tests.Layers.GradientCheckTests;

namespace Gyre.Tests.Layers;

/// <summary>The runner's state scan for the cells that read out a wide linear state (gla, lssl): finite-difference
/// gradients through it (random upstream on y and both final states, odd sizes, T = 1, B = 1, bidirectional, two layers),
/// the scan against the loop at T = 4096 (one chunk: the loop's bits), padded rows against the loop and against
/// their unpadded runs, the same bits for any team, the path choice and allocations.</summary>
public class StateScanTests
{
    static readonly WorkerTeam OneWorker = new(1);
    static readonly WorkerTeam TwoWorkers = new(2);
    static readonly ExecutionOptions Parallel = new() { Scan = ScanMode.Parallel, ScanChunkLength = 2 };
    static readonly ExecutionOptions Sequential = new() { Scan = ScanMode.Sequential };
    static readonly string[] Cells = ["gla", "gla(heads=2)", "lssl(state_size=3)", "lssl(discretisation=bilinear,state_size=2)"];

    public static IEnumerable<object[]> Shapes()
    {
        // cell, I, H, layers, bidirectional, B, T, bias, batchFirst (H a multiple of the heads)
        foreach (var cell in Cells)
        {
            yield return [cell, 1, 2, 1, false, 1, 1, true, true];
            yield return [cell, 3, 4, 1, false, 1, 7, true, false];
            yield return [cell, 5, 2, 2, true, 3, 4, true, true];
            yield return [cell, 2, 4, 2, true, 2, 1, false, false];
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardMatchesFiniteDifferences(string cell, int inputSize, int hidden, int layers, bool bidir, int batch, int steps, bool bias, bool batchFirst)
    {
        var rng = new Rng(23);
        var layer = new RecurrentLayer(CellRegistry.FromText(cell), inputSize, hidden, layers, bias, batchFirst, 0f, bidir, seed: 7)
        {
            Execution = Parallel with { Team = OneWorker },
        };
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        SlstmAndHeadsTests.CheckAllStates(layer, rng, batch, steps);
        Assert.All(layer.LastForwardPaths, p => Assert.Equal(SequencePath.StateScan, p));
        Assert.All(layer.LastBackwardPaths, p => Assert.Equal(SequencePath.StateScan, p));
    }

    /// <summary>Forward, final states, ∂L/∂x, ∂L/∂(initial states) and every parameter gradient of one run, with random
    /// initial states and random ∂L/∂(final states).</summary>
    static (Tensor Y, Tensor[] States, Tensor Dx, Tensor[] DStates, Dictionary<string, float[]> Grads, RecurrentLayer Layer) Run(
        string cell, ExecutionOptions e, int b, int t, int i, int h, bool bidir, int layers, int[]? lengths, ulong seed = 13)
    {
        var layer = new RecurrentLayer(CellRegistry.FromText(cell), i, h, layers, batchFirst: true, bidirectional: bidir, seed: 11) { Execution = e };
        var rng = new Rng(seed);
        int d = bidir ? 2 : 1;
        var x = Random(rng, [b, t, i]);
        var dy = Random(rng, [b, t, d * h]);
        var s0 = new Tensor[2]; var dN = new Tensor[2];
        for (int j = 0; j < 2; j++)
        {
            s0[j] = Random(rng, [layers * d, b, layer.StateWidth(j)]);
            dN[j] = Random(rng, [layers * d, b, layer.StateWidth(j)]);
        }
        if (lengths != null)
            // Padded rows' ∂L/∂y must not matter: garbage there.
            for (int row = 0; row < b; row++)
                for (int step = lengths[row]; step < t; step++) dy.Span.Slice((row * t + step) * d * h, d * h).Fill(1e3f);
        var o = layer.ForwardStates(x, s0, lengths ?? default);
        var y = o.Output.Clone();
        var states = o.States.Select(s => s.Clone()).ToArray();
        layer.ZeroGrad();
        var g = layer.BackwardStates(dy, dN);
        return (y, states, g.Input.Clone(), g.States.Select(s => s.Clone()).ToArray(),
            layer.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad.ReadOnlySpan.ToArray()), layer);
    }

    /// <summary>|a − b| ≤ 1e-5·max(1, |a_k|), or with <paramref name="sum"/> 1e-5·max(1, max_k |a_k|): a weight gradient is a
    /// sum over all T·B steps (8192 here) whose entries can cancel to far below the terms, and both paths round those
    /// terms differently, so its error scales with the tensor, not with the entry.</summary>
    static void Close(ReadOnlySpan<float> a, ReadOnlySpan<float> b, string what, bool sum = false)
    {
        Assert.Equal(a.Length, b.Length);
        float scale = 1f;
        if (sum) foreach (float v in a) scale = Math.Max(scale, Math.Abs(v));
        for (int k = 0; k < a.Length; k++)
            Assert.True(Math.Abs(a[k] - b[k]) <= 1e-5f * Math.Max(scale, Math.Abs(a[k])), $"{what}[{k}]: sequential {a[k]:R}, scan {b[k]:R}");
    }

    static void SameAsLoop(string cell, int b, int t, int i, int h, bool bidir, int layers, int chunk, int[]? lengths)
    {
        var seq = Run(cell, Sequential with { Team = TwoWorkers }, b, t, i, h, bidir, layers, lengths);
        var par = Run(cell, new ExecutionOptions { Scan = ScanMode.Parallel, ScanChunkLength = chunk, Team = TwoWorkers }, b, t, i, h, bidir, layers, lengths);
        Assert.All(par.Layer.LastForwardPaths, p => Assert.Equal(SequencePath.StateScan, p));
        Assert.All(par.Layer.LastBackwardPaths, p => Assert.Equal(SequencePath.StateScan, p));
        Assert.All(seq.Layer.LastForwardPaths, p => Assert.NotEqual(SequencePath.StateScan, p));
        Assert.All(seq.Layer.LastBackwardPaths, p => Assert.NotEqual(SequencePath.StateScan, p));
        Close(seq.Y.ReadOnlySpan, par.Y.ReadOnlySpan, "y");
        for (int j = 0; j < 2; j++)
        {
            Close(seq.States[j].ReadOnlySpan, par.States[j].ReadOnlySpan, $"state {j} final");
            Close(seq.DStates[j].ReadOnlySpan, par.DStates[j].ReadOnlySpan, $"state {j} initial grad");
        }
        Close(seq.Dx.ReadOnlySpan, par.Dx.ReadOnlySpan, "dx");
        foreach (var (name, grad) in seq.Grads) Close(grad, par.Grads[name], name, sum: true);
        // One chunk is the loop's own arithmetic: a·s + b with the step's roundings, then the step's read-out.
        if (chunk >= t) Assert.True(seq.Y.ReadOnlySpan.SequenceEqual(par.Y.ReadOnlySpan), "one chunk: y bit for bit");
    }

    [Theory]
    [InlineData("gla(heads=2)", false, 4096)]
    [InlineData("gla(heads=2)", true, 64)]
    [InlineData("gla", false, 0)]
    [InlineData("lssl(state_size=4)", false, 4096)]
    [InlineData("lssl(state_size=4)", true, 64)]
    [InlineData("lssl(discretisation=bilinear,state_size=3)", true, 0)]
    public void StateScanMatchesTheLoopAtT4096(string cell, bool bidirectional, int chunk) =>
        SameAsLoop(cell, 2, 4096, 3, 4, bidirectional, 1, chunk, null);

    [Theory]
    [InlineData("gla(heads=2)")]
    [InlineData("lssl(state_size=3)")]
    public void PaddedRowsMatchTheLoop(string cell) =>
        // Lengths 6, 2, 4, 1, 0 (a row with no steps passes its initial state and the final gradients straight through).
        SameAsLoop(cell, 5, 6, 2, 4, true, 2, 2, [6, 2, 4, 1, 0]);

    [Theory]
    [InlineData("gla(heads=2)")]
    [InlineData("lssl(state_size=3)")]
    public void PaddedRowsGiveTheUnpaddedResults(string cell)
    {
        // Row 0 is 3 steps padded to 6, row 1 all 6: each must equal its own unpadded run; the weight gradients the sum.
        const int t = 6, i = 2, h = 4;
        var rng = new Rng(8);
        var x = Random(rng, [2, t, i]);
        var dy = Random(rng, [2, t, 2 * h]);
        var opts = Parallel with { Team = TwoWorkers };
        var layer = new RecurrentLayer(CellRegistry.FromText(cell), i, h, numLayers: 2, batchFirst: true, bidirectional: true, seed: 4) { Execution = opts };
        var o = layer.ForwardStates(x, null, [3, 6]);
        layer.ZeroGrad();
        var g = layer.Backward(dy);
        Assert.All(layer.LastForwardPaths, p => Assert.Equal(SequencePath.StateScan, p));
        var sum = layer.NamedParameters().ToDictionary(p => p.Name, p => new double[p.Parameter.Grad.Length]);
        for (int row = 0; row < 2; row++)
        {
            int len = row == 0 ? 3 : 6;
            var alone = new RecurrentLayer(CellRegistry.FromText(cell), i, h, numLayers: 2, batchFirst: true, bidirectional: true, seed: 4) { Execution = opts };
            var xr = Tensor.Zeros(1, len, i); var dyr = Tensor.Zeros(1, len, 2 * h);
            x.ReadOnlySpan.Slice(row * t * i, len * i).CopyTo(xr.Span);
            dy.ReadOnlySpan.Slice(row * t * 2 * h, len * 2 * h).CopyTo(dyr.Span);
            var oa = alone.ForwardStates(xr, null);
            var ga = alone.Backward(dyr);
            for (int k = 0; k < len * 2 * h; k++) Assert.Equal(oa.Output.ReadOnlySpan[k], o.Output.ReadOnlySpan[row * t * 2 * h + k], 1e-6f);
            for (int k = len * 2 * h; k < t * 2 * h; k++) Assert.Equal(0f, o.Output.ReadOnlySpan[row * t * 2 * h + k]);
            for (int k = 0; k < len * i; k++) Assert.Equal(ga.Input.ReadOnlySpan[k], g.Input.ReadOnlySpan[row * t * i + k], 1e-5f);
            for (int k = len * i; k < t * i; k++) Assert.Equal(0f, g.Input.ReadOnlySpan[row * t * i + k]);
            for (int j = 0; j < 2; j++)
            {
                int w = layer.StateWidth(j);
                for (int s = 0; s < 4; s++)
                    for (int c = 0; c < w; c++)
                        Assert.Equal(oa.States[j].ReadOnlySpan[s * w + c], o.States[j].ReadOnlySpan[(s * 2 + row) * w + c], 1e-6f);
            }
            foreach (var (name, p) in alone.NamedParameters())
                for (int k = 0; k < p.Grad.Length; k++) sum[name][k] += p.Grad.ReadOnlySpan[k];
        }
        foreach (var (name, p) in layer.NamedParameters())
            for (int k = 0; k < p.Grad.Length; k++) Assert.Equal(sum[name][k], p.Grad.ReadOnlySpan[k], 1e-4 * (1 + Math.Abs(sum[name][k])));
    }

    [Theory]
    [InlineData("gla(heads=2)")]
    [InlineData("lssl(state_size=5)")]
    public void TheBitsDoNotDependOnTheTeam(string cell)
    {
        // Enough rows and steps that every team splits them differently; a chunked solve (chunk 16) too.
        var runs = new[] { 1, 2, 3 }.Select(w => Run(cell, new ExecutionOptions { Scan = ScanMode.Parallel, ScanChunkLength = 16, Team = new WorkerTeam(w) },
            3, 97, 3, 4, true, 2, [97, 40, 5])).ToArray();
        foreach (var r in runs.Skip(1))
        {
            Assert.True(runs[0].Y.ReadOnlySpan.SequenceEqual(r.Y.ReadOnlySpan), "y");
            Assert.True(runs[0].Dx.ReadOnlySpan.SequenceEqual(r.Dx.ReadOnlySpan), "dx");
            for (int j = 0; j < 2; j++)
            {
                Assert.True(runs[0].States[j].ReadOnlySpan.SequenceEqual(r.States[j].ReadOnlySpan), $"state {j}");
                Assert.True(runs[0].DStates[j].ReadOnlySpan.SequenceEqual(r.DStates[j].ReadOnlySpan), $"d state {j}");
            }
            foreach (var (name, grad) in runs[0].Grads) Assert.True(grad.AsSpan().SequenceEqual(r.Grads[name]), name);
        }
    }

    [Fact]
    public void PathChoice()
    {
        var x = Tensor.Zeros(2, 5, 4);
        foreach (var cell in new[] { "gla", "lssl" })
        {
            Assert.True(CellRegistry.Get(cell).HasParallelForm);
            var layer = new RecurrentLayer(CellRegistry.Get(cell), 4, 4, batchFirst: true);
            layer.Forward(x);
            Assert.NotEqual(SequencePath.StateScan, layer.LastForwardPaths[0]);   // auto: the loop
            using (ExecutionOptions.Use(new ExecutionOptions { Scan = ScanMode.Parallel }))
            {
                var scoped = new RecurrentLayer(CellRegistry.Get(cell), 4, 4, batchFirst: true);
                scoped.Forward(x);
                Assert.Equal(SequencePath.StateScan, scoped.LastForwardPaths[0]);
            }
            layer.Execution = new ExecutionOptions { Path = SequencePath.Newton };
            Assert.Contains("not this cell's parallel form", Assert.Throws<ArgumentException>(() => layer.Forward(x)).Message);
        }
    }

    [Theory]
    [InlineData("gla(heads=2)")]
    [InlineData("lssl(state_size=3)")]
    public void StateScanAllocatesNothingAtARepeatedShape(string cell)
    {
        const int b = 3, i = 4, h = 4, l = 2;
        long Measure(int steps)
        {
            var layer = new RecurrentLayer(CellRegistry.FromText(cell), i, h, l, batchFirst: true, bidirectional: true) { Execution = Parallel with { Team = TwoWorkers } };
            var x = Random(new Rng(1), [b, steps, i]);
            var y = Tensor.Zeros(b, steps, 2 * h);
            var hN = Tensor.Zeros(2 * l, b, h);
            var sN = Tensor.Zeros(2 * l, b, layer.StateWidth(1));
            var dx = Tensor.Zeros(b, steps, i);
            var dh0 = Tensor.Zeros(2 * l, b, h);
            var ds0 = Tensor.Zeros(2 * l, b, layer.StateWidth(1));
            return Allocations.PerCall(() =>
            {
                layer.Forward(x, null, null, y, hN, sN);
                layer.Backward(y, hN, sN, dx, dh0, ds0);
            });
        }
        Assert.Equal(0, Measure(1));
        Assert.Equal(0, Measure(50));
    }
}
