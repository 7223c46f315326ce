namespace Gyre.Anomaly;

/// <summary>
/// Scores every row of a multivariate series: higher = more anomalous. Fitted on the first rows only; a score at
/// row t uses rows ≤ t (causal), so it can run on a stream. Shapes: values [T, C] row-major, scores [T, C].
/// </summary>
public interface IAnomalyScorer
{
    /// <summary>Short name for tables and JSON ("naive", "rolling_z", "forecast", …).</summary>
    string Name { get; }

    /// <summary>Rows at the start that have no score (the scorer's context); their score is 0.</summary>
    int Warmup { get; }

    /// <summary>Per-channel mean and deviation of the raw training scores that <see cref="Score"/> standardises by (saved in model files).</summary>
    (double Mean, double Std)[] ScoreMoments { get; set; }

    /// <summary>Fits on rows [0, trainRows) of the series; nothing after them is read.</summary>
    void Fit(SeriesInput series, int trainRows);

    /// <summary>Per-channel scores [T, C], standardised on the training rows so channels are comparable.</summary>
    double[] Score(SeriesInput series);

    /// <summary>Scores of several series, each equal to <see cref="Score"/> of it alone (to float rounding); by default
    /// one series after another, the learned scorers run all series' windows through their network together.</summary>
    double[][] ScoreMany(IReadOnlyList<SeriesInput> series) => [.. series.Select(Score)];
}

/// <summary>
/// A series to score: values [T, C] row-major and optional known covariates [T, P] (e.g. the phase of the day),
/// which the learned scorers read beside the values and never score.
/// </summary>
public sealed record SeriesInput(float[] Values, int Channels, float[]? Covariates = null, int CovariateWidth = 0)
{
    public int Rows => Values.Length / Channels;

    /// <summary>
    /// The phase of the day as covariates [T, 2] = (sin, cos)(2π·time-of-day / 24 h) when the rows are less than a
    /// day apart (a daily cycle can be seen), else null. Periodic signals then need not be timed from the values alone.
    /// </summary>
    public static float[]? DailyPhase(DateTime[]? times)
    {
        if (times is null || times.Length < 2) return null;
        var steps = new double[times.Length - 1];
        for (int i = 1; i < times.Length; i++) steps[i - 1] = (times[i] - times[i - 1]).TotalSeconds;
        Array.Sort(steps);
        if (steps[steps.Length / 2] >= 86400) return null;
        var p = new float[times.Length * 2];
        for (int t = 0; t < times.Length; t++)
        {
            double a = 2 * Math.PI * times[t].TimeOfDay.TotalSeconds / 86400;
            p[2 * t] = (float)Math.Sin(a);
            p[2 * t + 1] = (float)Math.Cos(a);
        }
        return p;
    }
}

/// <summary>Shared helpers for scorers.</summary>
public static class ScoreMath
{
    /// <summary>Mean and standard deviation (population, floored at 1e-12 of the scale) of column c over rows [from, to) of x [T, C].</summary>
    public static (double Mean, double Std) Moments(double[] x, int channels, int c, int from, int to)
    {
        if (to <= from) throw new ArgumentException($"no rows to standardise on ([{from}, {to}))");
        double m = 0;
        for (int t = from; t < to; t++) m += x[t * channels + c];
        m /= to - from;
        double v = 0;
        for (int t = from; t < to; t++) { double d = x[t * channels + c] - m; v += d * d; }
        double std = Math.Sqrt(v / (to - from));
        return (m, Math.Max(std, 1e-12 * Math.Max(1, Math.Abs(m))));
    }

    /// <summary>
    /// Residuals r [T, C] to scores |r − μ_c| / σ_c with μ, σ from rows [warmup, trainRows): a residual as large as
    /// the usual training ones scores about 1 on every channel. Rows before warmup score 0.
    /// </summary>
    public static double[] StandardiseAbs(double[] residuals, int channels, int warmup, (double Mean, double Std)[] stats)
    {
        int rows = residuals.Length / channels;
        var s = new double[residuals.Length];
        for (int t = warmup; t < rows; t++)
            for (int c = 0; c < channels; c++)
                s[t * channels + c] = Math.Abs(residuals[t * channels + c] - stats[c].Mean) / stats[c].Std;
        return s;
    }

    /// <summary>Per-channel training moments of residuals [T, C] over rows [warmup, trainRows).</summary>
    public static (double Mean, double Std)[] Fit(double[] residuals, int channels, int warmup, int trainRows) =>
        Enumerable.Range(0, channels).Select(c => Moments(residuals, channels, c, warmup, trainRows)).ToArray();

    /// <summary>Causal moving mean of scores [T, C] over the last k rows from <paramref name="warmup"/> on (fewer at the start).</summary>
    public static double[] Smooth(double[] scores, int channels, int warmup, int k)
    {
        if (k <= 1) return scores;
        int rows = scores.Length / channels;
        var s = new double[scores.Length];   // [T, C]
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            for (int t = warmup; t < rows; t++)
            {
                sum += scores[t * channels + c];
                if (t - k >= warmup) sum -= scores[(t - k) * channels + c];
                s[t * channels + c] = sum / Math.Min(k, t - warmup + 1);
            }
        }
        return s;
    }

    /// <summary>The combined score per row: the largest channel score (one anomalous channel among many still shows).</summary>
    public static double[] Combine(double[] scores, int channels)
    {
        int rows = scores.Length / channels;
        var combined = new double[rows];
        for (int t = 0; t < rows; t++)
        {
            double m = 0;
            for (int c = 0; c < channels; c++) m = Math.Max(m, scores[t * channels + c]);
            combined[t] = m;
        }
        return combined;
    }
}
