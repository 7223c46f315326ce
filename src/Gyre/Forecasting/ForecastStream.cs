using Gyre.Data;
using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Forecasting;

/// <summary>
/// One series arriving a few rows at a time, forecast after each: every <see cref="Forecast"/> equals
/// <see cref="Forecaster.Predict(SeriesSet, SeriesSet?, PathSampling, int)"/> on a series ending with the same L rows (the lookback).
/// <para>
/// The forecaster reads exactly its last L rows, from zero recurrent states. For most encoders that window has to be
/// re-run whenever it moves: a nonlinear recurrence (GRU, LSTM, ...) cannot drop its oldest step, a second layer reads
/// the first layer's outputs, which all change when the window's start moves, and window normalisation (revin, last
/// value, ...) rescales every step of the window with every new row. Those streams keep the last L rows and re-run
/// them per forecast (<see cref="Slides"/> false, <see cref="WhyWindowed"/> says why).
/// </para>
/// <para>
/// A one-layer encoder of a cell linear in its state (minGRU, minLSTM: h' = a ⊙ h + b, a and b from the step's
/// input alone) under a fitted scaler and no window normalisation slides instead: each new row adds one step's
/// coefficients to a <see cref="SlidingLinearWindow"/> and the head runs from its state, so a forecast costs O(H·F +
/// head) instead of the window's L steps. With patches of P rows the window's S = ⌊L/P⌋ tokens end at the newest row,
/// so each new row completes one new token (its last P rows) and the tokens ending in the same phase (row mod P) form
/// one window: P windows, each advanced once every P rows. Each channel-independent channel has its own windows.
/// </para>
/// </summary>
public sealed class ForecastStream
{
    private readonly Forecaster _f;
    private readonly CalendarFeatures _calendar;
    private readonly string[] _columns;                 // raw columns of a row: targets, past and known-future covariates
    private readonly bool _times;
    private readonly List<float> _values = [];           // [≤ L, K] the last rows, raw
    private readonly List<DateTime> _kept = [];          // [≤ L] their times (models that read times)
    private readonly SlidingLinearWindow[][]? _windows;  // [channel][phase]
    private readonly float[][]? _state;                  // [channel][H] a forecast's encoder state
    private readonly float[][]? _recent;                 // [channel][P, F] the last P rows of the model's view
    private readonly float[] _full = [];                 // [K + calendar] one row being scaled
    private readonly SeriesSet? _undated;                // a forecast's series when the state stands for the window and no times date it
    private float[] _tokens = [], _embedded = [], _a = [], _b = [];   // [R, P·F], [R, H], [R, H], [R, H]
    private long[] _tokenRow = [];                       // [R] the stream row each token ends at
    private int[] _tokenChannel = [];                    // [R] its channel
    private readonly Tensor[]? _stepStates;              // stateful: S × [layers, channels, W_j] the encoder's states
    private readonly float[][]? _summary;                // stateful: [channel][W + C] top output after the last row ‖ its level
    private float[] _pending = [];                       // stateful: [P, channels, F] rows appended, not yet stepped
    private int _pendingRows;

