using Gyre.Data;
using Gyre.Layers;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Forecasting;

/// <summary>
/// A stateful forecaster (<see cref="ForecastOptions.Stateful"/>) as a <see cref="ITrainingTask"/>: truncated
/// backpropagation through time over whole series.
/// <list type="bullet">
/// <item>Streams: the training part of every model-view series is cut into contiguous pieces, B streams in all, each
/// at least four times the longer of the lookback and two seasons (so few of a stream's steps start cold); the streams
/// run side by side as the rows of a batch.</item>
/// <item>Examples: chunk c is steps [c·T, (c+1)·T) of every stream. The trainer visits them in order
/// (<see cref="TrainerOptions.Ordered"/>), one optimizer step per chunk; the states at the end of chunk c are chunk
/// c + 1's initial states (zero at chunk 0), and the gradient stops at the chunk edge.</item>
/// <item>Every step emits a forecast: ŷ_t = head(h_t) for rows t+1..t+N, counted in the loss when t+N lies inside the
/// training part. With --norm last the model follows the level as a window model under "last" does, with per-step
/// quantities only: the targets enter as their change since the previous row (x_t − x_{t−1}, 0 at a series' first row)
/// and the head forecasts the change from the last observation, ŷ_t = x_t + head(h_t). So neither the inputs nor the
/// outputs depend on the series' level, which a trending series leaves behind between training and test.</item>
/// <item>Validation runs each series from its start through its validation part (the state warm from the training
/// part) and scores every step whose horizon lies inside the validation part.</item>
/// </list>
/// Dimensions: B streams, T chunk steps, K view columns, W encoder output width, N horizon, C targets, Q values per
/// target and step, S cell states, Ff known-future columns (the view's last; the head reads those of rows t+1..t+N).
/// </summary>
internal sealed class StatefulForecastTask : ITrainingTask
{
    private readonly Forecaster _f;
    private readonly SeriesSet _view;
    private readonly SeriesSplit[] _splits;
    private readonly Stream[] _streams;
    private readonly LossKind _loss;
    private readonly int _chunk, _chunks;
    private readonly Tensor _x, _y, _dy, _dx;            // [B, T, K], [B, T, W], [B, T, W], [B, T, K]
    private readonly Tensor[] _initial, _final, _dInitial; // S × [layers, B, W_j]; ∂L/∂(initial states) is discarded
    private readonly Tensor?[] _initialView;
    private readonly float[] _pred, _grad;               // [B·T, N, C, Q]
    private readonly float[] _target, _mask;             // [B·T, N, C]
    private readonly float[] _level;                     // [B·T, C] each step's target values (the level its forecast starts from)
    private readonly float[] _future, _headIn, _dHeadIn; // [B·T, N·Ff], [B·T, W + N·Ff] ×2 (Ff > 0 only: else y is the head's input)

    /// <summary>One stream: rows [Start, Start + Length) of view series <paramref name="Series"/>.</summary>
    private readonly record struct Stream(int Series, int Start, int Length);

    public StatefulForecastTask(Forecaster f, SeriesSet raw)
    {
        _f = f;
        var o = f.Options;
        _view = f.ModelView(raw);
        _splits = SplitSpec.Parse(o.Split).For(_view);
        _loss = Losses.Parse(o.Loss);
        var enc = f.Network.Encoder;
        long total = _splits.Sum(s => (long)s.TrainEnd);
        if (total <= o.Horizon) throw new GyreDataException($"no training steps: the training split is not longer than the horizon {o.Horizon}", raw.Source);
        int longest = _splits.Max(s => s.TrainEnd);
        _chunk = Math.Min(o.ChunkFor(f.DataInfo.Season), longest);
        // Streams of at least 4 default chunks (the longer of the lookback and two seasons), as many as the batch allows:
        // fewer, longer streams on a small data set, so the steps a stream spends warming up from zero states stay few.
        int length = (int)Math.Min(longest, Math.Max((total + o.Batch - 1) / o.Batch, 4L * (o with { Chunk = 0 }).ChunkFor(f.DataInfo.Season)));
        var streams = new List<Stream>();
        for (int s = 0; s < _splits.Length; s++)
            for (int a = 0; a < _splits[s].TrainEnd; a += length) streams.Add(new Stream(s, a, Math.Min(length, _splits[s].TrainEnd - a)));
        _streams = [.. streams];
        _chunks = (length + _chunk - 1) / _chunk;
        int b = _streams.Length, t = _chunk, k = _view.ColumnCount, w = enc.OutputSize;
        int n = o.Horizon, c = f.ModelTargets, q = f.Network.Config.QuantileCount;
        _x = Tensor.Zeros(b, t, k); _y = Tensor.Zeros(b, t, w); _dy = Tensor.Zeros(b, t, w); _dx = Tensor.Zeros(b, t, k);
        _initial = enc.NewStates(b); _final = enc.NewStates(b); _dInitial = enc.NewStates(b);
        _initialView = [.. _initial];
        _pred = new float[b * t * n * c * q]; _grad = new float[_pred.Length];
        _target = new float[b * t * n * c]; _mask = new float[_target.Length];
        _level = new float[b * t * c];
        int nf = n * f.Network.Config.FutureFeatures;
        _future = new float[b * t * nf];
        _headIn = nf > 0 ? new float[b * t * (w + nf)] : [];
        _dHeadIn = new float[_headIn.Length];
    }

