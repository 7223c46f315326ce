using Gyre.Forecasting;
using Gyre.Tensors;
using Gyre.Tests.Layers;
using Xunit;

namespace Gyre.Tests.Forecasting;

public class ForecastNetworkTests
{
    [Theory]
    [InlineData("gru", "direct", 0, 0, 0)]
    [InlineData("lstm", "direct", 3, 2, 0)]
    [InlineData("gru", "recurrent", 0, 2, 0)]
    [InlineData("lstm", "recurrent", 2, 0, 3)]
    [InlineData("gru", "direct", 4, 1, 3)]
    [InlineData("gru", "pmf", 3, 0, 0)]
    [InlineData("gru", "pmf", 2, 2, 2)]
    [InlineData("lstm", "pmf", 0, 1, 0)]
    public void BackwardMatchesFiniteDifferences(string cell, string decoder, int patch, int future, int quantiles)
    {
        var config = new ForecastNetworkConfig
        {
            Cell = cell, Decoder = decoder, Patch = patch, FutureFeatures = future, InputFeatures = 2, Hidden = 5,
            Layers = 2, Lookback = 9, Horizon = 3, Outputs = 2,
            Quantiles = quantiles == 0 ? [] : Enumerable.Range(1, quantiles).Select(q => q / (quantiles + 1f)).ToArray(),
            Seed = 11,
        };
        var net = new ForecastNetwork(config);
        var rng = new Rng(5);
        foreach (var p in net.Parameters()) rng.Uniform(p.Value.Span, -0.6f, 0.6f);
        var x = GradientCheckTests.Random(rng, [2, 9, 2]);
        var fut = future > 0 ? GradientCheckTests.Random(rng, [2, 3, future]) : null;
        var up = GradientCheckTests.Random(rng, [2, 3, 2, config.QuantileCount]);
        double Loss() => GradientCheckTests.Dot(net.Forward(x, fut), up);

        Loss();
        net.ZeroGrad();
        net.Backward(up);
        CheckAllParameters(net, Loss);
    }

    /// <summary>
    /// Gated memory units after the encoder: the last one's output at the last step stands in for the top layer's final
    /// h (read by the head, or the decoder's initial state), so its gradient reaches the GMUs and the memory layer
    /// through dy. Memory from an inner layer and from the top one; every decoder; an LSTM whose h is projected.
    /// </summary>
    [Theory]
    [InlineData("gru", "direct", 0, 2, 0)]
    [InlineData("gru", "direct", 3, 1, -1)]
    [InlineData("lstm", "recurrent", 0, 1, 0)]
    [InlineData("gru", "recurrent", 2, 2, -1)]
    [InlineData("gru", "pmf", 3, 1, 0)]
    [InlineData("lstm(proj_size=3)", "direct", 0, 2, 1)]
    [InlineData("gru", "pmf", 3, 2, -1, 1)]                 // one GRU layer: the pmf decoder's shared segment step
    public void BackwardWithGatedMemoryUnitsMatchesFiniteDifferences(string cell, string decoder, int patch, int gmu, int memory, int layers = 2)
    {
        var config = new ForecastNetworkConfig
        {
            Cell = cell, Decoder = decoder, Patch = patch, FutureFeatures = 1, InputFeatures = 2, Hidden = 5,
            Layers = layers, Gmu = gmu, GmuMemory = memory < 0 ? null : memory, Lookback = 9, Horizon = 3, Outputs = 2, Seed = 7,
        };
        var net = new ForecastNetwork(config);
        Assert.Equal(gmu, net.EncoderStack.MemoryUnits.Count);
        Assert.Equal(memory < 0 ? layers - 1 : memory, net.EncoderStack.MemoryLayer);
        Assert.Contains("encoder.gmu0.weight", net.NamedParameters().Select(p => p.Name));
        var rng = new Rng(6);
        foreach (var p in net.Parameters()) rng.Uniform(p.Value.Span, -0.6f, 0.6f);
        var x = GradientCheckTests.Random(rng, [2, 9, 2]);
        var fut = GradientCheckTests.Random(rng, [2, 3, 1]);
        var up = GradientCheckTests.Random(rng, [2, 3, 2, 1]);
        double Loss() => GradientCheckTests.Dot(net.Forward(x, fut), up);

        Loss();
        net.ZeroGrad();
        net.Backward(up);
        CheckAllParameters(net, Loss);
        // A second backward at the same batch starts from clean buffers: the same gradients again.
        var first = net.Parameters().Select(p => p.Grad.ReadOnlySpan.ToArray()).ToList();
        Loss();
        net.ZeroGrad();
        net.Backward(up);
        Assert.Equal(first, net.Parameters().Select(p => p.Grad.ReadOnlySpan.ToArray()).ToList());
    }

