using Gyre.Cells;
using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;
using static Gyre.Tests.Kernels.FloatCompare;
using static Gyre.Tests.Layers.GradientCheckTests;

namespace Gyre.Tests.Layers;

/// <summary>The cells with a parallel-in-time form (minGRU, minLSTM: linear scan; ParaGRU, IndRNN: Newton; ParaLSTM:
/// Newton with 2×2 blocks):
/// finite-difference gradients in the sequential and the parallel path (random upstream, odd sizes, T = 1, B = 1,
/// bidirectional, two layers), the two paths against each other at T = 4096, padding, the path choice,
/// allocations, and the minGRU / minLSTM kernel against its scalar twin.</summary>
public class ParallelCellsTests
{
    static readonly ExecutionOptions Parallel = new() { Scan = ScanMode.Parallel, ScanChunkLength = 2 };
    // The finite-difference checks run thousands of forwards: one worker keeps them from spinning a team under a
    // loaded test run (the team's split is covered by the T = 4096, padding and allocation tests).
    static readonly WorkerTeam OneWorker = new(1);
    // The long-sequence tests split their rows over a team of their own, not WorkerTeam.Shared, so that tests of
    // other classes running at the same time keep the shared team (their paths and allocation counts depend on it).
    static readonly WorkerTeam TwoWorkers = new(2);
    static readonly ExecutionOptions Sequential = new() { Scan = ScanMode.Sequential };

    public static IEnumerable<object[]> Shapes()
    {
        // cell, parallel, I, H, layers, bidirectional, B, T, bias, batchFirst
        foreach (var cell in new[] { "mingru", "minlstm", "paragru", "indrnn(nonlinearity=tanh)", "paralstm" })
            foreach (bool parallel in new[] { false, true })
            {
                yield return [cell, parallel, 1, 1, 1, false, 1, 1, true, true];
                yield return [cell, parallel, 3, 5, 1, false, 1, 7, true, false];
                yield return [cell, parallel, 5, 7, 2, true, 3, 4, true, true];
                yield return [cell, parallel, 2, 3, 2, true, 2, 1, false, false];
            }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardMatchesFiniteDifferences(string cell, bool parallel, int inputSize, int hidden, int layers, bool bidir,
        int batch, int steps, bool bias, bool batchFirst)
    {
        var rng = new Rng(17);
        var layer = new RecurrentLayer(CellRegistry.FromText(cell), inputSize, hidden, layers, bias, batchFirst, 0f, bidir, seed: 3)
        {
            Execution = (parallel ? Parallel : Sequential) with { Team = OneWorker },
        };
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        // g has a kink at 0 (g′ jumps from ¼ to 1): "rnn_relu" turns on CheckTensor's rule for a kink inside the
        // finite-difference interval (the analytic value must lie between the one-sided ones).
        CheckLayer(layer, rng, "rnn_relu", batch, steps);
        var path = cell.StartsWith("min") ? SequencePath.Scan : SequencePath.Newton;
        Assert.All(layer.LastForwardPaths, p => Assert.Equal(parallel, p == path));
        Assert.All(layer.LastBackwardPaths, p => Assert.Equal(parallel, p == path));
    }

    [Theory]
    [InlineData("mingru", false, 0)]
    [InlineData("minlstm", false, 0)]
    [InlineData("mingru", true, 64)]
    [InlineData("minlstm", true, 300)]
    [InlineData("paragru", false, 0)]
    [InlineData("paragru", true, 64)]
    [InlineData("indrnn(nonlinearity=tanh)", true, 0)]
    [InlineData("paralstm", false, 0)]
    [InlineData("paralstm", true, 64)]
    public void ParallelPathMatchesTheLoopAtT4096(string cell, bool bidirectional, int chunk)
    {
        const int t = 4096, b = 2, i = 3, h = 9;
        var rng = new Rng(5);
        int d = bidirectional ? 2 : 1;
        var x = Random(rng, [b, t, i]);
        var h0 = Random(rng, [d, b, h]);
        var dy = Random(rng, [b, t, d * h]);
        var dhN = Random(rng, [d, b, h]);
        bool linear = cell.StartsWith("min"), lstm = cell == "paralstm";
        // ParaLSTM: a random c0 and ∂L/∂c_n too, so both components of every 2×2 block are exercised.
        var c0 = lstm ? Random(rng, [d, b, h]) : null;
        var dcN = lstm ? Random(rng, [d, b, h]) : null;
        (RecurrentOutput O, RecurrentGradients G, Dictionary<string, Tensor> P, IReadOnlyList<SequencePath> Paths, IReadOnlyList<int> Its) Run(ExecutionOptions e)
        {
            var layer = new RecurrentLayer(CellRegistry.FromText(cell), i, h, batchFirst: true, bidirectional: bidirectional, seed: 11) { Execution = e with { Team = TwoWorkers } };
            var o = layer.Forward(x, h0, c0);
            var its = layer.LastNewtonIterations;
            var g = layer.Backward(dy, dhN, dcN);
            return (o, g, layer.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad), layer.LastBackwardPaths, its);
        }
        var seq = Run(Sequential);
        var par = Run(new ExecutionOptions { Scan = ScanMode.Parallel, ScanChunkLength = chunk });
        var path = linear ? SequencePath.Scan : SequencePath.Newton;
        Assert.All(par.Paths, p => Assert.Equal(path, p));
        Assert.All(seq.Paths, p => Assert.NotEqual(path, p));
        // Newton: a few solves (converged long before T), none for the linear scan.
        Assert.All(par.Its, n => Assert.InRange(n, linear ? 0 : 1, linear ? 0 : 20));
        Close(seq.O.Output, par.O.Output, "y");
        Close(seq.O.Hidden, par.O.Hidden, "h_n");
        Close(seq.G.Input, par.G.Input, "dx");
        Close(seq.G.Hidden, par.G.Hidden, "dh0");
        if (lstm)
        {
            Close(seq.O.Cell!, par.O.Cell!, "c_n");
            Close(seq.G.Cell!, par.G.Cell!, "dc0");
        }
        foreach (var (name, grad) in seq.P) Close(grad, par.P[name], name);
        if (chunk == 0 && linear) Assert.True(seq.O.Output.ReadOnlySpan.SequenceEqual(par.O.Output.ReadOnlySpan));   // one chunk: the loop's own arithmetic

        static void Close(Tensor a, Tensor b, string what)
        {
            for (int k = 0; k < a.Length; k++)
            {
                float u = a.ReadOnlySpan[k], v = b.ReadOnlySpan[k];
                Assert.True(Math.Abs(u - v) <= 1e-5f * Math.Max(1f, Math.Abs(u)), $"{what}[{k}]: sequential {u:R}, parallel {v:R}");
            }
        }
    }

