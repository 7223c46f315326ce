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

    /// <summary>Per-channel scores [T, C] of one series: <see cref="ScoreMany"/> of that series alone.</summary>
    public double[] Score(SeriesInput series) => ScoreMany([series])[0];

    /// <summary>
    /// Scores of several series [T_i, C] at once: each series is checked and standardised on its own, the windows
    /// of all series go through the network together (in inference batches of up to <see cref="Chunk"/> windows,
    /// whichever series they come from), and each series' raw scores are then standardised by the training moments.
    /// Each result equals <see cref="Score"/> of that series alone to float rounding (a batch of another size may
    /// take other kernel paths); the windows are independent rows of the network.
    /// </summary>
    public double[][] ScoreMany(IReadOnlyList<SeriesInput> series)
    {
        var z = new float[series.Count][];
        for (int i = 0; i < series.Count; i++) z[i] = Prepare(series[i], Model != null);
        var raw = Raw(z, [.. series.Select(s => s.Covariates)]);
        for (int i = 0; i < raw.Length; i++) raw[i] = Standardise(raw[i]);
        return raw;
    }

    /// <summary>Windows per inference batch: bounds the activations [B, K, ·] whatever the series' lengths.</summary>
    protected const int Chunk = 256;

    /// <summary>The network's inference output for windows x [B, K, C + P], one row per window.</summary>
    protected abstract Tensor Infer(Tensor x);

    /// <summary>Raw scores [T, C] of one series → standardised scores [T, C] (rows before <see cref="Warmup"/> 0).</summary>
    protected abstract double[] Standardise(double[] raw);

    /// <summary>
    /// Reads the network's output for the window starting at row <paramref name="first"/> of a series with
    /// standardised values z [T, C] into that series' raw scores raw [T, C] (the row the window scores).
    /// </summary>
    protected abstract void ReadWindow(ReadOnlySpan<float> output, float[] z, int first, double[] raw);

    /// <summary>
    /// Raw scores [T_i, C] of several standardised series z_i [T_i, C] with covariates [T_i, P]: series i has
    /// T_i − <see cref="Warmup"/> windows (starting at rows 0, 1, …; none when shorter); all windows, in series
    /// order, run through the network in batches of <see cref="Chunk"/>. One series alone is batched as before it
    /// had company, so its scores keep their bits.
    /// </summary>
    protected double[][] Raw(IReadOnlyList<float[]> z, IReadOnlyList<float[]?> cov)
    {
        var net = Model;
        net.Training = false;
        int c = Channels, f = c + CovariateWidth, size = Context * f;
        var raw = new double[z.Count][];
        var windows = new int[z.Count];
        long total = 0;
        for (int i = 0; i < z.Count; i++)
        {
            raw[i] = new double[z[i].Length];
            windows[i] = Math.Max(0, z[i].Length / c - Warmup);
            total += windows[i];
        }
        int series = 0, first = 0;                       // the next window: its series and starting row
        var owner = new (int Series, int First)[(int)Math.Min(Chunk, total)];
        for (long done = 0; done < total;)
        {
            int b = (int)Math.Min(Chunk, total - done);
            done += b;
            var x = Tensor.Zeros(b, Context, f);         // [B, K, C + P]
            for (int i = 0; i < b; i++)
            {
                while (first >= windows[series]) { series++; first = 0; }
                owner[i] = (series, first);
                FillInput(x.Span.Slice(i * size, size), z[series], cov[series], first++);
            }
            var o = Infer(x).ReadOnlySpan;               // [B, ·]
            int per = o.Length / b;
            for (int i = 0; i < b; i++) ReadWindow(o.Slice(i * per, per), z[owner[i].Series], owner[i].First, raw[owner[i].Series]);
        }
        return raw;
    }

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

    // ITrainingTask
    public abstract Module Model { get; }
    public int TrainCount { get; protected set; }
    public abstract double TrainBatch(ReadOnlySpan<int> indices);
    public ValidationResult? Validate() => null;
    public abstract string[] SaveRngState();
    public abstract void RestoreRngState(string[] states);
    public IReadOnlyDictionary<string, string> CheckpointMetadata() => ModelFile.Metadata("detect");
}
