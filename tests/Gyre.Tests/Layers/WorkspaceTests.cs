using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// The layer's workspace: inference carves no gradient buffers and grows its arena geometrically, so a caller whose
/// sequences lengthen by one step per call (a server re-running growing cases) allocates a small multiple of the
/// last workspace in all, not one workspace per length; a training pass after inference passes gets its gradient
/// buffers back.
/// </summary>
public class WorkspaceTests
{
    private const int I = 3, H = 16, B = 8;

    [Fact]
    public void Inference_at_growing_lengths_allocates_a_small_multiple_of_the_last_workspace()
    {
        const int Steps = 200;
        var layer = new RecurrentLayer(CellRegistry.FromText("gru"), I, H, 1, bias: true, batchFirst: true, seed: 3) { Training = false };
        var rng = new Rng(4);
        var xs = Enumerable.Range(1, Steps).Select(t => GradientCheckTests.Random(rng, [B, t, I])).ToArray();
        var ys = Enumerable.Range(1, Steps).Select(t => Tensor.Zeros(B, t, H)).ToArray();
        var final = layer.NewStates(B);
        layer.Forward(xs[0], [], ys[0], final, default);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int t = 1; t < Steps; t++) layer.Forward(xs[t], [], ys[t], final, default);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // An inference workspace at T steps: layer input and output, the G·H input projections and the T + 1 states.
        long last = 4L * Steps * B * (I + H + 3 * H + H);
        // Growing by 1.5× at least, the arenas sum to about 3× the last; each new length also makes the workspace's
        // small views (a few hundred bytes). One exact-size training arena per length, as before, would be ~100× this.
        Assert.True(allocated < 4 * last + Steps * 2048L, $"{allocated} bytes allocated over {Steps - 1} lengths; the last inference workspace is {last} bytes");
        Assert.True(allocated > 0, "the arena grew");
    }

    [Fact]
    public void Training_after_inference_gets_the_gradients_of_a_fresh_layer()
    {
        var rng = new Rng(6);
        var x = GradientCheckTests.Random(rng, [B, 11, I]);
        var dy = GradientCheckTests.Random(rng, [B, 11, H]);
        var shorter = GradientCheckTests.Random(rng, [B, 5, I]);
        RecurrentLayer Layer() => new(CellRegistry.FromText("lstm"), I, H, 2, bias: true, batchFirst: true, seed: 9);
        float[][] Gradients(RecurrentLayer l)
        {
            l.Training = true;
            foreach (var p in l.Parameters()) p.Grad.Span.Clear();
            l.Forward(x);
            var g = l.Backward(dy);
            return [g.Input.ReadOnlySpan.ToArray(), .. l.Parameters().Select(p => p.Grad.ReadOnlySpan.ToArray())];
        }
        var fresh = Gradients(Layer());
        var used = Layer();
        used.Training = false;
        used.Forward(x);                                    // an inference workspace of the same shape
        used.Forward(shorter);                              // and of another
        var after = Gradients(used);
        Assert.Equal(fresh.Length, after.Length);
        for (int i = 0; i < fresh.Length; i++) Assert.Equal(fresh[i], after[i]);
        // Inference after training reuses the training workspace and answers as a fresh layer does.
        used.Training = false;
        var again = Layer();
        again.Training = false;
        Assert.Equal(again.Forward(x).Output.ReadOnlySpan.ToArray(), used.Forward(x).Output.ReadOnlySpan.ToArray());
    }
}
