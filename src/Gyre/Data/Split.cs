using System.Globalization;

namespace Gyre.Data;

/// <summary>Which chronological part of a series.</summary>
public enum SplitPart { Train, Val, Test }

/// <summary>
/// Chronological boundaries of one series: train = rows [0, TrainEnd), val = [TrainEnd, ValEnd),
/// test = [ValEnd, TestEnd). Rows from TestEnd on (possible with row counts) belong to no part.
/// </summary>
public readonly record struct SeriesSplit(int TrainEnd, int ValEnd, int TestEnd)
{
    public int Start(SplitPart part) => part switch { SplitPart.Train => 0, SplitPart.Val => TrainEnd, _ => ValEnd };
    public int End(SplitPart part) => part switch { SplitPart.Train => TrainEnd, SplitPart.Val => ValEnd, _ => TestEnd };
    public int Count(SplitPart part) => End(part) - Start(part);
}

/// <summary>
/// A split specification, applied to each series separately: fractions "0.7,0.1,0.2" or row counts
/// "8640,2880,2880" (two parts "train,test" mean no validation). Fractions: TrainEnd = ⌊f₀·T⌋,
/// ValEnd = TrainEnd + ⌊f₁·T⌋, and the test part runs to T when the fractions sum to 1 (else
/// ValEnd + ⌊f₂·T⌋). Counts take the first n₀+n₁+n₂ rows (the ETT convention); later rows are unused.
/// </summary>
public sealed record SplitSpec(double Train, double Val, double Test, bool IsCount)
{
    public static SplitSpec Default { get; } = new(0.7, 0.1, 0.2, false);

    public static SplitSpec Parse(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length is not (2 or 3)) throw new GyreDataException($"split '{text}' must have 2 or 3 comma-separated parts (train,val,test)");
        var v = new double[3];
        bool allIntegers = true;
        for (int i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out double x) || !double.IsFinite(x) || x < 0)
                throw new GyreDataException($"split '{text}': part '{parts[i]}' is not a non-negative number");
            int slot = parts.Length == 2 && i == 1 ? 2 : i;
            v[slot] = x;
            if (x != Math.Floor(x) || parts[i].Contains('.')) allIntegers = false;
        }
        bool isCount = allIntegers && v.Sum() > 1;
        if (!isCount)
        {
            if (v.Any(x => x > 1) || v.Sum() > 1 + 1e-9) throw new GyreDataException($"split '{text}': fractions must sum to at most 1 (or give whole row counts)");
        }
        if (v[0] <= 0) throw new GyreDataException($"split '{text}': the training part must be positive");
        return new SplitSpec(v[0], v[1], v[2], isCount);
    }

    /// <summary>Boundaries for a series of <paramref name="length"/> rows.</summary>
    public SeriesSplit For(int length, string? file = null, string? seriesId = null)
    {
        if (IsCount)
        {
            long need = (long)Train + (long)Val + (long)Test;
            if (need > length)
                throw new GyreDataException($"series '{seriesId}' has {length} rows, the split {Train},{Val},{Test} needs {need}", file);
            return new SeriesSplit((int)Train, (int)(Train + Val), (int)need);
        }
        int trainEnd = (int)Math.Floor(Train * length);
        int valEnd = trainEnd + (int)Math.Floor(Val * length);
        int testEnd = Math.Abs(Train + Val + Test - 1) < 1e-9 ? length : Math.Min(length, valEnd + (int)Math.Floor(Test * length));
        return new SeriesSplit(trainEnd, valEnd, testEnd);
    }

    /// <summary>Boundaries for every series of <paramref name="set"/>.</summary>
    public SeriesSplit[] For(SeriesSet set) => set.Series.Select(s => For(s.Length, set.Source, s.Id)).ToArray();
}
