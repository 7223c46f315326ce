using Gyre.Layers;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Anomaly;

/// <summary>
/// Reconstruction errors of a <see cref="SequenceAutoencoder"/> trained (MSE) on the windows of W rows that end
/// inside the training rows. The raw score of channel c at row t is the mean squared reconstruction error of c
/// over the window ending at t (causal); scores are that error standardised by the training errors' moments
/// (errors below the training mean count 0). Dimensions: T rows, C channels, W window, B batch.
/// </summary>
public sealed class ReconstructionScorer : LearnedScorer
{
    private Batch? _batch;

    public override string Name => "reconstruction";
    public override int Warmup => Context - 1;
    protected override int CovariateShift => 0;
    public SequenceAutoencoder? Network { get; private set; }

    public ReconstructionScorer(ScorerSettings settings) : base(settings) { }

    public override void Fit(SeriesInput s, int trainRows)
    {
        BeginFit(s, trainRows);
        TrainCount = trainRows - Context + 1;
        if (TrainCount < 1) throw new ArgumentException($"reconstruction scorer: {trainRows} training rows are fewer than the window {Context}");
        Build();
        Train(Network!);
        ScoreMoments = ScoreMath.Fit(Errors(Z, Cov), Channels, Warmup, trainRows);
        EndFit();
    }

    protected override void Build() => Network = new SequenceAutoencoder(Settings.Cell, Channels, CovariateWidth, Settings.Hidden, Settings.Seed,
        Settings.StackLayers, Settings.Gmu, Settings.GmuMemory ?? -1);

    protected override Tensor Infer(Tensor x) => Network!.Forward(x, null);   // [B, W, C]

    protected override double[] Standardise(double[] e)
    {
        int c = Channels, rows = e.Length / c;
        var scores = new double[e.Length];
        for (int t = Warmup; t < rows; t++)
            for (int j = 0; j < c; j++)
                scores[t * c + j] = Math.Max(0, (e[t * c + j] - ScoreMoments[j].Mean) / ScoreMoments[j].Std);
        return scores;
    }

    /// <summary>z [T, C] → per-channel mean squared error of the window ending at each row ≥ W − 1 [T, C].</summary>
    private double[] Errors(float[] z, float[]? cov) => Raw([z], [cov])[0];

    /// <summary>The reconstruction xh [W, C] of the window of rows s .. s + W − 1 gives each channel's mean squared
    /// error at its last row.</summary>
    protected override void ReadWindow(ReadOnlySpan<float> xh, float[] z, int first, double[] e)
    {
        int c = Channels, w = Context;
        for (int j = 0; j < c; j++)
        {
            double sum = 0;
            for (int k = 0; k < w; k++) { double d = xh[k * c + j] - z[(first + k) * c + j]; sum += d * d; }
            e[(first + w - 1) * c + j] = sum / w;
        }
    }

    // Training example i is the window of rows i .. i + W − 1.
    public override Module Model => Network!;

    public override double TrainBatch(ReadOnlySpan<int> indices)
    {
        int b = indices.Length, c = Channels, f = c + CovariateWidth, wc = Context * c;
        if (_batch is null || _batch.B != b) _batch = new Batch(b, Context, c, f);
        var x = _batch.X.Span;
        for (int i = 0; i < b; i++)
        {
            FillInput(x.Slice(i * Context * f, Context * f), Z, Cov, indices[i]);
            Z.AsSpan(indices[i] * c, wc).CopyTo(_batch.Targets.AsSpan(i * wc));
        }
        Network!.Training = true;
        var xh = Network.Forward(_batch.X, null);
        double loss = Losses.Compute(LossKind.Mse, xh.ReadOnlySpan, _batch.Targets, default, _batch.DOut.Span, default);
        Network.Backward(_batch.DOut);
        return loss;
    }

    public override string[] SaveRngState() => Network!.SaveRngState();
    public override void RestoreRngState(string[] states) => Network!.RestoreRngState(states);

    private sealed class Batch(int b, int w, int c, int f)
    {
        public readonly int B = b;
        public readonly Tensor X = Tensor.Zeros(b, w, f);         // [B, W, C + P]
        public readonly float[] Targets = new float[b * w * c];   // [B, W, C]
        public readonly Tensor DOut = Tensor.Zeros(b, w, c);      // [B, W, C]
    }
}
