using Gyre.Layers;
using Gyre.Models;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Anomaly;

/// <summary>
/// What the recurrent scorers share: channels standardised on the training rows, windows of <see cref="Context"/>
/// rows [K, C + P] (values beside P covariates) as network input, training by the shared <see cref="Trainer"/>
/// (the scorer is its own <see cref="ITrainingTask"/>), and the checks that new data matches what was fitted.
/// Dimensions: T rows, C channels, P covariates, K context rows, B batch.
/// </summary>
public abstract class LearnedScorer : IAnomalyScorer, ITrainingTask
{
    protected readonly ScorerSettings Settings;
    /// <summary>[T, C] standardised values, while fitting.</summary>
    protected float[] Z = [];
    /// <summary>[T, P] covariates, while fitting.</summary>
    protected float[]? Cov;

    public abstract string Name { get; }
    public abstract int Warmup { get; }
    /// <summary>K: rows per network input window (the lookback or the reconstructed window).</summary>
    public int Context { get; }
    /// <summary>C.</summary>
    public int Channels { get; protected set; }
    /// <summary>P: covariates read per step (0 without).</summary>
    public int CovariateWidth { get; protected set; }
    /// <summary>Per-channel centre and scale of the raw values (training rows).</summary>
    public (double Mean, double Std)[] Scaling { get; protected set; } = [];
    public List<EpochRecord> History { get; } = [];
    public (double Mean, double Std)[] ScoreMoments { get; set; } = [];

    /// <summary>Step k of a window starting at row r reads the covariates of row r + k + this shift.</summary>
    protected abstract int CovariateShift { get; }

    protected LearnedScorer(ScorerSettings settings)
    {
        Settings = settings;
        Context = settings.Window ?? AnomalyScorers.DefaultWindow;
        if (Context < 2) throw new ArgumentException($"--window {Context} must be at least 2");
    }

    public abstract void Fit(SeriesInput series, int trainRows);

    /// <summary>A fresh network for the current channels and covariates (weights from the seed).</summary>
    protected abstract void Build();

    /// <summary>Restores a fitted scorer from a model file's parts.</summary>
    public void Restore(int channels, int covariates, (double Mean, double Std)[] scaling, (double Mean, double Std)[] moments,
        IReadOnlyDictionary<string, Tensor> weights, string source)
    {
        Channels = channels;
        CovariateWidth = covariates;
        Scaling = scaling;
        ScoreMoments = moments;
        Build();
        Model.LoadStateDict(weights, source: source);
        Model.Training = false;
    }
    public abstract double[] Score(SeriesInput series);

    /// <summary>Standardises the series on rows [0, trainRows) and keeps it for the training steps.</summary>
    protected void BeginFit(SeriesInput s, int trainRows)
    {
        Channels = s.Channels;
        CovariateWidth = s.Covariates is null ? 0 : s.CovariateWidth;
        Cov = s.Covariates;
        Scaling = Standardisation.Fit(s.Values, Channels, trainRows);
        Z = Standardisation.Apply(s.Values, Channels, Scaling);
    }

    protected void Train(Module network)
    {
        network.Training = true;
        new Trainer(new TrainerOptions { Epochs = Settings.Epochs, Batch = 32, LearningRate = 3e-3f, Seed = Settings.Seed, Patience = 0, OnNan = Settings.OnNan }).Fit(this, History);
    }

    protected void EndFit()
    {
        Z = [];
        Cov = null;
    }

    /// <summary>New data standardised as the training rows were, after checking its channels and covariates match.</summary>
    protected float[] Prepare(SeriesInput s, bool fitted)
    {
        if (!fitted) throw new InvalidOperationException($"the {Name} scorer is not fitted");
        if (s.Channels != Channels) throw new ArgumentException($"the model was fitted on {Channels} channels, the data has {s.Channels}");
        if ((s.Covariates is null ? 0 : s.CovariateWidth) != CovariateWidth)
            throw new ArgumentException(CovariateWidth > 0 ? "the model reads the phase of the day: the data needs sub-daily timestamps" : "the model was fitted without covariates");
        return Standardisation.Apply(s.Values, Channels, Scaling);
    }

    /// <summary>The window of K rows starting at row <paramref name="first"/> into dst [K, C + P].</summary>
    protected void FillInput(Span<float> dst, float[] z, float[]? cov, int first)
    {
        int c = Channels, p = CovariateWidth, f = c + p;
        for (int k = 0; k < Context; k++)
        {
            z.AsSpan((first + k) * c, c).CopyTo(dst.Slice(k * f));
            if (p > 0) cov.AsSpan((first + k + CovariateShift) * p, p).CopyTo(dst.Slice(k * f + c));
        }
    }

    /// <summary>Windows starting at rows first .. first + b − 1 as one inference batch [B, K, C + P].</summary>
    protected Tensor Inputs(float[] z, float[]? cov, int first, int b)
    {
        int f = Channels + CovariateWidth, size = Context * f;
        var x = Tensor.Zeros(b, Context, f);
        for (int i = 0; i < b; i++) FillInput(x.Span.Slice(i * size, size), z, cov, first + i);
        return x;
    }

    // ITrainingTask
    public abstract Module Model { get; }
    public int TrainCount { get; protected set; }
    public abstract double TrainBatch(ReadOnlySpan<int> indices);
    public ValidationResult? Validate() => null;
    public abstract string[] SaveRngState();
    public abstract void RestoreRngState(string[] states);
    public IReadOnlyDictionary<string, string> CheckpointMetadata() => ModelFile.Metadata("detect");
}
