using System.Text.Json;
using Gyre.Models;
using Gyre.Tensors;
using Gyre.Tests.IO;
using Gyre.Tests.Models;
using Gyre.Training;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>`gyre inspect` and `gyre export` on model files of any job; forecast train's --plot-history.</summary>
public sealed class ModelCommandTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly string[] Small = ["--lookback", "14", "--horizon", "7", "--hidden", "8", "--epochs", "3", "--seed", "3"];

    private SequenceModel Classifier(string path, ModelSpec? spec = null)
    {
        var model = new SequenceModel(spec ?? new ModelSpec { InputSize = 2, Hidden = 6, Head = "softmax", Outputs = 3, Seed = 1 });
        var history = new List<EpochRecord>();
        new Trainer(new TrainerOptions { Epochs = 2, Batch = 8, Seed = 1 })
            .Fit(new SequenceTask(model, TrainerTests.Synthetic(24, 5, 1), TrainerTests.Synthetic(8, 5, 2), "classify"), history);
        model.Save(path, "classify", history);
        return model;
    }

    [Fact]
    public void Inspect_dispatches_on_the_job()
    {
        string data = _dir.Daily("daily.csv");
        _dir.Ok(["forecast", "train", "--data", data, .. Small, "--out", _dir["f.gyre"]]);
        var forecast = _dir.Ok("inspect", "--model", _dir["f.gyre"]);
        Assert.Contains("scaler", forecast.Out);
        Assert.Contains("lookback 14", forecast.Out);

        Classifier(_dir["c.gyre"]);
        var classify = _dir.Ok("inspect", "--model", _dir["c.gyre"]);
        Assert.Contains("classify model", classify.Out);
        Assert.Contains("val accuracy", classify.Out);
        using var doc = JsonDocument.Parse(_dir.Ok("inspect", "--model", _dir["c.gyre"], "--json").Out);
        Assert.Equal("classify", doc.RootElement.GetProperty("job").GetString());
        Assert.Equal("softmax", doc.RootElement.GetProperty("spec").GetProperty("head").GetString());
        Assert.Equal(2, doc.RootElement.GetProperty("history").GetArrayLength());

        _dir.Fails(["inspect", "--model", _dir["missing.gyre"]], "missing.gyre", "not found");
    }

    [Fact]
    public void Export_writes_a_classifier_that_onnx_runtime_runs_like_gyre()
    {
        var model = Classifier(_dir["c.gyre"]);
        _dir.Ok("export", "--model", _dir["c.gyre"], "--onnx", _dir["c.onnx"]);
        var x = Tensor.FromSpan(TrainerTests.Synthetic(4, 5, 3).X, 4, 5, 2);
        model.Training = false;
        var expected = model.Forward(x, null).ReadOnlySpan.ToArray();
        var ort = OnnxTests.RunOrt(File.ReadAllBytes(_dir["c.onnx"]), ("x", x))["prediction"];
        Assert.True(ort.HasShape(4, 3));
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], ort.ReadOnlySpan[i], 1e-5f);

        Classifier(_dir["att.gyre"], new ModelSpec { InputSize = 2, Hidden = 6, Pool = "attention", Head = "svm", Outputs = 3 });
        _dir.Fails(["export", "--model", _dir["att.gyre"], "--onnx", _dir["att.onnx"]], "attention pooling", "not supported");
    }

    [Fact]
    public void Plot_history_writes_a_png_and_a_missing_folder_fails_before_training()
    {
        string data = _dir.Daily("daily.csv");
        _dir.Ok(["forecast", "train", "--data", data, .. Small, "--out", _dir["f.gyre"], "--plot-history", _dir["history.png"]]);
        CliFolder.AssertPng(_dir["history.png"]);
        _dir.Fails(["forecast", "train", "--data", data, .. Small, "--out", _dir["g.gyre"], "--plot-history", _dir["no/such/h.png"]], "h.png", "folder does not exist");
    }
}
