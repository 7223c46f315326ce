namespace Gyre.Anomaly;

/// <summary>
/// The training scores' envelope over the phase of the day, against which later scores are judged.
///
/// A scorer's error is not equally large at every time of day: a sharp daily edge that the model cannot time to the
/// row scores high on every day, training days included. A single threshold fitted on two or three training days
/// then sits at the largest of two or three such daily peaks, and every later day whose peak happens to be a little
/// higher raises a false event (with m training days, a new day's peak beats them all with probability 1/(m + 1)).
/// The profile compares each score with what the training days scored at the same phase instead:
///
///   e(φ) = max { s_i : i a training row, |φ_i − φ| ≤ K (circular) }            the phase envelope, K = timing tolerance
///   ρ    = max(1, max_d max_{i in day d} s_i / max(e₋d(φ_i), 1))               cross-fitted day-to-day ratio
///   τ(φ) = max(τ, ρ·e(φ))                                                       the threshold at phase φ
///   s'_i = s_i · τ / τ(φ_i)                                                      the profiled score, thresholded at τ
///
/// where e₋d is the envelope of the training rows outside calendar day d, so ρ measures on the training days
/// themselves how far one day's scores exceed what the other days showed at the same phase (held out, not in
/// sample). The floor of 1 is one training standard deviation, the scores' unit: phases where training scored
/// almost nothing are not divided by almost nothing. Where the envelope is low (ρ·e(φ) ≤ τ) the score is unchanged;
/// the profile only ever lowers scores, at phases where every training day scored high. Dimensions: T rows,
/// P = 86400 s / step phase bins.
/// </summary>
/// <param name="StepSeconds">The series' row step (seconds); phase bin = round(time of day / step) mod P.</param>
/// <param name="Envelope">e(φ) per phase bin [P].</param>
/// <param name="Ratio">ρ ≥ 1.</param>
public sealed record SeasonalProfile(double StepSeconds, double[] Envelope, double Ratio)
{
    private const double Day = 86400;

    /// <summary>Phase bins per day P.</summary>
    public int Period => Envelope.Length;

    /// <summary>
    /// Fits the profile on the combined scores of training rows [from, trainRows); null when the rows are not at
    /// least two per day, the step does not divide a day into whole bins, or the training rows do not span two
    /// calendar days (ρ needs a held-out day).
    /// </summary>
    /// <param name="scores">Combined scores [T].</param>
    /// <param name="times">Row times [T].</param>
    /// <param name="from">First scored row (the scorer's warm-up).</param>
    /// <param name="trainRows">Rows [0, trainRows) are the training rows.</param>
    /// <param name="tolerance">K: phase bins a daily event may drift by from day to day.</param>
    public static SeasonalProfile? Fit(ReadOnlySpan<double> scores, DateTime[] times, int from, int trainRows, int tolerance)
    {
        if (times.Length != scores.Length) throw new ArgumentException($"{times.Length} times for {scores.Length} scores");
        if (tolerance < 0) throw new ArgumentOutOfRangeException(nameof(tolerance));
        if (trainRows - from < 2 || Step(times) is not { } step) return null;
        var profile = new SeasonalProfile(step, new double[(int)Math.Round(Day / step)], 1);
        var phase = profile.Phases(times);
        var day = new int[trainRows];
        for (int i = from; i < trainRows; i++) day[i] = (times[i].Date - times[from].Date).Days;
        if (day[trainRows - 1] == day[from]) return null;
        profile.Accumulate(scores, phase, day, from, trainRows, tolerance, skipDay: int.MinValue, profile.Envelope);
        double ratio = 1;
        var heldOut = new double[profile.Period];   // [P] e₋d
        for (int d = day[from]; d <= day[trainRows - 1]; d++)
        {
            Array.Clear(heldOut);
            profile.Accumulate(scores, phase, day, from, trainRows, tolerance, d, heldOut);
            for (int i = from; i < trainRows; i++)
                if (day[i] == d) ratio = Math.Max(ratio, scores[i] / Math.Max(heldOut[phase[i]], 1));
        }
        return profile with { Ratio = ratio };
    }

    /// <summary>Profiled scores s'_i = s_i · τ / max(τ, ρ·e(φ_i)) [T] for a threshold τ &gt; 0.</summary>
    public double[] Apply(ReadOnlySpan<double> scores, DateTime[] times, double threshold)
    {
        if (times.Length != scores.Length) throw new ArgumentException($"{times.Length} times for {scores.Length} scores");
        if (!(threshold > 0)) return scores.ToArray();
        var phase = Phases(times);
        var s = new double[scores.Length];   // [T]
        for (int i = 0; i < s.Length; i++) s[i] = scores[i] * threshold / Math.Max(threshold, Ratio * Envelope[phase[i]]);
        return s;
    }

    /// <summary>Phase bin of each row [T].</summary>
    public int[] Phases(DateTime[] times)
    {
        var phase = new int[times.Length];
        for (int i = 0; i < times.Length; i++)
            phase[i] = (int)((long)Math.Round(times[i].TimeOfDay.TotalSeconds / StepSeconds) % Period);
        return phase;
    }

    /// <summary>The median step between rows in seconds when it splits a day into at least two whole bins, else null.</summary>
    private static double? Step(DateTime[] times)
    {
        if (times.Length < 2) return null;
        var steps = new double[times.Length - 1];
        for (int i = 1; i < times.Length; i++) steps[i - 1] = (times[i] - times[i - 1]).TotalSeconds;
        Array.Sort(steps);
        double step = steps[steps.Length / 2];
        if (!(step > 0) || step > Day / 2) return null;
        double bins = Day / step;
        return Math.Abs(bins - Math.Round(bins)) < 1e-6 * bins ? step : null;
    }

    /// <summary>envelope[φ] = max(envelope[φ], s_i) over rows i in [from, to) outside skipDay, spread ±K bins.</summary>
    private void Accumulate(ReadOnlySpan<double> scores, int[] phase, int[] day, int from, int to, int tolerance, int skipDay, double[] envelope)
    {
        int p = Period, k = Math.Min(tolerance, p / 2);
        for (int i = from; i < to; i++)
        {
            if (day[i] == skipDay) continue;
            for (int dk = -k; dk <= k; dk++)
            {
                int b = ((phase[i] + dk) % p + p) % p;
                envelope[b] = Math.Max(envelope[b], scores[i]);
            }
        }
    }
}