    /// <summary>A stream of <paramref name="f"/> that has seen nothing; <paramref name="times"/>: its rows come with
    /// times (required when the forecaster reads calendar features; they also date the forecast's steps).</summary>
    public ForecastStream(Forecaster f, bool times)
    {
        _f = f;
        var info = f.DataInfo;
        _calendar = Calendar.Parse(f.Options.Calendar);
        if (info.CalendarCount > 0 && !times) throw new ArgumentException("the forecaster reads calendar features: its stream needs times");
        _times = times;
        _columns = [.. info.Columns.Take(info.TargetCount + info.PastCount + UserFutureCount(f))];
        Stateful = f.Options.Stateful;
        if (Stateful)
        {
            var enc = f.Network.Encoder;
            int ch = f.Options.ChannelIndependent ? info.TargetCount : 1;
            _stepStates = enc.NewStates(ch);
            _summary = [.. Enumerable.Range(0, ch).Select(_ => new float[f.SummaryWidth])];
            _full = new float[_columns.Length + info.CalendarCount];
            if (!times) _undated = RawSet(new float[_columns.Length], null);
            return;
        }
        Slides = WhyWindowed(f) is null;
        if (!Slides) return;
        var net = f.Network;
        int channels = f.Options.ChannelIndependent ? info.TargetCount : 1, p = Math.Max(net.Config.Patch, 1), h = net.Encoder.HiddenSize;
        _windows = [.. Enumerable.Range(0, channels).Select(_ => Enumerable.Range(0, p).Select(_ => new SlidingLinearWindow(net.Config.PatchCount, h)).ToArray())];
        _state = [.. Enumerable.Range(0, channels).Select(_ => new float[h])];
        _recent = [.. Enumerable.Range(0, channels).Select(_ => new float[p * net.Config.InputFeatures])];
        _full = new float[_columns.Length + info.CalendarCount];
        if (!times) _undated = RawSet(new float[_columns.Length], null);
    }

    /// <summary>Known-future covariates the user gives (not calendar features) of <paramref name="f"/>.</summary>
    public static int UserFutureCount(Forecaster f) => f.DataInfo.FutureCount - f.DataInfo.CalendarCount;

    /// <summary>Why <paramref name="f"/>'s streams must re-run their window per forecast; null when they slide.</summary>
    public static string? WhyWindowed(Forecaster f)
    {
        var enc = f.Network.Encoder;
        if (!enc.Cell.HasLinearStep) return $"its {enc.Cell} encoder is not linear in its state, so the oldest step of a window cannot be dropped";
        if (!enc.Slidable) return $"its {enc.NumLayers}-layer encoder's upper layers read outputs that all change when the window's start moves";
        if (f.Network.Config.Gmu > 0) return $"its {f.Network.Config.Gmu} GMU layers read encoder outputs that all change when the window's start moves";
        if (f.Options.Normalization != "none") return $"{f.Options.Normalization} normalisation rescales the whole window with every new row";
        return null;
    }

    /// <summary>Whether the encoder's state slides with the window (O(1) per row) instead of being re-run over it.</summary>
    public bool Slides { get; }

    /// <summary>Whether the forecaster is stateful (<see cref="ForecastOptions.Stateful"/>): the stream keeps the
    /// encoder's states over every row it has seen and advances them one recurrent step per row.</summary>
    public bool Stateful { get; }

    /// <summary>Raw columns of a row, in order: targets, past covariates, known-future covariates (their values at
    /// that row; calendar features are made from the row's time).</summary>
    public IReadOnlyList<string> Columns => _columns;

    /// <summary>Rows seen.</summary>
    public long Rows { get; private set; }

    /// <summary>Rows still needed before a forecast (0 once the stream holds a lookback; a stateful stream: one row, or
    /// two when it reads calendar features, whose horizon is dated by the rows' time step).</summary>
    public int RowsNeeded => Math.Max(0, (Stateful ? (_f.DataInfo.CalendarCount > 0 ? 2 : 1) : _f.Options.Lookback) - Kept);

    private int Kept => _values.Count / _columns.Length;

    /// <summary>Appends rows [rows, K] (raw units, <see cref="Columns"/> order) with their times [rows] (strictly
    /// increasing; empty when the stream has none).</summary>
    public void Append(ReadOnlySpan<float> values, int rows, ReadOnlySpan<DateTime> times)
    {
        int k = _columns.Length, l = _f.Options.Lookback;
        if (values.Length != rows * k) throw new ArgumentException($"{rows} rows of {k} columns need {rows * k} values, got {values.Length}");
        if (_times && times.Length != rows) throw new ArgumentException($"{rows} rows need {rows} times, got {times.Length}");
        if (rows == 0) return;
        if (Slides) AdvanceWindows(values, rows, times);
        if (Stateful) QueueSteps(values, rows, times);
        foreach (var v in values) _values.Add(v);
        if (_times) foreach (var t in times) _kept.Add(t);
        Rows += rows;
        int drop = Kept - l;
        if (drop > 0)
        {
            _values.RemoveRange(0, drop * k);
            if (_times) _kept.RemoveRange(0, drop);
        }
    }

