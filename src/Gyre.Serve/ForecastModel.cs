using Gyre.Data;
using Gyre.Forecasting;

namespace Gyre.Serve;

/// <summary>
/// A forecaster (job "forecast") served over streams. Input x [rows, K]: the model's target and past-covariate
/// columns in their order, raw units; "time" (Unix seconds) when it reads calendar features. Outputs: "forecast"
/// [N, C] (the point forecast, the median quantile with quantiles) and, with quantiles, "quantiles" [N, C, Q].
/// <para>
/// The stream state is the last L rows: the network reads exactly the last L rows from zero recurrent states (and
/// normalises them per window with instance norm), so a state carried over a longer history would answer
/// something the model was never trained on. Each request re-runs <see cref="Forecaster.Predict"/> on those rows,
/// the same call `gyre forecast predict` makes on a file ending with them.
/// </para>
/// </summary>
public sealed class ForecastModel : WindowModel
{
    private readonly Forecaster _f;
    private readonly CalendarFeatures _calendar;
    private readonly string[] _columns;               // raw columns: targets, past covariates

    public ForecastModel(string name, string path) : base(name, path, Forecaster.Job)
    {
        _f = Forecaster.Load(path);
        _f.Network.Encoder.WeightsFrozen = true;            // served weights never change: pack them once
        var info = _f.DataInfo;
        int userFuture = info.FutureCount - info.CalendarCount;
        if (userFuture > 0)
            throw new GyreDataException($"the forecaster reads known-future covariates ({string.Join(", ", info.Columns.Skip(info.TargetCount + info.PastCount).Take(userFuture))}); serving such models is not supported yet", path);
        _calendar = Calendar.Parse(_f.Options.Calendar);
        _columns = [.. info.Columns.Take(info.TargetCount + info.PastCount)];
        int n = _f.Options.Horizon, c = info.TargetCount, q = _f.Options.Quantiles.Length;
        Outputs = q > 0
            ? [new("forecast", "FP32", [n, c]), new("quantiles", "FP32", [n, c, q])]
            : [new("forecast", "FP32", [n, c])];
    }

    public override int Width => _columns.Length;
    public override bool NeedsTimes => _f.DataInfo.CalendarCount > 0;
    public override IReadOnlyList<TensorSpec> Outputs { get; }
    protected override int Capacity => _f.Options.Lookback;
    protected override int MinRows => _f.Options.Lookback;

    public override string StreamDescription =>
        $"the last {_f.Options.Lookback} rows (the lookback), re-run per request: the forecaster reads exactly its lookback from zero states, so each answer equals `gyre forecast predict` on a file ending with the same rows";

    /// <summary>Column names of input x in order.</summary>
    public IReadOnlyList<string> Columns => _columns;

    protected override IReadOnlyList<OutputTensor> Answer(RowWindow window)
    {
        var info = _f.DataInfo;
        int rows = window.Count;
        var series = new TimeSeries("stream", window.Times, window.Values, _columns.Length, null, [.. Enumerable.Range(0, rows)]);
        var set = new SeriesSet(Name, NeedsTimes ? "time" : null, null, _columns, info.TargetCount, info.PastCount, 0, [series]);
        set = Calendar.AddFutureFeatures(set, _calendar);
        var table = _f.Predict(set);
        int n = _f.Options.Horizon, c = info.TargetCount, q = _f.Options.Quantiles.Length;
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
