using System.Globalization;
using nietras.SeparatedValues;

namespace Gyre.Data;

/// <summary>What to read from a CSV file. Column names match exactly, else case-insensitively when unique.</summary>
public sealed record CsvOptions
{
    /// <summary>Time column; null = auto-detect the first column whose every value parses as a date (see <see cref="CsvLoader.TryParseTime"/>).</summary>
    public string? TimeColumn { get; init; }

    /// <summary>Id column for long format (one series per distinct id, in order of first appearance); null = one series.</summary>
    public string? IdColumn { get; init; }

    /// <summary>Target columns; null or ["all"] = every numeric column that is not time, id or a feature.</summary>
    public IReadOnlyList<string>? Targets { get; init; }

    /// <summary>Past covariates: known up to the forecast origin only.</summary>
    public IReadOnlyList<string> Features { get; init; } = [];

    /// <summary>Future-known covariates: known over the horizon too (e.g. calendar, planned inputs).</summary>
    public IReadOnlyList<string> FutureFeatures { get; init; } = [];

    public FillMode Fill { get; init; } = FillMode.None;

    /// <summary>Splits "a,b , c" into names; null or blank gives an empty list. "all" stays as the single name "all".</summary>
    public static IReadOnlyList<string> ParseColumnList(string? text) =>
        string.IsNullOrWhiteSpace(text) ? [] : text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Parses "ffill", "linear", "mask" or "none".</summary>
    public static FillMode ParseFill(string text) => text.Trim().ToLowerInvariant() switch
    {
        "none" or "" => FillMode.None,
        "ffill" => FillMode.Ffill,
        "linear" => FillMode.Linear,
        "mask" => FillMode.Mask,
        _ => throw new GyreDataException($"unknown fill mode '{text}' (expected ffill, linear, mask or none)"),
    };
}

/// <summary>
/// Reads a header-first, comma-separated file (quoted fields allowed, numbers in invariant culture)
/// into a <see cref="SeriesSet"/>, with one-line <see cref="GyreDataException"/>s for bad input.
/// Missing cells are empty, NA, N/A, null, NaN, ±inf, ±Infinity (case-insensitive).
/// </summary>
public static class CsvLoader
{
    private static readonly string[] TimeFormats =
    [
        "yyyy-MM-dd", "yyyy-MM", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm:ss.FFFFFFF",
        "yyyy-MM-ddTHH:mm:ss", "yyyy-MM-ddTHH:mm", "yyyy-MM-ddTHH:mm:ss.FFFFFFF", "yyyy-MM-ddTHH:mm:ssK",
        "yyyy-MM-ddTHH:mm:ss.FFFFFFFK", "yyyy/MM/dd", "yyyy/MM/dd HH:mm:ss", "yyyy/MM/dd HH:mm", "yyyy/MM",
    ];

    /// <summary>
    /// Parses ISO-like dates: yyyy-MM-dd, yyyy-MM (first of the month), yyyy-MM-dd HH:mm[:ss[.fffffff]],
    /// the same with 'T', an optional zone suffix (converted to UTC) and '/' separators. Bare years are not dates.
    /// </summary>
    public static bool TryParseTime(ReadOnlySpan<char> text, out DateTime time)
    {
        if (text.Length < 7 || !char.IsAsciiDigit(text[0])) { time = default; return false; }
        return DateTime.TryParseExact(text, TimeFormats, CultureInfo.InvariantCulture,
            DateTimeStyles.AllowWhiteSpaces | DateTimeStyles.AdjustToUniversal, out time);
    }

    private enum Cell { Number, Missing, Text }

