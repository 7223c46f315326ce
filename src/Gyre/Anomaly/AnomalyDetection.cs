using Gyre.Data;

namespace Gyre.Anomaly;

/// <summary>How scores are smoothed and alarms raised from them.</summary>
public sealed record DetectionOptions
{
    /// <summary>
    /// Each channel's score is the causal mean of its last k raw scores. A lone large residual (a sharp but normal
    /// edge the scorer cannot time) is diluted k-fold while a sustained departure keeps its level: the short-term
    /// averaging NAB's HTM detector also applies before its anomaly likelihood. 1 = no smoothing.
    /// </summary>
    public int Smooth { get; init; } = 10;

    /// <summary>The EVT fit's initial threshold as a quantile of the training scores.</summary>
    public double InitialLevel { get; init; } = PeaksOverThreshold.DefaultInitialLevel;

    /// <summary>Risk q of the extreme-value threshold (probability that a normal score exceeds it).</summary>
    public double Risk { get; init; } = 1e-4;

    /// <summary>When set, the threshold is the (1 − p) quantile of the training scores instead of the EVT one.</summary>
    public double? Contamination { get; init; }

    /// <summary>Alarms at most this many rows apart form one event; null = 1 % of the scored rows (at least 1).</summary>
    public int? MergeGap { get; init; }

    /// <summary>
    /// Judge each score against the training days' scores at the same phase of the day (<see cref="SeasonalProfile"/>,
    /// timing tolerance = <see cref="Smooth"/> rows) when the rows are less than a day apart and training spans two
    /// calendar days; false = one threshold for every time of day.
    /// </summary>
    public bool PhaseProfile { get; init; } = true;

    public void Validate()
    {
        if (!(Risk > 0 && Risk < 1)) throw new GyreDataException($"--risk {Risk} is not in (0, 1)");
        if (Contamination is { } p && !(p > 0 && p < 1)) throw new GyreDataException($"--contamination {p} is not in (0, 1)");
        if (Smooth < 1) throw new GyreDataException($"--smooth {Smooth} must be at least 1");
        if (MergeGap is < 0) throw new GyreDataException($"--merge-gap {MergeGap} is negative");
    }
}

/// <summary>Scores, threshold and events of one scorer on one series.</summary>
/// <param name="Scorer">The scorer's name.</param>
/// <param name="Channels">Channels C.</param>
/// <param name="Scores">Per-channel scores [T, C].</param>
/// <param name="Combined">Combined score per row [T] (largest channel score).</param>
/// <param name="Threshold">Alarm threshold on the combined score.</param>
/// <param name="From">First row events are looked for from (rows before it were seen in training).</param>
/// <param name="Events">Merged alarms.</param>
/// <param name="Profile">The phase-of-day profile the combined score was judged against (null: none).</param>
public sealed record Detection(string Scorer, int Channels, double[] Scores, double[] Combined, double Threshold, int From, List<AnomalyEvent> Events,
    SeasonalProfile? Profile = null);

/// <summary>Fit-on-the-start, score-everything anomaly detection with an unsupervised threshold.</summary>
public static class AnomalyDetection
{
    /// <summary>
    /// Training rows: ⌊f·n⌋ for an explicit fraction f, otherwise NAB's probationary period min(⌊0.15·n⌋, 750),
    /// the rows NAB itself lets a detector learn from without being scored.
    /// </summary>
    public static int TrainRows(int rows, double? fraction) =>
        fraction is { } f ? (int)Math.Floor(f * rows) : NabScore.ProbationLength(rows);

    /// <summary>The alarm threshold from the combined training scores (rows [warmup, trainRows)).</summary>
    public static double Threshold(ReadOnlySpan<double> trainScores, DetectionOptions o) =>
        o.Contamination is { } p ? PeaksOverThreshold.Quantile(trainScores, 1 - p)
            : PeaksOverThreshold.Threshold(trainScores, o.Risk, o.InitialLevel, clusterGap: o.Smooth);

    /// <summary>
    /// Fits the scorer on rows [0, trainRows) of the series, thresholds on its training scores and finds events after
    /// them. With the row times and <see cref="DetectionOptions.PhaseProfile"/>, the combined score is then judged
    /// against the training days' phase-of-day profile (<see cref="Detection.Combined"/> holds the profiled score).
    /// </summary>
    public static Detection Run(IAnomalyScorer scorer, SeriesInput series, int trainRows, DetectionOptions o, DateTime[]? times = null)
    {
        o.Validate();
        int channels = series.Channels;
        int from = scorer.Warmup;
        scorer.Fit(series, trainRows);
        var scores = ScoreMath.Smooth(scorer.Score(series), channels, scorer.Warmup, o.Smooth);
        var combined = ScoreMath.Combine(scores, channels);
        double threshold = Threshold(combined.AsSpan(from, trainRows - from), o);
        var profile = o.PhaseProfile && times is not null ? SeasonalProfile.Fit(combined, times, from, trainRows, o.Smooth) : null;
        return Detect(scorer.Name, channels, scores, combined, threshold, trainRows, o, profile, times);
    }

    /// <summary>
    /// Scores a new series with an already fitted scorer, its stored threshold and phase profile (when it has one and
    /// the times are given); events from its warm-up on.
    /// </summary>
    public static Detection Apply(IAnomalyScorer scorer, SeriesInput series, double threshold, DetectionOptions o,
        SeasonalProfile? profile = null, DateTime[]? times = null) =>
        Scored(scorer, series.Channels, scorer.Score(series), threshold, o, profile, times);

    /// <summary>
    /// <see cref="Apply"/> (without a phase profile) of several series at once: one <see cref="IAnomalyScorer.ScoreMany"/>
    /// call (for the learned scorers, every series' windows through the network together), then each series smoothed,
    /// combined and thresholded on its own. Each detection equals that series' own to float rounding.
    /// </summary>
    public static Detection[] ApplyMany(IAnomalyScorer scorer, IReadOnlyList<SeriesInput> series, double threshold, DetectionOptions o)
    {
        var raw = scorer.ScoreMany(series);
        return [.. series.Select((s, i) => Scored(scorer, s.Channels, raw[i], threshold, o, null, null))];
    }

    // Raw scores [T, C] of a fitted scorer → smoothed, combined, judged against the threshold from its warm-up on.
    private static Detection Scored(IAnomalyScorer scorer, int channels, double[] raw, double threshold, DetectionOptions o,
        SeasonalProfile? profile, DateTime[]? times)
    {
        var scores = ScoreMath.Smooth(raw, channels, scorer.Warmup, o.Smooth);
        return Detect(scorer.Name, channels, scores, ScoreMath.Combine(scores, channels), threshold, scorer.Warmup, o, profile, times);
    }

    private static Detection Detect(string name, int channels, double[] scores, double[] combined, double threshold, int from, DetectionOptions o,
        SeasonalProfile? profile, DateTime[]? times)
    {
        if (profile is not null && times is not null) combined = profile.Apply(combined, times, threshold);
        else profile = null;
        int gap = o.MergeGap ?? Math.Max(1, combined.Length / 100);
        return new Detection(name, channels, scores, combined, threshold, from, AnomalyEvents.Find(combined, threshold, gap, from), profile);
    }

    /// <summary>NAB results of a detection under every profile: one detection per event, at its first row.</summary>
    public static NabResult[] Evaluate(Detection d, IReadOnlyList<RowWindow> windows) =>
        NabProfile.All.Select(p => NabScore.Score(d.Combined.Length, windows, d.Events.Select(e => e.Start), p)).ToArray();
}
