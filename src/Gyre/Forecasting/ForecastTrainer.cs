using System.Diagnostics;
using System.Text.Json;
using Gyre.Data;
using Gyre.IO;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Forecasting;

/// <summary>
/// The training loop of a <see cref="Forecaster"/>: shuffled mini-batches of training windows, AdamW,
/// global-norm clipping, a per-epoch LR schedule, validation loss, early stopping with best-epoch
/// weights, and an atomic checkpoint per epoch holding everything needed to resume bit-identically
/// (weights, AdamW moments, best weights, RNG states, schedule and early-stopping counters, history).
/// </summary>
internal sealed class ForecastTrainer
{
    private readonly Forecaster _f;
    private readonly WindowSet _train;
    private readonly WindowSet? _val;
    private readonly string? _checkpoint;
    private readonly LossKind _loss;
    private readonly float[] _quantiles;

    public ForecastTrainer(Forecaster f, SeriesSet raw, string? checkpointPath)
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
        _checkpoint = checkpointPath;
        _loss = Losses.Parse(o.Loss);
        _quantiles = o.Quantiles;
    }

    public void Run(bool resume, Action<EpochRecord>? onEpoch, CancellationToken cancel)
    {
        var o = _f.Options;
        var net = _f.Network;
        var parameters = net.Parameters().ToList();
        var opt = new AdamW(parameters, o.LearningRate, weightDecay: o.WeightDecay);
        var schedule = new LearningRateSchedule(LearningRateSchedule.Parse(o.Schedule), o.LearningRate, o.Epochs, o.LearningRate * 0.01f);
        var shuffle = new Rng(o.Seed ^ 0xA5A5_5A5A_1234_5678UL);
        var best = parameters.Select(p => p.Value.Clone()).ToArray();
        double bestVal = double.PositiveInfinity;
        int bestEpoch = -1, stale = 0, start = 0;

        if (resume && _checkpoint != null && File.Exists(_checkpoint))
        {
            var file = Safetensors.Read(_checkpoint);
            var state = JsonSerializer.Deserialize<TrainerState>(file.Metadata["trainer"], Forecaster.Json)
                ?? throw new GyreDataException("checkpoint has no trainer state", _checkpoint);
            net.LoadStateDict(file.Tensors.Where(kv => !kv.Key.StartsWith("adam.") && !kv.Key.StartsWith("best.")).ToDictionary(), source: _checkpoint);
            opt.LoadState(file.Tensors, state.Steps, _checkpoint);
            for (int i = 0; i < parameters.Count; i++) best[i].CopyFrom(file.Get($"best.{i}"));
            shuffle.Restore(state.ShuffleRng);
            net.RestoreRngState(state.NetworkRng);
            schedule.CurrentLr = state.Lr; schedule.Stalled = state.ScheduleStalled; schedule.Best = state.ScheduleBest;
            bestVal = state.BestVal; bestEpoch = state.BestEpoch; stale = state.Stale; start = state.Epoch + 1;
            _f.History.Clear();
            _f.History.AddRange(state.History);
            if (state.Stopped) start = o.Epochs;
        }

        int b = Math.Min(o.Batch, _train.Count);
        int l = o.Lookback, n = o.Horizon, k = _train.InputWidth, c = _train.TargetWidth, ff = _train.FutureWidth, q = net.Config.QuantileCount;
        var x = Tensor.Zeros(b, l, k);
        var fut = ff > 0 ? Tensor.Zeros(b, n, ff) : null;
        var target = new float[b * n * c];
        var mask = new float[b * n * c];
        var grad = Tensor.Zeros(b, n, c, q);
        var mean = new float[b * c];
        var std = new float[b * c];
        bool stopped = false;

        for (int epoch = start; epoch < o.Epochs && !stopped; epoch++)
        {
            cancel.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            opt.LearningRate = schedule.ForEpoch(epoch);
            var order = _train.Order(shuffle);
            // Full batches only in training: a short last batch would give its few windows outsized steps
            // (the shuffled order puts every window in a full batch over the epochs).
            int batches = Math.Max(order.Length / b, 1);
            double lossSum = 0, normSum = 0;
            net.Training = true;
            for (int bi = 0; bi < batches; bi++)
            {
                var idx = order.AsSpan(bi * b, b);
                _train.FillBatch(idx, x.Span, target, mask, fut == null ? default : fut.Span);
                if (o.InstanceNorm)
                {
                    InstanceNorm.Normalize(x.Span, mean, std, b, l, k, c);
                    for (int i = 0; i < b; i++)
                        for (int h = 0; h < n; h++)
                            for (int j = 0; j < c; j++)
                            {
                                ref float t = ref target[(i * n + h) * c + j];
                                t = (t - mean[i * c + j]) / std[i * c + j];
                            }
                }
                var pred = net.Forward(x, fut);
                lossSum += Losses.Compute(_loss, pred.ReadOnlySpan, target, mask, grad.Span, _quantiles);
                net.ZeroGrad();
                net.Backward(grad);
                normSum += o.ClipNorm > 0 ? GradientClipping.ClipByGlobalNorm(parameters, o.ClipNorm) : GradientClipping.GlobalNorm(parameters);
                opt.Step();
            }
            double trainLoss = lossSum / batches;
            double? valLoss = _val != null ? ValidationLoss() : null;
            double monitored = valLoss ?? trainLoss;
            bool improved = monitored < bestVal;
            if (improved)
            {
                bestVal = monitored; bestEpoch = epoch; stale = 0;
                for (int i = 0; i < parameters.Count; i++) best[i].CopyFrom(parameters[i].Value);
            }
            else stale++;
            schedule.Observe(monitored);
            if (!double.IsFinite(trainLoss)) throw new GyreDataException($"training diverged at epoch {epoch + 1} (loss {trainLoss}); try a lower --lr");
            var record = new EpochRecord(epoch + 1, trainLoss, valLoss, opt.LearningRate, normSum / batches, clock.Elapsed.TotalSeconds, improved);
            _f.History.Add(record);
            if (_val != null && o.Patience > 0 && stale >= o.Patience) stopped = true;
            if (_checkpoint != null)
                WriteCheckpoint(opt, best, new TrainerState
                {
                    Epoch = epoch, Steps = opt.StepCount, ShuffleRng = shuffle.SaveState(), NetworkRng = net.SaveRngState(),
                    Lr = schedule.CurrentLr, ScheduleStalled = schedule.Stalled, ScheduleBest = schedule.Best,
                    BestVal = bestVal, BestEpoch = bestEpoch, Stale = stale, Stopped = stopped, History = [.. _f.History],
                });
            onEpoch?.Invoke(record);
        }
        // Keep the best epoch's weights (the last ones when nothing was trained).
        if (bestEpoch >= 0)
            for (int i = 0; i < parameters.Count; i++) parameters[i].Value.CopyFrom(best[i]);
        net.Training = false;
    }

    /// <summary>Mean loss over all validation windows in the scaled space, inference mode.</summary>
    private double ValidationLoss()
    {
        var val = _val!;
        var o = _f.Options;
        int n = o.Horizon, c = val.TargetWidth, q = _f.Network.Config.QuantileCount, bmax = Math.Min(256, val.Count);
        var pred = new float[bmax * n * c * q];
        var target = new float[bmax * n * c];
        var mask = new float[bmax * n * c];
        var scratchIn = new float[bmax * o.Lookback * val.InputWidth];
        var scratchFut = new float[bmax * n * val.FutureWidth];
        var grad = new float[pred.Length];
        var order = Enumerable.Range(0, val.Count).ToArray();
        double sum = 0; long count = 0;
        for (int s = 0; s < val.Count; s += bmax)
        {
            int b = Math.Min(bmax, val.Count - s);
            var idx = order.AsSpan(s, b);
            val.FillBatch(idx, scratchIn, target, mask, scratchFut);
            _f.PredictWindows(val, idx, pred);
            double loss = Losses.Compute(_loss, pred.AsSpan(0, b * n * c * q), target.AsSpan(0, b * n * c), mask.AsSpan(0, b * n * c), grad, _quantiles);
            sum += loss * b; count += b;
        }
        return sum / count;
    }

    private void WriteCheckpoint(AdamW opt, Tensor[] best, TrainerState state)
    {
        var tensors = new List<KeyValuePair<string, Tensor>>(_f.Network.StateDict());
        tensors.AddRange(opt.State());
        for (int i = 0; i < best.Length; i++) tensors.Add(new($"best.{i}", best[i]));
        var meta = _f.Metadata();
        meta["trainer"] = JsonSerializer.Serialize(state, Forecaster.Json);
        Safetensors.Write(_checkpoint!, tensors, meta);
    }

    private sealed record TrainerState
    {
        public int Epoch { get; init; }
        public long Steps { get; init; }
        public string ShuffleRng { get; init; } = "";
        public string[] NetworkRng { get; init; } = [];
        public float Lr { get; init; }
        public int ScheduleStalled { get; init; }
        public double ScheduleBest { get; init; }
        public double BestVal { get; init; }
        public int BestEpoch { get; init; }
        public int Stale { get; init; }
        public bool Stopped { get; init; }
        public List<EpochRecord> History { get; init; } = [];
    }
}
