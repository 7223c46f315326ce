using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// Streaming: advancing a layer's states one observation at a time (and in pieces of uneven length, rows advanced
/// by different counts in one call) gives the outputs and final states of one Forward over the whole sequence,
/// for every registered cell (and the option variants), 2 layers, nonzero initial states.
/// </summary>
public class StreamingAdvanceTests
{
    public static TheoryData<string> Cells()
    {
        var d = new TheoryData<string>();
        foreach (var name in CellRegistry.Names.Concat(["gru(heads=5)", "lstm(heads=5)", "slstm(forget=exp)", "lstm(proj_size=3)"]))
            if (!name.StartsWith("test_", StringComparison.Ordinal)) d.Add(name);
        return d;
    }

    private const int I = 3, H = 5, L = 2, B = 3, T = 13;

    private static (RecurrentLayer Layer, Tensor X, Tensor[] Initial) Setup(string cellName)
    {
        var rng = new Rng(23);
        var layer = new RecurrentLayer(CellRegistry.FromText(cellName), I, H, L, bias: true, batchFirst: true, seed: 5) { Training = false };
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.6f, 0.6f);
        var x = GradientCheckTests.Random(rng, [B, T, I]);
        var initial = layer.NewStates(B);
        foreach (var s in initial) rng.Uniform(s.Span, -0.5f, 0.5f);
        return (layer, x, initial);
    }

    private static (float[] Y, float[][] Finals) Whole(RecurrentLayer layer, Tensor x, Tensor[] initial)
    {
        var r = layer.ForwardStates(x, initial);
        return (r.Output.ReadOnlySpan.ToArray(), [.. r.States.Select(s => s.ReadOnlySpan.ToArray())]);
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void OneStepAtATimeEqualsTheWholeWindow(string cellName)
    {
        var (layer, x, initial) = Setup(cellName);
        var (wantY, wantFinals) = Whole(layer, x, initial);
        var states = initial.Select(s => s.Clone()).ToArray();
        int w = layer.OutputSize;                           // W_0, the width of h and y (H unless the cell narrows h)
        var xt = Tensor.Zeros(B, 1, I);
        var yt = Tensor.Zeros(B, 1, w);
        for (int t = 0; t < T; t++)
        {
            for (int b = 0; b < B; b++) x.ReadOnlySpan.Slice((b * T + t) * I, I).CopyTo(xt.Span.Slice(b * I, I));
            layer.Advance(xt, states, yt);
            for (int b = 0; b < B; b++)
                for (int u = 0; u < w; u++)
                    Assert.True(Math.Abs(wantY[(b * T + t) * w + u] - yt.Span[b * w + u]) <= 1e-5f,
                        $"{cellName}: y[{b}, {t}, {u}] = {yt.Span[b * w + u]}, whole window {wantY[(b * T + t) * w + u]}");
        }
        for (int j = 0; j < states.Length; j++) AssertClose(wantFinals[j], states[j].ReadOnlySpan, $"{cellName} state {j}");
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void UnevenPiecesPerRowEqualTheWholeWindow(string cellName)
    {
        var (layer, x, initial) = Setup(cellName);
        var (_, wantFinals) = Whole(layer, x, initial);
        var states = initial.Select(s => s.Clone()).ToArray();
        int w = layer.OutputSize;
        // Per row, the steps each call advances it by (row 1 sits out a call: 0 steps leave its states alone).
        int[][] pieces = [[4, 1, 0, 5, 3], [2, 0, 6, 4, 1], [1, 1, 1, 7, 3]];
        int[] done = new int[B];
        for (int call = 0; call < pieces[0].Length; call++)
        {
            int[] k = [.. Enumerable.Range(0, B).Select(b => pieces[b][call])];
            int width = k.Max();
            var piece = Tensor.Zeros(B, width, I);
            piece.Fill(float.NaN);                         // steps past a row's count must never be read
            for (int b = 0; b < B; b++)
                x.ReadOnlySpan.Slice((b * T + done[b]) * I, k[b] * I).CopyTo(piece.Span.Slice(b * width * I, k[b] * I));
            var y = Tensor.Zeros(B, width, w);
            layer.Advance(piece, states, y, k);
            for (int b = 0; b < B; b++)
            {
                // The row's outputs are those of the whole window at the same steps; 0 past its count.
                var whole = layer.ForwardStates(x, initial).Output.ReadOnlySpan;
                for (int s = 0; s < width; s++)
                    for (int u = 0; u < w; u++)
                    {
                        float got = y.ReadOnlySpan[(b * width + s) * w + u];
                        float want = s < k[b] ? whole[(b * T + done[b] + s) * w + u] : 0f;
                        Assert.True(Math.Abs(want - got) <= 1e-5f, $"{cellName}: call {call}, y[{b}, {s}, {u}] = {got}, expected {want}");
                    }
                done[b] += k[b];
            }
        }
        Assert.All(done, d => Assert.Equal(T, d));
        for (int j = 0; j < states.Length; j++) AssertClose(wantFinals[j], states[j].ReadOnlySpan, $"{cellName} state {j}");
    }

    [Fact]
    public void LayersThatReadLaterStepsOrTrainRefuse()
    {
        var x = Tensor.Zeros(1, 1, I);
        var bi = new RecurrentLayer(CellRegistry.Get("gru"), I, H, bidirectional: true, batchFirst: true) { Training = false };
        Assert.False(bi.Streamable);
        Assert.Contains("bidirectional", Assert.Throws<InvalidOperationException>(() => bi.Advance(x, bi.NewStates(1), Tensor.Zeros(1, 1, 2 * H))).Message);
        var reverse = new RecurrentLayer(CellRegistry.Get("gru"), I, H, reverseOnly: true, batchFirst: true) { Training = false };
        Assert.Contains("reverse-only", Assert.Throws<InvalidOperationException>(() => reverse.Advance(x, reverse.NewStates(1), Tensor.Zeros(1, 1, H))).Message);
        var training = new RecurrentLayer(CellRegistry.Get("lstm"), I, H, batchFirst: true) { Training = true };
        Assert.Contains("inference only", Assert.Throws<InvalidOperationException>(() => training.Advance(x, training.NewStates(1), Tensor.Zeros(1, 1, H))).Message);
        training.Training = false;
        Assert.Contains("has 2", Assert.Throws<ArgumentException>(() => training.Advance(x, [Tensor.Zeros(1, 1, H)], Tensor.Zeros(1, 1, H))).Message);
    }

    [Fact]
    public void AdvancingAtARepeatedShapeAllocatesNothing()
    {
        var (layer, _, _) = Setup("lstm");
        var states = layer.NewStates(B);
        var xt = Tensor.Zeros(B, 1, I);
        var yt = Tensor.Zeros(B, 1, H);
        Assert.Equal(0, Allocations.PerCall(() => layer.Advance(xt, states, yt), warmups: 1));
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void FrozenWeightsGiveTheSameBitsAndRepackWhenFrozenAgain(string cellName)
    {
        var rng = new Rng(31);
        var frozen = new RecurrentLayer(CellRegistry.FromText(cellName), I, 20, L, bias: true, batchFirst: true, seed: 5) { Training = false };
        var plain = new RecurrentLayer(CellRegistry.FromText(cellName), I, 20, L, bias: true, batchFirst: true, seed: 5) { Training = false };
        foreach (var (p, q) in frozen.Parameters().Zip(plain.Parameters()))
        {
            rng.Uniform(p.Value.Span, -0.6f, 0.6f);
            p.Value.ReadOnlySpan.CopyTo(q.Value.Span);
        }
        frozen.WeightsFrozen = true;
        Assert.True(frozen.WeightsFrozen);
        for (int round = 0; round < 2; round++)
        {
            // Batch sizes that take the single-row, multi-row and split paths in turn, so every packed form is reused
            // after another has been used.
            foreach (var (b, k) in new[] { (1, 1), (4, 3), (1, 2), (40, 1), (4, 1), (1, 1) })
            {
                var x = GradientCheckTests.Random(rng, [b, k, I]);
                var (a, c) = (frozen.NewStates(b), plain.NewStates(b));
                var (ya, yc) = (Tensor.Zeros(b, k, frozen.OutputSize), Tensor.Zeros(b, k, plain.OutputSize));
                frozen.Advance(x, a, ya);
                plain.Advance(x, c, yc);
                Assert.Equal(frozen.LastForwardPaths, plain.LastForwardPaths);
                Assert.True(ya.ReadOnlySpan.SequenceEqual(yc.ReadOnlySpan), $"{cellName} round {round}, B={b}, k={k}: outputs differ");
            }
            // New weights, then freezing again: the next calls use them.
            foreach (var (p, q) in frozen.Parameters().Zip(plain.Parameters()))
            {
                p.Value.Span[0] += 0.25f;
                q.Value.Span[0] += 0.25f;
            }
            frozen.WeightsFrozen = true;
        }
        frozen.WeightsFrozen = false;
        Assert.False(frozen.WeightsFrozen);
    }

    private static void AssertClose(float[] want, ReadOnlySpan<float> got, string what)
    {
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
            Assert.True(Math.Abs(want[i] - got[i]) <= 1e-5f, $"{what}[{i}] = {got[i]}, whole window {want[i]}");
    }
}
