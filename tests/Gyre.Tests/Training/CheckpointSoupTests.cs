using System.Globalization;
using Gyre.Forecasting;
using Gyre.Kernels;
using Gyre.Layers;
using Gyre.Models;
using Gyre.Tests.Forecasting;
using Gyre.Tests.Kernels;
using Gyre.Tests.Models;
using Gyre.Training;
using Xunit;

namespace Gyre.Tests.Training;

/// <summary>
/// <see cref="CheckpointSelection.Soup"/>: the greedy checkpoint soup over the best K epochs. A scripted task sets the
/// weights each epoch (its one batch writes them and leaves a zero gradient, so AdamW without decay moves nothing) and
/// scores them by a known validation loss, so which epochs join the soup, and the averaged weights, are known exactly.
/// </summary>
[Collection(nameof(GemmTuningCollection))]
public sealed class CheckpointSoupTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "gyre-soup-" + Guid.NewGuid().ToString("N"));

    public CheckpointSoupTests() => Directory.CreateDirectory(_dir);
    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>Epoch e's weights are (w[e], w[e]) (weight and bias of a 1×1 linear); validation loss (w − target)² of the weight.</summary>
    private sealed class Scripted(float[] weights, float target) : ITrainingTask
    {
        private readonly Linear _model = new(1, 1);
        private int _epoch;
        public int Validations;
        public Module Model => _model;
        public int TrainCount => 1;
        public float Weight => _model.Weight.Value.ReadOnlySpan[0];

        public double TrainBatch(ReadOnlySpan<int> indices)
        {
            foreach (var p in _model.Parameters()) p.Value.Span.Fill(weights[_epoch]);
            _epoch++;
            return 1;
        }

        public ValidationResult? Validate()
        {
            Validations++;
            double d = Weight - target;
            return new ValidationResult(d * d);
        }

        // The script's position travels with the checkpoint as the task's "generator" state, so a resumed run continues it.
        public string[] SaveRngState() => [_epoch.ToString(CultureInfo.InvariantCulture)];
        public void RestoreRngState(string[] states) => _epoch = int.Parse(states[0], CultureInfo.InvariantCulture);
        public IReadOnlyDictionary<string, string> CheckpointMetadata() => new Dictionary<string, string>();
    }

    private static TrainerOptions Options(int epochs, int k = 5) => new()
    {
        Epochs = epochs, Batch = 1, WeightDecay = 0, ClipNorm = 0, Schedule = "constant", Patience = 0, Select = CheckpointSelection.Soup, SoupSize = k,
    };

    [Fact]
    public void EveryAdditionWorse_TheSoupIsTheBestEpochExactly()
    {
        // Losses 0.81, 1.21, 0.01, 4.41, 9.61: the best is epoch 3 (0.4); every average with a farther epoch is farther from 0.3.
        var task = new Scripted([1.2f, -0.8f, 0.4f, 2.4f, 3.4f], 0.3f);
        var result = new Trainer(Options(5)).Fit(task, []);
        Assert.Equal(0.4f, task.Weight);
        Assert.Equal(3, result.BestEpoch);
        var soup = result.Soup!;
        Assert.Equal([3], soup.Members);
        Assert.Equal([3, 1, 2, 4, 5], soup.Candidates.Select(c => c.Epoch));
        Assert.All(soup.Candidates.Skip(1), c => Assert.False(c.Kept));
        Assert.Equal(5 + 4, task.Validations);   // one a trained epoch, one a tried average

        // The same bits as the best-epoch selection.
        var best = new Scripted([1.2f, -0.8f, 0.4f, 2.4f, 3.4f], 0.3f);
        var bestResult = new Trainer(Options(5) with { Select = CheckpointSelection.Best }).Fit(best, []);
        Assert.Null(bestResult.Soup);
        Assert.Equal(best.Weight, task.Weight);
        Assert.Equal(5, best.Validations);
    }

    [Fact]
    public void AnAverageThatIsNotWorseIsKept()
    {
        // Losses 1, 1, 4, 4, 9 around 0: epoch 1 first (ties keep the earlier epoch), then epoch 2 averages to 0 (loss 0,
        // kept); epochs 3 and 4 would move the average to ±2/3 and 5 to 1, so they are dropped.
        var task = new Scripted([1f, -1f, 2f, -2f, 3f], 0f);
        var soup = new Trainer(Options(5)).Fit(task, []).Soup!;
        Assert.Equal([1, 2], soup.Members);
        Assert.Equal(0f, task.Weight);
        Assert.Equal(0, soup.Loss);
        Assert.Equal([true, true, false, false, false], soup.Candidates.Select(c => c.Kept));
        Assert.Equal((double)(2f / 3f) * (2f / 3f), soup.Candidates[2].AverageLoss, 6);
        Assert.Contains("greedy soup of epochs 1, 2 restored", soup.Describe());
    }

    [Fact]
    public void OnlyTheBestKEpochsAreCandidates()
    {
        // Eight epochs, K = 3: the candidates are the three of lowest loss (epochs 6, 2, 7), whatever order they came in.
        var task = new Scripted([5f, 0.5f, 4f, 3f, 2f, 0.1f, -0.9f, 6f], 0f);
        var soup = new Trainer(Options(8, k: 3)).Fit(task, []).Soup!;
        Assert.Equal([6, 2, 7], soup.Candidates.Select(c => c.Epoch));
        // 0.1 + 0.5 → 0.3 (0.09, worse than 0.01: dropped); 0.1 − 0.9 → −0.4 (0.16: dropped).
        Assert.Equal([6], soup.Members);
        Assert.Equal(0.1f, task.Weight);
    }

    [Fact]
    public void WithoutValidationDataTheBestEpochStands()
    {
        var task = new NoValidation();
        var result = new Trainer(Options(3)).Fit(task, []);
        Assert.Null(result.Soup);
        Assert.Equal(3, result.BestEpoch);   // the lowest training loss
    }

    private sealed class NoValidation : ITrainingTask
    {
        private int _epoch;
        public Module Model { get; } = new Linear(1, 1);
        public int TrainCount => 1;
        public double TrainBatch(ReadOnlySpan<int> indices) => 3 - _epoch++;
        public ValidationResult? Validate() => null;
        public string[] SaveRngState() => [];
        public void RestoreRngState(string[] states) { }
        public IReadOnlyDictionary<string, string> CheckpointMetadata() => new Dictionary<string, string>();
    }

    [Fact]
    public void ResumeKeepsTheCandidatesAndEndsWithTheSameSoup()
    {
        float[] script = [1f, -1f, 2f, -2f, 3f, 0.5f];
        var full = new Scripted(script, 0f);
        var fullSoup = new Trainer(Options(6, k: 3)).Fit(full, []).Soup!;

        // Killed after epoch 4: the checkpoint holds three candidates (epochs 1, 2, 3); epoch 6 replaces 3 after the resume.
        string ckpt = Path.Combine(_dir, "s.ckpt");
        var kill = new InvalidOperationException("killed");
        Assert.Same(kill, Assert.Throws<InvalidOperationException>(() =>
            new Trainer(Options(6, k: 3)) { CheckpointPath = ckpt, EpochEnd = e => { if (e.Epoch == 4) throw kill; } }.Fit(new Scripted(script, 0f), [])));
        var resumed = new Scripted(script, 0f);
        var soup = new Trainer(Options(6, k: 3)) { CheckpointPath = ckpt, Resume = true }.Fit(resumed, []).Soup!;
        Assert.Equal(fullSoup.Candidates, soup.Candidates);
        Assert.Equal(full.Weight, resumed.Weight);
        Assert.Equal([6, 1, 2], soup.Candidates.Select(c => c.Epoch));

        // A run that had already stopped rebuilds the same soup from its checkpoint alone.
        var again = new Scripted(script, 0f);
        new Trainer(Options(6, k: 3)) { CheckpointPath = ckpt }.Fit(again, []);
        var replay = new Scripted(script, 0f);
        Assert.Equal(fullSoup.Candidates, new Trainer(Options(6, k: 3)) { CheckpointPath = ckpt, Resume = true }.Fit(replay, []).Soup!.Candidates);
        Assert.Equal(full.Weight, replay.Weight);
    }

    [Fact]
    public void ARealModelResumedAfterAKillEndsWithTheSameSoupBits()
    {
        // A dropout classifier whose validation loss moves every epoch, so the soup's members depend on real training.
        var spec = new ModelSpec { InputSize = 2, Cell = "gru", Hidden = 12, Pool = "mean", Head = "softmax", Outputs = 3, Seed = 4, Layers = 2, Dropout = 0.1f };
        var o = new TrainerOptions { Epochs = 6, Batch = 16, LearningRate = 5e-3f, Seed = 3, Patience = 0, Select = CheckpointSelection.Soup, SoupSize = 4 };
        var train = TrainerTests.Synthetic(80, 7, 5);
        var val = TrainerTests.Synthetic(30, 7, 6);
        var full = new SequenceModel(spec);
        var fullResult = new Trainer(o).Fit(new SequenceTask(full, train, val, "classify"), []);

        string ckpt = Path.Combine(_dir, "run.ckpt");
        var kill = new InvalidOperationException("killed");
        Assert.Throws<InvalidOperationException>(() => new Trainer(o) { CheckpointPath = ckpt, EpochEnd = e => { if (e.Epoch == 3) throw kill; } }
            .Fit(new SequenceTask(new SequenceModel(spec), train, val, "classify"), []));
        var resumed = new SequenceModel(spec);
        var result = new Trainer(o) { CheckpointPath = ckpt, Resume = true }.Fit(new SequenceTask(resumed, train, val, "classify"), []);
        Assert.Equal(fullResult.Soup!.Candidates, result.Soup!.Candidates);
        Assert.Equal(Weights(full), Weights(resumed));
        Assert.Equal(4, result.Soup.Candidates.Count);
    }

    private static float[] Weights(Module m) => m.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()).ToArray();

    [Fact]
    public void ASoupForecasterGivesTheSameBitsOnOneAndTwoThreads()
    {
        var o = ForecasterTests.Small(epochs: 4) with { Hidden = 128, Batch = 64, Lookback = 36, Patience = 0, Select = "soup" };
        var saved = Gemm.Team;
        try
        {
            (float[] Weights, string Soup) Train(int threads)
            {
                using var team = new WorkerTeam(threads);
                Gemm.Team = team;
                var f = Forecaster.Fit(ForecasterTests.Bundled("co2-concentration.csv"), o);
                return (Weights(f.Network), f.Soup!.Describe());
            }
            var one = Train(1);
            var two = Train(2);
            Assert.Equal(one.Weights, two.Weights);
            Assert.Equal(one.Soup, two.Soup);
        }
        finally { Gemm.Team = saved; }
    }
}