    private static Cell ParseNumber(ReadOnlySpan<char> s, out double value)
    {
        s = s.Trim();
        if (s.IsEmpty || s.Equals("NA", StringComparison.OrdinalIgnoreCase) || s.Equals("N/A", StringComparison.OrdinalIgnoreCase)
            || s.Equals("null", StringComparison.OrdinalIgnoreCase) || s.Equals("inf", StringComparison.OrdinalIgnoreCase)
            || s.Equals("+inf", StringComparison.OrdinalIgnoreCase) || s.Equals("-inf", StringComparison.OrdinalIgnoreCase))
        {
            value = double.NaN;
            return Cell.Missing;
        }
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value))
        {
            if (double.IsFinite(value) && Math.Abs(value) <= float.MaxValue) return Cell.Number;
            value = double.NaN;
            return Cell.Missing;
        }
        value = double.NaN;
        return Cell.Text;
    }

    // Per-column state of the single reading pass.
    private sealed class ColumnData
    {
        public readonly List<float> Numbers = new();
        public int FirstText = -1, FirstMissing = -1;           // data row index (0-based)
        public string? FirstTextValue, FirstMissingValue;
        public bool NumericSeen;
        public List<DateTime>? Dates = new();                   // null once a value failed to parse
        public int FirstBadDate = -1;
        public string? FirstBadDateValue;
        public List<string>? Strings;                            // only for the id column
    }

    /// <summary>Loads <paramref name="path"/>; see <see cref="CsvOptions"/>.</summary>
    public static SeriesSet Load(string path, CsvOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!File.Exists(path)) throw new GyreDataException("file not found", path);
        RejectBinary(path);

        string[] names;
        ColumnData[] cols;
        var lines = new List<int>();
        int idIndex;
        try
        {
            using var reader = Sep.Reader(o => o with
            {
                Sep = new Sep(','),
                HasHeader = true,
                Unescape = true,
                Trim = SepTrim.All,
                DisableColCountCheck = true,
            }).FromFile(path);
            if (reader.Header.IsEmpty) throw new GyreDataException("empty file (a header row is required)", path);
            names = reader.Header.ColNames.ToArray();
            for (int i = 0; i < names.Length; i++)
            {
                if (names[i].Length == 0) throw new GyreDataException($"header field {i + 1} is empty", path, line: 1);
                for (int j = 0; j < i; j++)
                    if (names[i] == names[j]) throw new GyreDataException($"duplicate header name '{names[i]}'", path, line: 1, column: names[i]);
            }
            idIndex = options.IdColumn is null ? -1 : Resolve(path, names, options.IdColumn, "id");
            cols = new ColumnData[names.Length];
            for (int j = 0; j < cols.Length; j++) cols[j] = new ColumnData();
            if (idIndex >= 0) cols[idIndex].Strings = new();

            int row = 0;
            foreach (var r in reader)
            {
                int line = r.LineNumberFrom;
                if (r.ColCount != names.Length)
                    throw new GyreDataException($"ragged row: {r.ColCount} fields, header has {names.Length}", path, row + 1, line);
                for (int j = 0; j < names.Length; j++)
                {
                    var cd = cols[j];
                    var span = r[j].Span;
                    if (cd.Strings is not null) cd.Strings.Add(span.ToString());
                    var kind = ParseNumber(span, out double v);
                    cd.Numbers.Add((float)v);
                    if (kind == Cell.Number) cd.NumericSeen = true;
                    else if (kind == Cell.Missing && cd.FirstMissing < 0) { cd.FirstMissing = row; cd.FirstMissingValue = span.ToString(); }
                    else if (kind == Cell.Text && cd.FirstText < 0) { cd.FirstText = row; cd.FirstTextValue = span.ToString(); }
                    if (cd.Dates is not null)
                    {
                        if (TryParseTime(span, out var dt)) cd.Dates.Add(dt);
                        else { cd.Dates = null; cd.FirstBadDate = row; cd.FirstBadDateValue = span.ToString(); }
                    }
                }
                lines.Add(line);
                row++;
            }
        }
        catch (GyreDataException) { throw; }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or FormatException or IOException or NotSupportedException or UnauthorizedAccessException)
        {
            string reason = OneLine(e.Message);
            throw new GyreDataException($"cannot read CSV: {(reason.Length > 200 ? reason[..200] + "…" : reason)}", path);
        }

        int rows = lines.Count;
        if (rows == 0) throw new GyreDataException("header only, no data rows", path);

        // Time column: explicit, else the first column that parses as dates throughout.
        int timeIndex = -1;
        if (options.TimeColumn is not null)
        {
            timeIndex = Resolve(path, names, options.TimeColumn, "time");
            var cd = cols[timeIndex];
            if (cd.Dates is null)
                throw new GyreDataException($"cannot parse date '{cd.FirstBadDateValue}' (expected e.g. 1958-03-01, 1949-01 or 2014-04-01 00:05:00)",
                    path, cd.FirstBadDate + 1, lines[cd.FirstBadDate], names[timeIndex]);
        }
        else
        {
            for (int j = 0; j < names.Length && timeIndex < 0; j++)
                if (j != idIndex && cols[j].Dates is not null) timeIndex = j;
            // A column whose first value is a date but a later one is not is a time column with a typo:
            // report it rather than silently training without time (the column would drop out as text).
            for (int j = 0; j < names.Length && timeIndex < 0; j++)
                if (j != idIndex && cols[j].FirstBadDate > 0)
                    throw new GyreDataException($"cannot parse date '{cols[j].FirstBadDateValue}' (expected e.g. 1958-03-01, 1949-01 or 2014-04-01 00:05:00)",
                        path, cols[j].FirstBadDate + 1, lines[cols[j].FirstBadDate], names[j]);
        }

        var used = new HashSet<int>();
        if (timeIndex >= 0) used.Add(timeIndex);
        if (idIndex >= 0)
        {
            if (idIndex == timeIndex) throw new GyreDataException("the id column cannot also be the time column", path, column: names[idIndex]);
            used.Add(idIndex);
        }
        int[] past = ResolveNumeric(path, names, cols, lines, options.Features, "feature", used);
        int[] future = ResolveNumeric(path, names, cols, lines, options.FutureFeatures, "future feature", used);
        int[] targets;
        if (options.Targets is null || options.Targets.Count == 0 || (options.Targets.Count == 1 && options.Targets[0].Equals("all", StringComparison.OrdinalIgnoreCase)))
        {
            var list = new List<int>();
            for (int j = 0; j < names.Length; j++)
            {
                if (used.Contains(j) || !cols[j].NumericSeen) continue;
                // Numbers with a stray word among them: a typo in a target, not a text column to skip.
                if (cols[j].FirstText >= 0)
                    throw new GyreDataException($"non-numeric value '{cols[j].FirstTextValue}' in a numeric column (name the targets with --target to leave it out)",
                        path, cols[j].FirstText + 1, lines[cols[j].FirstText], names[j]);
                list.Add(j);
            }
            if (list.Count == 0)
                throw new GyreDataException($"no numeric target column (columns: {string.Join(", ", names)})", path);
            targets = list.ToArray();
        }
        else targets = ResolveNumeric(path, names, cols, lines, options.Targets, "target", used);

        int[] selected = [.. targets, .. past, .. future];
        int C = targets.Length, K = selected.Length;

        if (options.Fill == FillMode.None)
        {
            int worst = -1;
            foreach (int j in selected)
                if (cols[j].FirstMissing >= 0 && (worst < 0 || cols[j].FirstMissing < cols[worst].FirstMissing)) worst = j;
            if (worst >= 0)
            {
                var cd = cols[worst];
                string what = cd.FirstMissingValue!.Length == 0 ? "empty cell" : $"missing or non-finite value '{cd.FirstMissingValue}'";
                throw new GyreDataException($"{what} (choose a fill mode: ffill, linear or mask)", path, cd.FirstMissing + 1, lines[cd.FirstMissing], names[worst]);
            }
        }

        // Group rows by id, keeping the order of first appearance.
        var groups = new List<(string Id, List<int> Rows)>();
        if (idIndex < 0) groups.Add((Path.GetFileNameWithoutExtension(path), Enumerable.Range(0, rows).ToList()));
        else
        {
            var byId = new Dictionary<string, int>(StringComparer.Ordinal);
            var ids = cols[idIndex].Strings!;
            for (int i = 0; i < rows; i++)
            {
                if (ids[i].Length == 0) throw new GyreDataException("empty id", path, i + 1, lines[i], names[idIndex]);
                if (!byId.TryGetValue(ids[i], out int g)) { g = groups.Count; byId[ids[i]] = g; groups.Add((ids[i], new List<int>())); }
                groups[g].Rows.Add(i);
            }
        }

        var series = new List<TimeSeries>(groups.Count);
        foreach (var (id, rowList) in groups)
        {
            int T = rowList.Count;
            DateTime[]? times = null;
            if (timeIndex >= 0)
            {
                times = new DateTime[T];
                var dates = cols[timeIndex].Dates!;
                for (int t = 0; t < T; t++)
                {
                    times[t] = dates[rowList[t]];
                    if (t > 0 && times[t] <= times[t - 1])
                    {
                        int r = rowList[t];
                        string kind = times[t] == times[t - 1] ? "duplicate timestamp" : "unsorted timestamps";
                        string who = idIndex >= 0 ? $" in series '{id}'" : "";
                        throw new GyreDataException($"{kind}{who}: {Format(times[t])} follows {Format(times[t - 1])} (data row {rowList[t - 1] + 1})",
                            path, r + 1, lines[r], names[timeIndex]);
                    }
                }
            }
            var values = new float[T * K];
            bool[]? observed = null;
            for (int k = 0; k < K; k++)
            {
                var nums = cols[selected[k]].Numbers;
                bool any = false, missing = false;
                for (int t = 0; t < T; t++)
                {
                    float v = nums[rowList[t]];
                    values[t * K + k] = v;
                    if (float.IsNaN(v)) missing = true; else any = true;
                }
                if (!missing) continue;
                if (!any)
                    throw new GyreDataException($"no observed values{(idIndex >= 0 ? $" in series '{id}'" : "")}", path, column: names[selected[k]]);
                if (options.Fill == FillMode.Mask && k < C)
                {
                    observed ??= FilledTrue(T * C);
                    for (int t = 0; t < T; t++) if (float.IsNaN(values[t * K + k])) observed[t * C + k] = false;
                }
                if (options.Fill == FillMode.Linear) MissingValues.Linear(values.AsSpan(), K, k);
                else MissingValues.ForwardFill(values.AsSpan(), K, k);
            }
            var srcRows = new int[T];
            for (int t = 0; t < T; t++) srcRows[t] = rowList[t] + 1;
            series.Add(new TimeSeries(id, times, values, K, observed, srcRows));
        }

        return new SeriesSet(path, timeIndex >= 0 ? names[timeIndex] : null, idIndex >= 0 ? names[idIndex] : null,
            selected.Select(j => names[j]).ToArray(), C, past.Length, future.Length, series);
    }

    private static bool[] FilledTrue(int n) { var a = new bool[n]; Array.Fill(a, true); return a; }

    private static string Format(DateTime t) => t.ToString(t.TimeOfDay == TimeSpan.Zero ? "yyyy-MM-dd" : "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>
    /// A model, safetensors or other binary file given as data is named as such rather than parsed into
    /// nonsense: text never holds a NUL byte or more than a trace of other control characters.
    /// </summary>
    private static void RejectBinary(string path)
    {
        Span<byte> head = stackalloc byte[4096];
        int n;
        using (var s = File.OpenRead(path)) n = s.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        int control = 0;
        foreach (byte b in head[..n])
        {
            if (b == 0) { control = n; break; }
            if (b < 0x20 && b is not ((byte)'\t' or (byte)'\n' or (byte)'\r' or 0x0C)) control++;
        }
        if (n > 0 && control * 100 > n)
            throw new GyreDataException("not a CSV file (it holds binary data: a model or safetensors file?)", path);
    }

    private static string OneLine(string s) => s.Replace('\r', ' ').Replace('\n', ' ');

    private static int Resolve(string path, string[] names, string name, string role)
    {
        int hit = Array.IndexOf(names, name);
        if (hit >= 0) return hit;
        int found = -1, count = 0;
        for (int j = 0; j < names.Length; j++)
            if (string.Equals(names[j], name, StringComparison.OrdinalIgnoreCase)) { found = j; count++; }
        if (count == 1) return found;
        throw new GyreDataException($"unknown {role} column '{name}' (columns: {string.Join(", ", names)})", path, column: name);
    }

    private static int[] ResolveNumeric(string path, string[] names, ColumnData[] cols, List<int> lines, IReadOnlyList<string> wanted, string role, HashSet<int> used)
    {
        var result = new int[wanted.Count];
        for (int i = 0; i < wanted.Count; i++)
        {
            int j = Resolve(path, names, wanted[i], role);
            if (!used.Add(j))
                throw new GyreDataException($"column is selected twice (as {role} and as time, id or another role)", path, column: names[j]);
            var cd = cols[j];
            if (cd.FirstText >= 0)
                throw new GyreDataException($"non-numeric value '{cd.FirstTextValue}' in {role} column", path, cd.FirstText + 1, lines[cd.FirstText], names[j]);
            result[i] = j;
        }
        return result;
    }
}
