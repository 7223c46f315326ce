using Gyre.Models;
using Gyre.Tensors;
using Gyre.Tests.IO;
using Xunit;

namespace Gyre.Tests.Models;

/// <summary>A sequence model's ONNX export (encoder of any cell, last-state pooling, head) gives the model's own
/// head outputs in ONNX Runtime.</summary>
public sealed class SequenceModelOnnxTests
{
    [Theory]
    [InlineData("gru")]
    [InlineData("lstm")]
    [InlineData("slstm")]
    [InlineData("indrnn(nonlinearity=tanh)")]
    public void Export_MatchesTheModelInOnnxRuntime(string cell)
    {
        var model = new SequenceModel(new ModelSpec { InputSize = 3, Cell = cell, Hidden = 8, Layers = 2, Pool = "last", Head = "linear", Outputs = 2, Seed = 4 })
        {
            Training = false,
        };
        var x = Tensor.Zeros(5, 7, 3);
        new Rng(9).Uniform(x.Span, -1f, 1f);
        var expected = model.Forward(x, null).Clone();             // [B, outputs]
        var o = OnnxTests.RunOrt(SequenceModelOnnx.ToBytes(model), ("x", x));
        OnnxTests.AssertClose(expected, o["prediction"], 1e-5f, $"{cell} prediction");
    }
}