    /// <summary>With GMUs the head reads z_G at the last step: changing a GMU's bias changes the forecast.</summary>
    [Fact]
    public void TheHeadReadsTheLastGatedMemoryUnit()
    {
        var config = new ForecastNetworkConfig { InputFeatures = 1, Hidden = 4, Layers = 2, Gmu = 1, GmuMemory = 0, Lookback = 6, Horizon = 2, Seed = 3 };
        var net = new ForecastNetwork(config) { Training = false };
        var x = GradientCheckTests.Random(new Rng(4), [2, 6, 1]);
        var before = net.Forward(x, null).ReadOnlySpan.ToArray();
        net.EncoderStack.MemoryUnits[0].Bias.Value.Span[1] += 3f;
        Assert.NotEqual(before, net.Forward(x, null).ReadOnlySpan.ToArray());
    }

    /// <summary>
    /// The pmf decoder with a channel embedding per source channel and a horizon that is not a whole number of
    /// segments (N = 5, P_out = 2: the last segment's second step is dropped): finite differences of a random
    /// projection of the output for every parameter, the position and channel embeddings included.
    /// </summary>
    [Theory]
    [InlineData(1)]     // the shared-state GRU step
    [InlineData(2)]     // the decoder layer over all B·M rows
    public void PmfBackwardWithChannelsAndAPartialSegmentMatchesFiniteDifferences(int layers)
    {
        var config = new ForecastNetworkConfig
        {
            Cell = "gru", Decoder = "pmf", Patch = 2, FutureFeatures = 1, InputFeatures = 2, Hidden = 4, Layers = layers,
            Lookback = 6, Horizon = 5, Outputs = 1, Channels = 3, Seed = 2,
        };
        Assert.Equal(3, config.Segments);
        var net = new ForecastNetwork(config);
        var rng = new Rng(9);
        foreach (var p in net.Parameters()) rng.Uniform(p.Value.Span, -0.6f, 0.6f);
        var x = GradientCheckTests.Random(rng, [3, 6, 2]);
        var fut = GradientCheckTests.Random(rng, [3, 5, 1]);
        var up = GradientCheckTests.Random(rng, [3, 5, 1, 1]);
        int[] channel = [2, 0, 2];
        double Loss() => GradientCheckTests.Dot(net.Forward(x, fut, channel), up);
        Loss();
        net.ZeroGrad();
        net.Backward(up);
        var names = net.NamedParameters().Select(p => p.Name).ToList();
        Assert.Contains("embedding.position", names);
        Assert.Contains("embedding.channel", names);
        CheckAllParameters(net, Loss);
        // Channel 1's embedding is used by no window: its gradient is exactly zero.
        var chan = net.NamedParameters().First(p => p.Name == "embedding.channel").Parameter.Grad.ReadOnlySpan;
        for (int u = 0; u < config.EmbeddingWidth; u++) Assert.Equal(0f, chan[config.EmbeddingWidth + u]);
    }