    /// <summary>
    /// The forecast after the rows so far (at least the lookback): <see cref="Forecaster.Predict(SeriesSet, SeriesSet?, PathSampling, int)"/>
    /// on the kept rows, the encoder's state taken from the sliding windows when <see cref="Slides"/>.
    /// <paramref name="future"/>: the known-future covariates over the horizon, as Predict takes them.
    /// </summary>
    public ForecastTable Forecast(SeriesSet? future = null) => ForecastMany([this], [future])[0];

    /// <summary>
    /// <see cref="Forecast"/> of several streams of one forecaster at once (<paramref name="futures"/>: each one's
    /// known-future covariates, or empty when the model takes none): their windows (or, for sliding streams, their
    /// encoder states) go through the network as one batch. Each table equals the stream's own forecast to float
    /// rounding (a batch may take other kernel paths than a batch of one).
    /// </summary>
    public static ForecastTable[] ForecastMany(IReadOnlyList<ForecastStream> streams, IReadOnlyList<SeriesSet?>? futures = null)
    {
        if (streams.Count == 0) return [];
        var f = streams[0]._f;
        if (streams.Any(s => s._f != f)) throw new ArgumentException("streams forecast together must share one forecaster");
        if (futures is not null && futures.Count != streams.Count) throw new ArgumentException($"{futures.Count} future sets for {streams.Count} streams");
        if (f.Options.Stateful) StepStates(streams);
        var requests = new Forecaster.PredictRequest[streams.Count];
        for (int i = 0; i < streams.Count; i++) requests[i] = streams[i].Request(futures?[i]);
        return f.PredictMany(requests);
    }

    // What Predict reads for this stream's forecast.
    private Forecaster.PredictRequest Request(SeriesSet? future)
    {
        if (RowsNeeded > 0) throw new InvalidOperationException($"the stream has {Kept} rows, the lookback needs {_f.Options.Lookback}");
        if (Stateful) return new(_times ? RawSet([.. _values], [.. _kept]) : _undated!, future, ch => _summary![ch]);
        if (!Slides) return new(RawSet([.. _values], _times ? [.. _kept] : null), future, null);
        // The state stands for the window's values; the rows only date the horizon (their median step), so without
        // times one row of nothing is enough.
        var set = _times ? RawSet([.. _values], [.. _kept]) : _undated!;
        int phase = (int)((Rows - 1) % _windows![0].Length);
        return new(set, future, ch =>
        {
            _windows[ch][phase].State(_state![ch]);
            return _state[ch];
        });
    }

    // The raw rows as the series Predict and the model view read (calendar features added from the times).
    private SeriesSet RawSet(float[] values, DateTime[]? times)
    {
        var info = _f.DataInfo;
        int rows = values.Length / _columns.Length;
        var series = new TimeSeries("stream", times, values, _columns.Length, null, [.. Enumerable.Range(0, rows)]);
        var set = new SeriesSet("stream", times is null ? null : "time", null, _columns, info.TargetCount, info.PastCount, UserFutureCount(_f), [series]);
        return Calendar.AddFutureFeatures(set, _calendar);
    }

    // The model-view row of raw row `values` [K] at `time` into _full [K2]: the raw row and its calendar features, every
    // column scaled (Scaler.Transform of the set).
    private Span<float> ScaledRow(ReadOnlySpan<float> values, DateTime time)
    {
        int k = _columns.Length, k2 = _full.Length;
        var full = _full.AsSpan();
        values.CopyTo(full);
        if (k2 > k) Calendar.Encode(time, _calendar, full[k..]);
        for (int j = 0; j < k2; j++) full[j] = _f.Scaler.Transform(full[j], j);
        return full;
    }

