using System.Globalization;
using Gyre.Data;
using nietras.SeparatedValues;

namespace Gyre.Trajectories;

/// <summary>One agent's track: frames (time stamps, increasing) and positions [N, D] (D = 2 or 3, metres).</summary>
public sealed class Track(string agent, double[] frames, float[] positions, int[] lines)
{
    public string Agent { get; } = agent;
    public double[] Frames { get; } = frames;
    /// <summary>[N, D]</summary>
    public float[] Positions { get; } = positions;
    /// <summary>1-based source line of each point [N] (for messages).</summary>
    public int[] Lines { get; } = lines;
    public int Length => Frames.Length;
}

/// <summary>
/// Tracks of moving agents read from one file, with the frame step (the most common gap between an agent's
/// consecutive frames) that defines "consecutive".
/// </summary>
public sealed class TrackSet
{
    public string Source { get; }
    /// <summary>Coordinates per point D: 2 (x, y) or 3 (x, y, z).</summary>
    public int Dims { get; }
    public double FrameStep { get; }
    public IReadOnlyList<Track> Tracks { get; }

    public TrackSet(string source, int dims, IReadOnlyList<Track> tracks)
    {
        Source = source;
        Dims = dims;
        Tracks = tracks;
        FrameStep = DetectStep(tracks);
    }

    private static double DetectStep(IReadOnlyList<Track> tracks)
    {
        var counts = new Dictionary<double, int>();
        foreach (var t in tracks)
            for (int i = 1; i < t.Length; i++)
            {
                double d = Math.Round(t.Frames[i] - t.Frames[i - 1], 9);
                counts[d] = counts.GetValueOrDefault(d) + 1;
            }
        // Most common gap; ties go to the smaller gap.
        return counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).First().Key;
    }

    /// <summary>
    /// Reads the ETH/UCY text layout: one point per line, "frame agent x y" separated by tabs or spaces;
    /// blank lines are skipped. A malformed line, an agent seen at one frame only or the same agent twice in a
    /// frame is bad input naming the file and line.
    /// </summary>
    public static TrackSet LoadText(string path)
    {
        if (!File.Exists(path)) throw new GyreDataException("file not found", path);
        var points = new List<(double Frame, string Agent, float X, float Y, float Z, int Line)>();
        int lineNo = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNo++;
            var f = raw.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 0) continue;
            if (f.Length != 4)
                throw new GyreDataException($"expected 4 fields 'frame agent x y', found {f.Length}", path, line: lineNo);
            double frame = Number(f[0], path, lineNo, "frame"), x = Number(f[2], path, lineNo, "x"), y = Number(f[3], path, lineNo, "y");
            Number(f[1], path, lineNo, "agent");
            points.Add((frame, f[1], (float)x, (float)y, 0, lineNo));
        }
        if (points.Count == 0) throw new GyreDataException("empty file (expected lines 'frame agent x y')", path);
        return Build(path, 2, points);
    }

    /// <summary>
    /// Reads a CSV with a header: time (numbers, e.g. frames or seconds, or dates, taken in seconds), agent id and
    /// coordinate columns (x, y and optionally z).
    /// </summary>
    public static TrackSet LoadCsv(string path, string timeCol, string idCol, string xCol, string yCol, string? zCol)
    {
        if (!File.Exists(path)) throw new GyreDataException("file not found", path);
        var points = new List<(double Frame, string Agent, float X, float Y, float Z, int Line)>();
        try
        {
            using var reader = Sep.Reader(o => o with { Sep = new Sep(','), HasHeader = true, Unescape = true, Trim = SepTrim.All, DisableColCountCheck = true }).FromFile(path);
            if (reader.Header.IsEmpty) throw new GyreDataException("empty file (a header row is required)", path);
            var names = reader.Header.ColNames.ToArray();
            int Col(string name, string what)
            {
                int i = Array.IndexOf(names, name);
                if (i < 0) i = Array.FindIndex(names, n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase));
                return i >= 0 ? i : throw new GyreDataException($"no {what} column '{name}' (columns: {string.Join(", ", names)})", path, line: 1, column: name);
            }
            int ti = Col(timeCol, "time"), ii = Col(idCol, "id"), xi = Col(xCol, "x"), yi = Col(yCol, "y"), zi = zCol is null ? -1 : Col(zCol, "z");
            foreach (var r in reader)
            {
                int line = r.LineNumberFrom;
                if (r.ColCount != names.Length)
                    throw new GyreDataException($"ragged row: {r.ColCount} fields, header has {names.Length}", path, line: line);
                string ts = r[ti].ToString();
                double frame = double.TryParse(ts, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && double.IsFinite(n) ? n
                    : CsvLoader.TryParseTime(ts, out var dt) ? (dt - DateTime.UnixEpoch).TotalSeconds
                    : throw new GyreDataException($"'{ts}' is neither a number nor a date", path, line: line, column: names[ti]);
                string id = r[ii].ToString();
                if (id.Length == 0) throw new GyreDataException("empty agent id", path, line: line, column: names[ii]);
                float x = (float)Number(r[xi].ToString(), path, line, names[xi]), y = (float)Number(r[yi].ToString(), path, line, names[yi]);
                float z = zi < 0 ? 0 : (float)Number(r[zi].ToString(), path, line, names[zi]);
                points.Add((frame, id, x, y, z, line));
            }
        }
        catch (GyreDataException) { throw; }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or FormatException or IOException)
        {
            throw new GyreDataException($"cannot read CSV: {e.Message.ReplaceLineEndings(" ")}", path);
        }
        if (points.Count == 0) throw new GyreDataException("header only, no data rows", path);
        return Build(path, zCol is null ? 2 : 3, points);
    }

    private static double Number(string s, string path, int line, string what) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) && Math.Abs(v) <= float.MaxValue ? v
            : throw new GyreDataException($"{what} '{s}' is not a finite number", path, line: line);

    private static TrackSet Build(string path, int dims, List<(double Frame, string Agent, float X, float Y, float Z, int Line)> points)
    {
        var tracks = new List<Track>();
        foreach (var g in points.GroupBy(p => p.Agent))
        {
            var pts = g.OrderBy(p => p.Frame).ToArray();
            if (pts.Length == 1)
                throw new GyreDataException($"agent {g.Key} appears in one frame only (a track needs two)", path, line: pts[0].Line);
            for (int i = 1; i < pts.Length; i++)
                if (pts[i].Frame == pts[i - 1].Frame)
                    throw new GyreDataException($"agent {g.Key} appears twice in frame {pts[i].Frame.ToString(CultureInfo.InvariantCulture)}", path,
                        line: Math.Max(pts[i].Line, pts[i - 1].Line));
            var pos = new float[pts.Length * dims];   // [N, D]
            for (int i = 0; i < pts.Length; i++)
            {
                pos[i * dims] = pts[i].X;
                pos[i * dims + 1] = pts[i].Y;
                if (dims == 3) pos[i * dims + 2] = pts[i].Z;
            }
            tracks.Add(new Track(g.Key, pts.Select(p => p.Frame).ToArray(), pos, pts.Select(p => p.Line).ToArray()));
        }
        return new TrackSet(path, dims, tracks);
    }
}
