using Gyre.Data;
using Gyre.Tensors;

namespace Gyre.Forecasting;

/// <summary>Point (and, with quantiles, probabilistic) accuracy of one forecaster over a set of windows.</summary>
public sealed record MetricSet
{
    public double Mse { get; init; }
    public double Rmse { get; init; }
    public double Mae { get; init; }
    public double Mape { get; init; }
    public double Smape { get; init; }
    public double Mase { get; init; }
    /// <summary>Mean pinball loss over all quantiles (quantile models only).</summary>
    public double? Pinball { get; init; }
    /// <summary>Share of actuals inside [lowest, highest] quantile (quantile models only).</summary>
    public double? Coverage { get; init; }
    public double? Crps { get; init; }
}

/// <summary>What <see cref="Forecaster.Evaluate"/> and <see cref="Forecaster.Backtest"/> report.</summary>
public sealed record EvaluationReport
{
    public required MetricSet Metrics { get; init; }
    /// <summary>"naive" and "seasonal_naive" on the same windows.</summary>
    public required Dictionary<string, MetricSet> Baselines { get; init; }
    public int Horizon { get; init; }
    public int Lookback { get; init; }
    public int TestWindows { get; init; }
    public int Season { get; init; }
    /// <summary>Why that season was used (see <see cref="Data.Seasonality"/>); null when the model file does not say.</summary>
    public string? SeasonReason { get; init; }
    /// <summary>"raw" or "scaled".</summary>
    public string Scale { get; init; } = "raw";
    /// <summary>"test" or "backtest".</summary>
    public string Protocol { get; init; } = "test";
    public int? BacktestOrigins { get; init; }
    /// <summary>Nominal coverage of the reported interval (highest − lowest quantile).</summary>
    public double? NominalCoverage { get; init; }
}

/// <summary>One forecast row: series, step (1-based), time when known, and per target the point value and quantiles.</summary>
public sealed record ForecastRow(string SeriesId, int Step, DateTime? Time, float[] Values, float[][] Quantiles)
{
    /// <summary>Per target, the values of the kept sample paths at this step (path k is the k-th entry at every step of
    /// the series); null when no paths were asked for.</summary>
    public float[][]? Paths { get; init; }
}

/// <summary>Forecasts past the end of each series, in the data's units.</summary>
public sealed record ForecastTable(string[] Targets, float[] QuantileLevels, IReadOnlyList<ForecastRow> Rows);

public sealed partial class Forecaster
{
    /// <summary>
    /// Metrics on every window of the test split (every test point forecast; the lookback reaches into
    /// earlier splits), beside naive and seasonal-naive baselines on the same windows. <paramref name="rawScale"/>
    /// computes them in the data's units, otherwise in the scaler's space. MASE divides by the in-sample
    /// (training split) seasonal-naive MAE of each series and target.
    /// </summary>
    public EvaluationReport Evaluate(SeriesSet raw, bool rawScale = true)
    {
        var (view, rawView, splits) = Views(raw);
        var windows = WindowSet.Create(view, splits, SplitPart.Test, Options.Lookback, Options.Horizon);
        var rawWindows = WindowSet.Create(rawView, splits, SplitPart.Test, Options.Lookback, Options.Horizon);
        if (windows.Count == 0) throw new GyreDataException("the test split is empty: give --split three parts with a test share", raw.Source);
        return Score(windows, rawWindows, Enumerable.Range(0, windows.Count).ToArray(), splits, rawScale, "test", null);
    }