    // Channel `ch`'s model-view row of a scaled full row: in channel-independent mode [that target, the covariates]
    // (SeriesSet.ChannelIndependent), else the row itself.
    private void ViewRow(ReadOnlySpan<float> full, int ch, Span<float> dst)
    {
        if (!_f.Options.ChannelIndependent) { full.CopyTo(dst); return; }
        int c = _f.DataInfo.TargetCount;
        dst[0] = full[ch];
        full[c..].CopyTo(dst[1..]);
    }

    // Stateful: each new row's encoder input per channel (Forecaster.StepInput's: with --norm last the targets as their
    // change since the previous row) joins the pending rows, and the row's targets become the channel's level.
    private void QueueSteps(ReadOnlySpan<float> values, int rows, ReadOnlySpan<DateTime> times)
    {
        int k = _columns.Length, channels = _summary!.Length, f = _f.Network.Config.InputFeatures, c = _f.ModelTargets, w = _f.Network.Encoder.OutputSize;
        bool last = _f.Options.Normalization == "last";
        GrowKeeping(ref _pending, (_pendingRows + rows) * channels * f, keep: _pendingRows * channels * f);
        for (int t = 0; t < rows; t++)
        {
            var full = ScaledRow(values.Slice(t * k, k), _times ? times[t] : default);
            for (int ch = 0; ch < channels; ch++)
            {
                var input = _pending.AsSpan(((_pendingRows + t) * channels + ch) * f, f);
                ViewRow(full, ch, input);
                var level = _summary[ch].AsSpan(w, c);               // the previous row's targets, then this row's
                // The first row has no previous one: its change is 0, as Forecaster.StepInput has it.
                if (Rows + t == 0) input[..c].CopyTo(level);
                for (int j = 0; j < c; j++)
                {
                    float target = input[j];
                    if (last) input[j] -= level[j];
                    level[j] = target;
                }
            }
        }
        _pendingRows += rows;
    }

    // Pushes the tokens the new rows complete into the windows of their phase. A row of the model's view is the raw
    // row with its calendar features, every column scaled (Scaler.Transform of the set), and in channel-independent
    // mode one row per target: [that target, the covariates] (SeriesSet.ChannelIndependent): computed here per row
    // rather than through those set copies, which would cost more than the step itself.
    private void AdvanceWindows(ReadOnlySpan<float> values, int rows, ReadOnlySpan<DateTime> times)
    {
        var net = _f.Network;
        var scaler = _f.Scaler;
        int k = _columns.Length, k2 = _full.Length, c = _f.DataInfo.TargetCount, h = net.Encoder.HiddenSize;
        int p = _windows![0].Length, f = net.Config.InputFeatures, pf = p * f, channels = _windows.Length;
        Grow(ref _tokens, rows * channels * pf);
        if (_tokenRow.Length < rows * channels) { _tokenRow = new long[rows * channels]; _tokenChannel = new int[rows * channels]; }
        int count = 0;
        for (int t = 0; t < rows; t++)
        {
            var full = _full.AsSpan();                                      // [K2] the raw row and its calendar features
            values.Slice(t * k, k).CopyTo(full);
            if (k2 > k) Calendar.Encode(times[t], _calendar, full[k..]);
            for (int j = 0; j < k2; j++) full[j] = scaler.Transform(full[j], j);
            long row = Rows + t;
            for (int ch = 0; ch < channels; ch++)
            {
                var recent = _recent![ch].AsSpan();                          // [P, F] the channel's last view rows, oldest first
                int at = (int)Math.Min(row, p - 1) * f;
                if (row >= p) recent[f..].CopyTo(recent);
                var viewRow = recent.Slice(at, f);
                if (_f.Options.ChannelIndependent)
                {
                    viewRow[0] = full[ch];
                    full[c..].CopyTo(viewRow[1..]);
                }
                else full.CopyTo(viewRow);
                if (row + 1 < p) continue;                                  // no token ends here yet
                recent.CopyTo(_tokens.AsSpan(count * pf, pf));
                _tokenRow[count] = row; _tokenChannel[count] = ch;
                count++;
            }
        }
        if (count == 0) return;
        Grow(ref _a, count * h); Grow(ref _b, count * h);
        ReadOnlySpan<float> encIn = _tokens.AsSpan(0, count * pf);         // [R, P·F]
        if (net.PatchEmbedding is { } patch)
        {
            Grow(ref _embedded, count * h);
            var e = _embedded.AsSpan(0, count * h);                        // [R, H]
            patch.Forward(encIn, e, count);
            if (net.Config.Decoder == "pmf") ForecastNetwork.Relu(e);
            encIn = e;
        }
        net.Encoder.LinearCoefficients(encIn, count, _a, _b);
        for (int j = 0; j < count; j++)
            _windows[_tokenChannel[j]][(int)(_tokenRow[j] % p)].Push(_a.AsSpan(j * h, h), _b.AsSpan(j * h, h));
    }