    [Theory]
    [InlineData("mingru")]
    [InlineData("minlstm")]
    [InlineData("paragru")]
    [InlineData("paralstm")]
    public void PaddedRowsGiveTheUnpaddedResults(string cell)
    {
        // Row 0 is 3 steps padded to 6 (garbage in the padding), row 1 all 6: each must equal its own unpadded run.
        const int t = 6, i = 2, h = 5;
        var rng = new Rng(8);
        var x = Random(rng, [2, t, i]);
        var dy = Random(rng, [2, t, 2 * h]);
        var layer = new RecurrentLayer(CellRegistry.Get(cell), i, h, numLayers: 2, batchFirst: true, bidirectional: true, seed: 4) { Execution = Parallel with { Team = TwoWorkers } };
        var o = layer.ForwardStates(x, null, [3, 6]);
        layer.ZeroGrad();
        var g = layer.Backward(dy);
        Assert.All(layer.LastForwardPaths, p => Assert.Equal(cell.StartsWith("para") ? SequencePath.Newton : SequencePath.Scan, p));
        for (int row = 0; row < 2; row++)
        {
            int len = row == 0 ? 3 : 6;
            var alone = new RecurrentLayer(CellRegistry.Get(cell), i, h, numLayers: 2, batchFirst: true, bidirectional: true, seed: 4) { Execution = Parallel with { Team = TwoWorkers } };
            var xr = Tensor.Zeros(1, len, i); var dyr = Tensor.Zeros(1, len, 2 * h);
            x.ReadOnlySpan.Slice(row * t * i, len * i).CopyTo(xr.Span);
            dy.ReadOnlySpan.Slice(row * t * 2 * h, len * 2 * h).CopyTo(dyr.Span);
            var oa = alone.Forward(xr);
            var ga = alone.Backward(dyr);
            for (int k = 0; k < len * 2 * h; k++) Assert.Equal(oa.Output.ReadOnlySpan[k], o.Output.ReadOnlySpan[row * t * 2 * h + k], 1e-6f);
            for (int k = len * 2 * h; k < t * 2 * h; k++) Assert.Equal(0f, o.Output.ReadOnlySpan[row * t * 2 * h + k]);
            for (int k = 0; k < len * i; k++) Assert.Equal(ga.Input.ReadOnlySpan[k], g.Input.ReadOnlySpan[row * t * i + k], 1e-5f);
            for (int k = len * i; k < t * i; k++) Assert.Equal(0f, g.Input.ReadOnlySpan[row * t * i + k]);
            for (int s = 0; s < 4; s++)
                for (int j = 0; j < h; j++)
                    Assert.Equal(oa.Hidden.ReadOnlySpan[s * h + j], o.Hidden.ReadOnlySpan[(s * 2 + row) * h + j], 1e-6f);
        }
    }