    /// <summary>
    /// <see cref="Evaluate"/> over the first <paramref name="perSeries"/> test windows of each series (by origin; every
    /// channel of a window in channel-independent mode): the windows a loader that drops its last incomplete batch scores.
    /// </summary>
    internal EvaluationReport EvaluateTestPrefix(SeriesSet raw, int perSeries, bool rawScale = true)
    {
        var (view, rawView, splits) = Views(raw);
        var windows = WindowSet.Create(view, splits, SplitPart.Test, Options.Lookback, Options.Horizon);
        var rawWindows = WindowSet.Create(rawView, splits, SplitPart.Test, Options.Lookback, Options.Horizon);
        var chosen = Enumerable.Range(0, windows.Count)
            .Where(i => windows[i].Origin - Math.Max(splits[windows[i].Series].ValEnd, Options.Lookback) < perSeries).ToArray();
        if (chosen.Length == 0) throw new GyreDataException("no test windows chosen", raw.Source);
        return Score(windows, rawWindows, chosen, splits, rawScale, "test", null);
    }

    /// <summary>
    /// Metrics in the scaler's space on every validation window, beside the baselines on the same windows: how the
    /// model compares with them on data it was selected on (null without a validation split).
    /// </summary>
    public EvaluationReport? EvaluateValidation(SeriesSet raw)
    {
        var (view, rawView, splits) = Views(raw);
        if (!splits.Any(s => s.Count(SplitPart.Val) > 0)) return null;
        var windows = WindowSet.Create(view, splits, SplitPart.Val, Options.Lookback, Options.Horizon);
        var rawWindows = WindowSet.Create(rawView, splits, SplitPart.Val, Options.Lookback, Options.Horizon);
        return windows.Count == 0 ? null : Score(windows, rawWindows, Enumerable.Range(0, windows.Count).ToArray(), splits, false, "validation", null);
    }

    /// <summary>
    /// Rolling-origin backtest: K origins per series spaced one horizon apart at the end of the data
    /// (origins T − K·N, T − (K−1)·N, …, T − N), each forecasting N steps with the trained model.
    /// </summary>
    public EvaluationReport Backtest(SeriesSet raw, int origins, bool rawScale = true)
    {
        if (origins <= 0) throw new GyreDataException($"--backtest needs a positive number of origins (got {origins})");
        var (view, rawView, splits) = Views(raw);
        int n = Options.Horizon, l = Options.Lookback;
        var tail = view.Series.Select(s =>
        {
            int first = s.Length - origins * n;
            if (first < l) throw new GyreDataException($"series '{s.Id}' has {s.Length} rows: {origins} backtest origins × horizon {n} + lookback {l} do not fit", raw.Source);
            return new SeriesSplit(first, first, s.Length);
        }).ToArray();
        var windows = WindowSet.Create(view, tail, SplitPart.Test, l, n);
        var rawWindows = WindowSet.Create(rawView, tail, SplitPart.Test, l, n);
        var chosen = Enumerable.Range(0, windows.Count)
            .Where(i => (windows[i].Origin - tail[windows[i].Series].ValEnd) % n == 0).ToArray();
        return Score(windows, rawWindows, chosen, splits, rawScale, "backtest", origins);
    }

    private (SeriesSet View, SeriesSet RawView, SeriesSplit[] Splits) Views(SeriesSet raw)
    {
        var view = ModelView(raw);
        var rawView = RawView(raw, Options.ChannelIndependent);
        return (view, rawView, SplitSpec.Parse(Options.Split).For(view));
    }

