using Gyre.Layers;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Anomaly;

/// <summary>
/// Reconstruction errors of a <see cref="SequenceAutoencoder"/> trained (MSE, shared <see cref="Trainer"/>) on the
/// windows of W rows that end inside the training rows, on channels standardised there. The raw score of channel c
/// at row t is the mean squared reconstruction error of c over the window ending at t (causal); scores are that
/// error standardised by the training errors' moments. Dimensions: T rows, C channels, W window, B batch.
/// </summary>
public sealed class ReconstructionScorer : IAnomalyScorer, ITrainingTask
{
    private readonly ScorerSettings _settings;
    private float[] _z = [];                   // [T, C] standardised training values, while fitting
    private float[]? _cov;                     // [T, P] covariates, while fitting
    private int _channels;
    private Batch? _batch;

    public string Name => "reconstruction";
    public int Warmup => Window - 1;
    public int Window { get; }
    public SequenceAutoencoder? Network { get; private set; }
    public (double Mean, double Std)[] Scaling { get; private set; } = [];
    public (double Mean, double Std)[] ErrorStats { get; private set; } = [];
    public List<EpochRecord> History { get; } = [];

    public ReconstructionScorer(ScorerSettings settings)
    {
        _settings = settings;
        Window = settings.Window ?? AnomalyScorers.DefaultWindow;
        if (Window < 2) throw new ArgumentException($"--window {Window} must be at least 2");
    }

    /// <summary>Restores a fitted scorer (from a model file).</summary>
    public ReconstructionScorer(ScorerSettings settings, SequenceAutoencoder network, (double, double)[] scaling, (double, double)[] errorStats) : this(settings)
    {
        Network = network;
        CovariateWidth = network.Covariates;
        _channels = network.Channels;
        Scaling = scaling;
        ErrorStats = errorStats;
    }

    /// <summary>P: covariates read per step beside the values (0 without); they are not reconstructed.</summary>
    public int CovariateWidth { get; private set; }

    public void Fit(SeriesInput s, int trainRows)
    {
        int channels = _channels = s.Channels;
        CovariateWidth = s.Covariates is null ? 0 : s.CovariateWidth;
        _cov = s.Covariates;
        Scaling = Standardisation.Fit(s.Values, channels, trainRows);
        _z = Standardisation.Apply(s.Values, channels, Scaling);
        TrainCount = trainRows - Window + 1;
        if (TrainCount < 1) throw new ArgumentException($"reconstruction scorer: {trainRows} training rows are fewer than the window {Window}");
        Network = new SequenceAutoencoder(_settings.Cell, channels, CovariateWidth, _settings.Hidden, _settings.Seed);
        var trainer = new Trainer(new TrainerOptions { Epochs = _settings.Epochs, Batch = 32, LearningRate = 3e-3f, Seed = _settings.Seed, Patience = 0 });
        trainer.Fit(this, History);
        ErrorStats = ScoreMath.Fit(Errors(_z, _cov, channels), channels, Warmup, trainRows);
        _z = [];
        _cov = null;
    }

    public double[] Score(SeriesInput series)
    {
        if (Network is null) throw new InvalidOperationException("the reconstruction scorer is not fitted");
        int channels = series.Channels;
        if (channels != Network.Channels) throw new ArgumentException($"the model was fitted on {Network.Channels} channels, the data has {channels}");
        if ((series.Covariates is null ? 0 : series.CovariateWidth) != CovariateWidth)
            throw new ArgumentException(CovariateWidth > 0 ? "the model reads the phase of the day: the data needs sub-daily timestamps" : "the model was fitted without covariates");
        var e = Errors(Standardisation.Apply(series.Values, channels, Scaling), series.Covariates, channels);
        // Errors are ≥ 0 and large means anomalous: standardise without folding below-average errors upwards.
        int rows = e.Length / channels;
        var s = new double[e.Length];
        for (int t = Warmup; t < rows; t++)
            for (int c = 0; c < channels; c++)
                s[t * channels + c] = Math.Max(0, (e[t * channels + c] - ErrorStats[c].Mean) / ErrorStats[c].Std);
        return s;
    }

    /// <summary>The window starting at row <paramref name="first"/> into dst [W, C + P]: each step's values and covariates.</summary>
    private void FillInput(Span<float> dst, float[] z, float[]? cov, int channels, int first)
    {
        int p = CovariateWidth, f = channels + p;
        for (int k = 0; k < Window; k++)
        {
            z.AsSpan((first + k) * channels, channels).CopyTo(dst.Slice(k * f));
            if (p > 0) cov.AsSpan((first + k) * p, p).CopyTo(dst.Slice(k * f + channels));
        }
    }

    /// <summary>z [T, C] → per-channel mean squared error of the window ending at each row ≥ W − 1 [T, C].</summary>
    private double[] Errors(float[] z, float[]? cov, int channels)
    {
        var net = Network!;
        net.Training = false;
        int rows = z.Length / channels, n = rows - Window + 1, f = channels + CovariateWidth;
        var e = new double[z.Length];
        const int Chunk = 256;
        for (int s = 0; s < n; s += Chunk)
        {
            int b = Math.Min(Chunk, n - s);
            var x = Tensor.Zeros(b, Window, f);   // [B, W, C + P]
            for (int i = 0; i < b; i++) FillInput(x.Span.Slice(i * Window * f, Window * f), z, cov, channels, s + i);
            var xh = net.Forward(x, null).ReadOnlySpan;   // [B, W, C]
            for (int i = 0; i < b; i++)
            {
                int t = s + i + Window - 1;
                for (int c = 0; c < channels; c++)
                {
                    double sum = 0;
                    for (int k = 0; k < Window; k++) { double d = xh[(i * Window + k) * channels + c] - z[(s + i + k) * channels + c]; sum += d * d; }
                    e[t * channels + c] = sum / Window;
                }
            }
        }
        return e;
    }

    // ITrainingTask: example i is the window of rows i .. i + W − 1.
    public Module Model => Network!;
    public int TrainCount { get; private set; }

    public double TrainBatch(ReadOnlySpan<int> indices)
    {
        int b = indices.Length, c = _channels, f = c + CovariateWidth, wc = Window * c;
        if (_batch is null || _batch.B != b) _batch = new Batch(b, Window, c, f);
        var x = _batch.X.Span;
        for (int i = 0; i < b; i++)
        {
            FillInput(x.Slice(i * Window * f, Window * f), _z, _cov, c, indices[i]);
            _z.AsSpan(indices[i] * c, wc).CopyTo(_batch.Targets.AsSpan(i * wc));
        }
        Network!.Training = true;
        var xh = Network.Forward(_batch.X, null);
        double loss = Losses.Compute(LossKind.Mse, xh.ReadOnlySpan, _batch.Targets, default, _batch.DOut.Span, default);
        Network.Backward(_batch.DOut);
        return loss;
    }

    public ValidationResult? Validate() => null;
    public string[] SaveRngState() => Network!.SaveRngState();
    public void RestoreRngState(string[] states) => Network!.RestoreRngState(states);
    public IReadOnlyDictionary<string, string> CheckpointMetadata() => Gyre.Models.ModelFile.Metadata("detect");

    private sealed class Batch(int b, int w, int c, int f)
    {
        public readonly int B = b;
        public readonly Tensor X = Tensor.Zeros(b, w, f);     // [B, W, C + P]
        public readonly float[] Targets = new float[b * w * c]; // [B, W, C]
        public readonly Tensor DOut = Tensor.Zeros(b, w, c);  // [B, W, C]
    }
}
