using Gyre.Models;
using Gyre.Tensors;
using Gyre.Tests.Layers;
using Xunit;

namespace Gyre.Tests.Models;

public class ModelAllocationTests
{
    [Theory]
    [InlineData("gru", "attention", "softmax", false)]
    [InlineData("lstm", "max", "svm", true)]
    [InlineData("gru", "last", "linear", true)]
    [InlineData("gru", "max", "softmax", true, 2)]   // with gated memory units reading layer 0
    public void ATrainingStepAllocatesNothing(string cell, string pool, string head, bool bidirectional, int gmu = 0)
    {
        var model = new SequenceModel(new ModelSpec
        {
            InputSize = 3, Input = "linear", Cell = cell, Hidden = 16, Layers = 2, Bidirectional = bidirectional, Gmu = gmu, GmuMemory = gmu > 0 ? 0 : null,
            Pool = pool, Head = head, Outputs = 4, Seed = 1,
        });
        var rng = new Rng(1);
        var x = GradientCheckTests.Random(rng, [8, 20, 3]);
        int[] lengths = [20, 3, 7, 20, 1, 12, 19, 5];
        int[] labels = [0, 1, 2, 3, 0, 1, 2, 3];
        var targets = new float[8 * 4];
        void Step()
        {
            model.Forward(x, lengths);
            if (head == "linear") model.Loss(targets); else model.Loss(labels);
            model.BackwardLoss();
        }
        // The recurrent layer on its own, at the same shape: what the model's parts may add to it is nothing.
        var layer = model.Encoder.Layer;
        var y = Tensor.Zeros(8, 20, layer.Directions * 16);
        var finals = Enumerable.Range(0, layer.StateCount).Select(_ => Tensor.Zeros(2 * layer.Directions, 8, 16)).ToArray();
        var dx = Tensor.Zeros(8, 20, 16);
        var dInit = Enumerable.Range(0, layer.StateCount).Select(_ => Tensor.Zeros(2 * layer.Directions, 8, 16)).ToArray();
        var u = GradientCheckTests.Random(rng, [8, 20, 16]);
        void LayerStep()
        {
            layer.Forward(u, default, y, finals, lengths);
            layer.Backward(y, default, dx, dInit);
        }
        long step = Allocations.PerCall(Step);
        Assert.Equal(Allocations.PerCall(LayerStep), step);
        Assert.True(step < 256, $"{step} bytes allocated by a training step");
    }

    /// <summary>
    /// Inference at a shape not seen before (a server's batch of growing cases) allocates the forward buffers of that
    /// shape only: the parts' gradient buffers wait for a Backward, and the recurrent workspace reuses its arena.
    /// </summary>
    [Theory]
    [InlineData("max", 0)]
    [InlineData("attention", 0)]
    [InlineData("mean", 2)]
    public void Inference_at_a_new_shape_allocates_no_gradient_buffers(string pool, int gmu)
    {
        const int H = 32;
        var model = new SequenceModel(new ModelSpec
        {
            InputSize = 3, Input = "linear", Cell = "gru", Hidden = H, Layers = 2, Gmu = gmu, GmuMemory = gmu > 0 ? 0 : null,
            Pool = pool, Outputs = 4, Seed = 1,
        }) { Training = false };
        var rng = new Rng(2);
        model.Forward(GradientCheckTests.Random(rng, [64, 100, 3]), null);
        var x = GradientCheckTests.Random(rng, [63, 99, 3]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        model.Forward(x, null);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // The [B, T, H] forward outputs of this shape: the input projection, the encoder, each GMU and its gate (and
        // attention's [B·T, A] scores, A ≤ H); the gradient buffers would add as much again.
        long outputs = 4L * 63 * 99 * H * (2 + 2 * gmu + (pool == "attention" ? 1 : 0));
        Assert.True(allocated < outputs * 1.2, $"{allocated} bytes allocated by inference at a new shape; its forward outputs are {outputs} bytes");
    }
}