    /// <summary>
    /// The shared-state GRU step (W_hh·h0 once per window, the embeddings' input products as M + Ch unique rows) against
    /// the decoder layer run over all B·M rows: the same predictions and the same gradients of every parameter for a
    /// random upstream gradient, up to the rounding of the split sums; with and without future features, quantiles,
    /// output dropout and a horizon that ends inside a segment.
    /// </summary>
    [Theory]
    [InlineData(0, 0, 0f, 6)]
    [InlineData(2, 3, 0f, 7)]
    [InlineData(1, 0, 0.5f, 5)]
    public void PmfSharedStepEqualsTheLayerStep(int future, int quantiles, float dropout, int horizon)
    {
        var config = new ForecastNetworkConfig
        {
            Cell = "gru", Decoder = "pmf", Patch = 3, FutureFeatures = future, InputFeatures = 2, Hidden = 6, Layers = 1,
            Lookback = 9, Horizon = horizon, Outputs = 1, Channels = 4, Dropout = dropout, Seed = 3,
            Quantiles = quantiles == 0 ? [] : Enumerable.Range(1, quantiles).Select(q => q / (quantiles + 1f)).ToArray(),
        };
        var rng = new Rng(21);
        const int b = 5;
        var x = GradientCheckTests.Random(rng, [b, 9, 2]);
        var fut = future > 0 ? GradientCheckTests.Random(rng, [b, horizon, future]) : null;
        var up = GradientCheckTests.Random(rng, [b, horizon, 1, config.QuantileCount]);
        int[] channel = [3, 0, 3, 1, 0];
        (float[] Pred, Dictionary<string, float[]> Grads) Run(bool layerStep)
        {
            var net = new ForecastNetwork(config) { LayerDecoderStep = layerStep, Training = true };
            var prng = new Rng(8);
            foreach (var p in net.Parameters()) prng.Uniform(p.Value.Span, -0.7f, 0.7f);
            net.ZeroGrad();
            var pred = net.Forward(x, fut, channel).ReadOnlySpan.ToArray();
            net.Backward(up);
            return (pred, net.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad.ReadOnlySpan.ToArray()));
        }
        var shared = Run(false);
        var layer = Run(true);
        AssertClose(layer.Pred, shared.Pred, "predictions");
        Assert.Equal(layer.Grads.Keys, shared.Grads.Keys);
        foreach (var (name, g) in layer.Grads) AssertClose(g, shared.Grads[name], name);
        // Channel 2 is used by no window: its embedding's gradient is exactly zero.
        var chan = shared.Grads["embedding.channel"];
        for (int u = 0; u < config.EmbeddingWidth; u++) Assert.Equal(0f, chan[2 * config.EmbeddingWidth + u]);

