using System.Globalization;

namespace Gyre.Cells;

/// <summary>
/// A cell's options by name (nonlinearity, heads, proj_size, a bound, ...), passed through the layer, the
/// layer and model files and the CLI as text ("k=v,k=v"), so a new option needs no change in those places.
/// Keys are lower case; the text form is sorted by key (one canonical form per option set).
/// </summary>
public sealed class CellOptions : IEquatable<CellOptions>
{
    private readonly SortedDictionary<string, string> _values;

    /// <summary>No options.</summary>
    public static readonly CellOptions Empty = new(new SortedDictionary<string, string>(StringComparer.Ordinal));

    private CellOptions(SortedDictionary<string, string> values) => _values = values;

    /// <summary>Options from pairs (keys lower-cased; a repeated key is an error).</summary>
    public static CellOptions From(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var d = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in pairs)
        {
            string key = k.Trim().ToLowerInvariant();
            if (key.Length == 0) throw new ArgumentException("cell option with an empty name");
            if (!d.TryAdd(key, v.Trim())) throw new ArgumentException($"cell option '{key}' given twice");
        }
        return d.Count == 0 ? Empty : new CellOptions(d);
    }

    /// <summary>Parses "k=v,k=v" (empty or null: no options).</summary>
    public static CellOptions Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return Empty;
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"cell option '{part}' is not name=value");
            pairs.Add(new(part[..eq], part[(eq + 1)..]));
        }
        return From(pairs);
    }

    public bool IsEmpty => _values.Count == 0;
    public IEnumerable<string> Keys => _values.Keys;

    /// <summary>The value of <paramref name="key"/>, or null.</summary>
    public string? this[string key] => _values.TryGetValue(key, out var v) ? v : null;

    /// <summary>The options with <paramref name="key"/> removed.</summary>
    public CellOptions Without(string key) => From(_values.Where(p => p.Key != key));

    /// <summary>An integer option or its default; a one-line error naming the option when it does not parse.</summary>
    public int Int(string key, int fallback) => this[key] is { } s
        ? int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new ArgumentException($"cell option {key}='{s}' is not an integer")
        : fallback;

    /// <summary>A number option or its default.</summary>
    public float Float(string key, float fallback) => this[key] is { } s
        ? float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) ? v : throw new ArgumentException($"cell option {key}='{s}' is not a number")
        : fallback;

    /// <summary>Throws a one-line error naming the first option not in <paramref name="known"/>.</summary>
    public void OnlyKnown(string cell, params string[] known)
    {
        foreach (var k in _values.Keys)
            if (Array.IndexOf(known, k) < 0)
                throw new ArgumentException($"cell '{cell}' has no option '{k}'{(known.Length == 0 ? " (it takes none)" : $" (known: {string.Join(", ", known)})")}");
    }

    public override string ToString() => string.Join(",", _values.Select(p => $"{p.Key}={p.Value}"));
    public bool Equals(CellOptions? other) => other is not null && ToString() == other.ToString();
    public override bool Equals(object? obj) => Equals(obj as CellOptions);
    public override int GetHashCode() => ToString().GetHashCode(StringComparison.Ordinal);
}
