namespace Gyre.Data;

/// <summary>How missing cells (empty, NA, NaN, ±Inf) in selected columns are handled.</summary>
public enum FillMode
{
    /// <summary>Any missing cell is an error.</summary>
    None,
    /// <summary>Carry the last observed value forward; leading gaps take the first observed value.</summary>
    Ffill,
    /// <summary>Linear interpolation between observed neighbours; edges extend the nearest observed value.</summary>
    Linear,
    /// <summary>
    /// Fill values with <see cref="Ffill"/> (so inputs are finite) and keep <see cref="TimeSeries.Observed"/>
    /// so that losses and metrics ignore missing targets.
    /// </summary>
    Mask,
}

/// <summary>
/// One series: <see cref="Length"/> time steps (T) by <see cref="SeriesSet.ColumnCount"/> columns (K),
/// row-major. Column order is targets (C), then past features (P), then future-known features (Ff).
/// Rows are taken in file order; whole missing steps in a regular grid (e.g. co2's absent 1958-06) are refused,
/// inserted and filled, or kept as consecutive rows, as <see cref="CsvOptions.Gaps"/> says.
/// </summary>
public sealed class TimeSeries
{
    /// <summary>The id column's value, or the file name without extension for a single series.</summary>
    public string Id { get; }

    /// <summary>Number of time steps T.</summary>
    public int Length { get; }

    /// <summary>Timestamps [T], strictly increasing; null when the file has no time column.</summary>
    public DateTime[]? Times { get; }

    /// <summary>Values [T, K], finite after filling.</summary>
    public float[] Values { get; }

    /// <summary>Target observation mask [T, C] (true = observed); null when every target is observed or fill is not mask.</summary>
    public bool[]? Observed { get; }

    /// <summary>1-based data row in the source file for each step [T] (for messages).</summary>
    public int[] SourceRows { get; }

    /// <summary>For channel-independent series: which target column of the original set this series carries; -1 otherwise.</summary>
    public int SourceTarget { get; }

    public TimeSeries(string id, DateTime[]? times, float[] values, int columnCount, bool[]? observed, int[] sourceRows, int sourceTarget = -1)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(sourceRows);
        if (columnCount <= 0 || values.Length % columnCount != 0)
            throw new ArgumentException($"series '{id}': {values.Length} values do not fill [T, {columnCount}]");
        Id = id;
        Length = values.Length / columnCount;
        if (times is not null && times.Length != Length) throw new ArgumentException($"series '{id}': {times.Length} times for {Length} rows");
        if (sourceRows.Length != Length) throw new ArgumentException($"series '{id}': {sourceRows.Length} source rows for {Length} rows");
        Times = times;
        Values = values;
        Observed = observed;
        SourceRows = sourceRows;
        SourceTarget = sourceTarget;
    }

    /// <summary>A copy of column <paramref name="column"/> over rows [start, end).</summary>
    public float[] Column(int column, int columnCount, int start, int end)
    {
        var dst = new float[end - start];
        for (int t = start; t < end; t++) dst[t - start] = Values[t * columnCount + column];
        return dst;
    }
}

/// <summary>
/// Series read from one file, sharing one column layout: <see cref="Columns"/> = targets (C), past
/// features (P), future-known features (Ff), K = C + P + Ff.
/// </summary>
public sealed class SeriesSet
{
    public string Source { get; }
    public string? TimeColumn { get; }
    public string? IdColumn { get; }
    public string[] Columns { get; }
    public int TargetCount { get; }
    public int PastCount { get; }
    public int FutureCount { get; }
    public IReadOnlyList<TimeSeries> Series { get; }
    /// <summary>How the file was read (dialect, time column, frequency, gaps); null when not read by <see cref="CsvLoader"/>.</summary>
    public CsvReadInfo? ReadInfo { get; init; }

    public int ColumnCount => Columns.Length;
    public IEnumerable<string> TargetColumns => Columns.Take(TargetCount);
    public IEnumerable<string> PastColumns => Columns.Skip(TargetCount).Take(PastCount);
    public IEnumerable<string> FutureColumns => Columns.Skip(TargetCount + PastCount);

    public SeriesSet(string source, string? timeColumn, string? idColumn, string[] columns, int targetCount, int pastCount, int futureCount, IReadOnlyList<TimeSeries> series)
    {
        if (targetCount <= 0 || pastCount < 0 || futureCount < 0 || targetCount + pastCount + futureCount != columns.Length)
            throw new ArgumentException($"column counts {targetCount}+{pastCount}+{futureCount} do not match {columns.Length} columns");
        Source = source;
        TimeColumn = timeColumn;
        IdColumn = idColumn;
        Columns = columns;
        TargetCount = targetCount;
        PastCount = pastCount;
        FutureCount = futureCount;
        Series = series;
    }

    /// <summary>
    /// Channel-independent view (PatchTST style): each target column of each series becomes its own
    /// series with one target, keeping the past and future features. Ids are "id/column";
    /// <see cref="TimeSeries.SourceTarget"/> records the original target index so predictions can be
    /// mapped back (and inverse-scaled with that column's scaler). Scale before splitting channels.
    /// </summary>
    public SeriesSet ChannelIndependent()
    {
        int K = ColumnCount, C = TargetCount, X = PastCount + FutureCount;
        var cols = new string[1 + X];
        cols[0] = "target";
        Array.Copy(Columns, C, cols, 1, X);
        var list = new List<TimeSeries>(Series.Count * C);
        foreach (var s in Series)
        {
            for (int c = 0; c < C; c++)
            {
                int T = s.Length;
                var v = new float[T * (1 + X)];
                bool[]? obs = s.Observed is null ? null : new bool[T];
                for (int t = 0; t < T; t++)
                {
                    v[t * (1 + X)] = s.Values[t * K + c];
                    for (int j = 0; j < X; j++) v[t * (1 + X) + 1 + j] = s.Values[t * K + C + j];
                    if (obs is not null) obs[t] = s.Observed![t * C + c];
                }
                list.Add(new TimeSeries($"{s.Id}/{Columns[c]}", s.Times, v, 1 + X, obs, s.SourceRows, c));
            }
        }
        return new SeriesSet(Source, TimeColumn, IdColumn, cols, 1, PastCount, FutureCount, list) { ReadInfo = ReadInfo };
    }
}
