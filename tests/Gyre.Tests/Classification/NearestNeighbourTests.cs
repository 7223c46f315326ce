using Gyre.Classification;
using Gyre.Data;
using Xunit;

namespace Gyre.Tests.Classification;

public sealed class NearestNeighbourTests
{
    private static LabeledSequence Case(string label, params float[] values) => new("c", values, 1, label, double.NaN, 1);

    [Fact]
    public void Euclidean_and_dtw_neighbours_of_hand_made_series()
    {
        float[][] train = [[0, 0, 1, 0, 0, 0], [0, 1, 0, 0, 0, 0], [3, 3, 3, 3, 3, 3]];
        float[][] test = [[0, 0, 0, 1, 0, 0], [2, 3, 3, 3, 3, 3], [0, 1, 0, 0, 0, 0]];
        // Euclidean: the shifted bump is √2 from both bumps; the tie goes to the lower index.
        Assert.Equal(new[] { 0, 2, 1 }, NearestNeighbour.Euclidean(train, test));
        // DTW (band 2): a bump up to two steps away aligns at no cost, so test[2] ties between train[0] and train[1].
        Assert.Equal(new[] { 0, 2, 0 }, NearestNeighbour.DynamicTimeWarping(train, test, 1, 0.2));
        float[][] shifted = [[0, 0, 0, 0, 1, 0]];
        Assert.Equal(new[] { 0 }, NearestNeighbour.Euclidean([train[1], train[0]], shifted));   // both √2: first
        // Band 2: train[0]'s bump (two steps off) aligns for free, train[1]'s (three steps off) cannot.
        Assert.Equal(new[] { 1 }, NearestNeighbour.DynamicTimeWarping([train[1], train[0]], shifted, 1, 0.2));
    }

    [Fact]
    public void Same_answer_on_any_thread_count()
    {
        var rng = new Gyre.Tensors.Rng(3);
        float[] Series(int n) { var s = new float[n]; for (int i = 0; i < n; i++) s[i] = rng.NextGaussian(); return s; }
        var train = Enumerable.Range(0, 40).Select(i => Series(20 + i % 7)).ToArray();
        var test = Enumerable.Range(0, 30).Select(i => Series(18 + i % 9)).ToArray();
        var one = NearestNeighbour.DynamicTimeWarping(train, test, 1, 0.1, threads: 1);
        Assert.Equal(one, NearestNeighbour.DynamicTimeWarping(train, test, 1, 0.1, threads: 2));
        Assert.Equal(one, NearestNeighbour.DynamicTimeWarping(train, test, 1, 0.1, threads: 0));
    }

    [Fact]
    public void Resample_is_linear_between_the_ends()
    {
        Assert.Equal(new[] { 0f, 0.5f, 1f, 1.5f, 2f }, NearestNeighbour.Resample([0f, 1f, 2f], 1, 5));
        Assert.Equal(new[] { 0f, 10f, 2f, 30f }, NearestNeighbour.Resample([0f, 10f, 1f, 20f, 2f, 30f], 2, 2));
    }

    [Fact]
    public void Baselines_on_a_tiny_split()
    {
        LabeledSequence[] train = [Case("a", 0, 0, 1, 0), Case("a", 0, 0, 0, 0), Case("b", 5, 5, 5, 5)];
        LabeledSequence[] test = [Case("b", 4, 5, 5), Case("a", 0, 1, 0, 0)];   // unequal lengths: resampled for Euclidean
        var b = Baselines.Compute(train, test, 1, [0, 0, 1], 2, threads: 1);
        Assert.Equal(0, b.Majority);
        Assert.Equal(new[] { 2, 1 }, b.NearestEuclidean);   // [0,1,0,0]: 1 from the flat series, 2 from the bump
        Assert.Equal(new[] { 2, 0 }, b.NearestDtw);         // band 1 aligns the bumps
        Assert.True(double.IsNaN(b.Mean));
    }
}
