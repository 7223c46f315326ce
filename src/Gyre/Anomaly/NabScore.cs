namespace Gyre.Anomaly;

/// <summary>A NAB application profile: the weights of a true positive, a false positive and a missed window.</summary>
public sealed record NabProfile(string Name, double TruePositive, double FalsePositive, double FalseNegative)
{
    public static readonly NabProfile Standard = new("standard", 1.0, 0.11, 1.0);
    public static readonly NabProfile RewardLowFalsePositives = new("reward_low_fp", 1.0, 0.22, 1.0);
    public static readonly NabProfile RewardLowFalseNegatives = new("reward_low_fn", 1.0, 0.11, 2.0);
    public static readonly NabProfile[] All = [Standard, RewardLowFalsePositives, RewardLowFalseNegatives];
}

/// <summary>Labelled window as inclusive row indices.</summary>
public readonly record struct RowWindow(int Start, int End)
{
    public int Length => End - Start + 1;
}

/// <summary>What a set of detections scored against labelled windows.</summary>
/// <param name="Profile">The profile's name.</param>
/// <param name="Windows">Labelled windows.</param>
/// <param name="WindowsHit">Windows with at least one detection inside.</param>
/// <param name="FalseDetections">Detections outside every window (after the probationary period).</param>
/// <param name="Raw">The profile's raw score S.</param>
/// <param name="Normalized">100·(S − S_null)/(S_perfect − S_null); null when the file has no window (both references are 0).</param>
public sealed record NabResult(string Profile, int Windows, int WindowsHit, int FalseDetections, double Raw, double? Normalized);

/// <summary>
/// The Numenta Anomaly Benchmark score (Lavin &amp; Ahmad, "Evaluating real-time anomaly detection algorithms —
/// the Numenta Anomaly Benchmark", ICMLA 2015; Ahmad et al., Neurocomputing 2017), for one file:
/// <list type="bullet">
/// <item>σ(y) = 2/(1 + e^(5y)) − 1 (and −1 for y ≥ 3), y the detection's position relative to the nearest window's right end.</item>
/// <item>Each window contributes A_TP·σ(y)/σ(−1) for its earliest detection, y = −(r − i + 1)/|w| ∈ [−1, 0),
///   or −A_FN when nothing fell inside it; later detections in the same window count nothing.</item>
/// <item>A detection outside every window contributes A_FP·σ(y), y = |i − r_prev|/(|w_prev| − 1) after the last window
///   it passed (so false alarms just after a window cost little), and −A_FP before the first window.</item>
/// <item>Detections in the probationary period (the first min(⌊0.15·n⌋, 750) rows) are not scored.</item>
/// <item>Normalised: the null detector (no detection) scores 0 and the perfect one (each window's first row) 100.</item>
/// </list>
/// </summary>
public static class NabScore
{
    /// <summary>NAB's probationary length for n rows.</summary>
    public static int ProbationLength(int rows) => (int)Math.Min(Math.Floor(0.15 * rows), 0.15 * 5000);

    /// <summary>The scaled sigmoid σ(y).</summary>
    public static double ScaledSigmoid(double y) => y >= 3.0 ? -1.0 : 2.0 / (1.0 + Math.Exp(5.0 * y)) - 1.0;

    /// <summary>Scores detections (row indices, any order) against sorted, disjoint windows over <paramref name="rows"/> rows.</summary>
    public static NabResult Score(int rows, IReadOnlyList<RowWindow> windows, IEnumerable<int> detections, NabProfile profile, int? probation = null)
    {
        for (int w = 0; w < windows.Count; w++)
        {
            var win = windows[w];
            if (win.Start < 0 || win.End >= rows || win.End < win.Start || (w > 0 && win.Start <= windows[w - 1].End))
                throw new ArgumentException($"window {w} [{win.Start}, {win.End}] is not a sorted, disjoint range of rows 0..{rows - 1}");
        }
        int skip = probation ?? ProbationLength(rows);
        double maxTp = ScaledSigmoid(-1.0);
        var best = new double?[windows.Count];
        double falseScore = 0;
        int falseCount = 0;
        foreach (int i in detections.Where(i => i >= skip && i < rows).Distinct().Order())
        {
            int w = Inside(windows, i);
            if (w >= 0)
            {
                var win = windows[w];
                double y = -(win.End - i + 1) / (double)win.Length;
                double s = ScaledSigmoid(y) * profile.TruePositive / maxTp;
                best[w] = best[w] is { } b ? Math.Max(b, s) : s;
                continue;
            }
            falseCount++;
            int prev = LastBefore(windows, i);
            double position = prev < 0 ? 3.0
                : windows[prev].Length > 1 ? Math.Abs(windows[prev].End - i) / (double)(windows[prev].Length - 1) : 3.0;
            falseScore += ScaledSigmoid(position) * profile.FalsePositive;
        }
        double raw = falseScore;
        int hit = 0;
        foreach (var b in best)
        {
            if (b is { } s) { raw += s; hit++; }
            else raw -= profile.FalseNegative;
        }
        double perfect = windows.Count * profile.TruePositive, none = -windows.Count * profile.FalseNegative;
        double? normalized = windows.Count == 0 ? null : 100.0 * (raw - none) / (perfect - none);
        return new NabResult(profile.Name, windows.Count, hit, falseCount, raw, normalized);
    }

    private static int Inside(IReadOnlyList<RowWindow> windows, int i)
    {
        for (int w = 0; w < windows.Count; w++) if (i >= windows[w].Start && i <= windows[w].End) return w;
        return -1;
    }

    private static int LastBefore(IReadOnlyList<RowWindow> windows, int i)
    {
        int last = -1;
        for (int w = 0; w < windows.Count; w++) if (windows[w].End < i) last = w;
        return last;
    }
}
