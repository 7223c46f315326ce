using Gyre.Models;
using Gyre.Tensors;
using Gyre.Tests.Layers;
using Xunit;

namespace Gyre.Tests.Models;

/// <summary>
/// Gated memory units inside the encoder stack (SambaY): finite differences of a 2-layer GRU + 2 GMU encoder with
/// the memory from layer 0 and from layer 1 (odd sizes, B = 1, T = 1, bidirectional, ragged), the memory read-out,
/// the model-file round trip and spec errors. The ONNX export is in <see cref="SequenceModelOnnxTests"/>. Padding invariance and allocation-free
/// steps with GMUs are cases of <see cref="PaddingTests"/> and <see cref="ModelAllocationTests"/>.
/// </summary>
public sealed class GmuStackTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "gyre-gmu-" + Guid.NewGuid().ToString("N"));

    public GmuStackTests() => Directory.CreateDirectory(_dir);
    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    // cell, layers, gmu, memory layer, bidirectional, B, T, ragged
    [InlineData("gru", 2, 2, 0, false, 3, 4, true)]
    [InlineData("gru", 2, 2, 1, false, 3, 4, true)]
    [InlineData("gru", 2, 2, 0, true, 2, 3, true)]
    [InlineData("gru", 2, 2, 1, true, 2, 3, false)]
    [InlineData("gru", 2, 2, 0, false, 1, 1, false)]
    [InlineData("gru", 2, 1, 1, true, 1, 1, false)]
    [InlineData("lstm", 3, 2, 1, false, 2, 3, true)]
    public void EncoderMatchesFiniteDifferences(string cell, int layers, int gmu, int memory, bool bidirectional, int b, int t, bool ragged)
    {
        var rng = new Rng(31);
        const int input = 3, hidden = 5;
        var enc = new RecurrentEncoder(cell, input, hidden, layers, bidirectional, 0f, seed: 7, gmu: gmu, gmuMemory: memory);
        foreach (var p in enc.Parameters()) rng.Uniform(p.Value.Span, -0.9f, 0.9f);
        int[]? lengths = ragged ? Enumerable.Range(0, b).Select(i => t - (i * 2) % t).ToArray() : null;
        var x = GradientCheckTests.Random(rng, [b, t, input]);
        var dy = GradientCheckTests.Random(rng, [b, t, enc.OutputSize]);
        enc.Training = true;
        double Loss() => GradientCheckTests.Dot(enc.Forward(x, lengths), dy);
        Loss();
        enc.ZeroGrad();
        var dx = enc.Backward(dy).Clone();
        ModelGradientTests.Check("x", x, dx, Loss);
        var names = enc.NamedParameters().Select(p => p.Name).ToList();
        for (int g = 0; g < gmu; g++) { Assert.Contains($"gmu{g}.weight", names); Assert.Contains($"gmu{g}.bias", names); }
        foreach (var (name, p) in enc.NamedParameters()) ModelGradientTests.Check(name, p.Value, p.Grad, Loss);
    }

    [Fact]
    public void TheMemoryIsTheNamedLayersOutput()
    {
        // One GMU with weight 0 and bias 0 halves its memory: y = σ(0) ⊙ m = m / 2, m = layer L's output.
        var rng = new Rng(4);
        var x = GradientCheckTests.Random(rng, [2, 3, 3]);
        var plain = new RecurrentEncoder("gru", 3, 4, 2, false, 0f, seed: 7);
        plain.Forward(x, null);
        for (int layer = 0; layer < 2; layer++)
        {
            var enc = new RecurrentEncoder("gru", 3, 4, 2, false, 0f, seed: 7, gmu: 1, gmuMemory: layer);
            foreach (var p in enc.MemoryUnits[0].Parameters()) p.Value.Span.Clear();
            var y = enc.Forward(x, null).ReadOnlySpan.ToArray();
            var m = Tensor.Zeros(2, 3, 4);
            plain.Layer.CopyLayerOutput(layer, m);
            Assert.Equal(m.ReadOnlySpan.ToArray().Select(v => v / 2).ToArray(), y);
        }
        var layer1 = Tensor.Zeros(2, 3, 4);
        plain.Layer.CopyLayerOutput(1, layer1);
        Assert.Equal(plain.Forward(x, null).ReadOnlySpan.ToArray(), layer1.ReadOnlySpan.ToArray());   // adding GMUs keeps the recurrent weights
    }

    [Fact]
    public void ModelFileRoundTripsTheGmuLayers()
    {
        var spec = new ModelSpec { InputSize = 2, Cell = "gru", Hidden = 6, Layers = 2, Gmu = 2, GmuMemory = 0, Pool = "last", Head = "softmax", Outputs = 3, Seed = 5 };
        var model = new SequenceModel(spec) { Training = false };
        var x = GradientCheckTests.Random(new Rng(1), [4, 5, 2]);
        var expected = model.Forward(x, null).ReadOnlySpan.ToArray();
        string path = Path.Combine(_dir, "m.gyre");
        model.Save(path, "classify", []);
        var (loaded, _, _, _) = SequenceModel.Load(path);
        Assert.Equal(spec, loaded.Spec);
        Assert.Equal(2, loaded.Encoder.MemoryUnits.Count);
        Assert.Equal(0, loaded.Encoder.MemoryLayer);
        var names = loaded.NamedParameters().Select(p => p.Name).ToList();
        Assert.Contains("encoder.gmu0.weight", names); Assert.Contains("encoder.gmu1.bias", names);
        Assert.Equal(expected, loaded.Forward(x, null).ReadOnlySpan.ToArray());
    }

    [Fact]
    public void BadSettingsGetOneLine()
    {
        ModelSpec Spec(int gmu, int? memory) => new() { InputSize = 2, Hidden = 4, Layers = 2, Gmu = gmu, GmuMemory = memory, Outputs = 2 };
        Assert.Contains("gmu layers must be in 0..64, got -1", Assert.Throws<ArgumentException>(() => Spec(-1, null).Validate()).Message);
        Assert.Contains("needs at least one gmu layer", Assert.Throws<ArgumentException>(() => Spec(0, 1).Validate()).Message);
        Assert.Contains("0..1 (0-based), got 2", Assert.Throws<ArgumentException>(() => Spec(1, 2).Validate()).Message);
        Spec(1, 1).Validate();
    }
}
