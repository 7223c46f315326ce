namespace Gyre.Anomaly;

/// <summary>One anomaly event: rows [Start, End] (inclusive) of merged alarms, the row of the highest score and that score.</summary>
public readonly record struct AnomalyEvent(int Start, int End, int Peak, double Score);

/// <summary>Turns per-row scores and a threshold into events.</summary>
public static class AnomalyEvents
{
    /// <summary>
    /// Alarms are rows from <paramref name="from"/> on whose score exceeds <paramref name="threshold"/>; an alarm
    /// at most <paramref name="mergeGap"/> rows after the previous one joins its event (so one disturbance that
    /// crosses the threshold several times is reported once).
    /// </summary>
    public static List<AnomalyEvent> Find(ReadOnlySpan<double> scores, double threshold, int mergeGap, int from = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(mergeGap);
        var events = new List<AnomalyEvent>();
        int start = -1, end = -1, peak = -1;
        for (int i = Math.Max(from, 0); i < scores.Length; i++)
        {
            if (!(scores[i] > threshold)) continue;
            if (start >= 0 && i - end <= mergeGap)
            {
                end = i;
                if (scores[i] > scores[peak]) peak = i;
                continue;
            }
            if (start >= 0) events.Add(new AnomalyEvent(start, end, peak, scores[peak]));
            start = end = peak = i;
        }
        if (start >= 0) events.Add(new AnomalyEvent(start, end, peak, scores[peak]));
        return events;
    }
}