    [Fact]
    public void PathChoice()
    {
        var x = Tensor.Zeros(2, 5, 3);
        var layer = new RecurrentLayer(CellRegistry.Get("mingru"), 3, 4, batchFirst: true);
        layer.Forward(x);
        Assert.NotEqual(SequencePath.Scan, layer.LastForwardPaths[0]);   // auto: the loop
        layer.Execution = new ExecutionOptions { Path = SequencePath.Scan };
        layer.Forward(x);
        Assert.Equal(SequencePath.Scan, layer.LastForwardPaths[0]);
        var gru = new RecurrentLayer(CellRegistry.Get("gru"), 3, 4, batchFirst: true) { Execution = Parallel };
        Assert.Contains("no parallel-in-time form", Assert.Throws<ArgumentException>(() => gru.Forward(x)).Message);
        Assert.True(CellRegistry.Get("mingru").HasParallelForm);
        Assert.True(CellRegistry.Get("paragru").HasParallelForm);
        Assert.False(CellRegistry.Get("gru").HasParallelForm);
        Assert.False(CellRegistry.Get("lstm").HasParallelForm);
        var para = new RecurrentLayer(CellRegistry.Get("paragru"), 3, 4, batchFirst: true) { Execution = Parallel };
        para.Forward(x);
        Assert.Equal(SequencePath.Newton, para.LastForwardPaths[0]);
        para.Execution = new ExecutionOptions { Path = SequencePath.Scan };
        Assert.Contains("not this cell's parallel form", Assert.Throws<ArgumentException>(() => para.Forward(x)).Message);
        Assert.Equal(["weight_ih_l0", "bias_ih_l0"], layer.NamedParameters().Select(p => p.Name));
        Assert.Equal([8, 3], layer.NamedParameters().First().Parameter.Value.Shape.ToArray());
        Assert.Equal([12, 3], new RecurrentLayer(CellRegistry.Get("minlstm"), 3, 4).NamedParameters().First().Parameter.Value.Shape.ToArray());
        Assert.Contains("takes none", Assert.Throws<ArgumentException>(() => CellRegistry.FromText("mingru(heads=2)")).Message);
    }

    [Fact]
    public void AScopedScanReachesTheLayersBuiltInsideIt()
    {
        var x = Tensor.Zeros(2, 5, 3);
        using (ExecutionOptions.Use(new ExecutionOptions { Scan = ScanMode.Parallel }))
        {
            var min = new RecurrentLayer(CellRegistry.Get("minlstm"), 3, 4, batchFirst: true);
            min.Forward(x);
            Assert.Equal(SequencePath.Scan, min.LastForwardPaths[0]);
            var gru = new RecurrentLayer(CellRegistry.Get("gru"), 3, 4, batchFirst: true);
            Assert.Null(gru.Execution.Scan);   // no parallel form: the loop
            gru.Forward(x);
        }
        var after = new RecurrentLayer(CellRegistry.Get("minlstm"), 3, 4, batchFirst: true);
        Assert.Same(ExecutionOptions.Default, after.Execution);
        Assert.Equal(ScanMode.Sequential, ExecutionOptions.ParseScan("Sequential"));
        Assert.Null(ExecutionOptions.ParseScan("auto"));
        Assert.Throws<ArgumentException>(() => ExecutionOptions.ParseScan("fast"));
    }

