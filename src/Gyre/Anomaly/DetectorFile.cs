using System.Text.Json;
using Gyre.Data;
using Gyre.Models;
using Gyre.Tensors;

namespace Gyre.Anomaly;

/// <summary>A fitted detector: its scorer and the baselines fitted beside it, each with its threshold.</summary>
/// <param name="Scorer">The detector's scorer (fitted).</param>
/// <param name="Threshold">Its alarm threshold on the combined, smoothed score.</param>
/// <param name="Baselines">Fitted baselines with their thresholds.</param>
/// <param name="Targets">Channel names C.</param>
/// <param name="Options">Smoothing, merging and the threshold rule used.</param>
/// <param name="Settings">The scorer settings.</param>
/// <param name="Profile">The scorer's phase-of-day profile (null: none).</param>
public sealed record FittedDetector(IAnomalyScorer Scorer, double Threshold, IReadOnlyList<(IAnomalyScorer Scorer, double Threshold, SeasonalProfile? Profile)> Baselines,
    string[] Targets, DetectionOptions Options, ScorerSettings Settings, SeasonalProfile? Profile = null);

/// <summary>
/// The model file of `gyre detect train` (job "detect", <see cref="ModelFile"/>): the learned scorer's weights under
/// their state-dict names, and in the "detect" metadata entry the method, settings, channel names, covariate width,
/// value scaling, score moments, thresholds, detection options and the baselines' moments and thresholds.
/// </summary>
public static class DetectorFile
{
    // Profile is null in files written before phase profiles (and for series without one): judged by the threshold alone.
    private sealed record Part(string Method, double[][] Moments, double Threshold, SeasonalProfile? Profile = null);

    private sealed record State(string Method, ScorerSettings Settings, string[] Targets, int Covariates, double[][] Scaling,
        double[][] Moments, double Threshold, DetectionOptions Options, Part[] Baselines, SeasonalProfile? Profile = null);

    private static double[][] Pack((double Mean, double Std)[] m) => [.. m.Select(x => new[] { x.Mean, x.Std })];

    private static (double, double)[] Unpack(double[][] m) => [.. m.Select(x => x.Length == 2 ? (x[0], x[1]) : throw new JsonException("moments are [mean, std] pairs"))];

    public static void Save(string path, FittedDetector d)
    {
        if (d.Scorer is not LearnedScorer learned) throw new ArgumentException($"only learned scorers are saved, not '{d.Scorer.Name}'");
        var state = new State(d.Scorer.Name, d.Settings, d.Targets, learned.CovariateWidth, Pack(learned.Scaling), Pack(learned.ScoreMoments),
            d.Threshold, d.Options, [.. d.Baselines.Select(b => new Part(b.Scorer.Name, Pack(b.Scorer.ScoreMoments), b.Threshold, b.Profile))], d.Profile);
        ModelFile.Write(path, "detect", learned.Model.StateDict(), [new("detect", JsonSerializer.Serialize(state)),
            new("history", JsonSerializer.Serialize(learned.History.Select(e => e with { Seconds = 0 })))]);
    }

    private static void Check(SeasonalProfile? p)
    {
        if (p is null) return;
        if (p.Envelope is null || p.Envelope.Length < 2 || !(p.StepSeconds > 0) || Math.Abs(p.StepSeconds * p.Envelope.Length - 86400) > 1e-3 || !(p.Ratio >= 1))
            throw new JsonException("phase profile is not a whole day of bins with a ratio ≥ 1");
    }

    public static FittedDetector Load(string path)
    {
        var (job, file) = ModelFile.Read(path);
        if (job != "detect") throw new GyreDataException($"a {job} model, not a detect model", path);
        if (!file.Metadata.TryGetValue("detect", out var json)) throw new GyreDataException("the model file holds no detector settings", path);
        try
        {
            var s = JsonSerializer.Deserialize<State>(json) ?? throw new JsonException("empty settings");
            if (AnomalyScorers.Create(s.Method, s.Settings) is not LearnedScorer scorer) throw new JsonException($"method '{s.Method}' is not a learned scorer");
            scorer.Restore(s.Targets.Length, s.Covariates, Unpack(s.Scaling), Unpack(s.Moments), file.Tensors, path);
            var baselines = AnomalyScorers.Baselines(s.Settings).Select(b =>
            {
                var part = s.Baselines.FirstOrDefault(p => p.Method == b.Name) ?? throw new JsonException($"no baseline '{b.Name}'");
                b.ScoreMoments = Unpack(part.Moments);
                Check(part.Profile);
                return (b, part.Threshold, part.Profile);
            }).ToList();
            Check(s.Profile);
            return new FittedDetector(scorer, s.Threshold, baselines, s.Targets, s.Options, s.Settings, s.Profile);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidDataException or NotSupportedException)
        {
            throw new GyreDataException($"corrupt detect model: {e.Message.ReplaceLineEndings(" ")}", path);
        }
    }
}