    private static void GrowKeeping(ref float[] buffer, int length, int keep)
    {
        if (buffer.Length >= length) return;
        var grown = new float[Math.Max(length, 2 * buffer.Length)];
        buffer.AsSpan(0, keep).CopyTo(grown);
        buffer = grown;
    }

    // Stateful: advances every stream's pending rows, all channels of all streams as the rows of ONE batched recurrent
    // call (per-row lengths; a stream with no new rows keeps its states), then keeps each channel's top output after its
    // last row as the summary the head reads.
    private static void StepStates(IReadOnlyList<ForecastStream> streams)
    {
        var f = streams[0]._f;
        var enc = f.Network.Encoder;
        int fw = f.Network.Config.InputFeatures, w = enc.OutputSize, channels = streams[0]._summary!.Length, rows = 0, steps = 0;
        foreach (var st in streams)
            if (st._pendingRows > 0) { rows += channels; steps = Math.Max(steps, st._pendingRows); }
        if (rows == 0) return;
        var ws = f.StreamSteps(rows, steps);
        var x = ws.X.Span;                                                  // [R, k, F]
        x.Clear();
        int r = 0;
        foreach (var st in streams)
        {
            if (st._pendingRows == 0) continue;
            for (int ch = 0; ch < channels; ch++, r++)
            {
                ws.Lengths[r] = st._pendingRows;
                for (int t = 0; t < st._pendingRows; t++)
                    st._pending.AsSpan((t * channels + ch) * fw, fw).CopyTo(x.Slice((r * steps + t) * fw, fw));
                for (int j = 0; j < ws.States.Length; j++) CopyStateRow(st._stepStates![j], ch, ws.States[j], r);
            }
        }
        enc.Training = false;
        enc.Advance(ws.X, ws.States, ws.Y, ws.Lengths);
        r = 0;
        foreach (var st in streams)
        {
            if (st._pendingRows == 0) continue;
            for (int ch = 0; ch < channels; ch++, r++)
            {
                for (int j = 0; j < ws.States.Length; j++) CopyStateRow(ws.States[j], r, st._stepStates![j], ch);
                ws.Y.ReadOnlySpan.Slice((r * steps + st._pendingRows - 1) * w, w).CopyTo(st._summary![ch]);
            }
            st._pendingRows = 0;
        }
    }

    // Copies row `from` of state tensor src [layers, B_src, W] to row `to` of dst [layers, B_dst, W], every layer.
    private static void CopyStateRow(Tensor src, int from, Tensor dst, int to)
    {
        int layers = src.Dim(0), w = src.Dim(2), bs = src.Dim(1), bd = dst.Dim(1);
        for (int l = 0; l < layers; l++)
            src.ReadOnlySpan.Slice((l * bs + from) * w, w).CopyTo(dst.Span.Slice((l * bd + to) * w, w));
    }

    private static void Grow(ref float[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new float[length];
    }
}
