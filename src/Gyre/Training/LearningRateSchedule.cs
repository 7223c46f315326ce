namespace Gyre.Training;

/// <summary>Learning-rate schedules, queried once per epoch.</summary>
public enum ScheduleKind { Constant, Cosine, Plateau }

/// <summary>
/// Cosine: lr(e) = lr_min + ½(lr0 − lr_min)(1 + cos(π·e/E)). Plateau (ReduceLROnPlateau): multiply by
/// <see cref="Factor"/> after <see cref="Patience"/> epochs without a validation improvement. With W warm-up epochs,
/// epoch e &lt; W runs at lr(e)·(e + 1)/(W + 1), a linear ramp (the schedule's own state is not scaled).
/// State (current lr, stall counter, best) is plain numbers so a checkpoint can carry it.
/// </summary>
public sealed class LearningRateSchedule
{
    public ScheduleKind Kind { get; }
    public float BaseLr { get; }
    public float MinLr { get; }
    public int Epochs { get; }
    public float Factor { get; } = 0.5f;
    public int Patience { get; } = 3;
    /// <summary>W: epochs of linear warm-up (0: none).</summary>
    public int WarmupEpochs { get; init; }

    public float CurrentLr { get; set; }
    public int Stalled { get; set; }
    public double Best { get; set; } = double.PositiveInfinity;

    public LearningRateSchedule(ScheduleKind kind, float baseLr, int epochs, float minLr = 0f)
    {
        Kind = kind; BaseLr = baseLr; Epochs = Math.Max(epochs, 1); MinLr = minLr; CurrentLr = baseLr;
    }

    public static ScheduleKind Parse(string name) => name.ToLowerInvariant() switch
    {
        "constant" or "none" => ScheduleKind.Constant,
        "cosine" => ScheduleKind.Cosine,
        "plateau" or "reduce-on-plateau" => ScheduleKind.Plateau,
        _ => throw new ArgumentException($"unknown schedule '{name}' (known: constant, cosine, plateau)"),
    };

    /// <summary>The learning rate for epoch <paramref name="epoch"/> (0-based).</summary>
    public float ForEpoch(int epoch)
    {
        if (Kind == ScheduleKind.Cosine)
            CurrentLr = MinLr + 0.5f * (BaseLr - MinLr) * (1f + MathF.Cos(MathF.PI * epoch / Epochs));
        return epoch < WarmupEpochs ? CurrentLr * (epoch + 1) / (WarmupEpochs + 1) : CurrentLr;
    }

    /// <summary>Reports the epoch's validation loss (plateau logic).</summary>
    public void Observe(double validationLoss)
    {
        if (Kind != ScheduleKind.Plateau) return;
        if (validationLoss < Best * (1 - 1e-4)) { Best = validationLoss; Stalled = 0; }
        else if (++Stalled > Patience) { CurrentLr = Math.Max(MinLr, CurrentLr * Factor); Stalled = 0; }
    }
}
