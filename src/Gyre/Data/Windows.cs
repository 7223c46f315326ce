using Gyre.Tensors;

namespace Gyre.Data;

/// <summary>
/// Direct multi-step windows over a (scaled) <see cref="SeriesSet"/>. Dimensions: L lookback, N horizon,
/// K columns (C targets, P past features, Ff future features), B batch.
/// A window with origin t reads inputs rows [t−L, t) (all K columns) and targets rows [t, t+N)
/// (first C columns); future-known features over the horizon are rows [t, t+N) of the last Ff columns.
/// <para>Protocol, per series, for a part [a, b) of its split (stride 1):
/// origins t with max(a, L) ≤ t and t + N ≤ b. Train: a = 0, so inputs and targets stay in train.
/// Val/test: the lookback may reach back into earlier parts (it is history, not a target), and every
/// row of [a, b) is a target of at least one window (origins a … b−N; needs a ≥ L and b − a ≥ N,
/// checked, so no val/test point is ever left unforecast).</para>
/// </summary>
public sealed class WindowSet
{
    private readonly int[] _series;
    private readonly int[] _origin;

    public SeriesSet Set { get; }
    public int Lookback { get; }
    public int Horizon { get; }
    public SplitPart Part { get; }
    public int Count => _origin.Length;
    public int InputWidth => Set.ColumnCount;
    public int TargetWidth => Set.TargetCount;
    public int FutureWidth => Set.FutureCount;

    /// <summary>(series index, origin row) of window <paramref name="i"/>.</summary>
    public (int Series, int Origin) this[int i] => (_series[i], _origin[i]);

    private WindowSet(SeriesSet set, int lookback, int horizon, SplitPart part, int[] series, int[] origin)
    {
        Set = set; Lookback = lookback; Horizon = horizon; Part = part; _series = series; _origin = origin;
    }

    /// <summary>Checks lookback and horizon are positive (one-line error otherwise).</summary>
    public static void CheckSizes(int lookback, int horizon)
    {
        if (lookback <= 0) throw new GyreDataException($"lookback must be > 0 (got {lookback})");
        if (horizon <= 0) throw new GyreDataException($"horizon must be > 0 (got {horizon})");
    }

    /// <summary>All windows of <paramref name="part"/> across series, in (series, origin) order.</summary>
    public static WindowSet Create(SeriesSet set, IReadOnlyList<SeriesSplit> splits, SplitPart part, int lookback, int horizon)
    {
        CheckSizes(lookback, horizon);
        if (splits.Count != set.Series.Count) throw new ArgumentException($"{splits.Count} splits for {set.Series.Count} series");
        var series = new List<int>();
        var origin = new List<int>();
        for (int s = 0; s < set.Series.Count; s++)
        {
            var ts = set.Series[s];
            var sp = splits[s];
            if (ts.Length < lookback + horizon)
                throw new GyreDataException($"series '{ts.Id}' has {ts.Length} rows, shorter than lookback {lookback} + horizon {horizon}", set.Source);
            int a = sp.Start(part), b = sp.End(part);
            if (b == a && part != SplitPart.Train) continue; // an empty val/test part has no windows
            if (part == SplitPart.Train && b < lookback + horizon)
                throw new GyreDataException($"series '{ts.Id}': training part has {b} rows, fewer than lookback {lookback} + horizon {horizon}", set.Source);
            if (part != SplitPart.Train && a < lookback)
                throw new GyreDataException($"series '{ts.Id}': {Name(part)} part starts at row {a}, before lookback {lookback} rows of history exist", set.Source);
            if (b - a < horizon)
                throw new GyreDataException($"series '{ts.Id}': {Name(part)} part has {b - a} rows, fewer than horizon {horizon}", set.Source);
            for (int t = Math.Max(a, lookback); t + horizon <= b; t++) { series.Add(s); origin.Add(t); }
        }
        return new WindowSet(set, lookback, horizon, part, series.ToArray(), origin.ToArray());
    }

    private static string Name(SplitPart p) => p switch { SplitPart.Train => "training", SplitPart.Val => "validation", _ => "test" };

    /// <summary>Window indices 0..Count−1, shuffled by <paramref name="rng"/> (Fisher–Yates) when given.</summary>
    public int[] Order(Rng? rng)
    {
        var order = new int[Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        rng?.Shuffle(order.AsSpan());
        return order;
    }

    /// <summary>
    /// Writes window <paramref name="i"/>: input [L, K], target [N, C], mask [N, C] (1 observed, 0 missing),
    /// future [N, Ff] (may be empty when Ff = 0). Allocates nothing.
    /// </summary>
    public void Fill(int i, Span<float> input, Span<float> target, Span<float> mask, Span<float> future)
    {
        var ts = Set.Series[_series[i]];
        int t0 = _origin[i], L = Lookback, N = Horizon, K = Set.ColumnCount, C = Set.TargetCount, F = Set.FutureCount;
        CopyInput(ts, K, t0, L, input);
        var v = ts.Values.AsSpan();
        for (int h = 0; h < N; h++)
        {
            int row = (t0 + h) * K;
            v.Slice(row, C).CopyTo(target.Slice(h * C, C));
            if (F > 0) v.Slice(row + K - F, F).CopyTo(future.Slice(h * F, F));
            var m = mask.Slice(h * C, C);
            if (ts.Observed is null) m.Fill(1f);
            else for (int c = 0; c < C; c++) m[c] = ts.Observed[(t0 + h) * C + c] ? 1f : 0f;
        }
    }

    /// <summary>Writes windows <paramref name="indices"/>: input [B, L, K], target [B, N, C], mask [B, N, C], future [B, N, Ff].</summary>
    public void FillBatch(ReadOnlySpan<int> indices, Span<float> input, Span<float> target, Span<float> mask, Span<float> future)
    {
        int li = Lookback * InputWidth, lt = Horizon * TargetWidth, lf = Horizon * FutureWidth;
        for (int b = 0; b < indices.Length; b++)
            Fill(indices[b], input.Slice(b * li, li), target.Slice(b * lt, lt), mask.Slice(b * lt, lt), future.Slice(b * lf, lf));
    }

    /// <summary>Copies rows [origin − L, origin) of <paramref name="series"/> into input [L, K] (e.g. origin = T to forecast past the end).</summary>
    public static void CopyInput(TimeSeries series, int columnCount, int origin, int lookback, Span<float> input)
    {
        if (origin < lookback || origin > series.Length)
            throw new ArgumentOutOfRangeException(nameof(origin), $"origin {origin} needs {lookback} rows of history within {series.Length}");
        series.Values.AsSpan((origin - lookback) * columnCount, lookback * columnCount).CopyTo(input);
    }
}