    [Fact]
    public void TheStepIsTheDefinition()
    {
        // One step from h0 = 0.5 with weight_ih = 0 and chosen biases: h' = a·h + b by the header's equations.
        var gru = new RecurrentLayer(CellRegistry.Get("mingru"), 1, 1);
        var bg = gru.NamedParameters().First(p => p.Name == "bias_ih_l0").Parameter.Value.Span;
        gru.NamedParameters().First().Parameter.Value.Span.Clear();
        bg[0] = 0.3f; bg[1] = -0.7f;   // z = σ(0.3), h̃ = σ(−0.7)
        var h0 = Tensor.Zeros(1, 1, 1); h0.Span[0] = 0.5f;
        double z = 1 / (1 + Math.Exp(-0.3)), ht = 1 / (1 + Math.Exp(0.7));
        Assert.Equal((1 - z) * 0.5 + z * ht, gru.Forward(Tensor.Zeros(1, 1, 1), h0).Hidden.ReadOnlySpan[0], 1e-6);
        var lstm = new RecurrentLayer(CellRegistry.Get("minlstm"), 1, 1);
        var bl = lstm.NamedParameters().First(p => p.Name == "bias_ih_l0").Parameter.Value.Span;
        lstm.NamedParameters().First().Parameter.Value.Span.Clear();
        bl[0] = 1.2f; bl[1] = -0.4f; bl[2] = 0.9f;   // f = σ(1.2), i = σ(−0.4), h̃ = 0.9 + ½
        double f = 1 / (1 + Math.Exp(-1.2)), i = 1 / (1 + Math.Exp(0.4)), fp = f / (f + i);
        Assert.Equal(fp * 0.5 + (1 - fp) * 1.4, lstm.Forward(Tensor.Zeros(1, 1, 1), h0).Hidden.ReadOnlySpan[0], 1e-6);
    }

    [Theory]
    [InlineData("mingru")]
    [InlineData("minlstm")]
    [InlineData("paragru")]
    [InlineData("paralstm")]
    public void ParallelPathAllocatesNothingAtARepeatedShape(string cell)
    {
        const int b = 3, i = 4, h = 16, l = 2;
        long Measure(int steps)
        {
            var layer = new RecurrentLayer(CellRegistry.Get(cell), i, h, l, batchFirst: true, bidirectional: true) { Execution = Parallel with { Team = TwoWorkers } };
            var x = Random(new Rng(1), [b, steps, i]);
            var y = Tensor.Zeros(b, steps, 2 * h);
            var hN = Tensor.Zeros(2 * l, b, h);
            var dx = Tensor.Zeros(b, steps, i);
            var dh0 = Tensor.Zeros(2 * l, b, h);
            bool twoStates = layer.Cell.StateNames.Count == 2;
            var cN = twoStates ? Tensor.Zeros(2 * l, b, h) : null;
            var dc0 = twoStates ? Tensor.Zeros(2 * l, b, h) : null;
            return Allocations.PerCall(() =>
            {
                layer.Forward(x, null, null, y, hN, cN);
                layer.Backward(y, hN, cN, dx, dh0, dc0);
            });
        }
        Assert.Equal(0, Measure(1));
        Assert.Equal(0, Measure(50));
    }

    // ------------------------------------------------------------------ the kernel against its scalar twin