    private EvaluationReport Score(WindowSet windows, WindowSet rawWindows, int[] chosen, SeriesSplit[] splits,
        bool rawScale, string protocol, int? origins)
    {
        int n = Options.Horizon, c = windows.TargetWidth, q = Network.Config.QuantileCount, season = DataInfo.Season;
        int total = chosen.Length * n * c;
        var actual = new float[total]; var point = new float[total]; var mask = new float[total];
        var naive = new float[total]; var snaive = new float[total]; var scale = new float[total];
        var quant = new float[total * q];
        const int batch = 256;
        var pred = new float[batch * n * c * q];
        var target = new float[n * c]; var m = new float[n * c];
        var scratchIn = new float[Options.Lookback * rawWindows.InputWidth]; var scratchFut = new float[n * rawWindows.FutureWidth];
        var baseline = new float[n * c];
        var seriesScale = new Dictionary<(int, int), float>();
        int median = MedianQuantile();
        // A distribution model: quantiles at 0.05…0.95 and the CRPS from Options.Samples draws per value (same seed, same draws).
        var dist = Distribution;
        var levels = dist is null ? Options.Quantiles : EvaluationLevels;
        var dquant = dist is null ? null : new float[total * levels.Length];
        var sorted = new float[Options.Samples];
        var rng = new Rng(Options.Seed ^ 0xC0FFEEUL);
        double crpsSum = 0; long crpsCount = 0;

        for (int s = 0; s < chosen.Length; s += batch)
        {
            int b = Math.Min(batch, chosen.Length - s);
            PredictWindows(windows, chosen.AsSpan(s, b), pred);
            for (int i = 0; i < b; i++)
            {
                int w = chosen[s + i];
                var (series, _) = windows[w];
                rawWindows.Fill(w, scratchIn, target, m, scratchFut);
                int baseIdx = (s + i) * n * c;
                for (int h = 0; h < n; h++)
                    for (int j = 0; j < c; j++)
                    {
                        int o = baseIdx + h * c + j, col = ScalerColumn(windows, series, j);
                        for (int r = 0; r < q; r++)
                        {
                            float v = pred[((i * n + h) * c + j) * q + r];
                            quant[o * q + r] = rawScale ? Scaler.Inverse(v, col) : v;
                        }
                        point[o] = quant[o * q + median];
                        actual[o] = rawScale ? target[h * c + j] : Scaler.Transform(target[h * c + j], col);
                        mask[o] = m[h * c + j];
                        if (dist is { } kind)
                        {
                            var theta = pred.AsSpan(((i * n + h) * c + j) * q, q);
                            int column = col;
                            point[o] = rawScale ? Scaler.Inverse(theta[0], col) : theta[0];
                            SampleQuantiles(kind, theta, rng, v => rawScale ? Scaler.Inverse(v, column) : v, sorted, levels, dquant.AsSpan(o * levels.Length, levels.Length));
                            if (mask[o] != 0f) { crpsSum += SampleCrps(sorted, actual[o]); crpsCount++; }
                        }
                        scale[o] = InSampleScale(seriesScale, rawWindows, splits, series, j, col, season, rawScale);
                    }
                Baselines.Forecast(rawWindows, w, 1, baseline);
                Store(naive, baseline, windows, series, baseIdx, rawScale);
                Baselines.Forecast(rawWindows, w, season, baseline);
                Store(snaive, baseline, windows, series, baseIdx, rawScale);
            }
        }

        var qs = Options.Quantiles;
        return new EvaluationReport
        {
            Metrics = dist is null ? Measure(actual, point, mask, scale, q > 1 ? quant : null, qs)
                : Measure(actual, point, mask, scale, dquant, levels) with { Crps = crpsCount > 0 ? crpsSum / crpsCount : null },
            Baselines = new()
            {
                ["naive"] = Measure(actual, naive, mask, scale, null, []),
                ["seasonal_naive"] = Measure(actual, snaive, mask, scale, null, []),
            },
            Horizon = n, Lookback = Options.Lookback, TestWindows = chosen.Length, Season = season,
            SeasonReason = DataInfo.SeasonReason.Length > 0 ? DataInfo.SeasonReason : null,
            Scale = rawScale ? "raw" : "scaled", Protocol = protocol, BacktestOrigins = origins,
            NominalCoverage = levels.Length >= 2 ? levels[^1] - levels[0] : null,
        };
    }

    private void Store(float[] dst, float[] forecast, WindowSet windows, int series, int baseIdx, bool rawScale)
    {
        int c = windows.TargetWidth;
        for (int i = 0; i < forecast.Length; i++)
            dst[baseIdx + i] = rawScale ? forecast[i] : Scaler.Transform(forecast[i], ScalerColumn(windows, series, i % c));
    }

