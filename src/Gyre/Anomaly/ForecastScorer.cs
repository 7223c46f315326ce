using Gyre.Layers;
using Gyre.Models;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Anomaly;

/// <summary>
/// Residuals of a recurrent one-step forecaster with a Gaussian head. A <see cref="SequenceModel"/> (recurrent
/// encoder → last step → linear head) reads the previous L rows [L, C + P] (each step beside the covariates of the
/// row after it, so the last step carries those of the row forecast) and outputs (μ [C], log σ [C]) for the next
/// row, trained by Gaussian NLL. The residual of channel c at row t is z = (x_t − μ)/σ, the deviation in the head's
/// own predicted spread, so a channel that is hard to forecast at some phase (σ large) does not alarm there;
/// scores are |z| standardised by the training residuals' moments. Dimensions: T rows, C channels, L lookback, B batch.
/// </summary>
public sealed class ForecastScorer : LearnedScorer
{
    private Batch? _batch;

    public override string Name => "forecast";
    public override int Warmup => Context;
    protected override int CovariateShift => 1;
    public SequenceModel? Network { get; private set; }

    public ForecastScorer(ScorerSettings settings) : base(settings) { }

    public override void Fit(SeriesInput s, int trainRows)
    {
        BeginFit(s, trainRows);
        TrainCount = trainRows - Context;
        if (TrainCount < 1) throw new ArgumentException($"forecast scorer: {trainRows} training rows do not exceed the lookback {Context}");
        Build();
        Train(Network!);
        ScoreMoments = ScoreMath.Fit(Residuals(Z, Cov), Channels, Context, trainRows);
        EndFit();
    }

    protected override void Build() => Network = new SequenceModel(new ModelSpec
    {
        InputSize = Channels + CovariateWidth, Cell = Settings.Cell, Hidden = Settings.Hidden, Layers = Settings.StackLayers,
        Bidirectional = Settings.Bidirectional, Gmu = Settings.Gmu, GmuMemory = Settings.GmuMemory, Pool = "last", Head = "linear",
        Outputs = 2 * Channels, Seed = Settings.Seed,
    });

    protected override Tensor Infer(Tensor x) => Network!.Forward(x, null);   // [B, 2C]

    protected override double[] Standardise(double[] raw) => ScoreMath.StandardiseAbs(raw, Channels, Context, ScoreMoments);

    /// <summary>z [T, C] → residuals (x − μ)/σ [T, C] for rows ≥ L (0 before).</summary>
    private double[] Residuals(float[] z, float[]? cov) => Raw([z], [cov])[0];

    /// <summary>The window starting at row s forecasts row t = s + L: its output (μ [C], log σ [C]) gives the
    /// residuals of row t.</summary>
    protected override void ReadWindow(ReadOnlySpan<float> o, float[] z, int first, double[] r)
    {
        int c = Channels, t = first + Context;
        for (int j = 0; j < c; j++)
        {
            double mu = o[j], logSigma = Math.Clamp(o[c + j], -GaussianNll.LogSigmaLimit, GaussianNll.LogSigmaLimit);
            r[t * c + j] = (z[t * c + j] - mu) / Math.Exp(logSigma);
        }
    }

    // Training example i forecasts row L + i from rows i .. i + L − 1.
    public override Module Model => Network!;

    public override double TrainBatch(ReadOnlySpan<int> indices)
    {
        int b = indices.Length, c = Channels, f = c + CovariateWidth;
        if (_batch is null || _batch.B != b) _batch = new Batch(b, Context, c, f);
        var x = _batch.X.Span;
        for (int i = 0; i < b; i++)
        {
            FillInput(x.Slice(i * Context * f, Context * f), Z, Cov, indices[i]);
            Z.AsSpan((Context + indices[i]) * c, c).CopyTo(_batch.Targets.AsSpan(i * c));
        }
        var net = Network!;
        net.Training = true;
        var o = net.Forward(_batch.X, null);
        double loss = GaussianNll.Loss(o.ReadOnlySpan, _batch.Targets, c, _batch.DOut.Span);
        net.Backward(_batch.DOut);
        return loss;
    }

    public override string[] SaveRngState() => Network!.SaveRngState();
    public override void RestoreRngState(string[] states) => Network!.RestoreRngState(states);

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
