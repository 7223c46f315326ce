using System.Globalization;

namespace Gyre.Data;

/// <summary>
/// Reads the sktime / UEA <c>.ts</c> format: <c>#</c> comment lines, <c>@</c> header lines (@problemName,
/// @timeStamps, @missing, @univariate, @dimensions, @equalLength, @seriesLength, @classLabel, @targetLabel,
/// @data), then one case per line: dimensions separated by <c>:</c>, values by <c>,</c>, the class label or
/// numeric target last. Missing values (<c>?</c> or NaN) are refused unless a fill mode is given.
/// Every error is one <see cref="GyreDataException"/> line naming the file, the case, its line and the dimension.
/// </summary>
public static class TsLoader
{
    private sealed class Header
    {
        public string? ProblemName;
        public bool? Univariate, EqualLength;
        public int? Dimensions, SeriesLength;
        public bool ClassLabel, TargetLabel;
        public List<string>? Classes;
    }

    /// <summary>
    /// Loads <paramref name="path"/>. <paramref name="fill"/>: None (missing values are errors), Ffill or Linear per
    /// dimension. <paramref name="requireLabels"/> false accepts a file without labels (cases to predict).
    /// </summary>
    public static SequenceSet Load(string path, FillMode fill = FillMode.None, bool requireLabels = true)
    {
        if (!File.Exists(path)) throw new GyreDataException("file not found", path);
        if (fill == FillMode.Mask) throw new GyreDataException("--fill mask is not available for sequence data (use ffill or linear)", path);
        var header = new Header();
        var cases = new List<LabeledSequence>();
        bool inData = false;
        int lineNo = 0, dims = 0;
        var values = new List<float>[0];
        try
        {
            foreach (string raw in File.ReadLines(path))
            {
                lineNo++;
                var line = raw.AsSpan().Trim().TrimStart('\uFEFF');
                if (line.IsEmpty || line[0] == '#') continue;
                if (line[0] == '@')
                {
                    if (inData) throw new GyreDataException($"header line '{Clip(line)}' after @data", path, line: lineNo);
                    if (ParseHeader(path, lineNo, line, header)) inData = true;
                    continue;
                }
                if (!inData) throw new GyreDataException("data before the @data line (malformed header)", path, line: lineNo);
                if (dims == 0)
                {
                    dims = header.Dimensions ?? (header.Univariate == true ? 1 : 0);
                    if (dims == 0) dims = CountFields(line) - (header.ClassLabel || header.TargetLabel ? 1 : 0);
                    if (dims <= 0) throw new GyreDataException($"case 1 (line {lineNo}): no values before the label", path);
                    values = new List<float>[dims];
                    for (int d = 0; d < dims; d++) values[d] = new List<float>();
                }
                var c = ParseCase(path, lineNo, cases.Count + 1, line, header, dims, values, fill);
                if (header.EqualLength == true && cases.Count > 0 && c.Length != cases[0].Length)
                    throw new GyreDataException($"case {cases.Count + 1} (line {lineNo}): {c.Length} values per dimension, case 1 has {cases[0].Length} (@equalLength true)", path);
                cases.Add(c);
            }
        }
        catch (IOException e)
        {
            throw new GyreDataException($"cannot read .ts file: {OneLine(e.Message)}", path);
        }
        if (!inData) throw new GyreDataException(lineNo == 0 ? "empty file" : "malformed header: no @data line", path);
        if (cases.Count == 0) throw new GyreDataException("no cases after @data", path);
        var task = header.TargetLabel ? LabelKind.Regression : LabelKind.Classification;
        if (task == LabelKind.Classification && !header.ClassLabel && requireLabels)
            throw new GyreDataException("no labels: the header declares neither @classLabel true nor @targetLabel true", path);
        string name = header.ProblemName ?? Path.GetFileNameWithoutExtension(path);
        return new SequenceSet(path, name, dims, task, cases, header.Classes);
    }

    private static string OneLine(string s) => s.Replace('\r', ' ').Replace('\n', ' ');

    private static string Clip(ReadOnlySpan<char> s) => s.Length <= 40 ? s.ToString() : s[..40].ToString() + "…";

    private static int CountFields(ReadOnlySpan<char> line) => line.Count(':') + 1;

