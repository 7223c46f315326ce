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

    /// <summary>Field separator; null = detected from the header line (',', ';', tab or '|').</summary>
    public char? Separator { get; init; }

    /// <summary>Decimal mark ('.' or ','); null = '.' unless the numbers are written with a decimal comma (30,53).</summary>
    public char? Decimal { get; init; }

    /// <summary>Time format: null = detected (see <see cref="TimeParsing"/>); "epoch", "epoch-s", "epoch-ms"; or a .NET custom format.</summary>
    public string? TimeFormat { get; init; }

    /// <summary>
    /// Whole missing steps in a regular time index: keep the rows consecutive (the default for library callers;
    /// <see cref="SeriesSet.ReadInfo"/> counts them), refuse naming the first (the CLI's default), or fill.
    /// </summary>
    public GapMode Gaps { get; init; } = GapMode.Keep;

    /// <summary>Splits "a,b , c" into names; null or blank gives an empty list. "all" stays as the single name "all".</summary>
    public static IReadOnlyList<string> ParseColumnList(string? text) =>
        string.IsNullOrWhiteSpace(text) ? [] : text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Parses a separator: one character, or the words tab, comma, semicolon, pipe, space; null or "auto" = detect.</summary>
    public static char? ParseSeparator(string? text) => text?.ToLowerInvariant() switch
    {
        null or "" or "auto" => null,
        "tab" or "\\t" or "\t" => '\t',
        "comma" => ',',
        "semicolon" => ';',
        "pipe" => '|',
        "space" => ' ',
        { Length: 1 } t => t[0],
        _ => throw new GyreDataException($"--sep: '{text}' is not one character (or tab, comma, semicolon, pipe, space, auto)"),
    };

    /// <summary>Parses a decimal mark: '.', ',' (or "comma", "dot"); null or "auto" = detect.</summary>
    public static char? ParseDecimal(string? text) => text?.ToLowerInvariant() switch
    {
        null or "" or "auto" => null,
        "." or "dot" or "point" => '.',
        "," or "comma" => ',',
        _ => throw new GyreDataException($"--decimal: '{text}' must be '.' or ','"),
    };

    /// <summary>Parses a gap mode: error, fill or keep.</summary>
    public static GapMode ParseGaps(string text) => text.Trim().ToLowerInvariant() switch
    {
        "error" => GapMode.Error,
        "fill" => GapMode.Fill,
        "keep" or "allow" or "" => GapMode.Keep,
        _ => throw new GyreDataException($"unknown gap mode '{text}' (expected error, fill or keep)"),
    };

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
/// Reads a header-first delimited file (comma, semicolon, tab or pipe, detected from the header line unless
/// given; quoted fields allowed; a decimal point or a decimal comma) into a <see cref="SeriesSet"/>, with
/// one-line <see cref="GyreDataException"/>s for bad input. Missing cells are empty, NA, N/A, null, NaN,
/// ±inf, ±Infinity (case-insensitive). Trailing blank lines are skipped. What was detected is in
/// <see cref="SeriesSet.ReadInfo"/>.
/// </summary>
public static class CsvLoader
{
    /// <summary>
    /// Parses one time stamp in the ISO forms the loader detects without help (see <see cref="TimeParsing"/>
    /// for every dialect): yyyy-MM-dd, yyyy-MM, yyyy-MM-dd HH:mm[:ss[.fffffff]], 'T', '/' separators, a UTC
    /// offset (the local clock time is returned). Bare years are not dates.
    /// </summary>
    public static bool TryParseTime(ReadOnlySpan<char> text, out DateTime time)
    {
        time = default;
        if (text.Length < 7 || !char.IsAsciiDigit(text[0])) return false;
        var tc = TimeParsing.TryRead([text.ToString()], null, false, out _, out _);
        if (tc is null || tc.Format != "ISO 8601") return false;
        time = tc.Times[0];
        return true;
    }

    private enum Cell { Number, Missing, Text }

    private static readonly NumberFormatInfo CommaDecimal = new() { NumberDecimalSeparator = ",", NumberGroupSeparator = "\u0001" };

