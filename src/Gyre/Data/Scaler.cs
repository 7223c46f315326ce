namespace Gyre.Data;

/// <summary>Per-column scaling y = (x − center) / scale.</summary>
public enum ScalerKind
{
    /// <summary>center 0, scale 1.</summary>
    None,
    /// <summary>center = mean, scale = population standard deviation.</summary>
    Standard,
    /// <summary>center = median, scale = interquartile range q75 − q25 (linear-interpolated quantiles).</summary>
    Robust,
    /// <summary>center = min, scale = max − min (training values map into [0, 1]).</summary>
    MinMax,
}

/// <summary>Serialisable form of a <see cref="Scaler"/> (System.Text.Json friendly).</summary>
public sealed class ScalerDto
{
    public string Kind { get; set; } = "none";
    public string[] Columns { get; set; } = [];
    public float[] Center { get; set; } = [];
    public float[] Scale { get; set; } = [];
}

/// <summary>
/// One scaler per column of a <see cref="SeriesSet"/>, fitted on the training rows of every series
/// pooled (missing targets excluded), so nothing from val/test leaks into the statistics. A spread
/// below 1e-7·max(1, |center|) (a constant column) is replaced by 1, so constant series map to a
/// constant instead of dividing by zero.
/// </summary>
public sealed class Scaler
{
    public ScalerKind Kind { get; }
    public string[] Columns { get; }
    public float[] Center { get; }
    public float[] Scale { get; }

    public Scaler(ScalerKind kind, string[] columns, float[] center, float[] scale)
    {
        if (center.Length != columns.Length || scale.Length != columns.Length)
            throw new ArgumentException($"scaler has {columns.Length} columns, {center.Length} centers, {scale.Length} scales");
        Kind = kind; Columns = columns; Center = center; Scale = scale;
    }

    public static ScalerKind ParseKind(string text) => text.Trim().ToLowerInvariant() switch
    {
        "standard" => ScalerKind.Standard,
        "robust" => ScalerKind.Robust,
        "minmax" => ScalerKind.MinMax,
        "none" => ScalerKind.None,
        _ => throw new GyreDataException($"unknown scaler '{text}' (expected standard, robust, minmax or none)"),
    };

    /// <summary>Fits every column on rows [0, TrainEnd) of each series.</summary>
    public static Scaler Fit(ScalerKind kind, SeriesSet set, IReadOnlyList<SeriesSplit> splits)
    {
        int K = set.ColumnCount, C = set.TargetCount;
        var center = new float[K];
        var scale = new float[K];
        var values = new List<double>();
        for (int k = 0; k < K; k++)
        {
            values.Clear();
            for (int s = 0; s < set.Series.Count; s++)
            {
                var ts = set.Series[s];
                int end = splits[s].TrainEnd;
                for (int t = 0; t < end; t++)
                    if (k >= C || ts.Observed is null || ts.Observed[t * C + k]) values.Add(ts.Values[t * K + k]);
            }
            (double c, double sc) = Stats(kind, values);
            if (!(sc > 1e-7 * Math.Max(1.0, Math.Abs(c)))) sc = 1;
            center[k] = (float)c;
            scale[k] = (float)sc;
        }
        return new Scaler(kind, (string[])set.Columns.Clone(), center, scale);
    }

    private static (double Center, double Scale) Stats(ScalerKind kind, List<double> v)
    {
        if (kind == ScalerKind.None || v.Count == 0) return (0, 1);
        switch (kind)
        {
            case ScalerKind.Standard:
            {
                double mean = 0;
                foreach (double x in v) mean += x;
                mean /= v.Count;
                double ss = 0;
                foreach (double x in v) ss += (x - mean) * (x - mean);
                return (mean, Math.Sqrt(ss / v.Count));
            }
            case ScalerKind.MinMax:
            {
                double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
                foreach (double x in v) { lo = Math.Min(lo, x); hi = Math.Max(hi, x); }
                return (lo, hi - lo);
            }
            default:
            {
                var sorted = v.ToArray();
                Array.Sort(sorted);
                return (Quantile(sorted, 0.5), Quantile(sorted, 0.75) - Quantile(sorted, 0.25));
            }
        }
    }

    /// <summary>Quantile of sorted data with linear interpolation between order statistics (numpy's default).</summary>
    public static double Quantile(ReadOnlySpan<double> sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }

    /// <summary>In place: values [*, n], column j uses scaler column firstColumn + j.</summary>
    public void Transform(Span<float> values, int n, int firstColumn = 0)
    {
        for (int i = 0; i < values.Length; i++)
        {
            int k = firstColumn + i % n;
            values[i] = (values[i] - Center[k]) / Scale[k];
        }
    }

    /// <summary>In place inverse of <see cref="Transform(Span{float}, int, int)"/>: x = y·scale + center.</summary>
    public void Inverse(Span<float> values, int n, int firstColumn = 0)
    {
        for (int i = 0; i < values.Length; i++)
        {
            int k = firstColumn + i % n;
            values[i] = values[i] * Scale[k] + Center[k];
        }
    }

    public float Transform(float x, int column) => (x - Center[column]) / Scale[column];
    public float Inverse(float y, int column) => y * Scale[column] + Center[column];

    /// <summary>A copy of <paramref name="set"/> with every series scaled (masks and times shared).</summary>
    public SeriesSet Transform(SeriesSet set)
    {
        if (set.ColumnCount != Columns.Length) throw new ArgumentException($"scaler has {Columns.Length} columns, set has {set.ColumnCount}");
        var list = set.Series.Select(s =>
        {
            var v = (float[])s.Values.Clone();
            Transform(v, set.ColumnCount);
            return new TimeSeries(s.Id, s.Times, v, set.ColumnCount, s.Observed, s.SourceRows, s.SourceTarget);
        }).ToList();
        return new SeriesSet(set.Source, set.TimeColumn, set.IdColumn, set.Columns, set.TargetCount, set.PastCount, set.FutureCount, list) { ReadInfo = set.ReadInfo };
    }

    public ScalerDto ToDto() => new()
    {
        Kind = Kind.ToString().ToLowerInvariant(),
        Columns = (string[])Columns.Clone(),
        Center = (float[])Center.Clone(),
        Scale = (float[])Scale.Clone(),
    };

    public static Scaler FromDto(ScalerDto dto)
    {
        ArgumentNullException.ThrowIfNull(dto);
        foreach (float s in dto.Scale)
            if (!(s > 0) || !float.IsFinite(s)) throw new GyreDataException($"scaler scale {s} must be positive and finite");
        return new Scaler(ParseKind(dto.Kind), (string[])dto.Columns.Clone(), (float[])dto.Center.Clone(), (float[])dto.Scale.Clone());
    }
}
