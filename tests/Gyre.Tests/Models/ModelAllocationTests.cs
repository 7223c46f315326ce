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
}