    private static Cell ParseNumber(ReadOnlySpan<char> s, NumberFormatInfo format, out double value)
    {
        s = s.Trim();
        if (s.IsEmpty || s.Equals("NA", StringComparison.OrdinalIgnoreCase) || s.Equals("N/A", StringComparison.OrdinalIgnoreCase)
            || s.Equals("null", StringComparison.OrdinalIgnoreCase) || s.Equals("inf", StringComparison.OrdinalIgnoreCase)
            || s.Equals("+inf", StringComparison.OrdinalIgnoreCase) || s.Equals("-inf", StringComparison.OrdinalIgnoreCase))
        {
            value = double.NaN;
            return Cell.Missing;
        }
        if (double.TryParse(s, NumberStyles.Float, format, out value))
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
        public List<string>? RawTimes = new();                  // time candidates' cells; null once a cell cannot be a time
        public int FirstNotTime = -1;
        public string? FirstNotTimeValue, FirstValue;
        public bool EpochCandidate;
        public List<string>? Strings;                            // only for the id column
    }

    /// <summary>The most frequent of ',', ';', tab and '|' outside quotes in the header line; ',' when none occurs.</summary>
    public static char DetectSeparator(string path)
    {
        string? header;
        using (var r = new StreamReader(path, detectEncodingFromByteOrderMarks: true)) header = r.ReadLine();
        if (header is null) return ',';
        var counts = new Dictionary<char, int> { [','] = 0, [';'] = 0, ['\t'] = 0, ['|'] = 0 };
        bool quoted = false;
        foreach (char ch in header)
        {
            if (ch == '"') quoted = !quoted;
            else if (!quoted && counts.ContainsKey(ch)) counts[ch]++;
        }
        var best = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key == ',' ? 0 : 1).First();
        return best.Value > 0 ? best.Key : ',';
    }

    /// <summary>
    /// ',' when numbers in the first 1000 data rows are written with a decimal comma (30,53) and none with a
    /// decimal point; '.' otherwise. Returns a deciding cell as <paramref name="evidence"/>.
    /// </summary>
    public static char DetectDecimal(string path, char separator, out string? evidence)
    {
        evidence = null;
        int comma = 0, point = 0;
        using var reader = Sep.Reader(o => o with { Sep = new Sep(separator), HasHeader = true, Unescape = true, Trim = SepTrim.All, DisableColCountCheck = true })
            .FromFile(path);
        int rows = 0;
        foreach (var r in reader)
        {
            for (int j = 0; j < r.ColCount; j++)
            {
                var c = r[j].Span;
                if (LooksLikeCommaDecimal(c)) { comma++; evidence ??= c.ToString(); }
                else if (LooksLikePointDecimal(c)) point++;
            }
            if (++rows >= 1000) break;
        }
        return comma > 0 && point == 0 ? ',' : '.';
    }

    private static bool LooksLikeCommaDecimal(ReadOnlySpan<char> c) => LooksLikeDecimal(c, ',', '.');
    private static bool LooksLikePointDecimal(ReadOnlySpan<char> c) => LooksLikeDecimal(c, '.', ',');

    // [+-]digits MARK digits [e±digits], with no other mark: 30,53 or -0.5e3; dates like 01.07.2016 have two marks.
    private static bool LooksLikeDecimal(ReadOnlySpan<char> c, char mark, char other)
    {
        if (c.Length > 0 && (c[0] == '+' || c[0] == '-')) c = c[1..];
        int at = c.IndexOf(mark);
        if (at <= 0 || at == c.Length - 1 || c.Contains(other) || c[(at + 1)..].Contains(mark)) return false;
        for (int i = 0; i < at; i++) if (!char.IsAsciiDigit(c[i])) return false;
        int e = c.IndexOfAny('e', 'E');
        var frac = e > at ? c[(at + 1)..e] : c[(at + 1)..];
        foreach (char ch in frac) if (!char.IsAsciiDigit(ch)) return false;
        return frac.Length > 0;
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
        int idIndex, explicitTime = -1;
        char separator, decimalMark;
        string? decimalEvidence = null;
        int blankLines = 0;
        try
        {
            separator = options.Separator ?? DetectSeparator(path);
            decimalMark = options.Decimal ?? DetectDecimal(path, separator, out decimalEvidence);
            var numberFormat = decimalMark == ',' ? CommaDecimal : CultureInfo.InvariantCulture.NumberFormat;
            using var reader = Sep.Reader(o => o with
            {
                Sep = new Sep(separator),
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
            if (options.TimeColumn is not null) explicitTime = Resolve(path, names, options.TimeColumn, "time");
            bool epochFormat = options.TimeFormat is { } tf && tf.Trim().StartsWith("epoch", StringComparison.OrdinalIgnoreCase);
            cols = new ColumnData[names.Length];
            for (int j = 0; j < cols.Length; j++)
                cols[j] = new ColumnData { EpochCandidate = j == explicitTime || epochFormat || TimeParsing.IsTimeLikeName(names[j]) };
            if (idIndex >= 0) cols[idIndex].Strings = new();

            int row = 0;
            int firstBlankLine = -1;
            void Cell(int j, ReadOnlySpan<char> span)
            {
                var cd = cols[j];
                if (cd.Strings is not null) cd.Strings.Add(span.ToString());
                var kind = ParseNumber(span, numberFormat, out double v);
                cd.Numbers.Add((float)v);
                if (kind == CsvLoader.Cell.Number) cd.NumericSeen = true;
                else if (kind == CsvLoader.Cell.Missing && cd.FirstMissing < 0) { cd.FirstMissing = row; cd.FirstMissingValue = span.ToString(); }
                else if (kind == CsvLoader.Cell.Text && cd.FirstText < 0) { cd.FirstText = row; cd.FirstTextValue = span.ToString(); }
                if (row == 0) cd.FirstValue = span.ToString();
                if (cd.RawTimes is not null)
                {
                    // A user format may look like anything ("01 Jul 2016"); otherwise only date-shaped cells stay candidates.
                    bool candidate = options.TimeFormat is not null && !epochFormat ? !span.Trim().IsEmpty : TimeParsing.CouldBeTime(span, cd.EpochCandidate);
                    if (candidate) cd.RawTimes.Add(span.ToString());
                    else { cd.RawTimes = null; cd.FirstNotTime = row; cd.FirstNotTimeValue = span.ToString(); }
                }
            }
            foreach (var r in reader)
            {
                int line = r.LineNumberFrom;
                if (r.ColCount == 1 && r[0].Span.Trim().IsEmpty)
                {
                    // Blank lines at the end are an editor's habit; inside the data they are an error (or, in a
                    // one-column file, a missing value) once a later row shows they were not trailing.
                    if (blankLines++ == 0) firstBlankLine = line;
                    continue;
                }
                if (blankLines > 0)
                {
                    if (names.Length > 1)
                        throw new GyreDataException("blank line inside the data (only trailing blank lines are skipped)", path, row + 1, firstBlankLine);
                    for (int b = 0; b < blankLines; b++) { Cell(0, ""); lines.Add(firstBlankLine + b); row++; }
                    blankLines = 0;
                }
                if (r.ColCount != names.Length)
                    throw new GyreDataException($"ragged row: {r.ColCount} fields, header has {names.Length}{SeparatorHint(separator, options.Separator is null, names.Length, r.ColCount)}", path, row + 1, line);
                for (int j = 0; j < names.Length; j++) Cell(j, r[j].Span);
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

        // Time column: explicit, else the first column that reads as time stamps throughout.
        int timeIndex = -1;
        TimeColumn? timeColumn = null;
        string? noTimeReason = null;
        if (explicitTime >= 0)
        {
            timeIndex = explicitTime;
            var cd = cols[timeIndex];
            if (cd.RawTimes is null)
                throw new GyreDataException($"cannot parse date '{cd.FirstNotTimeValue}' ({ExpectedDates}{FormatHint(options)})",
                    path, cd.FirstNotTime + 1, lines[cd.FirstNotTime], names[timeIndex]);
            timeColumn = TimeParsing.TryRead(cd.RawTimes, options.TimeFormat, true, out int bad, out string reason)
                ?? throw new GyreDataException($"cannot parse date '{cd.RawTimes[bad]}': {reason}{FormatHint(options)}", path, bad + 1, lines[bad], names[timeIndex]);
        }
        else
        {
            for (int j = 0; j < names.Length && timeIndex < 0; j++)
            {
                var cd = cols[j];
                if (j == idIndex) continue;
                if (cd.RawTimes is not null)
                {
                    var tc = TimeParsing.TryRead(cd.RawTimes, options.TimeFormat, cd.EpochCandidate, out int bad, out string reason);
                    if (tc is not null) { timeIndex = j; timeColumn = tc; break; }
                    // The first cells read as dates and a later one does not: a time column with a typo. Report it
                    // rather than silently training without time (the column would drop out as text).
                    if (bad > 0)
                        throw new GyreDataException($"cannot parse date '{cd.RawTimes[bad]}': {reason}{FormatHint(options)}", path, bad + 1, lines[bad], names[j]);
                    noTimeReason ??= $"'{names[j]}' has '{cd.RawTimes[0]}': {reason}";
                }
                else if (cd.FirstNotTime > 0 && cd.FirstValue is { } first && TimeParsing.TryRead([first], options.TimeFormat, false, out _, out _) is not null)
                    throw new GyreDataException($"cannot parse date '{cd.FirstNotTimeValue}' ({ExpectedDates}{FormatHint(options)})",
                        path, cd.FirstNotTime + 1, lines[cd.FirstNotTime], names[j]);
            }
            if (timeIndex < 0)
                noTimeReason ??= cols.Where((c, j) => j != idIndex).All(c => c.FirstText < 0)
                    ? "every column is numeric; name epoch time stamps with --time-col"
                    : $"no column reads as dates: {string.Join(", ", names.Where((n, j) => j != idIndex && cols[j].FirstText >= 0).Take(3).Select(n => $"'{n}'"))} hold text; name one with --time-col and --time-format";
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
                throw new GyreDataException($"no numeric target column (columns: {string.Join(", ", names)}){SeparatorHint(separator, options.Separator is null, names.Length, names.Length)}", path);
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
        var gaps = new GapCount();
        TimeStep? firstStep = null;
        foreach (var (id, rowList) in groups)
        {
            int T = rowList.Count;
            DateTime[]? times = null;
            if (timeColumn is not null)
            {
                times = new DateTime[T];
                for (int t = 0; t < T; t++)
                {
                    times[t] = timeColumn.Times[rowList[t]];
                    if (t > 0 && times[t] <= times[t - 1])
                    {
                        int r = rowList[t];
                        string kind = times[t] == times[t - 1] ? "duplicate timestamp" : "unsorted timestamps";
                        string who = idIndex >= 0 ? $" in series '{id}'" : "";
                        string hint = idIndex < 0 && times[t] <= times[0] ? RestartHint(names, cols, timeIndex) : "";
                        throw new GyreDataException($"{kind}{who}: {Format(times[t])} follows {Format(times[t - 1])} (data row {rowList[t - 1] + 1}){hint}",
                            path, r + 1, lines[r], names[timeIndex]);
                    }
                }
            }
            // Rows of the series in time order; -1 marks a step inserted into a gap (filled below).
            var source = rowList;
            if (times is not null && T >= 2)
            {
                var step = TimeStep.Infer(times);
                firstStep ??= step;
                var inserted = CheckGaps(path, id, idIndex >= 0, names[timeIndex], times, step, rowList, lines, options, gaps);
                if (inserted is not null)
                {
                    (source, times) = inserted.Value;
                    T = source.Count;
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
                    float v = source[t] >= 0 ? nums[source[t]] : float.NaN;
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
            // An inserted step reports the data row before it (it has no row of its own).
            for (int t = 0, last = 1; t < T; t++) srcRows[t] = source[t] >= 0 ? (last = source[t] + 1) : last;
            series.Add(new TimeSeries(id, times, values, K, observed, srcRows));
        }

        var info = new CsvReadInfo
        {
            Separator = separator, SeparatorDetected = options.Separator is null,
            Decimal = decimalMark, DecimalDetected = options.Decimal is null, DecimalEvidence = decimalEvidence,
            TimeColumn = timeIndex >= 0 ? names[timeIndex] : null, TimeFormat = timeColumn?.Format, TimeNote = timeColumn?.Note,
            OffsetSuffix = timeColumn?.OffsetSuffix ?? "", NoTimeReason = noTimeReason, Step = firstStep,
            SeriesCount = series.Count, Rows = rows, BlankLinesSkipped = blankLines,
            Gaps = gaps.Holes, MissingSteps = gaps.Missing, FirstGap = gaps.First, GapMode = options.Gaps, IrregularSteps = gaps.Irregular,
        };
        return new SeriesSet(path, timeIndex >= 0 ? names[timeIndex] : null, idIndex >= 0 ? names[idIndex] : null,
            selected.Select(j => names[j]).ToArray(), C, past.Length, future.Length, series) { ReadInfo = info };
    }

    private const string ExpectedDates = "expected e.g. 1958-03-01, 1949-01, 2014-04-01 00:05:00, 01/07/2016 00:00 or Unix epoch seconds";

    private static string FormatHint(CsvOptions o) => o.TimeFormat is null ? "; give the format with --time-format, e.g. \"dd.MM.yyyy HH:mm\"" : "";

    private static string SeparatorHint(char separator, bool detected, int headerFields, int rowFields) =>
        headerFields == 1 && rowFields >= 1 ? $" (the header has one field with separator {(separator == '\t' ? "tab" : $"'{separator}'")}{(detected ? ", detected" : "")}; pass --sep)" : "";

    private static string RestartHint(string[] names, ColumnData[] cols, int timeIndex)
    {
        // Time running back to the start means several series stacked in one file (long format).
        string? candidate = null;
        for (int j = 0; j < names.Length && candidate is null; j++)
            if (j != timeIndex && cols[j].FirstText >= 0 && !cols[j].NumericSeen) candidate = names[j];
        return candidate is null
            ? "; the timestamps start over, as in long-format data with several series: name the series column with --id-col"
            : $"; the timestamps start over, as in long-format data with several series: name the series column with --id-col (e.g. --id-col {candidate})";
    }

    private sealed class GapCount { public int Holes, Irregular; public long Missing; public string? First; }

    /// <summary>
    /// Finds whole missing steps in <paramref name="times"/>; refuses (<see cref="GapMode.Error"/>), counts
    /// (<see cref="GapMode.Keep"/>) or returns the rows with the missing steps inserted as -1 (<see cref="GapMode.Fill"/>).
    /// </summary>
    private static (List<int>, DateTime[])? CheckGaps(string path, string id, bool named, string timeName, DateTime[] times, TimeStep step,
        List<int> rowList, List<int> lines, CsvOptions options, GapCount gaps)
    {
        List<int>? source = null;
        List<DateTime>? filled = null;
        const long MaxInserted = 10_000_000;
        for (int t = 1; t < times.Length; t++)
        {
            long k = step.StepsBetween(times[t - 1], times[t]);
            if (k < 0) gaps.Irregular++;
            else if (k > 1)
            {
                gaps.Holes++;
                gaps.Missing += k - 1;
                int r = rowList[t];
                string what = $"{k - 1} {step.Describe()} step(s) missing between {Format(times[t - 1])} and {Format(times[t])}{(named ? $" in series '{id}'" : "")} (data row {r + 1})";
                gaps.First ??= what;
                if (options.Gaps == GapMode.Error)
                    throw new GyreDataException($"gap in the time index: {what}; pass --fill-gaps to insert and fill them with --fill, or --allow-gaps to keep the rows consecutive",
                        path, r + 1, lines[r], timeName);
                if (options.Gaps == GapMode.Fill)
                {
                    if (options.Fill == FillMode.None)
                        throw new GyreDataException($"--fill-gaps needs a fill method for the inserted steps (--fill ffill, linear or mask); first gap: {what}", path, r + 1, lines[r], timeName);
                    if (gaps.Missing > MaxInserted)
                        throw new GyreDataException($"filling the gaps would insert more than {MaxInserted} steps; first gap: {what}", path, r + 1, lines[r], timeName);
                    if (source is null)
                    {
                        source = rowList.Take(t).ToList();
                        filled = times.Take(t).ToList();
                    }
                    for (long i = 1; i < k; i++) { source.Add(-1); filled!.Add(step.Advance(times[t - 1], (int)i)); }
                }
            }
            if (source is not null) { source.Add(rowList[t]); filled!.Add(times[t]); }
        }
        return source is null ? null : (source, filled!.ToArray());
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

    internal static int Resolve(string path, string[] names, string name, string role)
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