    /// <summary>The scaler column of target <paramref name="j"/> of a view series (its source target in channel-independent mode).</summary>
    private int ScalerColumn(WindowSet windows, int series, int j) =>
        Options.ChannelIndependent ? windows.Set.Series[series].SourceTarget : j;

    private float InSampleScale(Dictionary<(int, int), float> cache, WindowSet rawWindows, SeriesSplit[] splits,
        int series, int j, int col, int season, bool rawScale)
    {
        if (cache.TryGetValue((series, j), out var v)) return v;
        var ts = rawWindows.Set.Series[series];
        var inSample = ts.Column(j, rawWindows.Set.ColumnCount, 0, Math.Max(splits[series].TrainEnd, 2));
        if (!rawScale) for (int i = 0; i < inSample.Length; i++) inSample[i] = Scaler.Transform(inSample[i], col);
        double scale = Metrics.NaiveScale(inSample, season);
        if (!(scale > 0)) scale = Metrics.NaiveScale(inSample, 1);
        v = scale > 0 ? (float)scale : float.NaN;
        cache[(series, j)] = v;
        return v;
    }

    private static MetricSet Measure(float[] actual, float[] point, float[] mask, float[] scale, float[]? quant, float[] levels)
    {
        var sa = new float[actual.Length]; var sp = new float[actual.Length];
        for (int i = 0; i < actual.Length; i++) { sa[i] = actual[i] / scale[i]; sp[i] = point[i] / scale[i]; }
        double? pinball = null, coverage = null, crps = null;
        if (quant != null)
        {
            int q = levels.Length;
            var col = new float[actual.Length];
            double sum = 0;
            for (int r = 0; r < q; r++)
            {
                for (int i = 0; i < actual.Length; i++) col[i] = quant[i * q + r];
                sum += Metrics.Pinball(actual, col, levels[r], mask);
            }
            pinball = sum / q;
            var lower = new float[actual.Length]; var upper = new float[actual.Length];
            for (int i = 0; i < actual.Length; i++) { lower[i] = quant[i * q]; upper[i] = quant[i * q + q - 1]; }
            coverage = Metrics.Coverage(actual, lower, upper, mask);
            crps = Metrics.Crps(actual, quant, levels.Select(l => (double)l).ToArray(), mask);
        }
        return new MetricSet
        {
            Mse = Metrics.Mse(actual, point, mask), Rmse = Metrics.Rmse(actual, point, mask), Mae = Metrics.Mae(actual, point, mask),
            Mape = Metrics.Mape(actual, point, mask), Smape = Metrics.Smape(actual, point, mask),
            Mase = Metrics.Mae(sa, sp, mask), Pinball = pinball, Coverage = coverage, Crps = crps,
        };
    }

    /// <summary>
    /// Forecasts the <see cref="ForecastOptions.Horizon"/> steps after the end of every series, from its last
    /// L rows, in the data's units. Calendar features for the future are generated from the time step; other
    /// known-future covariates come from <paramref name="future"/> (their values over the horizon, as Darts'
    /// future_covariates): per series (matched by id), the first N rows after the end of the history, with
    /// times that must continue the series' step when both files have times. Without it such a model refuses.
    /// </summary>
    /// <remarks>
    /// A distribution model draws <see cref="ForecastOptions.Samples"/> sample paths per series and target
    /// (<see cref="DrawPaths"/>, coupled as <paramref name="sampling"/> says); the quantiles are those of the paths at each
    /// step, and the first <paramref name="paths"/> of them are kept in every row's <see cref="ForecastRow.Paths"/>.
    /// </remarks>
    public ForecastTable Predict(SeriesSet raw, SeriesSet? future = null, PathSampling sampling = PathSampling.Copula, int paths = 0) =>
        PredictMany([new(raw, future, null)], sampling, paths)[0];