        static void AssertClose(float[] expected, float[] actual, string what)
        {
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f + 1e-5f * Math.Abs(expected[i]), $"{what}[{i}]: {expected[i]} vs {actual[i]}");
        }
    }

    /// <summary>
    /// The shared pmf decoder (the decoder step runs the encoder's GRU): no decoder weights of their own, and the
    /// encoder's weights collect the gradients of both uses (finite differences with a random upstream gradient).
    /// </summary>
    [Fact]
    public void SharedPmfDecoderBackwardMatchesFiniteDifferences()
    {
        var config = new ForecastNetworkConfig
        {
            Cell = "gru", Decoder = "pmf", SharedDecoder = true, Patch = 2, InputFeatures = 1, Hidden = 4, Layers = 1,
            Lookback = 6, Horizon = 5, Outputs = 1, Channels = 3, Seed = 4,
        };
        var net = new ForecastNetwork(config);
        Assert.DoesNotContain(net.NamedParameters(), p => p.Name.StartsWith("decoder.", StringComparison.Ordinal));
        var rng = new Rng(12);
        foreach (var p in net.Parameters()) rng.Uniform(p.Value.Span, -0.6f, 0.6f);
        var x = GradientCheckTests.Random(rng, [3, 6, 1]);
        var up = GradientCheckTests.Random(rng, [3, 5, 1, 1]);
        int[] channel = [1, 0, 2];
        double Loss() => GradientCheckTests.Dot(net.Forward(x, null, channel), up);
        Loss();
        net.ZeroGrad();
        net.Backward(up);
        CheckAllParameters(net, Loss);
        Assert.Throws<ArgumentException>(() => new ForecastNetwork(config with { Layers = 2 }));
        Assert.Throws<ArgumentException>(() => new ForecastNetwork(config with { FutureFeatures = 1 }));
    }

    /// <summary>Dropout on the pmf decoder's output acts in training mode only, and is the identity at inference.</summary>
    [Fact]
    public void PmfDropoutActsOnlyInTraining()
    {
        var config = new ForecastNetworkConfig { Decoder = "pmf", Patch = 3, InputFeatures = 1, Hidden = 8, Lookback = 6, Horizon = 6, Dropout = 0.5f, Seed = 1 };
        var net = new ForecastNetwork(config);
        var x = GradientCheckTests.Random(new Rng(3), [2, 6, 1]);
        net.Training = false;
        var a = net.Forward(x, null).ReadOnlySpan.ToArray();
        var b = net.Forward(x, null).ReadOnlySpan.ToArray();
        Assert.Equal(a, b);
        net.Training = true;
        var c = net.Forward(x, null).ReadOnlySpan.ToArray();
        Assert.NotEqual(a, c);
    }

    /// <summary>Central differences of <paramref name="loss"/> against every parameter's analytic gradient.</summary>
    internal static void CheckAllParameters(ForecastNetwork net, Func<double> loss)
    {
        foreach (var (name, p) in net.NamedParameters())
        {
            var v = p.Value.Span;
            for (int i = 0; i < v.Length; i++)
            {
                float keep = v[i];
                // A small step: the pmf segment embedding's ReLU has a kink that a ±1e-2 step can cross.
                v[i] = keep + 2e-3f; double a = loss();
                v[i] = keep - 2e-3f; double b = loss();
                v[i] = keep;
                double numeric = (a - b) / 4e-3, analytic = p.Grad.ReadOnlySpan[i];
                Assert.True(Math.Abs(numeric - analytic) <= 2e-3 + 2e-2 * Math.Abs(numeric), $"{name}[{i}]: {analytic} vs {numeric}");
            }
        }
    }

    [Fact]
    public void ParameterNamesArePrefixed()
    {
        var net = new ForecastNetwork(new ForecastNetworkConfig { InputFeatures = 1, Lookback = 8, Horizon = 2, Patch = 4, Decoder = "recurrent", Hidden = 4 });
        var names = net.NamedParameters().Select(p => p.Name).ToList();
        Assert.Contains("patch.weight", names);
        Assert.Contains("encoder.weight_hh_l0", names);
        Assert.Contains("decoder.weight_ih_l0", names);
        Assert.Contains("head.bias", names);
    }
}

public class ForecastNetworkAllocationTests
{
    [Theory]
    [InlineData("gru", "direct", 0)]
    [InlineData("lstm", "recurrent", 4)]
    [InlineData("gru", "pmf", 4)]
    public void ATrainingStepAllocatesNoBuffers(string cell, string decoder, int patch)
    {
        long Measure(int lookback)
        {
            var net = new ForecastNetwork(new ForecastNetworkConfig
            {
                Cell = cell, Decoder = decoder, Patch = patch, InputFeatures = 3, FutureFeatures = 2, Hidden = 32,
                Layers = decoder == "pmf" ? 1 : 2, Lookback = lookback, Horizon = 6, Outputs = 2,
            });
            var rng = new Gyre.Tensors.Rng(1);
            var x = Gyre.Tests.Layers.GradientCheckTests.Random(rng, [8, lookback, 3]);
            var fut = Gyre.Tests.Layers.GradientCheckTests.Random(rng, [8, 6, 2]);
            var up = Gyre.Tests.Layers.GradientCheckTests.Random(rng, [8, 6, 2, 1]);
            return Allocations.PerCall(() => { net.Forward(x, fut); net.Backward(up); });
        }
        long shortRun = Measure(16), longRun = Measure(256);
        // Only small bookkeeping objects (module iterators), never activation buffers: the same at any lookback.
        Assert.Equal(shortRun, longRun);
        Assert.True(shortRun < 2048, $"{shortRun} bytes per step");
    }
}
