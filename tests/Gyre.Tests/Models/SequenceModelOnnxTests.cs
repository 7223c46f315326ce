using Gyre.Models;
using Gyre.Tensors;
using Gyre.Tests.IO;
using Xunit;

namespace Gyre.Tests.Models;

/// <summary>A sequence model's ONNX export (encoder of any cell, gated memory units, last-state pooling, head) gives
/// the model's own head outputs (and encoder output y) in ONNX Runtime.</summary>
public sealed class SequenceModelOnnxTests
{
    [Theory]
    [InlineData("gru")]
    [InlineData("lstm")]
    [InlineData("slstm")]
    [InlineData("indrnn(nonlinearity=tanh)")]
    [InlineData("gru", 2, 0)]      // gated memory units: MatMul + Add + Sigmoid + Mul, m from layer 0
    [InlineData("gru", 1, 1)]
    [InlineData("slstm", 2, 0)]    // Scan-exported layers feeding the units
    public void Export_MatchesTheModelInOnnxRuntime(string cell, int gmu = 0, int gmuMemory = 0)
    {
        var model = new SequenceModel(new ModelSpec
        {
            InputSize = 3, Cell = cell, Hidden = 8, Layers = 2, Gmu = gmu, GmuMemory = gmu > 0 ? gmuMemory : null,
            Pool = "last", Head = "linear", Outputs = 2, Seed = 4,
        })
        {
            Training = false,
        };
        var x = Tensor.Zeros(5, 7, 3);
        new Rng(9).Uniform(x.Span, -1f, 1f);
        var expected = model.Forward(x, null).Clone();             // [B, outputs]
        var o = OnnxTests.RunOrt(SequenceModelOnnx.ToBytes(model), ("x", x));
        OnnxTests.AssertClose(expected, o["prediction"], 1e-5f, $"{cell} prediction");
        if (gmu > 0) OnnxTests.AssertClose(model.Encoder.Forward(x, null), o["y"], 1e-5f, $"{cell} + {gmu} GMU y");
    }
}