    /// <summary>One set to forecast: its rows, the known-future covariates over its horizon, and optionally its series'
    /// encoder states (by source channel: the target column in channel-independent mode, else 0) instead of running
    /// the encoder over their last L rows.</summary>
    internal readonly record struct PredictRequest(SeriesSet Raw, SeriesSet? Future, Func<int, float[]>? EncoderState);

    // One series of a request: where its window or state sits in the batch, and what its rows need.
    private sealed record SeriesItem(int Request, TimeSeries Series, string RawId, DateTime[]? Times);

    /// <summary>
    /// <see cref="Predict(SeriesSet, SeriesSet?, PathSampling, int)"/> of several sets at once: every series of every set
    /// is one row of ONE batched network call (all with encoder states given, or none), and each set's table equals
    /// its own Predict (its own sample stream: the random draws start over per set). A batched call may round
    /// differently from a batch of one in the last bits (the kernels pick their paths by batch size).
    /// </summary>
    internal ForecastTable[] PredictMany(IReadOnlyList<PredictRequest> requests, PathSampling sampling = PathSampling.Copula, int paths = 0)
    {
        if (paths < 0 || paths > Options.Samples)
            throw new GyreDataException($"--paths must be between 0 and --samples ({Options.Samples}), got {paths}");
        if (paths > 0 && Distribution is null)
            throw new GyreDataException($"--paths needs a distribution model (--loss gaussian|studentt|negbinomial), this one was trained with --loss {Options.Loss}");
        bool states = requests.Count > 0 && requests[0].EncoderState is not null;
        if (requests.Any(r => (r.EncoderState is not null) != states))
            throw new ArgumentException("a batch gives the encoder states of every set or of none");
        int userFuture = DataInfo.FutureCount - DataInfo.CalendarCount;
        int l = Options.Lookback, n = Options.Horizon, c = ModelTargets, q = Network.Config.QuantileCount;
        // A window model's state is the top layer's final h; a stateful model's summary adds the level it forecasts from.
        int h0 = Options.Stateful ? SummaryWidth : Network.Encoder.OutputSize;
        // A stateful model given no summaries runs each series from its start (any length) instead of reading a window.
        bool runs = Options.Stateful && !states;
        var summaries = new Dictionary<TimeSeries, float[]>(ReferenceEqualityComparer.Instance);
        var calendar = Calendar.Parse(Options.Calendar);

        // Every series of every set, in order; then their windows (or states), future features and channels as batches.
        var items = new List<SeriesItem>();
        var views = new SeriesSet[requests.Count];
        for (int ri = 0; ri < requests.Count; ri++)
        {
            var (raw, future, _) = requests[ri];
            if (userFuture > 0 && future is null)
                throw new GyreDataException($"the model takes known-future covariates ({string.Join(", ", DataInfo.Columns.Skip(DataInfo.TargetCount + DataInfo.PastCount).Take(userFuture))}): give their values over the horizon with --future-data FILE", raw.Source);
            if (future is not null && userFuture > 0 && future.TargetCount != userFuture)
                throw new GyreDataException($"future data has {future.TargetCount} columns, the model takes {userFuture}", future.Source);
            // With the encoder's states given the window's values are not read, only the series' ids, times and channels:
            // no scaling, and the series may be shorter than the lookback (a stream without times passes its last row).
            var view = views[ri] = states ? RawView(raw, Options.ChannelIndependent) : ModelView(raw);
            if (runs)
            {
                var sums = StatefulSummaries(view);
                for (int si = 0; si < sums.Length; si++) summaries[view.Series[si]] = sums[si];
            }
            foreach (var s in view.Series)
            {
                if (runs && s.Length == 0) throw new GyreDataException($"series '{s.Id}' has no rows", raw.Source);
                if (s.Length < l && !states && !runs) throw new GyreDataException($"series '{s.Id}' has {s.Length} rows, fewer than the lookback {l}", raw.Source);
                // Channel-independent ids are "{id}/{column}" and a column name may itself hold a '/' (km/h):
                // strip the known column suffix rather than split at the last '/'.
                string rawId = Options.ChannelIndependent ? s.Id[..^(raw.Columns[s.SourceTarget].Length + 1)] : s.Id;
                DateTime[]? times = null;
                if (s.Times != null && s.Times.Length >= 2)
                {
                    var step = TimeStep.Infer(s.Times);
                    times = Enumerable.Range(1, n).Select(h => step.Advance(s.Times[^1], h)).ToArray();
                }
                items.Add(new SeriesItem(ri, s, rawId, times));
            }
        }
        int b = items.Count;
        if (b == 0) return [.. requests.Select(_ => new ForecastTable(DataInfo.Columns.Take(DataInfo.TargetCount).ToArray(), Distribution is null ? Options.Quantiles : DistributionLevels, []))];
        int k = views[0].ColumnCount, ff = views[0].FutureCount;
        var x = states || runs ? null : Tensor.Zeros(b, l, k);              // [B, L, K]
        var stateRows = x is null ? new float[b * h0] : null;               // [B, H] (stateful: [B, W + C])
        var fut = ff > 0 ? Tensor.Zeros(b, n, ff) : null;                   // [B, N, Ff]
        var channel = new int[b];
        for (int i = 0; i < b; i++)
        {
            var (ri, s, rawId, times) = items[i];
            channel[i] = ChannelOf(s);
            if (x is not null) WindowSet.CopyInput(s, k, s.Length, l, x.Span.Slice(i * l * k, l * k));
            else if (runs) summaries[s].CopyTo(stateRows.AsSpan(i * h0, h0));
            else requests[ri].EncoderState!(channel[i]).AsSpan(0, h0).CopyTo(stateRows.AsSpan(i * h0, h0));
            if (fut is null) continue;
            var f = fut.Span.Slice(i * n * ff, n * ff);
            if (userFuture > 0) FutureValues(requests[ri].Future!, rawId, s, times, n, f, ff, userFuture);
            if (ff > userFuture && times == null) throw new GyreDataException("calendar features need timestamps to forecast past the end", requests[ri].Raw.Source);
            for (int h = 0; h < n; h++)
            {
                if (ff > userFuture) Calendar.Encode(times![h], calendar, f.Slice(h * ff + userFuture, ff - userFuture));
                // Future columns are scaled like any other column.
                for (int j = 0; j < ff; j++)
                    f[h * ff + j] = Scaler.Transform(f[h * ff + j], DataInfo.Columns.Length - ff + j);
            }
        }
        var pred = new float[b * n * c * q];                                // [B, N, C, Q]
        RunNetwork(x, fut, pred, b, channel, stateRows);

        var tables = new ForecastTable[requests.Count];
        int next = 0;
        for (int ri = 0; ri < requests.Count; ri++)
        {
            int first = next;
            while (next < b && items[next].Request == ri) next++;
            tables[ri] = Rows(items, first, next, pred, sampling, paths);
        }
        return tables;
    }

