namespace Gyre.Data;

/// <summary>What a sequence set's labels are: class names or a numeric sequence-level target.</summary>
public enum LabelKind
{
    /// <summary>Each case carries a class label (a string).</summary>
    Classification,
    /// <summary>Each case carries one numeric target (e.g. remaining useful life).</summary>
    Regression,
}

/// <summary>
/// One labelled case: <see cref="Length"/> time steps (T) by the set's channel count (C), row-major
/// (<c>Values[t * C + c]</c>). Values are finite once the loader has filled or refused missing values.
/// </summary>
public sealed class LabeledSequence
{
    /// <summary>Case name: "case N" for .ts files, the id column's value for long CSV.</summary>
    public string Id { get; }

    /// <summary>Values [T, C].</summary>
    public float[] Values { get; }

    /// <summary>Number of time steps T.</summary>
    public int Length { get; }

    /// <summary>Class label (classification) or null.</summary>
    public string? Label { get; }

    /// <summary>Numeric target (regression); NaN for classification.</summary>
    public double Target { get; }

    /// <summary>1-based line of the case in its source file (for messages).</summary>
    public int Line { get; }

    public LabeledSequence(string id, float[] values, int channels, string? label, double target, int line)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (channels <= 0 || values.Length % channels != 0)
            throw new ArgumentException($"case '{id}': {values.Length} values do not fill [T, {channels}]");
        Id = id;
        Values = values;
        Length = values.Length / channels;
        Label = label;
        Target = target;
        Line = line;
    }
}

/// <summary>
/// A set of labelled multichannel sequences of possibly unequal length, read from a .ts file
/// (<see cref="TsLoader"/>) or a long-format CSV (<see cref="LongCsvSequences"/>).
/// </summary>
public sealed class SequenceSet
{
    /// <summary>Source file path.</summary>
    public string Path { get; }

    /// <summary>Number of channels C (dimensions).</summary>
    public int Channels { get; }

    public LabelKind Task { get; }

    public IReadOnlyList<LabeledSequence> Cases { get; }

    /// <summary>Class names in the order the file declares them (.ts @classLabel), or null when not declared.</summary>
    public IReadOnlyList<string>? DeclaredClasses { get; }

    /// <summary>Problem name (.ts @problemName) or the file name without extension.</summary>
    public string Name { get; }

    public SequenceSet(string path, string name, int channels, LabelKind task, IReadOnlyList<LabeledSequence> cases, IReadOnlyList<string>? declaredClasses)
    {
        Path = path;
        Name = name;
        Channels = channels;
        Task = task;
        Cases = cases;
        DeclaredClasses = declaredClasses;
    }

    /// <summary>True when every case carries its label or target (false for data to predict).</summary>
    public bool Labelled => Cases.All(c => Task == LabelKind.Classification ? c.Label is not null : !double.IsNaN(c.Target));

    public int MinLength => Cases.Count == 0 ? 0 : Cases.Min(c => c.Length);

    public int MaxLength => Cases.Count == 0 ? 0 : Cases.Max(c => c.Length);

    public bool EqualLength => MinLength == MaxLength;

    /// <summary>
    /// The class names: the declared list when the file has one, else the distinct labels ordered numerically
    /// when all are numbers and ordinally otherwise (so "2" sorts before "10").
    /// </summary>
    public string[] Classes()
    {
        if (Task != LabelKind.Classification || !Labelled) return [];
        if (DeclaredClasses is { Count: > 0 }) return [.. DeclaredClasses];
        var distinct = Cases.Select(c => c.Label!).Distinct(StringComparer.Ordinal).ToList();
        return SortLabels(distinct);
    }

    /// <summary>Numeric labels in numeric order, any other set in ordinal order.</summary>
    public static string[] SortLabels(IEnumerable<string> labels)
    {
        var list = labels.ToList();
        if (list.All(l => double.TryParse(l, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _)))
            return list.OrderBy(l => double.Parse(l, System.Globalization.CultureInfo.InvariantCulture)).ThenBy(l => l, StringComparer.Ordinal).ToArray();
        return list.Order(StringComparer.Ordinal).ToArray();
    }
}
