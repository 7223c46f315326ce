using Gyre.Data;
using Gyre.Forecasting;

namespace Gyre.Serve;

/// <summary>
/// A forecaster (job "forecast") served over streams. Input x [rows, K]: the model's target, past-covariate and
/// known-future-covariate columns in their order, raw units; "time" (Unix seconds) when it reads calendar features;
/// "future" [N, Fu] when it reads known-future covariates (--future-features): their values over the horizon after
/// the request's last row, as `gyre forecast predict --future-data` takes them. Outputs: "forecast"
/// [N, C] (the point forecast, the median quantile with quantiles) and, with quantiles, "quantiles" [N, C, Q].
/// <para>
/// Each stream is a <see cref="ForecastStream"/>. A stateful forecaster (--stateful) keeps the encoder's states over
/// the whole stream and advances them one recurrent step per row, any cell and depth ("state" kind); its answers equal
/// `gyre forecast predict` on a file of the stream's rows from its start. A window forecaster reads exactly its last L
/// rows from zero recurrent states, so a stream either slides the encoder's window state one step per row (a one-layer
/// encoder of a cell linear in its state, no window normalisation: "state" kind) or keeps the last L rows and re-runs
/// them ("window" kind); its answers equal `gyre forecast predict` on a file ending with the same rows. A request
/// without a sequence is a fresh stream given its rows, for every kind.
/// </para>
/// </summary>
public sealed class ForecastModel : ServedModel
{
    private readonly Forecaster _f;
    private readonly string? _windowReason;
    private readonly string[] _columns;               // raw columns of x: targets, past and known-future covariates
    private readonly string[] _futureColumns;         // the known-future covariates (columns of input "future")

    public ForecastModel(string name, string path) : base(name, path, Forecaster.Job)
    {
        _f = Forecaster.Load(path);
        _f.Network.Encoder.WeightsFrozen = true;            // served weights never change: pack them once
        var info = _f.DataInfo;
        _windowReason = ForecastStream.WhyWindowed(_f);
        int userFuture = ForecastStream.UserFutureCount(_f);
        _columns = [.. info.Columns.Take(info.TargetCount + info.PastCount + userFuture)];
        _futureColumns = [.. info.Columns.Skip(info.TargetCount + info.PastCount).Take(userFuture)];
        int n = _f.Options.Horizon, c = info.TargetCount, q = _f.Options.Quantiles.Length;
        if (userFuture > 0) FutureInput = new("future", "FP32", [n, userFuture]);
        Outputs = q > 0
            ? [new("forecast", "FP32", [n, c]), new("quantiles", "FP32", [n, c, q])]
            : [new("forecast", "FP32", [n, c])];
    }

    public override int Width => _columns.Length;
    public override bool NeedsTimes => _f.DataInfo.CalendarCount > 0;
    public override IReadOnlyList<TensorSpec> Outputs { get; }
    public override string StreamKind => _f.Options.Stateful || _windowReason is null ? "state" : "window";
    public override bool SequenceRequired => false;
    public override TensorSpec? FutureInput { get; }

    public override string StreamDescription
    {
        get
        {
            int l = _f.Options.Lookback, p = Math.Max(_f.Network.Config.Patch, 1);
            if (_f.Options.Stateful)
                return $"a stateful forecaster: the encoder's states ({_f.Network.Config.Layers} {_f.Network.Encoder.Cell} layer(s)) over every row since sequence_start, advanced one recurrent step per row (the streams of a batch in one batched step), and the head run from the top layer's h{(_f.Options.Normalization == "last" ? " relative to the last row" : "")}; each answer equals `gyre forecast predict` on a file of the stream's rows from its start";
            return _windowReason is null
                ? $"the encoder's state over the last {l} rows, slid one step per row ({(p > 1 ? $"{p} windows of {_f.Network.Config.PatchCount} patches, one per phase" : $"one window of {l} steps")}: the oldest step dropped, the newest added, the head run from the state), and the last {l} rows; each answer equals `gyre forecast predict` on a file ending with the same rows"
                : $"the last {l} rows (the lookback), re-run per request because {_windowReason}; each answer equals `gyre forecast predict` on a file ending with the same rows";
        }
    }

    /// <summary>Column names of input x in order.</summary>
    public IReadOnlyList<string> Columns => _columns;

    public override StreamState NewStream() => new ForecastStreamState(new ForecastStream(_f, NeedsTimes));

    private sealed class ForecastStreamState(ForecastStream stream) : StreamState
    {
        public ForecastStream Stream { get; } = stream;
    }

    /// <summary>Appends each stream's rows, then forecasts every stream that holds a lookback in one batched network
    /// call (<see cref="ForecastStream.ForecastMany"/>: windows re-run together, or sliding states through the head
    /// together).</summary>
    public override StepResult[] Step(IReadOnlyList<(StreamState State, Observations Input)> batch)
    {
        var results = new StepResult[batch.Count];
        var ready = new List<int>(batch.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            var state = (ForecastStreamState)batch[i].State;
            var input = batch[i].Input;
            state.Stream.Append(input.Values, input.Rows, input.Times);
            state.Rows = state.Stream.Rows;
            if (state.Stream.RowsNeeded > 0) results[i] = new StepResult([], state.Stream.RowsNeeded);
            else ready.Add(i);
        }
        var tables = ForecastStream.ForecastMany([.. ready.Select(i => ((ForecastStreamState)batch[i].State).Stream)],
            FutureInput is null ? null : [.. ready.Select(i => FutureSet(batch[i].Input.Future!))]);
        for (int j = 0; j < ready.Count; j++) results[ready[j]] = new StepResult(Answer(tables[j]));
        return results;
    }

    // Input "future" [N, Fu] as Predict takes known-future covariates: one series of the N horizon steps, in order.
    private SeriesSet FutureSet(float[] future)
    {
        int n = _f.Options.Horizon;
        var series = new TimeSeries("stream", null, future, _futureColumns.Length, null, [.. Enumerable.Range(0, n)]);
        return new SeriesSet("input 'future'", null, null, _futureColumns, _futureColumns.Length, 0, 0, [series]);
    }

    private IReadOnlyList<OutputTensor> Answer(ForecastTable table)
    {
        int n = _f.Options.Horizon, c = _f.DataInfo.TargetCount, q = _f.Options.Quantiles.Length;
        var point = new float[n * c];                    // [N, C]
        var quantiles = new float[n * c * q];            // [N, C, Q]
        foreach (var row in table.Rows)
            for (int j = 0; j < c; j++)
            {
                point[(row.Step - 1) * c + j] = row.Values[j];
                for (int r = 0; r < q; r++) quantiles[((row.Step - 1) * c + j) * q + r] = row.Quantiles[j][r];
            }
        return q > 0
            ? [new("forecast", "FP32", [n, c], point), new("quantiles", "FP32", [n, c, q], quantiles)]
            : [new("forecast", "FP32", [n, c], point)];
    }
}
