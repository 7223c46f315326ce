using Gyre.Classification;
using Gyre.Data;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Classification;

public sealed class NormalizationAndAugmentationTests
{
    private static LabeledSequence Case(float[] values, int channels = 1, string label = "a") => new("c", values, channels, label, double.NaN, 1);

    [Fact]
    public void Series_global_and_series_plus_stats_by_hand()
    {
        LabeledSequence[] train = [Case([1, 3]), Case([10, 20])];   // case means 2 and 15, stds 1 and 5
        var series = SequenceNormalizer.Fit(train, 1, SequenceNormalization.Series);
        Assert.Equal(new[] { -1f, 1f }, series.Apply(train[1], 1));
        var global = SequenceNormalizer.Fit(train, 1, SequenceNormalization.Global);   // all steps: mean 8.5, std √(var) of {1,3,10,20}
        double mu = 8.5, sd = Math.Sqrt((1 + 9 + 100 + 400) / 4.0 - mu * mu);
        Assert.Equal((float)((10 - mu) / sd), global.Apply(train[1], 1)[0], 5);
        var stats = SequenceNormalizer.Fit(train, 1, SequenceNormalization.SeriesStats);
        Assert.Equal(new[] { -1f, 1f }, stats.Apply(train[1], 1));
        Assert.Equal(2, stats.ExtraFeatures(1));
        // the statistics (mean, log std) of the two cases are (2, 0) and (15, log 5): z-scored over the two cases, ±1 each
        Assert.All(stats.StatsFeatures(train[1].Values, 1), v => Assert.Equal(1f, v, 5));
        Assert.All(stats.StatsFeatures(train[0].Values, 1), v => Assert.Equal(-1f, v, 5));
        // a constant channel is only centred
        Assert.Equal(new[] { 0f, 0f, 0f }, series.Apply([4f, 4f, 4f], 1));
    }

    [Fact]
    public void Auto_choice_prefers_global_when_levels_carry_the_class()
    {
        // Same shape, classes differ only by level: per-series z-scoring would erase the label.
        var rng = new Rng(5);
        var cases = Enumerable.Range(0, 20).Select(i =>
        {
            float level = i % 2 == 0 ? 0 : 10;
            return Case(Enumerable.Range(0, 16).Select(t => level + MathF.Sin(t * 0.7f + rng.NextFloat())).ToArray(), label: i % 2 == 0 ? "low" : "high");
        }).ToArray();
        var (mode, reason) = SequenceNormalizer.Choose(cases, 1, cases.Select(c => c.Label == "low" ? 0 : 1).ToArray());
        Assert.Equal(SequenceNormalization.Global, mode);
        Assert.Contains("global 1", reason);
    }

    [Fact]
    public void Augmented_copies_are_deterministic_slices_of_the_case()
    {
        var values = Enumerable.Range(0, 40).Select(t => (float)t).ToArray();   // a ramp: a slice is a ramp of slope in [0.8, 1]
        var a = Augmentation.Copy(Case(values), 1, new Rng(3));
        var b = Augmentation.Copy(Case(values), 1, new Rng(3));
        Assert.Equal(a.Values, b.Values);
        Assert.Equal(40, a.Length);
        Assert.Equal("a", a.Label);
        double slope = (a.Values[^1] - a.Values[0]) / 39.0;
        Assert.InRange(slope, 0.8 - 0.02, 1.0 + 0.02);                          // jitter is 3 % of the std (≈ 0.35)
        Assert.InRange(a.Values[0], -1.5, 39 * (1 - 0.8) + 1.5);
        Assert.Equal(0, Augmentation.AutoCopies(4000));
        Assert.Equal(1, Augmentation.AutoCopies(2000));
        Assert.Equal(15, Augmentation.AutoCopies(36));
        Assert.Equal(7, Augmentation.AutoCopies(537));
    }
}
