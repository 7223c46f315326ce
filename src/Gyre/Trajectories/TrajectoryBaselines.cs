namespace Gyre.Trajectories;

/// <summary>
/// Trajectory forecasts without learning. Shapes: observed [Obs, D], prediction [Pred, D].
/// </summary>
public static class TrajectoryBaselines
{
    /// <summary>Constant velocity: p̂_{k} = p_last + k·(p_last − p_prev), k = 1..Pred.</summary>
    public static void ConstantVelocity(ReadOnlySpan<float> observed, int dims, Span<float> prediction)
    {
        int obs = observed.Length / dims, pred = prediction.Length / dims;
        for (int k = 1; k <= pred; k++)
            for (int j = 0; j < dims; j++)
            {
                float last = observed[(obs - 1) * dims + j], v = last - observed[(obs - 2) * dims + j];
                prediction[(k - 1) * dims + j] = last + k * v;
            }
    }

    /// <summary>
    /// Linear fit: per coordinate, the least-squares line p(τ) = a + b·τ through the Obs observed positions at
    /// τ = 0..Obs−1, extrapolated to τ = Obs − 1 + k.
    /// </summary>
    public static void Linear(ReadOnlySpan<float> observed, int dims, Span<float> prediction)
    {
        int obs = observed.Length / dims, pred = prediction.Length / dims;
        double tMean = (obs - 1) / 2.0, stt = 0;
        for (int t = 0; t < obs; t++) stt += (t - tMean) * (t - tMean);
        for (int j = 0; j < dims; j++)
        {
            double mean = 0;
            for (int t = 0; t < obs; t++) mean += observed[t * dims + j];
            mean /= obs;
            double sty = 0;
            for (int t = 0; t < obs; t++) sty += (t - tMean) * (observed[t * dims + j] - mean);
            double b = sty / stt;
            for (int k = 1; k <= pred; k++) prediction[(k - 1) * dims + j] = (float)(mean + b * (obs - 1 + k - tMean));
        }
    }
}

/// <summary>Average and final displacement error of one prediction [Pred, D] against the truth [Pred, D].</summary>
public static class TrajectoryMetrics
{
    /// <summary>ADE = (1/Pred)·Σ_k ‖p̂_k − p_k‖₂, FDE = ‖p̂_Pred − p_Pred‖₂.</summary>
    public static (double Ade, double Fde) Errors(ReadOnlySpan<float> prediction, ReadOnlySpan<float> truth, int dims)
    {
        if (prediction.Length != truth.Length) throw new ArgumentException("prediction and truth differ in length");
        int pred = truth.Length / dims;
        double sum = 0, last = 0;
        for (int k = 0; k < pred; k++)
        {
            double sq = 0;
            for (int j = 0; j < dims; j++) { double e = prediction[k * dims + j] - truth[k * dims + j]; sq += e * e; }
            last = Math.Sqrt(sq);
            sum += last;
        }
        return (sum / pred, last);
    }

    /// <summary>Mean ADE and FDE of a predictor over every sample of <paramref name="windows"/>.</summary>
    public static (double Ade, double Fde) Evaluate(TrajectoryWindows windows, Predictor predict)
    {
        if (windows.Count == 0) throw new ArgumentException("no windows to evaluate");
        int d = windows.Dims, o = windows.Obs;
        var buffer = new float[windows.Pred * d];   // [Pred, D]
        double ade = 0, fde = 0;
        for (int s = 0; s < windows.Count; s++)
        {
            var sample = windows.Sample(s);
            predict(sample[..(o * d)], d, buffer);
            var (a, f) = Errors(buffer, sample[(o * d)..], d);
            ade += a; fde += f;
        }
        return (ade / windows.Count, fde / windows.Count);
    }

    /// <summary>Fills prediction [Pred, D] from observed [Obs, D].</summary>
    public delegate void Predictor(ReadOnlySpan<float> observed, int dims, Span<float> prediction);
}
