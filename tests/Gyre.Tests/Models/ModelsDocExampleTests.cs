using Gyre.Models;
using Gyre.Training;
using Xunit;

namespace Gyre.Tests.Models;

/// <summary>docs/models.md's example, verbatim, on synthetic ragged sequences.</summary>
public sealed class ModelsDocExampleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gyre-models-doc").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void DocExampleRuns()
    {
        var data = TrainerTests.Synthetic(200, 12, 1);
        float[] inputs = data.X;
        int[] lengths = data.Lengths!, labels = data.Labels!;
        var val = TrainerTests.Synthetic(60, 12, 2);
        string path = Path.Combine(_dir, "classifier.gyre");

        var spec = new ModelSpec
        {
            InputSize = 2, Cell = "gru", Hidden = 32, Layers = 1, Bidirectional = true, Dropout = 0f,
            Pool = "attention", Head = "softmax", Outputs = 3, ClassWeights = [1f, 2f, 1f], Seed = 1,
        };
        var model = new SequenceModel(spec);
        var train = new SequenceDataset(inputs, count: 200, steps: 12, features: 2, lengths, labels);   // inputs [N, T, F]
        var history = new List<EpochRecord>();
        var trainer = new Trainer(new TrainerOptions { Epochs = 10, Batch = 32, LearningRate = 1e-2f, Seed = 1 });
        var result = trainer.Fit(new SequenceTask(model, train, val, job: "classify"), history);
        model.Save(path, "classify", history);                 // one model file: gyre inspect / gyre export read it

        Assert.InRange(result.BestEpoch, 1, 10);
        Assert.True(history[result.BestEpoch - 1].Metrics!["accuracy"] > 0.8);
        Assert.Equal("classify", SequenceModel.Load(path).Job);
        // Every line of the document's snippet (after its usings) is a line above.
        string doc = File.ReadAllText(Path.Combine(RepoRoot(), "docs", "models.md"));
        string self = File.ReadAllText(Path.Combine(RepoRoot(), "tests", "Gyre.Tests", "Models", "ModelsDocExampleTests.cs"));
        int start = doc.IndexOf("```csharp", StringComparison.Ordinal), end = doc.IndexOf("```", start + 9, StringComparison.Ordinal);
        var lines = doc[(start + 9)..end].Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("using ")).ToList();
        Assert.True(lines.Count > 8);
        Assert.All(lines, l => Assert.Contains(l, self));
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Gyre.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("no Gyre.slnx above the test binaries");
    }
}
