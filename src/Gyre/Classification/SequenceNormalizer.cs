using Gyre.Data;

namespace Gyre.Classification;

/// <summary>How sequences are scaled before the network sees them.</summary>
public enum SequenceNormalization
{
    /// <summary>Pick <see cref="Series"/> or <see cref="Global"/> from the training data (<see cref="SequenceNormalizer.Choose"/>).</summary>
    Auto,
    /// <summary>Per case and channel: x' = (x − mean) / std over that case's own steps (level and scale removed).</summary>
    Series,
    /// <summary>Per channel: x' = (x − μ_c) / σ_c with μ, σ fitted on every training step (levels kept).</summary>
    Global,
    /// <summary>Values as given.</summary>
    None,
    /// <summary>
    /// <see cref="Series"/> z-scoring plus, for each channel, the case's own level and scale given back as two
    /// extra inputs (mean and log standard deviation, each z-scored over the training cases): the network sees
    /// the shape free of level and scale, and the level and scale themselves.
    /// </summary>
    SeriesStats,
}

/// <summary>
/// Fitted normalisation of [T, C] sequences. Global statistics are fitted on the training set only; a
/// standard deviation below 1e−8 counts as 1 (a constant channel is only centred).
/// </summary>
public sealed class SequenceNormalizer
{
    public SequenceNormalization Mode { get; }

    /// <summary>Per-channel training mean μ [C] (global mode); series+stats: the training mean of each case statistic [2C]; zeros otherwise.</summary>
    public float[] Mean { get; }

    /// <summary>Per-channel training standard deviation σ [C] (global mode); series+stats: that of each case statistic [2C]; ones otherwise.</summary>
    public float[] Std { get; }

    public SequenceNormalizer(SequenceNormalization mode, float[] mean, float[] std)
    {
        if (mode == SequenceNormalization.Auto) throw new ArgumentException("resolve Auto with Choose before building a normalizer");
        if (mean.Length != std.Length) throw new ArgumentException("mean and std differ in length");
        if (mode == SequenceNormalization.SeriesStats && mean.Length % 2 != 0) throw new ArgumentException("series+stats keeps two statistics per channel");
        Mode = mode;
        Mean = mean;
        Std = std;
    }