    // The table of items [first, end) of one set from the batch's predictions [B, N, C, Q] (scaled space).
    private ForecastTable Rows(List<SeriesItem> items, int first, int end, float[] predictions, PathSampling sampling, int paths)
    {
        int n = Options.Horizon, c = ModelTargets, q = Network.Config.QuantileCount;
        int median = MedianQuantile();
        var dist = Distribution;
        var levels = dist is null ? Options.Quantiles : DistributionLevels;
        var sorted = new float[Options.Samples];
        var pathBuf = dist is null ? [] : new float[Options.Samples * n];     // [S, N] one target's sample paths
        var rng = new Rng(Options.Seed ^ 0xC0FFEEUL);
        // A series' N rows, by id: channel-independent channels of one series fill the same rows.
        var rows = new Dictionary<string, ForecastRow[]>();
        var order = new List<ForecastRow>();
        int targets = DataInfo.TargetCount;
        for (int i = first; i < end; i++)
        {
            var (_, s, rawId, times) = items[i];
            var pred = predictions.AsSpan(i * n * c * q, n * c * q);        // [N, C, Q]
            if (!rows.TryGetValue(rawId, out var stepRows))
            {
                rows[rawId] = stepRows = new ForecastRow[n];
                for (int h = 0; h < n; h++)
                {
                    var quantiles = new float[targets][];
                    for (int j = 0; j < targets; j++) quantiles[j] = new float[levels.Length];
                    float[][]? keptPaths = null;
                    if (paths > 0)
                    {
                        keptPaths = new float[targets][];
                        for (int j = 0; j < targets; j++) keptPaths[j] = new float[paths];
                    }
                    order.Add(stepRows[h] = new ForecastRow(rawId, h + 1, times?[h], new float[targets], quantiles) { Paths = keptPaths });
                }
            }
            for (int j = 0; j < c; j++)
            {
                int target = Options.ChannelIndependent ? s.SourceTarget : j;
                if (dist is { } kind)
                {
                    DrawPaths(kind, pred, j, c, rng, v => Scaler.Inverse(v, target), sampling, pathBuf);
                    for (int h = 0; h < n; h++)
                    {
                        var row = stepRows[h];
                        row.Values[target] = Scaler.Inverse(pred[(h * c + j) * q], target);
                        for (int p = 0; p < sorted.Length; p++) sorted[p] = pathBuf[p * n + h];
                        if (row.Paths is { } kept) sorted.AsSpan(0, paths).CopyTo(kept[target]);
                        EmpiricalQuantiles(sorted, levels, row.Quantiles[target]);
                    }
                    continue;
                }
                for (int h = 0; h < n; h++)
                    for (int r = 0; r < q; r++)
                    {
                        float v = Scaler.Inverse(pred[(h * c + j) * q + r], target);
                        if (Options.Quantiles.Length > 0) stepRows[h].Quantiles[target][r] = v;
                        if (r == median) stepRows[h].Values[target] = v;
                    }
            }
        }
        return new ForecastTable(DataInfo.Columns.Take(targets).ToArray(), levels, order);
    }

