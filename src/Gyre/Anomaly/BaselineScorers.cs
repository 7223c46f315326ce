namespace Gyre.Anomaly;

/// <summary>
/// Naive last-value residual: r_t = x_t − x_{t−1} per channel, scored |r_t − μ|/σ with the training residuals'
/// mean and deviation. The floor every learned scorer has to beat.
/// </summary>
public sealed class NaiveResidualScorer : IAnomalyScorer
{
    public (double Mean, double Std)[] ScoreMoments { get; set; } = [];

    public string Name => "naive";
    public int Warmup => 1;

    public void Fit(SeriesInput s, int trainRows)
    {
        if (trainRows <= Warmup + 1) throw new ArgumentException($"naive scorer: {trainRows} training rows are too few");
        ScoreMoments = ScoreMath.Fit(Residuals(s.Values, s.Channels, trainRows), s.Channels, Warmup, trainRows);
    }

    public double[] Score(SeriesInput s) =>
        ScoreMath.StandardiseAbs(Residuals(s.Values, s.Channels, s.Rows), s.Channels, Warmup, ScoreMoments);

    private static double[] Residuals(float[] x, int channels, int rows)
    {
        var r = new double[rows * channels];   // [T, C]
        for (int t = 1; t < rows; t++)
            for (int c = 0; c < channels; c++)
                r[t * channels + c] = (double)x[t * channels + c] - x[(t - 1) * channels + c];
        return r;
    }
}

/// <summary>
/// Rolling z-score: z_t = (x_t − mean(x_{t−w..t−1})) / std(x_{t−w..t−1}) per channel over the previous w rows,
/// scored |z_t − μ|/σ with the training rows' moments of z.
/// </summary>
public sealed class RollingZScorer(int window) : IAnomalyScorer
{
    public (double Mean, double Std)[] ScoreMoments { get; set; } = [];

    public string Name => "rolling_z";
    public int Warmup => window;

    public void Fit(SeriesInput s, int trainRows)
    {
        if (trainRows <= Warmup + 1) throw new ArgumentException($"rolling z-score: {trainRows} training rows do not exceed its window of {window}");
        ScoreMoments = ScoreMath.Fit(Residuals(s.Values, s.Channels, trainRows), s.Channels, Warmup, trainRows);
    }

    public double[] Score(SeriesInput s) =>
        ScoreMath.StandardiseAbs(Residuals(s.Values, s.Channels, s.Rows), s.Channels, Warmup, ScoreMoments);

    private double[] Residuals(float[] x, int channels, int rows)
    {
        var z = new double[rows * channels];   // [T, C]
        for (int c = 0; c < channels; c++)
        {
            double sum = 0, sq = 0;
            for (int t = 0; t < rows; t++)
            {
                double v = x[t * channels + c];
                if (t >= window)
                {
                    double mean = sum / window, var = Math.Max(sq / window - mean * mean, 0);
                    double std = Math.Sqrt(var);
                    z[t * channels + c] = (v - mean) / Math.Max(std, 1e-9 * Math.Max(1, Math.Abs(mean)));
                    double old = x[(t - window) * channels + c];
                    sum -= old; sq -= old * old;
                }
                sum += v; sq += v * v;
            }
        }
        return z;
    }
}
