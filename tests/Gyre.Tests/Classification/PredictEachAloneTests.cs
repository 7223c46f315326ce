using Gyre.Classification;
using Gyre.Data;
using Gyre.Tests.Serve;
using Xunit;

namespace Gyre.Tests.Classification;

/// <summary>Cases of different lengths predicted together answer as each case predicted alone, test-time slices
/// included: that is what lets a server re-run the whole cases of many streams in one batch.</summary>
public sealed class PredictEachAloneTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void Cases_predicted_together_equal_each_case_alone(int testAugment)
    {
        var train = TsLoader.Load(ServeFixture.Bundled("classification/GunPoint_TRAIN.ts"));
        var c = SequenceClassifier.Fit(train, new ClassifierOptions { Hidden = 8, Epochs = 1, Augment = 0, TestAugment = testAugment, Seed = 7 });
        Assert.Equal(1 + testAugment, c.TestViews);
        // Prefixes of uneven lengths, so the network pads within its length groups.
        int[] lengths = [150, 17, 96, 3, 150, 61];
        var cases = lengths.Select((n, i) => new LabeledSequence($"s{i}", train.Cases[i].Values[..(n * train.Channels)], train.Channels, null, double.NaN, 0)).ToArray();
        SequenceSet Set(params LabeledSequence[] cs) => new("t", "t", train.Channels, LabelKind.Classification, cs, null);
        var together = c.PredictEachAlone(Set(cases));
        int k = c.Model.Spec.Outputs;
        for (int i = 0; i < cases.Length; i++)
        {
            var alone = c.Predict(Set(cases[i]));
            for (int j = 0; j < k; j++)
                Assert.True(Math.Abs(alone.Probabilities[j] - together.Probabilities[i * k + j]) <= 1e-5f,
                    $"case {i} (length {lengths[i]}) class {j}: together {together.Probabilities[i * k + j]}, alone {alone.Probabilities[j]}");
        }
        if (testAugment > 0)
        {
            // The plain batch seeds slices by position, so it differs from alone for a later case: the test can fail.
            var positional = c.Predict(Set(cases));
            bool differs = false;
            for (int i = 1; i < cases.Length && !differs; i++)
            {
                var alone = c.Predict(Set(cases[i]));
                for (int j = 0; j < k; j++) differs |= Math.Abs(alone.Probabilities[j] - positional.Probabilities[i * k + j]) > 1e-5f;
            }
            Assert.True(differs, "slices seeded by position should change some later case's answer");
        }
    }
}
