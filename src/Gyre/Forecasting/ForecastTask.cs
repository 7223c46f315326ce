using Gyre.Data;
using Gyre.Layers;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Forecasting;

/// <summary>
/// Forecasting as a <see cref="ITrainingTask"/> for the shared <see cref="Trainer"/>: training examples are the
/// training windows of the scaled (model-view) series; a step fills a batch, applies instance normalisation to
/// inputs and targets, runs the <see cref="ForecastNetwork"/> and backpropagates the forecast loss; validation is
/// the mean loss over all validation windows in the scaled space.
/// Dimensions: B batch, L lookback, N horizon, K input columns, C targets, Q quantiles, Ff future columns.
/// </summary>
internal sealed class ForecastTask : ITrainingTask
{
    private readonly Forecaster _f;
    private readonly WindowSet _train;
    private readonly WindowSet? _val;
    private readonly LossKind _loss;
    private readonly float[] _quantiles;
    private Batch? _batch;
    // Whole-window batching: the view's training rows of each (source series, origin), C per group, [G, C]; null when
    // every row is an example of its own.
    private readonly int[]? _groups;
    private readonly int _groupSize = 1;
    private int[] _rows = [];                // [B·C] the rows of a batch of groups

    public ForecastTask(Forecaster f, SeriesSet raw)
    {
        _f = f;
        var o = f.Options;
        var view = f.ModelView(raw);
        var splits = SplitSpec.Parse(o.Split).For(view);
        _train = WindowSet.Create(view, splits, SplitPart.Train, o.Lookback, o.Horizon);
        if (_train.Count == 0) throw new GyreDataException($"no training windows: the training split is shorter than lookback {o.Lookback} + horizon {o.Horizon}", raw.Source);
        bool hasVal = splits.Any(s => s.Count(SplitPart.Val) > 0);
        _val = hasVal ? WindowSet.Create(view, splits, SplitPart.Val, o.Lookback, o.Horizon) : null;
        if (_val is { Count: 0 }) _val = null;
        _loss = Losses.Parse(o.Loss);
        _quantiles = o.Quantiles;
        if (o.ChannelIndependent && o.WholeWindows && raw.TargetCount > 1)
        {
            _groupSize = raw.TargetCount;
            _groups = GroupByWindow(_train, _groupSize);
        }
    }

    /// <summary>
    /// The rows of a channel-independent view grouped by time window: view series v is channel v mod C of source series
    /// v / C (<see cref="SeriesSet.ChannelIndependent"/>), and each group lists, channel by channel, the rows with one
    /// source series and origin. [G, C], groups in (source series, origin) order.
    /// </summary>
    internal static int[] GroupByWindow(WindowSet rows, int c)
    {
        var index = new Dictionary<(int Source, int Origin), int>();
        var groups = new List<int>();
        for (int i = 0; i < rows.Count; i++)
        {
            var (series, origin) = rows[i];
            var key = (series / c, origin);
            if (!index.TryGetValue(key, out int g))
            {
                g = index.Count; index.Add(key, g);
                for (int j = 0; j < c; j++) groups.Add(-1);
            }
            groups[g * c + rows.Set.Series[series].SourceTarget] = i;
        }
        // Channels of one series share its length and split, so every group is full.
        if (groups.Contains(-1)) throw new InvalidOperationException("a channel-independent view has windows of one channel without the others");
        return [.. groups];
    }

    public Module Model => _f.Network;
    /// <summary>Training examples: whole windows (all their channels) with <see cref="ForecastOptions.WholeWindows"/>, else rows.</summary>
    public int TrainCount => _groups is null ? _train.Count : _groups.Length / _groupSize;

    /// <summary>The trainer's settings for this forecaster's options.</summary>
    public static TrainerOptions TrainerOptionsFor(ForecastOptions o) => new()
    {
        Epochs = o.Epochs, Batch = o.Batch, LearningRate = o.LearningRate, WeightDecay = o.WeightDecay, Beta1 = o.Beta1, Beta2 = o.Beta2, ClipNorm = o.ClipNorm,
        Schedule = o.Schedule, Patience = o.Patience, Seed = o.Seed, OnNan = o.OnNan, Select = CheckpointSelections.Parse(o.Select),
    };

    public double TrainBatch(ReadOnlySpan<int> examples)
    {
        var indices = examples;
        if (_groups is not null)
        {
            int rows = examples.Length * _groupSize;
            if (_rows.Length != rows) _rows = new int[rows];
            for (int i = 0; i < examples.Length; i++) _groups.AsSpan(examples[i] * _groupSize, _groupSize).CopyTo(_rows.AsSpan(i * _groupSize));
            indices = _rows;
        }
        var o = _f.Options;
        int b = indices.Length, l = o.Lookback, n = o.Horizon, k = _train.InputWidth, c = _train.TargetWidth;
        var buf = _batch is { } cached && cached.B == b ? cached : _batch = new Batch(b, l, n, k, c, _train.FutureWidth, _f.Network.Config.QuantileCount);
        _train.FillBatch(indices, buf.X.Span, buf.Target, buf.Mask, buf.Future == null ? default : buf.Future.Span);
        string norm = o.Normalization;
        if (norm != "none")
        {
            InstanceNorm.Apply(norm, buf.X.Span, buf.Mean, buf.Std, b, l, k, c);
            for (int i = 0; i < b; i++)
                for (int h = 0; h < n; h++)
                    for (int j = 0; j < c; j++)
                    {
                        ref float t = ref buf.Target[(i * n + h) * c + j];
                        t = (t - buf.Mean[i * c + j]) / buf.Std[i * c + j];
                    }
        }
        for (int i = 0; i < b; i++) buf.Channel[i] = _f.ChannelOf(_train, indices[i]);
        var net = _f.Network;
        var pred = net.Forward(buf.X, buf.Future, buf.Channel);
        double loss = Losses.Compute(_loss, pred.ReadOnlySpan, buf.Target, buf.Mask, buf.Grad.Span, _quantiles);
        // A per-window normalisation trains on each window's own level and scale; the reported loss is measured where
        // validation measures it (the scaler's space) so the two numbers compare. The gradient above is unchanged.
        if (norm != "none")
            loss = Distributions.IsDistribution(_loss) ? loss + MeanLogScale(buf, b, n, c) : ScaledSpaceLoss(buf, pred.ReadOnlySpan, b, n, c);
        net.Backward(buf.Grad);
        return loss;
    }

