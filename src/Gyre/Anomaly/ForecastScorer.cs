using Gyre.Layers;
using Gyre.Models;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Anomaly;

/// <summary>
/// Residuals of a recurrent one-step forecaster with a Gaussian head. Each channel is standardised on the
/// training rows; a <see cref="SequenceModel"/> (recurrent encoder → last step → linear head) reads the previous
/// L rows [L, C] and outputs (μ [C], log σ [C]) for the next one, trained by Gaussian NLL with the shared
/// <see cref="Trainer"/>. The residual of channel c at row t is z = (x_t − μ)/σ, the deviation in the head's own
/// predicted spread, so a channel that is hard to forecast at some phase (σ large) does not alarm there;
/// scores are |z| standardised by the training residuals' moments. Dimensions: T rows, C channels, L lookback, B batch.
/// </summary>
public sealed class ForecastScorer : IAnomalyScorer, ITrainingTask
{
    private readonly ScorerSettings _settings;
    private float[] _z = [];                   // [T, C] standardised training values, while fitting
    private float[]? _cov;                     // [T, P] covariates, while fitting
    private int _channels;
    private Batch? _batch;

    public string Name => "forecast";
    public int Warmup => Lookback;
    public int Lookback { get; }
    public SequenceModel? Network { get; private set; }
    /// <summary>Per-channel centre and scale of the raw values (training rows).</summary>
    public (double Mean, double Std)[] Scaling { get; private set; } = [];
    /// <summary>Per-channel moments of the training residuals z.</summary>
    public (double Mean, double Std)[] ResidualStats { get; private set; } = [];
    public List<EpochRecord> History { get; } = [];

    public ForecastScorer(ScorerSettings settings)
    {
        _settings = settings;
        Lookback = settings.Window ?? AnomalyScorers.DefaultWindow;
        if (Lookback < 2) throw new ArgumentException($"--window {Lookback} must be at least 2");
    }

    /// <summary>Restores a fitted scorer (from a model file).</summary>
    public ForecastScorer(ScorerSettings settings, SequenceModel network, int covariateWidth, (double, double)[] scaling, (double, double)[] residualStats) : this(settings)
    {
        Network = network;
        CovariateWidth = covariateWidth;
        Scaling = scaling;
        ResidualStats = residualStats;
    }

    /// <summary>P: covariates read per step (0 without).</summary>
    public int CovariateWidth { get; private set; }

    public void Fit(SeriesInput s, int trainRows)
    {
        int channels = _channels = s.Channels;
        CovariateWidth = s.Covariates is null ? 0 : s.CovariateWidth;
        _cov = s.Covariates;
        Scaling = Standardisation.Fit(s.Values, channels, trainRows);
        _z = Standardisation.Apply(s.Values, channels, Scaling);
        TrainCount = trainRows - Lookback;
        if (TrainCount < 1) throw new ArgumentException($"forecast scorer: {trainRows} training rows do not exceed the lookback {Lookback}");
        Network = new SequenceModel(new ModelSpec
        {
            InputSize = channels + CovariateWidth, Cell = _settings.Cell, Hidden = _settings.Hidden, Pool = "last", Head = "linear", Outputs = 2 * channels, Seed = _settings.Seed,
        });
        var trainer = new Trainer(new TrainerOptions { Epochs = _settings.Epochs, Batch = 32, LearningRate = 3e-3f, Seed = _settings.Seed, Patience = 0 });
        trainer.Fit(this, History);
        var r = Residuals(_z, _cov, channels);
        ResidualStats = ScoreMath.Fit(r, channels, Lookback, trainRows);
        _z = [];
        _cov = null;
    }

    public double[] Score(SeriesInput s)
    {
        if (Network is null) throw new InvalidOperationException("the forecast scorer is not fitted");
        int channels = s.Channels;
        if (channels * 2 != Network.Spec.Outputs) throw new ArgumentException($"the model was fitted on {Network.Spec.Outputs / 2} channels, the data has {channels}");
        if ((s.Covariates is null ? 0 : s.CovariateWidth) != CovariateWidth)
            throw new ArgumentException(CovariateWidth > 0 ? "the model reads the phase of the day: the data needs sub-daily timestamps" : "the model was fitted without covariates");
        var r = Residuals(Standardisation.Apply(s.Values, channels, Scaling), s.Covariates, channels);
        return ScoreMath.StandardiseAbs(r, channels, Lookback, ResidualStats);
    }

