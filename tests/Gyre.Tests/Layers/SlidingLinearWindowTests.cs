using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// <see cref="SlidingLinearWindow"/> against the recurrence re-run over each window from zero, and
/// <see cref="RecurrentLayer.LinearCoefficients"/> against the layer's own step.
/// </summary>
public sealed class SlidingLinearWindowTests
{
    /// <summary>h after steps [from, to) of h_t = a_t ⊙ h_{t−1} + b_t from h = 0, in the recurrence's order (float).</summary>
    private static float[] Rerun(float[] a, float[] b, int from, int to, int h)
    {
        var state = new float[h];
        for (int t = from; t < to; t++)
            for (int j = 0; j < h; j++) state[j] = a[t * h + j] * state[j] + b[t * h + j];
        return state;
    }

    [Theory]
    [InlineData(1, 3)]
    [InlineData(2, 1)]
    [InlineData(5, 17)]
    [InlineData(24, 8)]
    [InlineData(96, 33)]
    public void EveryWindowEqualsTheRecurrenceRerunFromZero(int steps, int h)
    {
        int n = 4 * steps + 50;
        var rng = new Rng(11);
        var a = new float[n * h]; var b = new float[n * h];
        rng.Uniform(a, 0.5f, 1f);                         // slow decay: every step of the window still counts
        rng.Uniform(b, -1f, 1f);
        var window = new SlidingLinearWindow(steps, h);
        var got = new float[h];
        window.State(got);
        Assert.All(got, v => Assert.Equal(0f, v));
        for (int t = 0; t < n; t++)
        {
            window.Push(a.AsSpan(t * h, h), b.AsSpan(t * h, h));
            Assert.Equal(Math.Min(t + 1, steps), window.Count);
            window.State(got);
            var want = Rerun(a, b, Math.Max(0, t + 1 - steps), t + 1, h);
            for (int j = 0; j < h; j++)
                Assert.True(Math.Abs(want[j] - got[j]) <= 2e-6f * Math.Max(1f, Math.Abs(want[j])), $"step {t}, unit {j}: {got[j]:R} vs {want[j]:R}");
            // Until the first fold the window is the recurrence's own arithmetic.
            if (t < steps) Assert.Equal(want, got);
        }
        window.Clear();
        Assert.Equal(0, window.Count);
        window.Push(a.AsSpan(0, h), b.AsSpan(0, h));
        window.State(got);
        Assert.Equal(b.AsSpan(0, h).ToArray(), got);
    }

    [Fact]
    public void PushAndStateAllocateNothingAndCheckTheirSpans()
    {
        var window = new SlidingLinearWindow(7, 16);
        var a = new float[16]; var b = new float[16]; var s = new float[16];
        Array.Fill(a, 0.9f); Array.Fill(b, 0.1f);
        for (int i = 0; i < 20; i++) window.Push(a, b);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) { window.Push(a, b); window.State(s); }
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        Assert.Throws<ArgumentException>(() => window.Push(new float[15], b));
        Assert.Throws<ArgumentException>(() => window.State(new float[17]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SlidingLinearWindow(0, 4));
    }

    [Theory]
    [InlineData("mingru")]
    [InlineData("minlstm")]
    public void LinearCoefficientsAreTheLayersStep(string cell)
    {
        const int batch = 5, input = 3, hidden = 12;
        var layer = new RecurrentLayer(CellRegistry.FromText(cell), input, hidden, batchFirst: true, seed: 3) { Training = false };
        Assert.True(layer.Slidable);
        var rng = new Rng(5);
        var x = Tensor.Zeros(batch, 1, input);
        rng.Uniform(x.Span, -2f, 2f);
        var h0 = Tensor.Zeros(1, batch, hidden);
        rng.Uniform(h0.Span, -1f, 1f);
        var a = new float[batch * hidden]; var b = new float[batch * hidden];
        layer.LinearCoefficients(x.ReadOnlySpan, batch, a, b);
        var states = new[] { h0.Clone() };
        layer.Advance(x, states, Tensor.Zeros(batch, 1, hidden));
        for (int i = 0; i < batch * hidden; i++)
        {
            float want = states[0].ReadOnlySpan[i], got = a[i] * h0.ReadOnlySpan[i] + b[i];
            Assert.True(Math.Abs(want - got) <= 1e-6f * Math.Max(1f, Math.Abs(want)), $"{cell} value {i}: {got:R} vs the step's {want:R}");
        }
    }

    [Fact]
    public void OnlyOneForwardLayerOfALinearCellSlides()
    {
        Assert.False(new RecurrentLayer(CellRegistry.FromText("gru"), 2, 4).Slidable);
        Assert.False(new RecurrentLayer(CellRegistry.FromText("mingru"), 2, 4, numLayers: 2).Slidable);
        Assert.False(new RecurrentLayer(CellRegistry.FromText("mingru"), 2, 4, bidirectional: true).Slidable);
        var gru = new RecurrentLayer(CellRegistry.FromText("gru"), 2, 4);
        var e = Assert.Throws<InvalidOperationException>(() => gru.LinearCoefficients(new float[2], 1, new float[4], new float[4]));
        Assert.Contains("mingru", e.Message);
    }
}
