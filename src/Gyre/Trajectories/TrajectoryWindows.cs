namespace Gyre.Trajectories;

/// <summary>
/// Samples of one agent over Obs + Pred consecutive frames (each gap equal to the frame step), sliding by one
/// frame: positions [S, Obs + Pred, D] row-major, with the agent and first frame of each sample.
/// </summary>
public sealed class TrajectoryWindows
{
    public int Obs { get; }
    public int Pred { get; }
    public int Dims { get; }
    public int Count => Agents.Length;
    /// <summary>[S, Obs + Pred, D]</summary>
    public float[] Positions { get; }
    public string[] Agents { get; }
    public double[] StartFrames { get; }
    /// <summary>
    /// The frame step of the one scene these windows come from; NaN for windows joined from several scenes, whose
    /// frame numbers are not one clock.
    /// </summary>
    public double FrameStep { get; }

    private TrajectoryWindows(int obs, int pred, int dims, float[] positions, string[] agents, double[] starts, double step)
    {
        Obs = obs; Pred = pred; Dims = dims; Positions = positions; Agents = agents; StartFrames = starts; FrameStep = step;
    }

    public int Length => Obs + Pred;

    /// <summary>Sample s's positions [Obs + Pred, D].</summary>
    public ReadOnlySpan<float> Sample(int s) => Positions.AsSpan(s * Length * Dims, Length * Dims);

    /// <summary>The windows of several sets (e.g. scenes) one after another.</summary>
    public static TrajectoryWindows Concat(IReadOnlyList<TrajectoryWindows> parts)
    {
        if (parts.Count == 0) throw new ArgumentException("no windows to join");
        var f = parts[0];
        if (parts.Any(p => p.Obs != f.Obs || p.Pred != f.Pred || p.Dims != f.Dims)) throw new ArgumentException("windows of different shapes cannot be joined");
        if (parts.Count == 1) return f;
        return new TrajectoryWindows(f.Obs, f.Pred, f.Dims, [.. parts.SelectMany(p => p.Positions)], [.. parts.SelectMany(p => p.Agents)], [.. parts.SelectMany(p => p.StartFrames)], double.NaN);
    }

    /// <summary>
    /// The windows of one scene split in time: a scene's frames run from f₀ to f₁ and the cut is c = f₁ − h·(f₁ − f₀);
    /// the first part holds the windows that end before c, the second those that start at c or later (windows across
    /// the cut are in neither, so no training window's future is a validation window's past or truth).
    /// </summary>
    public static (TrajectoryWindows Head, TrajectoryWindows Tail) SplitEnd(TrackSet data, int obs, int pred, double holdout)
    {
        if (!(holdout > 0 && holdout < 1)) throw new ArgumentException($"--holdout {holdout} must lie strictly between 0 and 1");
        double first = data.Tracks.Min(t => t.Frames[0]), last = data.Tracks.Max(t => t.Frames[^1]);
        double cut = last - holdout * (last - first);
        return (Build(data, obs, pred, double.NegativeInfinity, cut), Build(data, obs, pred, cut, double.PositiveInfinity));
    }

    public static TrajectoryWindows Build(TrackSet data, int obs, int pred) => Build(data, obs, pred, double.NegativeInfinity, double.PositiveInfinity);

    /// <summary>The windows whose frames all lie in [from, to).</summary>
    private static TrajectoryWindows Build(TrackSet data, int obs, int pred, double from, double to)
    {
        if (obs < 2) throw new ArgumentException($"--obs {obs}: at least 2 observed positions are needed (one velocity)");
        if (pred < 1) throw new ArgumentException($"--pred {pred}: at least 1 predicted position is needed");
        int len = obs + pred, d = data.Dims;
        double step = data.FrameStep, tol = 1e-6 * Math.Max(1, Math.Abs(step));
        var pos = new List<float>();
        var agents = new List<string>();
        var starts = new List<double>();
        foreach (var t in data.Tracks)
        {
            int run = 1;   // length of the consecutive run ending at point i
            for (int i = 1; i < t.Length; i++)
            {
                run = Math.Abs(t.Frames[i] - t.Frames[i - 1] - step) <= tol ? run + 1 : 1;
                if (run < len) continue;
                int first = i - len + 1;
                if (t.Frames[first] < from || t.Frames[i] >= to) continue;
                pos.AddRange(t.Positions.AsSpan(first * d, len * d));
                agents.Add(t.Agent);
                starts.Add(t.Frames[first]);
            }
        }
        return new TrajectoryWindows(obs, pred, d, pos.ToArray(), agents.ToArray(), starts.ToArray(), step);
    }
}