    /// <summary>B: the streams run side by side.</summary>
    public int Streams => _streams.Length;

    /// <summary>T: steps per chunk.</summary>
    public int Chunk => _chunk;

    public Module Model => _f.Network;
    public int TrainCount => _chunks;

    /// <summary>The trainer's settings: one ordered chunk (of all streams) per step.</summary>
    public static TrainerOptions TrainerOptionsFor(ForecastOptions o) => ForecastTask.TrainerOptionsFor(o) with { Batch = 1, Ordered = true };

    public double TrainBatch(ReadOnlySpan<int> indices)
    {
        if (indices.Length != 1) throw new ArgumentException($"a stateful forecaster trains one chunk per step, got {indices.Length}");
        double loss = ForwardChunk(indices[0]);
        BackwardChunk();
        return loss;
    }

    /// <summary>Forward of chunk <paramref name="chunk"/> in training mode from the carried states (zero at chunk 0),
    /// then the next chunk's states carried; fills the loss gradient ∂L/∂ŷ. Returns the chunk's mean loss.</summary>
    internal double ForwardChunk(int chunk)
    {
        if (chunk == 0) foreach (var s in _initial) s.Span.Clear();
        Fill(chunk);
        var enc = _f.Network.Encoder;
        enc.Training = _f.Network.Training;
        enc.Forward(_x, _initialView, _y, _final, default);
        for (int j = 0; j < _final.Length; j++) _final[j].ReadOnlySpan.CopyTo(_initial[j].Span);
        Predict(HeadIn(), _streams.Length * _chunk, _pred);
        return Losses.Compute(_loss, _pred, _target, _mask, _grad, _f.Options.Quantiles);
    }

    /// <summary>Backward of the last <see cref="ForwardChunk"/> for the upstream gradient ∂L/∂ŷ in <see cref="Gradient"/>:
    /// the head, then the encoder with zero ∂L/∂(final states) (truncation); parameter gradients accumulate.</summary>
    internal void BackwardChunk()
    {
        var net = _f.Network;
        int rows = _streams.Length * _chunk;
        if (_headIn.Length == 0) net.Head.Backward(_y.ReadOnlySpan, _grad, _dy.Span, rows, false);
        else
        {
            // Only the h_t columns of the head's input lead back into the encoder.
            net.Head.Backward(_headIn, _grad, _dHeadIn, rows, false);
            int w = net.Encoder.OutputSize, width = _headIn.Length / rows;
            for (int r = 0; r < rows; r++) _dHeadIn.AsSpan(r * width, w).CopyTo(_dy.Span.Slice(r * w, w));
        }
        _dx.Span.Clear();
        foreach (var d in _dInitial) d.Span.Clear();
        net.Encoder.Backward(_dy, default, _dx, _dInitial);
    }

    /// <summary>∂L/∂ŷ [B·T, N, C, Q] of the last chunk (a test may overwrite it before <see cref="BackwardChunk"/>).</summary>
    internal Span<float> Gradient => _grad;

    /// <summary>ŷ [B·T, N, C, Q] of the last chunk.</summary>
    internal ReadOnlySpan<float> Predictions => _pred;

    /// <summary>The carried states (S × [layers, B, W_j]) a chunk starts from.</summary>
    internal Tensor[] CarriedStates => _initial;

    // The head's input rows: y [B·T, W], or [y ‖ the horizon's future features] with known-future covariates.
    private ReadOnlySpan<float> HeadIn()
    {
        if (_headIn.Length == 0) return _y.ReadOnlySpan;
        int rows = _streams.Length * _chunk, w = _f.Network.Encoder.OutputSize;
        Forecaster.HeadInput(_y.ReadOnlySpan, _future, _headIn, rows, w, _future.Length / rows);
        return _headIn;
    }

    // ŷ [R, N, C, Q] = head(input) + level for R rows (the steps of the chunk).
    private void Predict(ReadOnlySpan<float> headIn, int rows, Span<float> pred)
    {
        _f.Network.Head.Forward(headIn, pred, rows);
        if (_f.Options.Normalization == "last") Forecaster.AddLevel(pred, _level, _f.ModelTargets, rows, _f.Options.Horizon, _f.ModelTargets, _f.Network.Config.QuantileCount);
    }