    /// <summary>
    /// The network input for the forecast of row t into dst [L, C + P]: step k holds the values of row t − L + k and
    /// the covariates of the row after it, so the last step carries the covariates of the row forecast.
    /// </summary>
    private void FillInput(Span<float> dst, float[] z, float[]? cov, int channels, int t)
    {
        int p = CovariateWidth, f = channels + p;
        for (int k = 0; k < Lookback; k++)
        {
            int row = t - Lookback + k;
            z.AsSpan(row * channels, channels).CopyTo(dst.Slice(k * f));
            if (p > 0) cov.AsSpan((row + 1) * p, p).CopyTo(dst.Slice(k * f + channels));
        }
    }

    /// <summary>z [T, C] → residuals (x − μ)/σ [T, C] for rows ≥ L (0 before), in inference batches.</summary>
    private double[] Residuals(float[] z, float[]? cov, int channels)
    {
        var net = Network!;
        net.Training = false;
        int rows = z.Length / channels, n = rows - Lookback, f = channels + CovariateWidth;
        var r = new double[z.Length];
        const int Chunk = 256;
        for (int s = 0; s < n; s += Chunk)
        {
            int b = Math.Min(Chunk, n - s);
            var x = Tensor.Zeros(b, Lookback, f);   // [B, L, C + P]
            for (int i = 0; i < b; i++) FillInput(x.Span.Slice(i * Lookback * f, Lookback * f), z, cov, channels, Lookback + s + i);
            var o = net.Forward(x, null).ReadOnlySpan;       // [B, 2C]
            for (int i = 0; i < b; i++)
            {
                int t = Lookback + s + i;
                for (int c = 0; c < channels; c++)
                {
                    double mu = o[i * 2 * channels + c], logSigma = Math.Clamp(o[i * 2 * channels + channels + c], -GaussianNll.LogSigmaLimit, GaussianNll.LogSigmaLimit);
                    r[t * channels + c] = (z[t * channels + c] - mu) / Math.Exp(logSigma);
                }
            }
        }
        return r;
    }

    // ITrainingTask: example i forecasts row L + i from rows i .. i + L − 1.
    public Module Model => Network!;
    public int TrainCount { get; private set; }

    public double TrainBatch(ReadOnlySpan<int> indices)
    {
        int b = indices.Length, c = _channels, f = c + CovariateWidth;
        if (_batch is null || _batch.B != b) _batch = new Batch(b, Lookback, c, f);
        var x = _batch.X.Span;
        for (int i = 0; i < b; i++)
        {
            int t = Lookback + indices[i];
            FillInput(x.Slice(i * Lookback * f, Lookback * f), _z, _cov, c, t);
            _z.AsSpan(t * c, c).CopyTo(_batch.Targets.AsSpan(i * c));
        }
        var net = Network!;
        net.Training = true;
        var o = net.Forward(_batch.X, null);
        double loss = GaussianNll.Loss(o.ReadOnlySpan, _batch.Targets, c, _batch.DOut.Span);
        net.Backward(_batch.DOut);
        return loss;
    }

    public ValidationResult? Validate() => null;
    public string[] SaveRngState() => Network!.SaveRngState();
    public void RestoreRngState(string[] states) => Network!.RestoreRngState(states);
    public IReadOnlyDictionary<string, string> CheckpointMetadata() => Network!.Metadata("detect");

    private sealed class Batch(int b, int l, int c, int f)
    {
        public readonly int B = b;
        public readonly Tensor X = Tensor.Zeros(b, l, f);       // [B, L, C + P]
        public readonly float[] Targets = new float[b * c];     // [B, C]
        public readonly Tensor DOut = Tensor.Zeros(b, 2 * c);   // [B, 2C]
    }
}

/// <summary>Per-channel z-scoring fitted on the training rows.</summary>
public static class Standardisation
{
    /// <summary>Mean and standard deviation (floored) of each channel of x [T, C] over rows [0, rows).</summary>
    public static (double Mean, double Std)[] Fit(float[] x, int channels, int rows)
    {
        var d = new double[rows * channels];
        for (int i = 0; i < d.Length; i++) d[i] = x[i];
        return ScoreMath.Fit(d, channels, 0, rows);
    }

    /// <summary>(x − mean)/std per channel, [T, C].</summary>
    public static float[] Apply(float[] x, int channels, (double Mean, double Std)[] s)
    {
        var z = new float[x.Length];
        for (int i = 0; i < x.Length; i++) z[i] = (float)((x[i] - s[i % channels].Mean) / s[i % channels].Std);
        return z;
    }
}
