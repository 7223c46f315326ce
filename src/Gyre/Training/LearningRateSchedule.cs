using System.Globalization;

namespace Gyre.Training;

/// <summary>Learning-rate schedules, queried once per epoch.</summary>
public enum ScheduleKind { Constant, Cosine, Plateau, Exponential }

/// <summary>
/// A schedule as the user names it: <c>kind</c> or <c>kind(key=value,…)</c>, e.g. <c>exponential(gamma=0.8,hold=4)</c>
/// or <c>cosine(warmup=2)</c>. Keys: <c>warmup</c> (W epochs of warm-up) and <c>start</c> (the first warm-up epoch's share
/// of the rate) for every kind; <c>gamma</c> and <c>hold</c> for exponential; <c>factor</c> and <c>patience</c> for plateau.
/// </summary>
public sealed record ScheduleSpec
{
    public ScheduleKind Kind { get; init; }
    /// <summary>W: warm-up epochs (0: none).</summary>
    public int Warmup { get; init; }
    /// <summary>s: the first warm-up epoch runs at s·lr (null: 1/(W + 1), a ramp through (e + 1)/(W + 1)).</summary>
    public float? WarmupStart { get; init; }
    /// <summary>γ: exponential's per-epoch factor once the hold is over.</summary>
    public float Gamma { get; init; } = 0.8f;
    /// <summary>H: exponential's epochs at the base rate before the first decay (warm-up epochs count).</summary>
    public int Hold { get; init; } = 1;
    /// <summary>Plateau's factor on a stall.</summary>
    public float Factor { get; init; } = 0.5f;
    /// <summary>Plateau's epochs without an improvement before the rate drops.</summary>
    public int Patience { get; init; } = 3;

    /// <summary>Parses <paramref name="text"/>; an ArgumentException names what is wrong.</summary>
    public static ScheduleSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim().ToLowerInvariant(), name = t, args = "";
        int open = t.IndexOf('(');
        if (open >= 0)
        {
            if (!t.EndsWith(')')) throw new ArgumentException($"schedule '{text}': options go in name(key=value,…) with a closing parenthesis");
            name = t[..open].Trim();
            args = t[(open + 1)..^1];
        }
        var spec = new ScheduleSpec
        {
            Kind = name switch
            {
                "constant" or "none" => ScheduleKind.Constant,
                "cosine" => ScheduleKind.Cosine,
                "plateau" or "reduce-on-plateau" => ScheduleKind.Plateau,
                "exponential" or "exp" => ScheduleKind.Exponential,
                _ => throw new ArgumentException($"unknown schedule '{name}' (known: constant, cosine, plateau, exponential)"),
            },
        };
        foreach (var pair in args.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"schedule '{text}': '{pair}' is not key=value");
            string key = pair[..eq].Trim(), value = pair[(eq + 1)..].Trim();
            spec = key switch
            {
                "warmup" => spec with { Warmup = Int(text, key, value, 0) },
                "start" => spec with { WarmupStart = Float(text, key, value, 0f, 1f) },
                "gamma" when spec.Kind == ScheduleKind.Exponential => spec with { Gamma = Float(text, key, value, 0f, 1f) },
                "hold" when spec.Kind == ScheduleKind.Exponential => spec with { Hold = Int(text, key, value, 0) },
                "factor" when spec.Kind == ScheduleKind.Plateau => spec with { Factor = Float(text, key, value, 0f, 1f) },
                "patience" when spec.Kind == ScheduleKind.Plateau => spec with { Patience = Int(text, key, value, 0) },
                _ => throw new ArgumentException($"schedule '{text}': unknown option '{key}' for {name} (every schedule takes warmup and start; "
                    + "exponential also gamma and hold; plateau also factor and patience)"),
            };
        }
        if (spec.WarmupStart is not null && spec.Warmup == 0) throw new ArgumentException($"schedule '{text}': start needs warmup ≥ 1");
        return spec;
    }

    private static int Int(string text, string key, string value, int min) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min
            ? v : throw new ArgumentException($"schedule '{text}': {key} must be an integer ≥ {min} (got '{value}')");

    // (lo, hi]: a zero factor or start would stop training for good.
    private static float Float(string text, string key, string value, float lo, float hi) =>
        float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && v > lo && v <= hi
            ? v : throw new ArgumentException($"schedule '{text}': {key} must lie in ({lo}, {hi}] (got '{value}')");
}

