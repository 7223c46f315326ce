using Gyre.Cells;
using Gyre.Forecasting;
using Gyre.Layers;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>The shared-state step is a capability of the cell: the forecaster asks for it instead of naming a cell.</summary>
public class SharedStateStepTests
{
    [Fact]
    public void OnlyThePlainGruOffersOne()
    {
        Assert.Equal(new[] { "gru" }, CellRegistry.All.Where(d => d.HasSharedStateStep).Select(d => d.ToString()).ToArray());
        Assert.False(CellRegistry.FromText("gru(heads=2)").HasSharedStateStep);
    }

    [Theory]
    [InlineData("gru", 1, false, true, true)]
    [InlineData("gru", 2, false, true, false)]
    [InlineData("gru", 1, true, true, false)]
    [InlineData("gru", 1, false, false, false)]
    [InlineData("gru(heads=2)", 1, false, true, false)]
    [InlineData("lstm", 1, false, true, false)]
    [InlineData("mingru", 1, false, true, false)]
    public void ALayerGetsOneWhenItIsOneLayerOneDirectionWithBiasesOfSuchACell(string cell, int layers, bool bidirectional, bool bias, bool expected)
    {
        var layer = new RecurrentLayer(CellRegistry.FromText(cell), 6, 4, layers, bias: bias, batchFirst: true, bidirectional: bidirectional, seed: 1);
        var step = SharedStateStep.For(layer);
        Assert.Equal(expected, step is not null);
        if (step is not null) Assert.IsType<GruSharedStateStep>(step);
    }

    [Theory]
    [InlineData("gru", true)]
    [InlineData("GRU", true)]
    [InlineData("lstm", false)]
    [InlineData("gru(heads=2)", false)]
    [InlineData("gru(", false)]
    [InlineData("no_such_cell", false)]
    public void SharingTheDecoderFollowsTheCapability(string cell, bool expected)
    {
        var o = new ForecastOptions { Cell = cell, Decoder = "pmf", Layers = 1, Patch = 4, Lookback = 16, Horizon = 8, Hidden = 8 };
        Assert.Equal(expected, o.CanShareDecoder);
    }

    [Theory]
    [InlineData("gru", false, true)]
    [InlineData("gru", true, true)]
    [InlineData("lstm", false, false)]
    [InlineData("mgu", false, false)]
    public void ThePmfDecoderTakesTheStepOfItsCell(string cell, bool shared, bool expected)
    {
        var config = new ForecastNetworkConfig
        {
            Cell = cell, Decoder = "pmf", Patch = 3, InputFeatures = 1, Hidden = 6, Layers = 1, Lookback = 9, Horizon = 6,
            Outputs = 1, Channels = 1, Seed = 3, SharedDecoder = shared,
        };
        Assert.Equal(expected, new ForecastNetwork(config).HasSharedStateStep);
        Assert.False(new ForecastNetwork(config with { Layers = 2, SharedDecoder = false }).HasSharedStateStep);
    }
}
