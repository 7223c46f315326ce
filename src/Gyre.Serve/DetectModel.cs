using Gyre.Anomaly;

namespace Gyre.Serve;

/// <summary>
/// An anomaly detector (job "detect", `gyre detect train`) served over streams. Input x [rows, C] in the training
/// columns' order, and "time" (Unix seconds) when the scorer reads the phase of the day. Outputs for the newest row:
/// "score" [1] (the combined smoothed score), "alarm" (BOOL [1], score above the stored threshold) and
/// "channel_scores" [C].
/// <para>
/// Stream state: the last warm-up + smoothing rows. A row's score reads the scorer's context before it and the
/// smoothing averages the last rows' scores, so these rows determine the newest row's score; each request re-runs
/// the scorer on them and the answer equals `gyre detect score` on the stream's rows so far at its last row.
/// </para>
/// </summary>
public sealed class DetectModel : WindowModel
{
    private readonly FittedDetector _d;
    private readonly LearnedScorer _scorer;

    public DetectModel(string name, string path) : base(name, path, "detect")
    {
        _d = DetectorFile.Load(path);
        _scorer = (LearnedScorer)_d.Scorer;
        if (_scorer.Model is Gyre.Models.SequenceModel m) m.Encoder.Layer.WeightsFrozen = true;   // served weights never change
        int c = _d.Targets.Length;
        Outputs = [new("score", "FP32", [1]), new("alarm", "BOOL", [1]), new("channel_scores", "FP32", [c])];
    }

    public override int Width => _d.Targets.Length;
    public override bool NeedsTimes => _scorer.CovariateWidth > 0;
    public override IReadOnlyList<TensorSpec> Outputs { get; }
    protected override int Capacity => _scorer.Warmup + Math.Max(_d.Options.Smooth, 1);
    protected override int MinRows => _scorer.Warmup + 1;

    /// <summary>The alarm threshold stored with the model.</summary>
    public double Threshold => _d.Threshold;

    public override string StreamDescription =>
        $"the last {Capacity} rows (the {_d.Scorer.Name} scorer's {_scorer.Warmup}-row context and {_d.Options.Smooth}-row smoothing), re-run per request; each answer equals `gyre detect score` on the stream's rows at its last row";

    /// <summary>Every stream's rows scored in one <see cref="AnomalyDetection.ApplyMany"/>: all their windows go
    /// through the scorer's network together, then each stream's scores are smoothed and judged on their own.</summary>
    protected override StepResult[] AnswerAll(RowWindow[] windows)
    {
        int c = Width;
        var results = new StepResult[windows.Length];
        var series = new List<SeriesInput>(windows.Length);
        var scored = new List<int>(windows.Length);
        for (int i = 0; i < windows.Length; i++)
        {
            float[]? covariates = null;
            if (NeedsTimes && (covariates = SeriesInput.DailyPhase(windows[i].Times)) is null)
            {
                results[i] = new StepResult([]) { Error = new ServeException(400, $"model '{Name}' reads the phase of the day, but the times of the stream's rows are a day or more apart") };
                continue;
            }
            series.Add(new SeriesInput(windows[i].Values, c, covariates, covariates is null ? 0 : _scorer.CovariateWidth));
            scored.Add(i);
        }
        var detections = AnomalyDetection.ApplyMany(_scorer, series, _d.Threshold, _d.Options);
        for (int j = 0; j < scored.Count; j++)
        {
            var d = detections[j];
            int last = d.Combined.Length - 1;
            double score = d.Combined[last];
            var channels = new float[c];
            for (int q = 0; q < c; q++) channels[q] = (float)d.Scores[last * c + q];
            results[scored[j]] = new StepResult([new("score", "FP32", [1], [(float)score]), new("alarm", "BOOL", [1], Flags: [score > _d.Threshold]), new("channel_scores", "FP32", [c], channels)]);
        }
        return results;
    }
}
