using Gyre.Layers;
using Gyre.Models;
using Gyre.Tensors;
using Gyre.Training;
using Xunit;

namespace Gyre.Tests.Models;

public sealed class TrainerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "gyre-trainer-" + Guid.NewGuid().ToString("N"));

    public TrainerTests() => Directory.CreateDirectory(_dir);
    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>Ragged sequences of 2 features; the class says which of three ranges the first feature's mean falls in.</summary>
    internal static SequenceDataset Synthetic(int n, int t, ulong seed)
    {
        var rng = new Rng(seed);
        var x = new float[n * t * 2];
        var lengths = new int[n];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            lengths[i] = 2 + rng.NextInt(t - 1);
            labels[i] = rng.NextInt(3);
            for (int s = 0; s < t; s++)
            {
                bool real = s < lengths[i];
                x[(i * t + s) * 2] = real ? (labels[i] - 1) * 0.8f + rng.NextGaussian() * 0.4f : 7f;
                x[(i * t + s) * 2 + 1] = real ? rng.NextGaussian() : -7f;
            }
        }
        return new SequenceDataset(x, n, t, 2, lengths, labels);
    }

    private static ModelSpec Spec(string head = "softmax") => new()
    {
        InputSize = 2, Cell = "gru", Hidden = 12, Pool = "mean", Head = head, Outputs = 3, Seed = 4, Layers = 2, Dropout = 0.1f,
    };

    [Theory]
    [InlineData("softmax")]
    [InlineData("svm")]
    public void ClassifierLearnsAndRecordsValidationAccuracy(string head)
    {
        var model = new SequenceModel(Spec(head));
        var task = new SequenceTask(model, Synthetic(300, 9, 1), Synthetic(100, 9, 2), "classify");
        var history = new List<EpochRecord>();
        var result = new Trainer(new TrainerOptions { Epochs = 12, Batch = 32, LearningRate = 1e-2f, Seed = 1, Patience = 0 }).Fit(task, history);
        Assert.Equal(12, history.Count);
        Assert.True(history[^1].TrainLoss < history[0].TrainLoss);
        double accuracy = history[result.BestEpoch - 1].Metrics!["accuracy"];
        Assert.True(accuracy > 0.8, $"validation accuracy {accuracy}");
        Assert.False(model.Training);
    }

    /// <summary>The options' betas reach the optimizer: (0.9, 0.999) stated gives the default's bits, another β1 or β2 other bits.</summary>
    [Fact]
    public void BetasReachTheOptimizer()
    {
        float[] Train(TrainerOptions o)
        {
            var model = new SequenceModel(Spec());
            new Trainer(o).Fit(new SequenceTask(model, Synthetic(96, 6, 1), null, "classify"), []);
            return [.. model.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray())];
        }
        var o = new TrainerOptions { Epochs = 1, Batch = 16, LearningRate = 1e-2f, Seed = 1, Patience = 0 };
        var defaults = Train(o);
        Assert.Equal(defaults, Train(o with { Beta1 = 0.9f, Beta2 = 0.999f }));
        Assert.NotEqual(defaults, Train(o with { Beta1 = 0.5f }));
        Assert.NotEqual(defaults, Train(o with { Beta2 = 0.9f }));
    }

    [Fact]
    public void ResumeAfterAKillEndsBitIdentical()
    {
        var o = new TrainerOptions { Epochs = 5, Batch = 16, LearningRate = 5e-3f, Seed = 3, Schedule = "plateau", Patience = 0 };
        var train = Synthetic(80, 7, 5);
        var val = Synthetic(30, 7, 6);
        var full = new SequenceModel(Spec());
        var fullHistory = new List<EpochRecord>();
        new Trainer(o).Fit(new SequenceTask(full, train, val, "classify"), fullHistory);

        string ckpt = Path.Combine(_dir, "run.ckpt");
        using var cts = new CancellationTokenSource();
        var killed = new SequenceModel(Spec());
        Assert.Throws<OperationCanceledException>(() => new Trainer(o) { CheckpointPath = ckpt, EpochEnd = e => { if (e.Epoch == 2) cts.Cancel(); } }
            .Fit(new SequenceTask(killed, train, val, "classify"), [], cts.Token));
        var resumed = new SequenceModel(Spec());
        var history = new List<EpochRecord>();
        new Trainer(o) { CheckpointPath = ckpt, Resume = true }.Fit(new SequenceTask(resumed, train, val, "classify"), history);
        Assert.Equal(Weights(full), Weights(resumed));
        Assert.Equal(fullHistory.Select(h => (h.TrainLoss, h.ValLoss)), history.Select(h => (h.TrainLoss, h.ValLoss)));
    }

    [Fact]
    public void GradientSyncRunsBetweenBackwardAndStep()
    {
        var model = new SequenceModel(Spec());
        var before = Weights(model);
        var sync = new ZeroingSync();
        var progress = new List<TrainingProgress>();
        var trainer = new Trainer(new TrainerOptions { Epochs = 2, Batch = 10, WeightDecay = 0f, Seed = 1, Patience = 0 })
        {
            GradientSync = sync, Progress = new Collect(progress),
        };
        trainer.Fit(new SequenceTask(model, Synthetic(40, 5, 1), null, "classify"), []);
        Assert.Equal(before.Length, sync.ParameterCalls == 1 ? sync.Size : -1);
        Assert.Equal(8, sync.GradientCalls);
        Assert.True(sync.SawNonZero);
        // Zeroed gradients and no weight decay: AdamW leaves every weight where it was.
        Assert.Equal(before, Weights(model));
        Assert.Equal(8, progress.Count);
        Assert.Equal((2, 4, 4), (progress[^1].Epoch, progress[^1].Batch, progress[^1].Batches));
        Assert.Equal(TimeSpan.Zero, progress[^1].Remaining);
    }

    [Fact]
    public void RanksTrainOnDisjointShardsOfTheSameShuffle()
    {
        var seen = new List<int>[2];
        for (int rank = 0; rank < 2; rank++)
        {
            var task = new RecordingTask(10);
            new Trainer(new TrainerOptions { Epochs = 1, Batch = 5, Seed = 7, Rank = rank, WorldSize = 2, Patience = 0 }).Fit(task, []);
            seen[rank] = task.Seen;
        }
        Assert.Equal(5, seen[0].Count);
        Assert.Equal(5, seen[1].Count);
        Assert.Equal(Enumerable.Range(0, 10), seen[0].Concat(seen[1]).Order());
    }

    private static float[] Weights(Module m) => m.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()).ToArray();

    private sealed class ZeroingSync : IGradientSync
    {
        public int ParameterCalls, GradientCalls, Size;
        public bool SawNonZero;
        public void SynchronizeParameters(Span<float> values) { ParameterCalls++; Size = values.Length; }
        public void SynchronizeGradients(Span<float> gradients)
        {
            GradientCalls++;
            foreach (float g in gradients) SawNonZero |= g != 0f;
            gradients.Clear();
        }
    }

    private sealed class Collect(List<TrainingProgress> list) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => list.Add(value);
    }

    private sealed class RecordingTask(int n) : ITrainingTask
    {
        public readonly List<int> Seen = [];
        public Module Model { get; } = new Linear(1, 1);
        public int TrainCount => n;
        public double TrainBatch(ReadOnlySpan<int> indices) { Seen.AddRange(indices.ToArray()); return 1; }
        public ValidationResult? Validate() => null;
        public string[] SaveRngState() => [];
        public void RestoreRngState(string[] states) { }
        public IReadOnlyDictionary<string, string> CheckpointMetadata() => new Dictionary<string, string>();
    }
}