    /// <summary>
    /// A location-scale density in the scaler's space is the normalised one over the window's scale s:
    /// −log p(y) = −log p_norm(y_norm) + log s, so the reported NLL adds the mean log s over the counted targets.
    /// </summary>
    private static double MeanLogScale(Batch buf, int b, int n, int c)
    {
        double sum = 0; int count = 0;
        for (int i = 0; i < b; i++)
            for (int h = 0; h < n; h++)
                for (int j = 0; j < c; j++)
                    if (buf.Mask[(i * n + h) * c + j] != 0f) { sum += Math.Log(buf.Std[i * c + j]); count++; }
        return count == 0 ? 0 : sum / count;
    }

    /// <summary>The batch's loss with prediction and target mapped back through each window's ŷ·σ + μ.</summary>
    private double ScaledSpaceLoss(Batch buf, ReadOnlySpan<float> pred, int b, int n, int c)
    {
        int q = buf.Grad.Shape[^1];
        for (int i = 0; i < b; i++)
            for (int h = 0; h < n; h++)
                for (int j = 0; j < c; j++)
                {
                    float mu = buf.Mean[i * c + j], sd = buf.Std[i * c + j];
                    int t = (i * n + h) * c + j;
                    buf.ScaledTarget[t] = buf.Target[t] * sd + mu;
                    for (int r = 0; r < q; r++) buf.ScaledPred[t * q + r] = pred[t * q + r] * sd + mu;
                }
        return Losses.Compute(_loss, buf.ScaledPred, buf.ScaledTarget, buf.Mask, buf.ScratchGrad, _quantiles);
    }

    /// <summary>Mean loss over all validation windows in the scaled space, inference mode.</summary>
    public ValidationResult? Validate()
    {
        if (_val == null) return null;
        var val = _val;
        var o = _f.Options;
        int n = o.Horizon, c = val.TargetWidth, q = _f.Network.Config.QuantileCount, bmax = Math.Min(256, val.Count);
        var pred = new float[bmax * n * c * q];
        var target = new float[bmax * n * c];
        var mask = new float[bmax * n * c];
        var scratchIn = new float[bmax * o.Lookback * val.InputWidth];
        var scratchFut = new float[bmax * n * val.FutureWidth];
        var grad = new float[pred.Length];
        var order = val.Order(null);
        double sum = 0; long count = 0;
        for (int s = 0; s < val.Count; s += bmax)
        {
            int b = Math.Min(bmax, val.Count - s);
            var idx = order.AsSpan(s, b);
            val.FillBatch(idx, scratchIn, target, mask, scratchFut);
            _f.PredictWindows(val, idx, pred);
            // A distribution model's predictions are natural parameters already (RunNetwork maps them): their NLL directly.
            double loss = Distributions.IsDistribution(_loss)
                ? Distributions.NllNatural(_loss, pred.AsSpan(0, b * n * c * q), target.AsSpan(0, b * n * c), mask.AsSpan(0, b * n * c))
                : Losses.Compute(_loss, pred.AsSpan(0, b * n * c * q), target.AsSpan(0, b * n * c), mask.AsSpan(0, b * n * c), grad, _quantiles);
            sum += loss * b; count += b;
        }
        return new ValidationResult(sum / count);
    }

    public string[] SaveRngState() => _f.Network.SaveRngState();
    public void RestoreRngState(string[] states) => _f.Network.RestoreRngState(states);
    public IReadOnlyDictionary<string, string> CheckpointMetadata() => _f.Metadata();

    /// <summary>One training batch's inputs, targets and loss gradient, reused while B stays the same.</summary>
    private sealed class Batch(int b, int l, int n, int k, int c, int ff, int q)
    {
        public readonly int B = b;
        public readonly Tensor X = Tensor.Zeros(b, l, k);                      // [B, L, K]
        public readonly Tensor? Future = ff > 0 ? Tensor.Zeros(b, n, ff) : null; // [B, N, Ff]
        public readonly float[] Target = new float[b * n * c];                 // [B, N, C]
        public readonly float[] Mask = new float[b * n * c];                   // [B, N, C]
        public readonly Tensor Grad = Tensor.Zeros(b, n, c, q);                // [B, N, C, Q]
        public readonly int[] Channel = new int[b];                            // [B] source channel of each window (pmf decoder)
        public readonly float[] Mean = new float[b * c];                       // [B, C] per-window level and scale
        public readonly float[] Std = new float[b * c];
        public readonly float[] ScaledPred = new float[b * n * c * q];         // [B, N, C, Q] instance norm undone, for the reported loss
        public readonly float[] ScaledTarget = new float[b * n * c];           // [B, N, C]
        public readonly float[] ScratchGrad = new float[b * n * c * q];        // [B, N, C, Q] discarded
    }
}