/// <summary>
/// Cosine: lr(e) = lr_min + ½(lr0 − lr_min)(1 + cos(π·e/E)). Exponential: lr(e) = lr0·γ^max(0, e − H + 1), H epochs at
/// lr0 and then a factor γ per epoch (no floor). Plateau (ReduceLROnPlateau): multiply by <see cref="Factor"/> after
/// <see cref="Patience"/> epochs without a validation improvement. With W warm-up epochs, epoch e &lt; W runs at
/// lr(e)·(s + (1 − s)·e/W), a linear ramp from s = <see cref="WarmupStart"/> (default 1/(W + 1), so (e + 1)/(W + 1));
/// the schedule's own state is not scaled.
/// State (current lr, stall counter, best) is plain numbers so a checkpoint can carry it.
/// </summary>
public sealed class LearningRateSchedule
{
    public ScheduleKind Kind { get; }
    public float BaseLr { get; }
    public float MinLr { get; }
    public int Epochs { get; }
    public float Factor { get; init; } = 0.5f;
    public int Patience { get; init; } = 3;
    /// <summary>γ of <see cref="ScheduleKind.Exponential"/>.</summary>
    public float Gamma { get; init; } = 0.8f;
    /// <summary>H of <see cref="ScheduleKind.Exponential"/>: epochs at the base rate before the first decay.</summary>
    public int Hold { get; init; } = 1;
    /// <summary>W: epochs of linear warm-up (0: none).</summary>
    public int WarmupEpochs { get; init; }
    /// <summary>s: the share of the rate the first warm-up epoch runs at (null: 1/(W + 1)).</summary>
    public float? WarmupStart { get; init; }

    public float CurrentLr { get; set; }
    public int Stalled { get; set; }
    public double Best { get; set; } = double.PositiveInfinity;

    public LearningRateSchedule(ScheduleKind kind, float baseLr, int epochs, float minLr = 0f)
    {
        Kind = kind; BaseLr = baseLr; Epochs = Math.Max(epochs, 1); MinLr = minLr; CurrentLr = baseLr;
    }

    /// <summary>The schedule <paramref name="spec"/> describes, over <paramref name="epochs"/> epochs from <paramref name="baseLr"/>.</summary>
    public LearningRateSchedule(ScheduleSpec spec, float baseLr, int epochs, float minLr = 0f) : this(spec.Kind, baseLr, epochs, minLr)
    {
        Factor = spec.Factor; Patience = spec.Patience; Gamma = spec.Gamma; Hold = spec.Hold;
        WarmupEpochs = spec.Warmup; WarmupStart = spec.WarmupStart;
    }

    /// <summary>The kind a schedule's text names (its options checked too).</summary>
    public static ScheduleKind Parse(string name) => ScheduleSpec.Parse(name).Kind;

    /// <summary>The learning rate for epoch <paramref name="epoch"/> (0-based).</summary>
    public float ForEpoch(int epoch)
    {
        if (Kind == ScheduleKind.Cosine)
            CurrentLr = MinLr + 0.5f * (BaseLr - MinLr) * (1f + MathF.Cos(MathF.PI * epoch / Epochs));
        else if (Kind == ScheduleKind.Exponential)
            CurrentLr = BaseLr * MathF.Pow(Gamma, Math.Max(0, epoch - Hold + 1));
        if (epoch >= WarmupEpochs) return CurrentLr;
        float start = WarmupStart ?? 1f / (WarmupEpochs + 1);
        return CurrentLr * (start + (1f - start) * epoch / WarmupEpochs);
    }

    /// <summary>Reports the epoch's validation loss (plateau logic).</summary>
    public void Observe(double validationLoss)
    {
        if (Kind != ScheduleKind.Plateau) return;
        if (validationLoss < Best * (1 - 1e-4)) { Best = validationLoss; Stalled = 0; }
        else if (++Stalled > Patience) { CurrentLr = Math.Max(MinLr, CurrentLr * Factor); Stalled = 0; }
    }
}
