using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

public class LayerBehaviourTests
{
    [Theory]
    [InlineData("gru", false, false, false)]
    [InlineData("lstm", true, false, true)]
    [InlineData("lstm", false, true, false)]
    [InlineData("gru", true, true, true)]
    public void InferenceAndTrainingGiveTheSameOutputAndTheLastLayerOutputIsY(string kind, bool bidirectional, bool batchFirst, bool padded)
    {
        // Inference reads a time-major x in place and writes the last layer's h straight into y; training copies
        // x and goes through the same scatter. Both must give the same bits, leave x as it was, and
        // CopyLayerOutput of the last layer must rebuild y.
        const int b = 3, t = 5, i = 4, h = 16, l = 2;
        var layer = new RecurrentLayer(Cells.CellRegistry.Parse(kind), i, h, l, batchFirst: batchFirst, bidirectional: bidirectional, seed: 3);
        var x = GradientCheckTests.Random(new Rng(4), batchFirst ? [b, t, i] : [t, b, i]);
        var xBefore = x.ReadOnlySpan.ToArray();
        int[] lengths = padded ? [5, 2, 4] : [];
        layer.Training = true;
        var trained = layer.Forward(x, lengths: lengths).Output.ReadOnlySpan.ToArray();
        layer.Training = false;
        var inferred = layer.Forward(x, lengths: lengths).Output;
        Assert.Equal(trained, inferred.ReadOnlySpan.ToArray());
        Assert.Equal(xBefore, x.ReadOnlySpan.ToArray());
        var last = Tensor.Zeros(inferred.Shape.ToArray());
        layer.CopyLayerOutput(l - 1, last);
        Assert.Equal(trained, last.ReadOnlySpan.ToArray());
    }

    [Theory]
    [InlineData("gru", false, false)]
    [InlineData("gru", true, true)]
    [InlineData("lstm", true, false)]
    [InlineData("lstm", false, true)]
    public void BackwardReadsATimeMajorDyInPlaceAndLeavesIt(string kind, bool bidirectional, bool padded)
    {
        // A time-major dy is read where it lies (a batch-first one is transposed into the layer's buffer first): the two
        // layouts must give the same bits for every gradient, and dy must come back untouched. Batch 70 with two layers
        // runs the row groups on the last layer and the layer below reads the buffer that carries ∂L/∂(its output).
        const int b = 70, t = 6, i = 5, h = 16, l = 2;
        var cell = Cells.CellRegistry.Parse(kind);
        var timeMajor = new RecurrentLayer(cell, i, h, l, batchFirst: false, bidirectional: bidirectional, seed: 9) { Training = true };
        var batchFirst = new RecurrentLayer(cell, i, h, l, batchFirst: true, bidirectional: bidirectional, seed: 9) { Training = true };
        int d = bidirectional ? 2 : 1;
        var rng = new Rng(12);
        var x = GradientCheckTests.Random(rng, [t, b, i]);
        var dy = GradientCheckTests.Random(rng, [t, b, d * h]);
        var dyBefore = dy.ReadOnlySpan.ToArray();
        int[] lengths = padded ? Enumerable.Range(0, b).Select(r => 1 + r % t).ToArray() : [];
        timeMajor.Forward(x, lengths: lengths);
        var gTime = timeMajor.Backward(dy);
        Assert.Equal(dyBefore, dy.ReadOnlySpan.ToArray());
        batchFirst.Forward(Transposed(x), lengths: lengths);
        var gBatch = batchFirst.Backward(Transposed(dy));
        Assert.Equal(Transposed(gTime.Input).ReadOnlySpan.ToArray(), gBatch.Input.ReadOnlySpan.ToArray());
        for (int j = 0; j < gTime.States.Count; j++) Assert.Equal(gTime.States[j].ReadOnlySpan.ToArray(), gBatch.States[j].ReadOnlySpan.ToArray());
        var pTime = timeMajor.Parameters().ToArray(); var pBatch = batchFirst.Parameters().ToArray();
        for (int k = 0; k < pTime.Length; k++) Assert.Equal(pTime[k].Grad.ReadOnlySpan.ToArray(), pBatch[k].Grad.ReadOnlySpan.ToArray());

        static Tensor Transposed(Tensor a)
        {
            var o = Tensor.Zeros(a.Dim(1), a.Dim(0), a.Dim(2));
            RecurrentLayer.TransposeInto(o.Span, a.ReadOnlySpan, a.Dim(0), a.Dim(1), a.Dim(2));
            return o;
        }
    }

    [Theory]
    [InlineData("gru")]
    [InlineData("lstm")]
    [InlineData("gru_reset_before")]
    public void TrainingStepAllocatesNothingAtARepeatedShape(string kind)
    {
        var cell = Cells.CellRegistry.Parse(kind);
        const int b = 4, i = 8, h = 16, l = 2;
        long Measure(int steps)
        {
            var layer = new RecurrentLayer(cell, i, h, l, batchFirst: true, bidirectional: true, dropout: 0.1f);
            var rng = new Rng(1);
            var x = GradientCheckTests.Random(rng, [b, steps, i]);
            var y = Tensor.Zeros(b, steps, 2 * h);
            var hN = Tensor.Zeros(2 * l, b, h);
            var cN = kind == "lstm" ? Tensor.Zeros(2 * l, b, h) : null;
            var dx = Tensor.Zeros(b, steps, i);
            var dh0 = Tensor.Zeros(2 * l, b, h);
            var dc0 = kind == "lstm" ? Tensor.Zeros(2 * l, b, h) : null;
            return Allocations.PerCall(() =>
            {
                layer.Forward(x, null, null, y, hN, cN);
                layer.Backward(y, hN, cN, dx, dh0, dc0);
            });
        }
        Assert.Equal(0, Measure(1));
        Assert.Equal(0, Measure(50));
    }

