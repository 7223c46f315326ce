using System.Globalization;
using nietras.SeparatedValues;

namespace Gyre.Data;

/// <summary>What to read from a long-format CSV of labelled sequences: one row per (case, time step).</summary>
public sealed record LongCsvOptions
{
    /// <summary>Case id column (required): rows with the same id form one sequence, cases in order of first appearance.</summary>
    public required string IdColumn { get; init; }

    /// <summary>Label column: the class, or the numeric target for regression; constant within a case. Null: unlabelled cases (to predict).</summary>
    public required string? LabelColumn { get; init; }

    /// <summary>Optional time/step column: rows are ordered by it within each case (numbers or dates); duplicates are errors.</summary>
    public string? TimeColumn { get; init; }

    /// <summary>Feature (channel) columns; empty = every other column.</summary>
    public IReadOnlyList<string> Features { get; init; } = [];

    public LabelKind Task { get; init; } = LabelKind.Classification;

    public FillMode Fill { get; init; } = FillMode.None;
}

/// <summary>
/// Reads labelled sequences from a long-format CSV (header row; Sep, invariant numbers): one row per case and
/// step, columns id, label, an optional time column and the feature columns. Missing cells (empty, NA, NaN)
/// are errors unless a fill mode is given. Errors name the file, data row, line and column.
/// </summary>
public static class LongCsvSequences
{
    public static SequenceSet Load(string path, LongCsvOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!File.Exists(path)) throw new GyreDataException("file not found", path);
        if (options.Fill == FillMode.Mask) throw new GyreDataException("--fill mask is not available for sequence data (use ffill or linear)", path);
        var cases = new List<(string Id, string Label, int Line, List<(double Time, int Row, int Line, float[] X)> Steps)>();
        var byId = new Dictionary<string, int>(StringComparer.Ordinal);
        string[] names;
        int[] features;
        try
        {
            using var reader = Sep.Reader(o => o with
            {
                Sep = new Sep(','), HasHeader = true, Unescape = true, Trim = SepTrim.All, DisableColCountCheck = true,
            }).FromFile(path);
            if (reader.Header.IsEmpty) throw new GyreDataException("empty file (a header row is required)", path);
            names = reader.Header.ColNames.ToArray();
            int id = CsvLoader.Resolve(path, names, options.IdColumn, "id");
            int label = options.LabelColumn is null ? -1 : CsvLoader.Resolve(path, names, options.LabelColumn, "label");
            int time = options.TimeColumn is null ? -1 : CsvLoader.Resolve(path, names, options.TimeColumn, "time");
            if (id == label || id == time || (label >= 0 && label == time)) throw new GyreDataException("the id, label and time columns must differ", path);
            features = options.Features.Count > 0
                ? options.Features.Select(f => CsvLoader.Resolve(path, names, f, "feature")).ToArray()
                : Enumerable.Range(0, names.Length).Where(j => j != id && j != label && j != time).ToArray();
            if (features.Length == 0) throw new GyreDataException("no feature columns", path);
            foreach (int f in features)
                if (f == id || f == label || f == time) throw new GyreDataException("a feature column cannot also be the id, label or time column", path, column: names[f]);
            int row = 0;
            foreach (var r in reader)
            {
                row++;
                int line = r.LineNumberFrom;
                if (r.ColCount != names.Length)
                    throw new GyreDataException($"ragged row: {r.ColCount} fields, header has {names.Length}", path, row, line);
                string key = r[id].ToString();
                if (key.Length == 0) throw new GyreDataException("empty id", path, row, line, names[id]);
                string lab = label < 0 ? "" : r[label].ToString();
                if (label >= 0 && lab.Length == 0) throw new GyreDataException("empty label", path, row, line, names[label]);
                if (label >= 0 && options.Task == LabelKind.Regression
                    && (!double.TryParse(lab, NumberStyles.Float, CultureInfo.InvariantCulture, out double y) || !double.IsFinite(y)))
                    throw new GyreDataException($"target '{lab}' is not a finite number", path, row, line, names[label]);
                if (!byId.TryGetValue(key, out int k)) { k = cases.Count; byId[key] = k; cases.Add((key, lab, line, new())); }
                else if (cases[k].Label != lab)
                    throw new GyreDataException($"case '{key}' changes label from '{cases[k].Label}' to '{lab}'", path, row, line, names[label]);
                double t = cases[k].Steps.Count;
                if (time >= 0)
                {
                    var cell = r[time].Span;
                    if (double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double tn) && double.IsFinite(tn)) t = tn;
                    else if (CsvLoader.TryParseTime(cell, out var dt)) t = dt.Ticks;
                    else throw new GyreDataException($"cannot parse time '{cell}' (a number or a date)", path, row, line, names[time]);
                }
                var x = new float[features.Length];
                for (int j = 0; j < features.Length; j++)
                {
                    var cell = r[features[j]].Span;
                    if (cell.IsEmpty || cell.Equals("NA", StringComparison.OrdinalIgnoreCase) || cell.Equals("NaN", StringComparison.OrdinalIgnoreCase) || cell.SequenceEqual("?"))
                    {
                        if (options.Fill == FillMode.None)
                            throw new GyreDataException($"missing value '{cell}' (choose a fill mode: --fill linear or ffill)", path, row, line, names[features[j]]);
                        x[j] = float.NaN;
                        continue;
                    }
                    if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                        throw new GyreDataException($"non-numeric value '{cell}'", path, row, line, names[features[j]]);
                    if (!double.IsFinite(v) || Math.Abs(v) > float.MaxValue)
                        throw new GyreDataException($"non-finite value '{cell}'", path, row, line, names[features[j]]);
                    x[j] = (float)v;
                }
                cases[k].Steps.Add((t, row, line, x));
            }
            if (row == 0) throw new GyreDataException("header only, no data rows", path);
        }
        catch (GyreDataException) { throw; }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or FormatException or IOException or NotSupportedException or UnauthorizedAccessException)
        {
            throw new GyreDataException($"cannot read CSV: {e.Message.Replace('\n', ' ')}", path);
        }

        int C = features.Length;
        var result = new List<LabeledSequence>(cases.Count);
        foreach (var (key, lab, line, steps) in cases)
        {
            if (options.TimeColumn is not null)
            {
                steps.Sort((a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time) : a.Row.CompareTo(b.Row));
                for (int i = 1; i < steps.Count; i++)
                    if (steps[i].Time == steps[i - 1].Time)
                        throw new GyreDataException($"duplicate time in case '{key}' (also at data row {steps[i - 1].Row})", path, steps[i].Row, steps[i].Line, options.TimeColumn);
            }
            var values = new float[steps.Count * C];   // [T, C]
            for (int t = 0; t < steps.Count; t++) steps[t].X.CopyTo(values, t * C);
            for (int c = 0; c < C; c++)
            {
                bool any = false, missing = false;
                for (int t = 0; t < steps.Count; t++) if (float.IsNaN(values[t * C + c])) missing = true; else any = true;
                if (!missing) continue;
                if (!any) throw new GyreDataException($"case '{key}': every value is missing", path, column: names[features[c]]);
                if (options.Fill == FillMode.Linear) MissingValues.Linear(values, C, c);
                else MissingValues.ForwardFill(values, C, c);
            }
            bool labelled = options.LabelColumn is not null;
            double target = labelled && options.Task == LabelKind.Regression ? double.Parse(lab, CultureInfo.InvariantCulture) : double.NaN;
            result.Add(new LabeledSequence(key, values, C, labelled && options.Task == LabelKind.Classification ? lab : null, target, line));
        }
        return new SequenceSet(path, Path.GetFileNameWithoutExtension(path), C, options.Task, result, null);
    }
}
