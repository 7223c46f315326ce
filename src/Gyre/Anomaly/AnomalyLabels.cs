using System.Text.Json;
using Gyre.Data;

namespace Gyre.Anomaly;

/// <summary>A labelled anomaly window in time (inclusive ends).</summary>
public readonly record struct TimeWindow(DateTime Start, DateTime End);

/// <summary>
/// Labelled anomaly windows in NAB's layout: a JSON object with "anomaly_windows": [[start, end], …]
/// (optional "anomaly_points"), or a bare array of [start, end] pairs as in NAB's combined_windows.json entries.
/// Timestamps as NAB writes them ("2014-04-10 16:15:00.000000") or any form <see cref="CsvLoader.TryParseTime"/> reads.
/// </summary>
public static class AnomalyLabels
{
    public static List<TimeWindow> Load(string path)
    {
        if (!File.Exists(path)) throw new GyreDataException("file not found", path);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new GyreDataException($"not valid JSON ({e.Message})", path, line: (int?)(e.LineNumber + 1));
        }
        using (doc)
        {
            var root = doc.RootElement;
            JsonElement list = root;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (!root.TryGetProperty("anomaly_windows", out list))
                    throw new GyreDataException("no \"anomaly_windows\" array", path);
            }
            if (list.ValueKind != JsonValueKind.Array) throw new GyreDataException("\"anomaly_windows\" is not an array of [start, end] pairs", path);
            var windows = new List<TimeWindow>();
            int k = 0;
            foreach (var pair in list.EnumerateArray())
            {
                k++;
                if (pair.ValueKind != JsonValueKind.Array || pair.GetArrayLength() != 2)
                    throw new GyreDataException($"window {k} is not a [start, end] pair", path);
                var a = Time(pair[0], path, k);
                var b = Time(pair[1], path, k);
                if (b < a) throw new GyreDataException($"window {k} ends ({b:yyyy-MM-dd HH:mm:ss}) before it starts ({a:yyyy-MM-dd HH:mm:ss})", path);
                windows.Add(new TimeWindow(a, b));
            }
            windows.Sort((x, y) => x.Start.CompareTo(y.Start));
            for (int i = 1; i < windows.Count; i++)
                if (windows[i].Start <= windows[i - 1].End) throw new GyreDataException($"windows overlap at {windows[i].Start:yyyy-MM-dd HH:mm:ss}", path);
            return windows;
        }
    }

    private static DateTime Time(JsonElement e, string path, int k) =>
        e.ValueKind == JsonValueKind.String && CsvLoader.TryParseTime(e.GetString(), out var t) ? t
            : throw new GyreDataException($"window {k}: '{e}' is not a timestamp", path);

    /// <summary>Rows each window covers; a window that reaches outside the data's time range is bad input.</summary>
    public static List<RowWindow> ToRows(IReadOnlyList<TimeWindow> windows, IReadOnlyList<DateTime> times, string labelsPath)
    {
        var rows = new List<RowWindow>();
        for (int k = 0; k < windows.Count; k++)
        {
            var w = windows[k];
            if (w.Start < times[0] || w.End > times[^1])
                throw new GyreDataException($"window {k + 1} ({w.Start:yyyy-MM-dd HH:mm:ss} to {w.End:yyyy-MM-dd HH:mm:ss}) lies outside the data "
                    + $"({times[0]:yyyy-MM-dd HH:mm:ss} to {times[^1]:yyyy-MM-dd HH:mm:ss})", labelsPath);
            int start = 0;
            while (start < times.Count && times[start] < w.Start) start++;
            int end = times.Count - 1;
            while (end >= 0 && times[end] > w.End) end--;
            if (end < start) throw new GyreDataException($"window {k + 1} ({w.Start:yyyy-MM-dd HH:mm:ss} to {w.End:yyyy-MM-dd HH:mm:ss}) holds no data row", labelsPath);
            rows.Add(new RowWindow(start, end));
        }
        return rows;
    }
}
