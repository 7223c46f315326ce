using System.Text.Json;
using Gyre.Data;
using Gyre.IO;
using Gyre.Layers;
using Gyre.Models;
using Gyre.Tests.Models;
using Gyre.Training;
using Xunit;

namespace Gyre.Tests.Training;

/// <summary>
/// The trainer's handling of a batch whose loss or gradient is NaN or ±∞: stop naming the epoch and batch with the
/// last checkpoint left as it was, or (<see cref="NanPolicy.Skip"/>) leave the batch out without touching the
/// optimizer, up to a bounded share of an epoch's batches; and no change at all to a run that never diverges.
/// </summary>
public sealed class DivergenceTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "gyre-divergence-" + Guid.NewGuid().ToString("N"));

    public DivergenceTests() => Directory.CreateDirectory(_dir);
    public void Dispose() => Directory.Delete(_dir, true);

    private static ModelSpec Spec() => new() { InputSize = 2, Cell = "gru", Hidden = 8, Pool = "mean", Head = "softmax", Outputs = 3, Seed = 4 };

    private static SequenceTask Task(SequenceModel model) =>
        new(model, TrainerTests.Synthetic(160, 7, 5), TrainerTests.Synthetic(40, 7, 6), "classify");

    private static float[] Weights(Module m) => m.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()).ToArray();

    /// <summary>
    /// A task whose training calls numbered in <paramref name="poisoned"/> (0-based, over the whole run) go wrong after
    /// the real forward and backward ran: a NaN loss, or (<paramref name="inGradient"/>) an infinite gradient entry.
    /// </summary>
    private sealed class Poisoned(ITrainingTask inner, ISet<int> poisoned, bool inGradient) : ITrainingTask
    {
        private int _calls;
        public Module Model => inner.Model;
        public int TrainCount => inner.TrainCount;

        public double TrainBatch(ReadOnlySpan<int> indices)
        {
            double loss = inner.TrainBatch(indices);
            if (!poisoned.Contains(_calls++)) return loss;
            if (!inGradient) return double.NaN;
            inner.Model.Parameters().Last().Grad.Span[0] = float.PositiveInfinity;
            return loss;
        }

        public ValidationResult? Validate() => inner.Validate();
        public string[] SaveRngState() => inner.SaveRngState();
        public void RestoreRngState(string[] states) => inner.RestoreRngState(states);
        public IReadOnlyDictionary<string, string> CheckpointMetadata() => inner.CheckpointMetadata();
    }

    [Fact]
    public void AHugeLearningRateStopsNamingEpochAndBatch_BothPolicies()
    {
        // A step at lr 1e30 throws every weight to ~1e30; a batch soon after overflows.
        int stopBatch = 0;
        foreach (var policy in new[] { NanPolicy.Stop, NanPolicy.Skip })
        {
            var model = new SequenceModel(Spec());
            var o = new TrainerOptions { Epochs = 3, Batch = 16, LearningRate = 1e30f, Seed = 1, Patience = 0, OnNan = policy };
            var e = Assert.Throws<TrainingDivergedException>(() => new Trainer(o).Fit(Task(model), []));
            Assert.Equal(1, e.Epoch);
            Assert.StartsWith($"training diverged at epoch 1, batch {e.Batch} of 10 (loss ", e.Message);
            Assert.False(e.Message.Contains('\n'));
            if (policy == NanPolicy.Stop)
            {
                Assert.True(e.Batch >= 2, $"batch {e.Batch}: the first step starts from finite weights");
                stopBatch = e.Batch;
                Assert.EndsWith("nothing was written: try a lower --lr, or --on-nan skip to skip such batches", e.Message);
            }
            else
            {
                // 10 % of 10 batches: one may be skipped, the second ends the run (nothing recovers from 1e30 weights).
                Assert.Equal(stopBatch + 1, e.Batch);
                Assert.Contains("2 of this epoch's 10 batches skipped, more than --on-nan skip allows (10 %)", e.Message);
            }
            Assert.IsAssignableFrom<GyreDataException>(e);   // the CLI's exit 2: the settings, not a bug
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void StopKeepsTheLastWholeEpochsCheckpointUntouched(bool inGradient)
    {
        string ckpt = Path.Combine(_dir, "run.ckpt");
        var o = new TrainerOptions { Epochs = 4, Batch = 16, LearningRate = 5e-3f, Seed = 1, Patience = 0 };
        byte[]? afterEpoch2 = null;
        // 10 batches per epoch: call 23 is epoch 3's fourth batch.
        var trainer = new Trainer(o) { CheckpointPath = ckpt, EpochEnd = r => { if (r.Epoch == 2) afterEpoch2 = File.ReadAllBytes(ckpt); } };
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Fit(new Poisoned(Task(new SequenceModel(Spec())), new HashSet<int> { 23 }, inGradient), []));
        Assert.Equal((3, 4), (e.Epoch, e.Batch));
        Assert.Contains(inGradient ? "gradient norm +Inf" : "loss NaN", e.Message);
        Assert.Contains("the checkpoint run.ckpt keeps epoch 2 (best 2): resume with --resume and a lower --lr", e.Message);
        Assert.Equal(afterEpoch2, File.ReadAllBytes(ckpt));
        Assert.Equal(["run.ckpt"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SkipLeavesTheBatchOutAndCountsIt(bool inGradient)
    {
        string ckpt = Path.Combine(_dir, "run.ckpt");
        var o = new TrainerOptions { Epochs = 3, Batch = 16, LearningRate = 5e-3f, Seed = 1, Patience = 0, OnNan = NanPolicy.Skip };
        var model = new SequenceModel(Spec());
        var history = new List<EpochRecord>();
        // One bad batch in epoch 1 and one in epoch 3 (10 batches per epoch, one may be skipped).
        new Trainer(o) { CheckpointPath = ckpt }.Fit(new Poisoned(Task(model), new HashSet<int> { 4, 29 }, inGradient), history);
        Assert.Equal([1, 0, 1], history.Select(h => h.Skipped));
        Assert.All(history, h => Assert.True(double.IsFinite(h.TrainLoss) && double.IsFinite(h.GradNorm)));
        Assert.All(Weights(model), w => Assert.True(float.IsFinite(w)));
        // The optimizer took a step for every other batch only: its step count (bias correction) never saw the bad ones.
        var state = JsonDocument.Parse(Safetensors.Read(ckpt).Metadata["trainer"]).RootElement;
        Assert.Equal(3 * 10 - 2, state.GetProperty("Steps").GetInt64());
        Assert.Equal(1, state.GetProperty("History")[0].GetProperty("Skipped").GetInt32());

    }

    [Fact]
    public void ASkippedBatchAppliesNoUpdate()
    {
        // Skipping the last batch of a one-epoch run leaves exactly the weights a clean run had before that batch.
        var o = new TrainerOptions { Epochs = 1, Batch = 16, LearningRate = 5e-3f, Seed = 1, Patience = 0, OnNan = NanPolicy.Skip };
        var clean = new SequenceModel(Spec());
        float[]? beforeLast = null;
        new Trainer(o) { Progress = new OnBatch(p => { if (p.Batch == 9) beforeLast = Weights(clean); }) }.Fit(Task(clean), []);
        var skipped = new SequenceModel(Spec());
        var history = new List<EpochRecord>();
        new Trainer(o).Fit(new Poisoned(Task(skipped), new HashSet<int> { 9 }, inGradient: true), history);
        Assert.Equal(1, history[0].Skipped);
        Assert.Equal(beforeLast, Weights(skipped));
        Assert.NotEqual(Weights(clean), Weights(skipped));
    }

    private sealed class OnBatch(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }

    [Fact]
    public void TooManySkippedBatchesInAnEpochStop()
    {
        var o = new TrainerOptions { Epochs = 2, Batch = 16, LearningRate = 5e-3f, Seed = 1, Patience = 0, OnNan = NanPolicy.Skip, MaxSkippedShare = 0.2 };
        // Epoch 2 (calls 10–19) has three bad batches; 20 % of 10 allows two.
        var e = Assert.Throws<TrainingDivergedException>(() =>
            new Trainer(o).Fit(new Poisoned(Task(new SequenceModel(Spec())), new HashSet<int> { 11, 14, 17 }, false), []));
        Assert.Equal((2, 8), (e.Epoch, e.Batch));
        Assert.Contains("3 of this epoch's 10 batches skipped, more than --on-nan skip allows (20 %)", e.Message);
    }

    [Fact]
    public void ARunThatNeverDivergesIsBitIdenticalUnderEitherPolicy()
    {
        var runs = new[] { NanPolicy.Stop, NanPolicy.Skip }.Select(policy =>
        {
            var model = new SequenceModel(Spec() with { Dropout = 0.1f, Layers = 2 });
            var history = new List<EpochRecord>();
            new Trainer(new TrainerOptions { Epochs = 3, Batch = 16, LearningRate = 5e-3f, Seed = 2, Patience = 0, OnNan = policy }).Fit(Task(model), history);
            return (Weights: Weights(model), Losses: history.Select(h => (h.TrainLoss, h.ValLoss, h.GradNorm, h.Skipped)).ToArray());
        }).ToArray();
        Assert.Equal(runs[0].Weights, runs[1].Weights);
        Assert.Equal(runs[0].Losses, runs[1].Losses);
        Assert.All(runs[0].Losses, l => Assert.Equal(0, l.Skipped));
    }
}
