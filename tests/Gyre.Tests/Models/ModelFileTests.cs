using Gyre.Data;
using Gyre.Forecasting;
using Gyre.IO;
using Gyre.Models;
using Gyre.Training;
using Xunit;

namespace Gyre.Tests.Models;

public sealed class ModelFileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "gyre-modelfile-" + Guid.NewGuid().ToString("N"));

    public ModelFileTests() => Directory.CreateDirectory(_dir);
    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void SequenceModelRoundTripsWithItsJobAndHistory()
    {
        var spec = new ModelSpec { InputSize = 2, Cell = "lstm", Hidden = 6, Bidirectional = true, Pool = "attention", Head = "svm", Outputs = 3, Seed = 5, ClassWeights = [1f, 2f, 0.5f] };
        var model = new SequenceModel(spec) { Training = false };
        var data = TrainerTests.Synthetic(4, 5, 1);
        var x = Gyre.Tensors.Tensor.FromSpan(data.X, 4, 5, 2);
        var expected = model.Forward(x, null).ReadOnlySpan.ToArray();
        string path = Path.Combine(_dir, "m.gyre");
        model.Save(path, "classify", [new EpochRecord(1, 0.5, 0.4, 1e-3f, 1, 2.5, true) { Metrics = new Dictionary<string, double> { ["accuracy"] = 0.75 } }]);

        var (loaded, job, history, meta) = SequenceModel.Load(path);
        Assert.Equal("classify", job);
        Assert.Equal("gyre.model", meta["format"]);
        Assert.Equal(spec with { ClassWeights = null }, loaded.Spec with { ClassWeights = null });
        Assert.Equal(spec.ClassWeights, loaded.Spec.ClassWeights);
        Assert.Equal(expected, loaded.Forward(x, null).ReadOnlySpan.ToArray());
        Assert.Equal(0.75, history.Single().Metrics!["accuracy"]);
        Assert.Equal(0, history.Single().Seconds);
    }

    [Fact]
    public void ForecasterFilesNameTheirJobAndTheEarlierFormatStillLoads()
    {
        string csv = Path.Combine(AppContext.BaseDirectory, "Fixtures", "Data", "AirPassengers.csv");
        var f = Forecaster.Fit(csv, new ForecastOptions { Targets = ["#Passengers"], Lookback = 12, Horizon = 3, Hidden = 8, Epochs = 2, Seed = 1 });
        string path = Path.Combine(_dir, "f.gyre");
        f.Save(path);
        Assert.Equal("forecast", ModelFile.Read(path).Job);

        // The same file as the forecast-only format wrote it.
        var file = Safetensors.Read(path);
        var meta = file.Metadata.Where(kv => kv.Key != "job").ToDictionary();
        meta["format"] = "gyre.forecaster";
        string legacy = Path.Combine(_dir, "legacy.gyre");
        Safetensors.Write(legacy, file.Names.Select(n => new KeyValuePair<string, Gyre.Tensors.Tensor>(n, file.Get(n))), meta);
        var g = Forecaster.Load(legacy);
        Assert.Equal(f.Network.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()), g.Network.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()));

        var e = Assert.Throws<GyreDataException>(() => SequenceModel.Load(path));
        Assert.Contains("holds no sequence-model spec", e.Message);
    }
}