    static readonly float[] Specials = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 1e30f, -1e30f, 88f, -88f, -100f, 9.5f, -9.5f];

    [Trait("Category", "Kernels")]
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void KernelMatchesItsScalarTwin(bool lstm)
    {
        var rng = new Rng(3);
        float[] R(int len, float scale) { var a = new float[len]; rng.Uniform(a, -scale, scale); return a; }
        int g = MinGates.Gates(lstm), sw = MinGates.SavedWidth(lstm);
        foreach (int rows in new[] { 1, 3 })
            for (int h = 0; h <= 70; h++)
            {
                int n = rows * h;
                for (int special = -1; special < 3; special++)
                {
                    var gx = R(g * n, 4f); var hp = R(n, 1f); var dh = R(n, 1f);
                    var pick = special switch { 0 => gx, 1 => hp, 2 => dh, _ => null };
                    if (pick != null) for (int k = special % 3; k < pick.Length; k += 3) pick[k] = Specials[(k / 3 + special) % Specials.Length];
                    var hF = new float[n]; var hR = new float[n]; var sF = new float[sw * n]; var sR = new float[sw * n];
                    MinGates.Forward(hF, sF, gx, hp, rows, h, lstm);
                    MinGatesReference.Forward(hR, sR, gx, hp, rows, h, lstm);
                    // h' = a·h + b: a 1-ulp difference of σ, scaled by |h| (up to 1e30 here), is the whole difference.
                    for (int k = 0; k < n; k++) Assert.True(Close(hF[k], hR[k], 2e-6f * (1f + Math.Abs(hp[k])), 1e-5f), $"lstm={lstm} R={rows} H={h} special {special} h'[{k}]: {hF[k]:R} vs {hR[k]:R}");
                    for (int k = 0; k < sw * n; k++) Assert.True(Close(sF[k], sR[k], 2e-6f, 1e-5f), $"saved[{k}]: {sF[k]:R} vs {sR[k]:R}");
                    var aF = new float[n]; var bF = new float[n]; var aR = new float[n]; var bR = new float[n];
                    MinGates.Coefficients(aF, bF, default, gx, rows, h, lstm);
                    MinGatesReference.Coefficients(aR, bR, default, gx, rows, h, lstm);
                    for (int k = 0; k < n; k++)
                    {
                        Assert.True(Close(aF[k], aR[k], 2e-6f, 1e-5f) && Close(bF[k], bR[k], 2e-6f, 1e-5f), $"a, b[{k}]");
                        // The step is a·h + b with the coefficients' own bits (what the scan computes).
                        Assert.Equal(BitConverter.SingleToInt32Bits(aF[k] * hp[k] + bF[k]), BitConverter.SingleToInt32Bits(hF[k]));
                    }
                    // Backward from the same saved values: products only, bit for bit.
                    var dgF = new float[g * n]; var dgR = new float[g * n]; var dpF = new float[n]; var dpR = new float[n];
                    MinGates.Backward(dgF, dpF, dh, sR, hp, rows, h, lstm);
                    MinGatesReference.Backward(dgR, dpR, dh, sR, hp, rows, h, lstm);
                    for (int k = 0; k < g * n; k++) Assert.True(Ulps(dgF[k], dgR[k]) == 0, $"dgx[{k}]: {dgF[k]:R} vs {dgR[k]:R}");
                    for (int k = 0; k < n; k++) Assert.True(Ulps(dpF[k], dpR[k]) == 0, $"dh[{k}]: {dpF[k]:R} vs {dpR[k]:R}");
                }
            }
    }

    [Trait("Category", "Kernels")]
    [Fact]
    public void TheDeepTailOfMinLstmIsTheLimit()
    {
        // Both gates far below σ's float range: f′ = σ(k_f − k_i), not 0/0.
        float[] gx = [-200f, -201f, 0.3f], h = [0.25f], next = new float[1], saved = new float[5];
        MinGates.Forward(next, saved, gx, h, 1, 1, lstm: true);
        float fp = 1f / (1f + MathF.Exp(-1f));
        Assert.Equal(fp, saved[0], 1e-6f);
        Assert.Equal(fp * 0.25f + (1 - fp) * 0.8f, next[0], 1e-6f);
    }

    [Trait("Category", "Kernels")]
    [Fact]
    public void ShortSpansThrow()
    {
        foreach (bool lstm in new[] { false, true })
        {
            int g = MinGates.Gates(lstm), s = MinGates.SavedWidth(lstm);
            Assert.Throws<ArgumentException>(() => MinGates.Forward(new float[5], default, new float[6 * g], new float[6], 2, 3, lstm));
            Assert.Throws<ArgumentException>(() => MinGates.Forward(new float[6], default, new float[6 * g - 1], new float[6], 2, 3, lstm));
            Assert.Throws<ArgumentException>(() => MinGates.Forward(new float[6], default, new float[6 * g], new float[5], 2, 3, lstm));
            Assert.Throws<ArgumentException>(() => MinGates.Forward(new float[6], new float[6 * s - 1], new float[6 * g], new float[6], 2, 3, lstm));
            Assert.Throws<ArgumentException>(() => MinGates.Coefficients(new float[6], new float[5], default, new float[6 * g], 2, 3, lstm));
            Assert.Throws<ArgumentException>(() => MinGates.Backward(new float[6 * g - 1], new float[6], new float[6], new float[6 * s], new float[6], 2, 3, lstm));
            Assert.Throws<ArgumentException>(() => MinGates.Backward(new float[6 * g], new float[6], new float[6], new float[6 * s - 1], new float[6], 2, 3, lstm));
            Assert.Throws<ArgumentException>(() => MinGates.Backward(new float[6 * g], new float[6], new float[6], new float[6 * s], new float[5], 2, 3, lstm));
        }
    }
}
