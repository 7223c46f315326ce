using Gyre.Data;

namespace Gyre.Classification;

/// <summary>Predictions of the reference methods on one split, from the training cases alone.</summary>
/// <param name="Majority">Majority class index (classification) for every test case; −1 for regression.</param>
/// <param name="Mean">Training-target mean (regression) for every test case; NaN for classification.</param>
/// <param name="NearestEuclidean">Training index of each test case's 1-NN by Euclidean distance.</param>
/// <param name="NearestDtw">Training index of each test case's 1-NN by DTW (Sakoe–Chiba band).</param>
public sealed record BaselinePredictions(int Majority, double Mean, int[] NearestEuclidean, int[] NearestDtw);

/// <summary>
/// The baselines every classification report prints: the majority class (regression: the training mean),
/// 1-NN Euclidean and 1-NN DTW with a 10 % Sakoe–Chiba band. They run on the values as given (not the
/// network's normalisation), as the published benchmark numbers do. Unequal lengths: for Euclidean distance
/// every case is linearly resampled to the longest training length; DTW compares the series as they are,
/// its band widened to the length difference so the alignment can reach both ends.
/// </summary>
public static class Baselines
{
    public const double DtwWindow = 0.1;

    public static BaselinePredictions Compute(IReadOnlyList<LabeledSequence> train, IReadOnlyList<LabeledSequence> test, int channels,
        IReadOnlyList<int>? trainClass, int classes, int threads = 0)
    {
        int majority = -1;
        if (trainClass is not null)
        {
            var counts = new int[classes];
            foreach (int c in trainClass) counts[c]++;
            majority = 0;
            for (int k = 1; k < classes; k++) if (counts[k] > counts[majority]) majority = k;   // ties: the first class
        }
        double mean = trainClass is null ? train.Average(s => s.Target) : double.NaN;
        int length = train.Max(s => s.Length);
        bool equal = train.All(s => s.Length == length) && test.All(s => s.Length == length);
        float[] Resampled(LabeledSequence s) => equal ? s.Values : NearestNeighbour.Resample(s.Values, channels, length);
        var euclid = NearestNeighbour.Euclidean(train.Select(Resampled).ToArray(), test.Select(Resampled).ToArray(), threads);
        var dtw = NearestNeighbour.DynamicTimeWarping(train.Select(s => s.Values).ToArray(), test.Select(s => s.Values).ToArray(), channels, DtwWindow, threads);
        return new BaselinePredictions(majority, mean, euclid, dtw);
    }
}
