using Gyre.Data;

namespace Gyre.Anomaly;

/// <summary>
/// Settings every scorer may read: its context length (null = the scorer's default), the seed, and for the
/// recurrent scorers the cell, hidden width and training epochs. Few epochs by default: the probationary rows
/// are short (two days of NAB's 5-minute series), and a scorer fitted closely to them scores the unseen days'
/// normal rows above its training scores, which the threshold is fitted on (measured: 30 epochs gave 8–12 false
/// events on art_daily_small_noise over seeds 1–3, 10 epochs 0–2, with the same jumpsup result).
/// </summary>
public sealed record ScorerSettings(int? Window = null, ulong Seed = 1, string? Cell = null, int Hidden = 32, int Epochs = 10)
{
    /// <summary>The recurrent scorers' cell as name(k=v,…); null: the registry's default cell.</summary>
    public string Cell { get; init; } = Cell ?? Cells.CellRegistry.Default;

    // The encoder's stack (the shared RecurrentEncoder): left out of the file at its defaults, so detectors saved
    // before stacks were offered read back unchanged and a default detector writes the same bytes.
    /// <summary>K recurrent layers of the scorer's encoder (and decoder); null: 1.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? Layers { get; init; }
    /// <summary>G gated memory units after the recurrent layers (0: none).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public int Gmu { get; init; }
    /// <summary>The layer (0-based) the GMUs read as memory m; null: the last.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? GmuMemory { get; init; }
    /// <summary>D = 2: the forecast scorer's encoder reads its lookback in both directions (false: forward only).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool Bidirectional { get; init; }
    /// <summary>K, with 1 for null.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int StackLayers => Layers ?? 1;

    /// <summary>What a training batch with a non-finite loss or gradient does (a property of the run: not stored).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Training.NanPolicy OnNan { get; init; }
}

/// <summary>The scorers by name.</summary>
public static class AnomalyScorers
{
    /// <summary>Rolling z-score window when none is given: one day of 5-minute rows is too long for short series; 48 rows.</summary>
    public const int DefaultWindow = 48;

    public static readonly string[] Names = ["forecast", "reconstruction", "naive", "rolling_z"];

    public const string Default = "reconstruction";

    public static IAnomalyScorer Create(string name, ScorerSettings s) => name.Replace('-', '_').ToLowerInvariant() switch
    {
        "forecast" => new ForecastScorer(s),
        "reconstruction" => new ReconstructionScorer(s),
        "naive" => new NaiveResidualScorer(),
        "rolling_z" => new RollingZScorer(Window(s)),
        _ => throw new GyreDataException($"--method '{name}' is not one of {string.Join(", ", Names)}"),
    };

    /// <summary>The baselines printed beside every model.</summary>
    public static IAnomalyScorer[] Baselines(ScorerSettings s) => [new NaiveResidualScorer(), new RollingZScorer(Window(s))];

    private static int Window(ScorerSettings s) =>
        s.Window is { } w ? (w >= 2 ? w : throw new GyreDataException($"--window {w} must be at least 2")) : DefaultWindow;
}
