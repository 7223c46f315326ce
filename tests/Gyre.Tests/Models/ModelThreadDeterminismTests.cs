using Gyre.Kernels;
using Gyre.Models;
using Gyre.Tests.Kernels;
using Gyre.Training;
using Xunit;

namespace Gyre.Tests.Models;

/// <summary>Same seed, same bits, whatever the thread count (runs alone: it changes the GEMM team).</summary>
[Collection(nameof(GemmTuningCollection))]
public class ModelThreadDeterminismTests
{
    [Theory]
    [InlineData("attention", "softmax")]
    [InlineData("max", "svm")]
    public void TrainingGivesTheSameBitsOnOneAndTwoThreads(string pool, string head)
    {
        // Wide enough that the GEMMs cross the threading threshold; ragged, bidirectional, two layers with dropout.
        var spec = new ModelSpec
        {
            InputSize = 2, Input = "linear", Hidden = 96, Layers = 2, Bidirectional = true, Dropout = 0.1f, Pool = pool, Head = head, Outputs = 3, Seed = 6,
        };
        var train = TrainerTests.Synthetic(128, 12, 1);
        var saved = Gemm.Team;
        try
        {
            float[] Train(int threads)
            {
                using var team = new WorkerTeam(threads);
                Gemm.Team = team;
                var model = new SequenceModel(spec);
                new Trainer(new TrainerOptions { Epochs = 2, Batch = 64, Seed = 2 }).Fit(new SequenceTask(model, train, null, "classify"), []);
                return model.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()).ToArray();
            }
            Assert.Equal(Train(1), Train(2));
        }
        finally { Gemm.Team = saved; }
    }
}
