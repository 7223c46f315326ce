using Gyre.Cells;
using Gyre.IO;
using Gyre.Layers;
using Gyre.Tensors;
using Gyre.Tests.IO;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// The reset-before GRU (<see cref="CellKind.GruResetBefore"/>) and reverse-only stacks: finite-difference
/// gradient checks with random upstream gradients, and forward parity with the double-precision scalar
/// stack in <see cref="RecurrentReference"/> (test-side, independent of the library's kernels).
/// </summary>
public class ResetBeforeAndReverseTests
{
    public static IEnumerable<object[]> Shapes()
    {
        // kind, I, H, layers, bidirectional, reverseOnly, B, T, bias, batchFirst, dropout
        const string rb = "gru_reset_before";
        yield return [rb, 1, 1, 1, false, false, 1, 1, true, true, 0f];
        yield return [rb, 3, 1, 1, false, false, 2, 5, true, false, 0f];
        yield return [rb, 5, 7, 1, false, false, 1, 1, true, true, 0f];
        yield return [rb, 2, 3, 3, false, false, 3, 4, true, true, 0f];
        yield return [rb, 3, 5, 2, true, false, 2, 3, false, false, 0f];
        yield return [rb, 4, 3, 3, true, false, 1, 6, true, true, 0.3f];
        // Reverse-only stacks for every cell.
        foreach (var kind in new[] { "gru", rb, "lstm", "rnn_tanh" })
        {
            yield return [kind, 3, 5, 2, false, true, 2, 4, true, true, 0f];
            yield return [kind, 1, 1, 1, false, true, 1, 1, true, false, 0f];
            yield return [kind, 2, 3, 3, false, true, 3, 3, false, false, 0f];
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardMatchesFiniteDifferences(string kind, int inputSize, int hidden, int layers, bool bidir, bool reverseOnly,
        int batch, int steps, bool bias, bool batchFirst, float dropout)
    {
        var cell = CellRegistry.Parse(kind);
        var rng = new Rng(43);
        var layer = new RecurrentLayer(cell, inputSize, hidden, layers, bias, batchFirst, dropout, bidir, seed: 9, reverseOnly: reverseOnly);
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        GradientCheckTests.CheckLayer(layer, rng, kind, batch, steps);
    }

    public static TheoryData<string, int, int, int, bool, bool, int, int, bool> ParityShapes => new()
    {
        // kind, I, H, layers, bidirectional, reverseOnly, B, T, bias
        { "gru_reset_before", 1, 1, 1, false, false, 1, 1, true },
        { "gru_reset_before", 5, 7, 1, false, false, 3, 11, true },
        { "gru_reset_before", 4, 6, 2, true, false, 2, 9, true },
        { "gru_reset_before", 3, 16, 3, false, false, 4, 20, false },
        { "gru_reset_before", 3, 5, 2, false, true, 2, 7, true },
        { "gru", 3, 5, 2, false, true, 2, 7, true },
        { "lstm", 4, 6, 3, false, true, 3, 5, true },
    };

    [Theory]
    [MemberData(nameof(ParityShapes))]
    public void ForwardMatchesScalarReference(string kind, int inputSize, int hidden, int layers, bool bidir, bool reverseOnly,
        int batch, int steps, bool bias)
    {
        var layer = new RecurrentLayer(CellRegistry.Parse(kind), inputSize, hidden, layers, bias, batchFirst: true,
            bidirectional: bidir, seed: 5, reverseOnly: reverseOnly);
        var rng = new Rng(17);
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.7f, 0.7f);
        var spec = layer.ToSpec();
        Assert.Equal(kind == "gru_reset_before", spec.ResetBefore);
        Assert.Equal(reverseOnly, spec.Reverse);
        int ld = layers * spec.Directions;
        var x = GradientCheckTests.Random(rng, [batch, steps, inputSize]);
        var h0 = GradientCheckTests.Random(rng, [ld, batch, hidden]);
        var c0 = spec.Kind == RecurrentKind.Lstm ? GradientCheckTests.Random(rng, [ld, batch, hidden]) : null;

        var o = layer.Forward(x, h0, c0);
        var (y, hn, cn) = RecurrentReference.Forward(spec, layer.StateDict(), x, h0, c0);
        OnnxTests.AssertClose(y, o.Output, 1e-5f, "y");
        OnnxTests.AssertClose(hn, o.Hidden, 1e-5f, "h_n");
        if (c0 != null) OnnxTests.AssertClose(cn, o.Cell!, 1e-5f, "c_n");

        if (kind == "gru_reset_before")
        {
            // The reset-after cell on the same weights differs, so the parity above is about the variant.
            var (yAfter, _, _) = RecurrentReference.Forward(spec with { ResetBefore = false }, layer.StateDict(), x, h0, null);
            Assert.True(MaxDiff(yAfter, o.Output) > 1e-3, "reset-before and reset-after agree: the test cannot tell them apart");
        }
    }

    // A reverse-only layer on x equals the same weights running forwards on x flipped in time, flipped back.
    [Theory]
    [InlineData("gru", true)]
    [InlineData("gru_reset_before", false)]
    [InlineData("lstm", true)]
    [InlineData("rnn_relu", false)]
    public void ReverseOnlyEqualsForwardOnFlippedTime(string kind, bool batchFirst)
    {
        int I = 3, H = 4, L = 2, B = 2, T = 6;
        var cellKind = CellRegistry.Parse(kind);
        var rev = new RecurrentLayer(cellKind, I, H, L, batchFirst: batchFirst, seed: 3, reverseOnly: true);
        var fwd = new RecurrentLayer(cellKind, I, H, L, batchFirst: batchFirst, seed: 4);
        fwd.LoadStateDict(rev.StateDict());
        Assert.Equal(rev.StateDict().Keys.Order(), fwd.StateDict().Keys.Order()); // plain names, no "_reverse"
        var rng = new Rng(8);
        var x = GradientCheckTests.Random(rng, batchFirst ? [B, T, I] : [T, B, I]);
        var a = rev.Forward(x);
        var b = fwd.Forward(FlipTime(x, batchFirst));
        Assert.True(a.Output.ReadOnlySpan.SequenceEqual(FlipTime(b.Output, batchFirst).ReadOnlySpan), "y differs");
        Assert.True(a.Hidden.ReadOnlySpan.SequenceEqual(b.Hidden.ReadOnlySpan), "h_n differs");
        Assert.False(a.Output.ReadOnlySpan.SequenceEqual(fwd.Forward(x).Output.ReadOnlySpan)); // direction matters
    }

    [Fact]
    public void ReverseOnlyAndBidirectionalIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => new RecurrentLayer(CellKind.Gru, 2, 3, bidirectional: true, reverseOnly: true));
        Assert.Contains("reverseOnly applies to unidirectional layers only", e.Message);
    }

    [Fact]
    public void ResetBeforeHasGruNamesAndShapes()
    {
        var a = new RecurrentLayer(CellKind.GruResetBefore, 3, 5, 2, bidirectional: true);
        var b = new Gru(3, 5, 2, bidirectional: true);
        Assert.Equal(b.StateDict().Select(kv => (kv.Key, Tensor.ShapeString(kv.Value.Shape))),
                     a.StateDict().Select(kv => (kv.Key, Tensor.ShapeString(kv.Value.Shape))));
        Assert.Equal(CellKind.GruResetBefore, CellRegistry.Parse("GRU_RESET_BEFORE"));
        Assert.Equal("gru_reset_before", CellRegistry.Name(CellKind.GruResetBefore));
    }

    private static Tensor FlipTime(Tensor t, bool batchFirst)
    {
        var r = Tensor.Zeros(t.Shape);
        int d0 = t.Dim(0), d1 = t.Dim(1), f = t.Dim(2);
        for (int i = 0; i < d0; i++)
            for (int j = 0; j < d1; j++)
            {
                int si = batchFirst ? i : d0 - 1 - i, sj = batchFirst ? d1 - 1 - j : j;
                t.ReadOnlySpan.Slice((si * d1 + sj) * f, f).CopyTo(r.Span.Slice((i * d1 + j) * f, f));
            }
        return r;
    }

    private static double MaxDiff(Tensor a, Tensor b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a.ReadOnlySpan[i] - b.ReadOnlySpan[i]));
        return m;
    }
}