    // Inputs, targets and mask of chunk c: stream step i is row p = start + c·T + i of its series; steps past the stream's
    // end read zeros and count nothing (their states are never used).
    private void Fill(int chunk)
    {
        int t = _chunk, k = _view.ColumnCount, n = _f.Options.Horizon, c = _f.ModelTargets, ff = _f.Network.Config.FutureFeatures;
        var x = _x.Span;
        for (int b = 0; b < _streams.Length; b++)
        {
            var (series, start, length) = _streams[b];
            var ts = _view.Series[series];
            int end = _splits[series].TrainEnd;
            for (int i = 0; i < t; i++)
            {
                int step = chunk * t + i, p = start + step, row = b * t + i;
                var xr = x.Slice(row * k, k);
                var target = _target.AsSpan(row * n * c, n * c);
                var mask = _mask.AsSpan(row * n * c, n * c);
                var level = _level.AsSpan(row * c, c);
                var future = _future.AsSpan(row * n * ff, n * ff);
                if (step >= length) { xr.Clear(); target.Clear(); mask.Clear(); level.Clear(); future.Clear(); continue; }
                _f.StepInput(ts, p, xr);
                ts.Values.AsSpan(p * k, c).CopyTo(level);
                Forecaster.FutureRows(ts, p, k, n, ff, future);
                Targets(ts, p, end, k, n, c, target, mask);
            }
        }
    }

    /// <summary>Targets [N, C] of rows p+1..p+N of <paramref name="ts"/> and their mask: 1 where observed, all 0 unless
    /// p + N &lt; <paramref name="end"/> (the whole horizon inside the part).</summary>
    internal static void Targets(TimeSeries ts, int p, int end, int k, int n, int c, Span<float> target, Span<float> mask)
    {
        if (p + n >= end) { target.Clear(); mask.Clear(); return; }
        for (int h = 0; h < n; h++)
        {
            int r = p + 1 + h;
            ts.Values.AsSpan(r * k, c).CopyTo(target.Slice(h * c, c));
            for (int j = 0; j < c; j++) mask[h * c + j] = ts.Observed is null || ts.Observed[r * c + j] ? 1f : 0f;
        }
    }

    /// <summary>Mean loss over every validation step whose horizon lies inside the validation part, each series run
    /// from its start (inference mode) so the state is warm from the training part.</summary>
    public ValidationResult? Validate()
    {
        int[] ends = [.. _splits.Select(s => s.ValEnd)];
        if (_splits.All(s => s.ValEnd - s.TrainEnd <= _f.Options.Horizon)) return null;
        _f.Network.Training = false;
        var tops = _f.TopOutputs(_view, ends);
        int k = _view.ColumnCount, n = _f.Options.Horizon, c = _f.ModelTargets, q = _f.Network.Config.QuantileCount, w = _f.Network.Encoder.OutputSize;
        const int rowsPerPass = 1024;
        int ff = _f.Network.Config.FutureFeatures, nf = n * ff;
        var top = new float[rowsPerPass * w];                // [R, W]
        var future = new float[rowsPerPass * nf];            // [R, N·Ff]
        var headIn = nf > 0 ? new float[rowsPerPass * (w + nf)] : top;   // [R, W + N·Ff]
        var level = new float[rowsPerPass * c];              // [R, C] the target values the forecasts start from
        var pred = new float[rowsPerPass * n * c * q];       // [R, N, C, Q]
        var target = new float[rowsPerPass * n * c];         // [R, N, C]
        var mask = new float[target.Length];
        var grad = new float[pred.Length];
        double sum = 0; long count = 0;
        int r = 0;
        void Flush()
        {
            if (r == 0) return;
            if (nf > 0) Forecaster.HeadInput(top, future, headIn, r, w, nf);
            _f.Network.Head.Forward(headIn, pred, r);
            if (_f.Options.Normalization == "last") Forecaster.AddLevel(pred, level, c, r, n, c, q);
            int m = 0;
            foreach (var v in mask.AsSpan(0, r * n * c)) if (v != 0f) m++;
            sum += Losses.Compute(_loss, pred.AsSpan(0, r * n * c * q), target.AsSpan(0, r * n * c), mask.AsSpan(0, r * n * c), grad, _f.Options.Quantiles) * m;
            count += m;
            r = 0;
        }
        for (int s = 0; s < _splits.Length; s++)
        {
            var ts = _view.Series[s];
            for (int p = Math.Max(_splits[s].TrainEnd - 1, 0); p + n < _splits[s].ValEnd; p++)
            {
                tops[s].AsSpan(p * w, w).CopyTo(top.AsSpan(r * w, w));
                ts.Values.AsSpan(p * k, c).CopyTo(level.AsSpan(r * c, c));
                Forecaster.FutureRows(ts, p, k, n, ff, future.AsSpan(r * nf, nf));
                Targets(ts, p, _splits[s].ValEnd, k, n, c, target.AsSpan(r * n * c, n * c), mask.AsSpan(r * n * c, n * c));
                if (++r == rowsPerPass) Flush();
            }
        }
        Flush();
        return count == 0 ? null : new ValidationResult(sum / count);
    }

    public string[] SaveRngState() => _f.Network.SaveRngState();
    public void RestoreRngState(string[] states) => _f.Network.RestoreRngState(states);
    public IReadOnlyDictionary<string, string> CheckpointMetadata() => _f.Metadata();
}