    [Fact]
    public void ParameterNamesAndShapesFollowPyTorch()
    {
        var gru = new Gru(5, 7, numLayers: 2, bidirectional: true);
        var names = gru.Parameters().Select(p => $"{p.Name}{Tensor.ShapeString(p.Value.Shape)}").ToArray();
        Assert.Equal(new[]
        {
            "weight_ih_l0[21, 5]", "weight_hh_l0[21, 7]", "bias_ih_l0[21]", "bias_hh_l0[21]",
            "weight_ih_l0_reverse[21, 5]", "weight_hh_l0_reverse[21, 7]", "bias_ih_l0_reverse[21]", "bias_hh_l0_reverse[21]",
            "weight_ih_l1[21, 14]", "weight_hh_l1[21, 7]", "bias_ih_l1[21]", "bias_hh_l1[21]",
            "weight_ih_l1_reverse[21, 14]", "weight_hh_l1_reverse[21, 7]", "bias_ih_l1_reverse[21]", "bias_hh_l1_reverse[21]",
        }, names);
        var cell = new LstmCell(3, 4, bias: false);
        Assert.Equal(new[] { "weight_ih[16, 3]", "weight_hh[16, 4]" },
            cell.Parameters().Select(p => $"{p.Name}{Tensor.ShapeString(p.Value.Shape)}"));
    }

    [Fact]
    public void InitialisationIsUniformWithinOneOverSqrtH()
    {
        var lstm = new Lstm(10, 64, seed: 3);
        float k = 1f / MathF.Sqrt(64);
        var all = lstm.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()).ToArray();
        Assert.All(all, v => Assert.InRange(v, -k, k));
        Assert.InRange(all.Average(), -0.01, 0.01);
        Assert.InRange(all.Max(), 0.95 * k, k);
        Assert.Equal(new Lstm(10, 64, seed: 3).Parameters().First().Value.ReadOnlySpan.ToArray(),
            lstm.Parameters().First().Value.ReadOnlySpan.ToArray());
    }

    [Fact]
    public void GradientsAccumulateAcrossBackwardCalls()
    {
        var gru = new Gru(3, 4, batchFirst: true, seed: 1);
        var x = GradientCheckTests.Random(new Rng(2), [2, 5, 3]);
        var o = gru.Forward(x);
        gru.Backward(o.Output);
        var once = gru.Parameters().Select(p => p.Grad.Clone()).ToList();
        gru.Backward(o.Output);
        foreach (var (p, g1) in gru.Parameters().Zip(once))
            for (int k = 0; k < g1.Length; k++)
                Assert.True(Math.Abs(2 * g1.ReadOnlySpan[k] - p.Grad.ReadOnlySpan[k]) <= 1e-6f + 1e-6f * Math.Abs(p.Grad.ReadOnlySpan[k]), $"{p.Name}[{k}]");
    }

    [Fact]
    public void BadInputsGiveClearErrors()
    {
        var gru = new Gru(3, 4, batchFirst: true);
        var e = Assert.Throws<ArgumentException>(() => gru.Forward(Tensor.Zeros(2, 5, 4)));
        Assert.Contains("input_size 3", e.Message);
        e = Assert.Throws<ArgumentException>(() => gru.Forward(Tensor.Zeros(2, 5, 3), Tensor.Zeros(2, 2, 4)));
        Assert.Contains("h0 must be [1, 2, 4]", e.Message);
        var inference = new Gru(3, 4) { Training = false };
        inference.Forward(Tensor.Zeros(5, 2, 3));
        Assert.Throws<InvalidOperationException>(() => inference.Backward(Tensor.Zeros(5, 2, 4)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Lstm(3, 0));
        var dict = new Gru(3, 4).StateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        dict["weight_hh_l0"] = Tensor.Zeros(12, 5);
        var ex = Assert.Throws<InvalidDataException>(() => gru.LoadStateDict(dict));
        Assert.Contains("weight_hh_l0", ex.Message);
    }

    [Fact]
    public void StateDictLoadsWithAModulePrefix()
    {
        var a = new Lstm(3, 4, numLayers: 2, seed: 1);
        var b = new Lstm(3, 4, numLayers: 2, seed: 2);
        b.LoadStateDict(a.StateDict().ToDictionary(kv => "model.encoder." + kv.Key, kv => kv.Value));
        var x = GradientCheckTests.Random(new Rng(3), [6, 2, 3]);
        Assert.Equal(a.Forward(x).Output.ReadOnlySpan.ToArray(), b.Forward(x).Output.ReadOnlySpan.ToArray());
    }

    [Fact]
    public void DropoutOnlyInTraining()
    {
        var gru = new Gru(3, 8, numLayers: 2, dropout: 0.5f, seed: 1);
        var x = GradientCheckTests.Random(new Rng(3), [6, 2, 3]);
        gru.Training = false;
        var a = gru.Forward(x).Output.ReadOnlySpan.ToArray();
        var b = gru.Forward(x).Output.ReadOnlySpan.ToArray();
        Assert.Equal(a, b);
        gru.Training = true;
        Assert.NotEqual(a, gru.Forward(x).Output.ReadOnlySpan.ToArray());
    }
}