    /// <summary>Copies series <paramref name="id"/>'s known-future values for the N steps after <paramref name="history"/> into dst [N, Ff] (raw units).</summary>
    private static void FutureValues(SeriesSet future, string id, TimeSeries history, DateTime[]? times, int n, Span<float> dst, int ff, int userFuture)
    {
        var fs = future.Series.FirstOrDefault(f => f.Id == id) ?? (future.Series.Count == 1 && future.IdColumn is null ? future.Series[0] : null)
            ?? throw new GyreDataException($"no rows for series '{id}' (series: {string.Join(", ", future.Series.Select(f => f.Id).Take(5))})", future.Source);
        int start = 0;
        if (fs.Times is not null && history.Times is not null)
            while (start < fs.Length && fs.Times[start] <= history.Times[^1]) start++;
        if (fs.Length - start < n)
            throw new GyreDataException($"series '{id}' has {fs.Length - start} future rows after the history's end, the horizon needs {n}", future.Source);
        for (int h = 0; h < n; h++)
        {
            if (fs.Times is not null && times is not null && fs.Times[start + h] != times[h])
                throw new GyreDataException($"series '{id}': future row at {fs.Times[start + h]:yyyy-MM-dd HH:mm:ss} where the horizon's step {h + 1} is {times[h]:yyyy-MM-dd HH:mm:ss}",
                    future.Source, fs.SourceRows[start + h], column: future.TimeColumn);
            for (int j = 0; j < userFuture; j++) dst[h * ff + j] = fs.Values[(start + h) * future.ColumnCount + j];
        }
    }
}