    public static SequenceNormalization Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => SequenceNormalization.Auto,
        "series" => SequenceNormalization.Series,
        "global" => SequenceNormalization.Global,
        "none" => SequenceNormalization.None,
        "series+stats" => SequenceNormalization.SeriesStats,
        _ => throw new GyreDataException($"--normalize: unknown mode '{text}' (expected auto, series, series+stats, global or none)"),
    };

    public static string Name(SequenceNormalization mode) => mode == SequenceNormalization.SeriesStats ? "series+stats" : mode.ToString().ToLowerInvariant();

    /// <summary>Extra inputs per step this mode adds for <paramref name="channels"/> channels (2·C for series+stats).</summary>
    public int ExtraFeatures(int channels) => Mode == SequenceNormalization.SeriesStats ? 2 * channels : 0;

    /// <summary>Per channel c of a [T, C] case: its mean and log standard deviation (floored at 1e−8).</summary>
    public static void CaseStats(ReadOnlySpan<float> values, int channels, Span<double> stats)
    {
        int T = values.Length / channels;
        for (int c = 0; c < channels; c++)
        {
            double sum = 0, sq = 0;
            for (int t = 0; t < T; t++) { double x = values[t * channels + c]; sum += x; sq += x * x; }
            double mu = sum / T, sd = Math.Sqrt(Math.Max(0, sq / T - mu * mu));
            stats[2 * c] = mu;
            stats[2 * c + 1] = Math.Log(Math.Max(sd, 1e-8));
        }
    }

    /// <summary>The series+stats extra inputs of one case [2·C], z-scored with the training statistics.</summary>
    public float[] StatsFeatures(ReadOnlySpan<float> values, int channels)
    {
        var stats = new double[2 * channels];
        CaseStats(values, channels, stats);
        var result = new float[2 * channels];
        for (int k = 0; k < result.Length; k++) result[k] = (float)((stats[k] - Mean[k]) / Std[k]);
        return result;
    }

    /// <summary>Fits <paramref name="mode"/> (not Auto) on the training cases.</summary>
    public static SequenceNormalizer Fit(IReadOnlyList<LabeledSequence> train, int channels, SequenceNormalization mode)
    {
        int width = mode == SequenceNormalization.SeriesStats ? 2 * channels : channels;
        var mean = new float[width];
        var std = new float[width];
        Array.Fill(std, 1f);
        if (mode == SequenceNormalization.SeriesStats)
        {
            var all = new double[train.Count, width];
            var one = new double[width];
            for (int i = 0; i < train.Count; i++)
            {
                CaseStats(train[i].Values, channels, one);
                for (int k = 0; k < width; k++) all[i, k] = one[k];
            }
            for (int k = 0; k < width; k++)
            {
                double mu = 0, sq = 0;
                for (int i = 0; i < train.Count; i++) { mu += all[i, k]; sq += all[i, k] * all[i, k]; }
                mu /= train.Count;
                double sd = Math.Sqrt(Math.Max(0, sq / train.Count - mu * mu));
                mean[k] = (float)mu;
                std[k] = sd < 1e-8 ? 1f : (float)sd;
            }
        }
        if (mode == SequenceNormalization.Global)
        {
            for (int c = 0; c < channels; c++)
            {
                double sum = 0, sq = 0;
                long n = 0;
                foreach (var s in train)
                    for (int t = 0; t < s.Length; t++) { double x = s.Values[t * channels + c]; sum += x; sq += x * x; n++; }
                double mu = sum / n, sd = Math.Sqrt(Math.Max(0, sq / n - mu * mu));
                mean[c] = (float)mu;
                std[c] = sd < 1e-8 ? 1f : (float)sd;
            }
        }
        return new SequenceNormalizer(mode, mean, std);
    }

    /// <summary>The normalised copy of one case's values [T, C].</summary>
    public float[] Apply(LabeledSequence s, int channels) => Apply(s.Values, channels);

    /// <summary>The normalised copy of values [T, C].</summary>
    public float[] Apply(float[] values, int channels)
    {
        var result = (float[])values.Clone();
        int T = values.Length / channels;
        switch (Mode)
        {
            case SequenceNormalization.Global:
                for (int t = 0; t < T; t++)
                    for (int c = 0; c < channels; c++) result[t * channels + c] = (values[t * channels + c] - Mean[c]) / Std[c];
                break;
            case SequenceNormalization.Series:
            case SequenceNormalization.SeriesStats:
                for (int c = 0; c < channels; c++)
                {
                    double sum = 0, sq = 0;
                    for (int t = 0; t < T; t++) { double x = values[t * channels + c]; sum += x; sq += x * x; }
                    double mu = sum / T, sd = Math.Sqrt(Math.Max(0, sq / T - mu * mu));
                    if (sd < 1e-8) sd = 1;
                    for (int t = 0; t < T; t++) result[t * channels + c] = (float)((values[t * channels + c] - mu) / sd);
                }
                break;
        }
        return result;
    }

    /// <summary>
    /// Chooses between per-series and global z-scoring from the training data: whichever gives the better
    /// leave-one-out 1-NN score on (up to <paramref name="maxCases"/>, evenly spaced) training cases —
    /// accuracy for classification, minus the MSE for regression — compared after resampling every case to the
    /// longest length. Ties go to global, which keeps the levels and scales that may carry the label.
    /// Per-series z-scoring is only chosen when removing each case's level and scale measurably helps.
    /// </summary>
    public static (SequenceNormalization Mode, string Reason) Choose(IReadOnlyList<LabeledSequence> train, int channels, IReadOnlyList<int>? classIndex,
        int maxCases = 600, int threads = 0)
    {
        int n = train.Count;
        if (n < 3) return (SequenceNormalization.Global, "global (too few training cases to compare)");
        int take = Math.Min(n, maxCases);
        var pick = Enumerable.Range(0, take).Select(i => (int)((long)i * n / take)).ToArray();
        int length = Math.Min(pick.Max(i => train[i].Length), 512);   // a cap keeps the choice cheap on long series
        double Score(SequenceNormalizer norm)
        {
            var x = pick.Select(i => NearestNeighbour.Resample(norm.Apply(train[i], channels), channels, length)).ToArray();
            var nn = LeaveOneOut(x, threads);
            if (classIndex is not null)
                return pick.Select((c, k) => classIndex[pick[nn[k]]] == classIndex[c] ? 1.0 : 0.0).Average();
            return -pick.Select((c, k) => Math.Pow(train[pick[nn[k]]].Target - train[c].Target, 2)).Average();
        }
        double global = Score(Fit(train, channels, SequenceNormalization.Global));
        double series = Score(Fit(train, channels, SequenceNormalization.Series));
        string what = classIndex is not null ? "accuracy" : "MSE";
        string Fmt(double v) => (classIndex is not null ? v : -v).ToString("G4", System.Globalization.CultureInfo.InvariantCulture);
        string detail = $"leave-one-out 1-NN {what} on {take} training cases: series {Fmt(series)}, global {Fmt(global)}";
        return series > global
            ? (SequenceNormalization.Series, $"series ({detail})")
            : (SequenceNormalization.Global, $"global ({detail})");
    }

    /// <summary>For each of the equal-length series, the index of its nearest other series (squared Euclidean).</summary>
    private static int[] LeaveOneOut(float[][] x, int threads)
    {
        var result = new int[x.Length];
        Parallel.For(0, x.Length, new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : -1 }, i =>
        {
            double best = double.PositiveInfinity;
            int arg = -1;
            for (int j = 0; j < x.Length; j++)
            {
                if (j == i) continue;
                double d = NearestNeighbour.SquaredDistance(x[i], x[j], best);
                if (d < best) { best = d; arg = j; }
            }
            result[i] = arg;
        });
        return result;
    }
}