    /// <summary>Applies one header line; true at @data.</summary>
    private static bool ParseHeader(string path, int lineNo, ReadOnlySpan<char> line, Header h)
    {
        var parts = line.ToString().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string key = parts[0][1..].ToLowerInvariant();
        string[] args = parts[1..];
        GyreDataException Bad(string why) => new($"malformed header {parts[0]}: {why}", path, line: lineNo);
        bool Bool()
        {
            if (args.Length != 1) throw Bad($"expects true or false, got '{string.Join(' ', args)}'");
            return args[0].ToLowerInvariant() switch
            {
                "true" => true,
                "false" => false,
                _ => throw Bad($"expects true or false, got '{args[0]}'"),
            };
        }
        int Positive()
        {
            if (args.Length != 1 || !int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n <= 0)
                throw Bad($"expects a positive integer, got '{string.Join(' ', args)}'");
            return n;
        }
        switch (key)
        {
            case "problemname":
                if (args.Length == 0) throw Bad("expects a name");
                h.ProblemName = string.Join(' ', args);
                return false;
            case "timestamps":
                if (Bool()) throw new GyreDataException("timestamped .ts data (@timeStamps true) is not supported: give equally spaced values", path, line: lineNo);
                return false;
            case "missing":
                Bool();   // informative only: '?' is recognised either way and refused unless a fill mode is given
                return false;
            case "univariate":
                h.Univariate = Bool();
                if (h.Univariate == true && h.Dimensions is > 1) throw Bad($"@univariate true contradicts @dimensions {h.Dimensions}");
                return false;
            case "dimension":
            case "dimensions":
                h.Dimensions = Positive();
                if (h.Univariate == true && h.Dimensions > 1) throw Bad($"@dimensions {h.Dimensions} contradicts @univariate true");
                return false;
            case "equallength":
                h.EqualLength = Bool();
                return false;
            case "serieslength":
                h.SeriesLength = Positive();
                return false;
            case "classlabel":
            {
                if (args.Length == 0) throw Bad("expects true or false");
                string flag = args[0].ToLowerInvariant();
                if (flag == "false")
                {
                    if (args.Length > 1) throw Bad("@classLabel false takes no class names");
                    h.ClassLabel = false;
                    return false;
                }
                if (flag != "true") throw Bad($"expects true or false, got '{args[0]}'");
                if (args.Length == 1) throw Bad("@classLabel true must list the class names");
                if (h.TargetLabel) throw Bad("both @classLabel true and @targetLabel true");
                var distinct = new HashSet<string>(StringComparer.Ordinal);
                foreach (var c in args[1..])
                    if (!distinct.Add(c)) throw Bad($"class '{c}' listed twice");
                h.ClassLabel = true;
                h.Classes = [.. args[1..]];
                return false;
            }
            case "targetlabel":
                h.TargetLabel = Bool();
                if (h.TargetLabel && h.ClassLabel) throw Bad("both @classLabel true and @targetLabel true");
                return false;
            case "data":
                if (args.Length != 0) throw Bad("@data takes no value");
                return true;
            default:
                throw new GyreDataException($"malformed header: unknown header line '{parts[0]}'", path, line: lineNo);
        }
    }

    private static LabeledSequence ParseCase(string path, int lineNo, int caseNo, ReadOnlySpan<char> line, Header h, int dims, List<float>[] values, FillMode fill)
    {
        string where = $"case {caseNo} (line {lineNo})";
        bool labelled = h.ClassLabel || h.TargetLabel;
        int fields = CountFields(line);
        if (fields != dims + (labelled ? 1 : 0))
        {
            int got = fields - (labelled ? 1 : 0);
            throw new GyreDataException($"{where}: mixed dimensions: {got} dimension{(got == 1 ? "" : "s")}, expected {dims}"
                + (labelled ? " plus the label" : ""), path);
        }
        foreach (var v in values) v.Clear();
        int d = 0, length = -1;
        bool anyMissing = false;
        string? label = null;
        double target = double.NaN;
        foreach (var range in line.Split(':'))
        {
            var field = line[range].Trim();
            if (d == dims)
            {
                if (field.IsEmpty) throw new GyreDataException($"{where}: empty label", path);
                if (h.TargetLabel)
                {
                    if (!double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out target) || !double.IsFinite(target))
                        throw new GyreDataException($"{where}: target '{Clip(field)}' is not a finite number", path);
                }
                else
                {
                    label = field.ToString();
                    if (h.Classes is not null && !h.Classes.Contains(label))
                        throw new GyreDataException($"{where}: class label '{Clip(field)}' is not declared in @classLabel ({string.Join(' ', h.Classes)})", path);
                }
                break;
            }
            string dimWhere = $"{where}, dimension {d + 1}";
            if (field.IsEmpty) throw new GyreDataException($"{dimWhere}: no values", path);
            var list = values[d];
            int step = 0;
            foreach (var vr in field.Split(','))
            {
                var cell = field[vr].Trim();
                step++;
                if (cell.SequenceEqual("?") || cell.Equals("nan", StringComparison.OrdinalIgnoreCase))
                {
                    if (fill == FillMode.None)
                        throw new GyreDataException($"{dimWhere}: missing value '{cell}' at step {step} (choose a fill mode: --fill linear or ffill)", path);
                    anyMissing = true;
                    list.Add(float.NaN);
                    continue;
                }
                if (cell.Length > 0 && cell[0] == '(')
                    throw new GyreDataException($"{dimWhere}: timestamped values '(t,v)' are not supported", path);
                if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double x))
                    throw new GyreDataException($"{dimWhere}: non-numeric value '{Clip(cell)}' at step {step}", path);
                if (!double.IsFinite(x) || Math.Abs(x) > float.MaxValue)
                    throw new GyreDataException($"{dimWhere}: non-finite value '{Clip(cell)}' at step {step}", path);
                list.Add((float)x);
            }
            if (length < 0) length = list.Count;
            else if (list.Count != length)
                throw new GyreDataException($"{dimWhere}: {list.Count} values, dimension 1 has {length} (dimensions of one case must have equal length)", path);
            d++;
        }
        if (h.SeriesLength is int n && length != n)
            throw new GyreDataException($"{where}: {length} values per dimension, @seriesLength says {n}", path);
        var data = new float[length * dims];   // [T, C]
        for (int c = 0; c < dims; c++)
        {
            var list = values[c];
            for (int t = 0; t < length; t++) data[t * dims + c] = list[t];
        }
        if (anyMissing)
            for (int c = 0; c < dims; c++)
            {
                bool all = true;
                for (int t = 0; t < length && all; t++) all = float.IsNaN(data[t * dims + c]);
                if (all) throw new GyreDataException($"{where}, dimension {c + 1}: every value is missing", path);
                if (fill == FillMode.Linear) MissingValues.Linear(data, dims, c);
                else MissingValues.ForwardFill(data, dims, c);
            }
        return new LabeledSequence($"case {caseNo}", data, dims, label, target, lineNo);
    }
}
