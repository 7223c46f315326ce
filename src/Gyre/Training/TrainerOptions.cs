namespace Gyre.Training;

/// <summary>Settings of a <see cref="Trainer"/> run.</summary>
public sealed record TrainerOptions
{
    public int Epochs { get; init; } = 40;
    /// <summary>B: examples per step (per rank); capped at the examples available.</summary>
    public int Batch { get; init; } = 32;
    public float LearningRate { get; init; } = 3e-3f;
    /// <summary>AdamW's decoupled weight decay λ.</summary>
    public float WeightDecay { get; init; } = 1e-4f;
    /// <summary>AdamW's β1: the decay of the gradient's running mean (momentum).</summary>
    public float Beta1 { get; init; } = 0.9f;
    /// <summary>AdamW's β2: the decay of the squared gradient's running mean.</summary>
    public float Beta2 { get; init; } = 0.999f;
    /// <summary>Global gradient-norm clip (0 = off; the norm is still recorded).</summary>
    public float ClipNorm { get; init; } = 1f;
    /// <summary>"constant", "cosine", "plateau" or "exponential", with options as name(key=value,…) (<see cref="ScheduleSpec"/>).</summary>
    public string Schedule { get; init; } = "cosine";
    /// <summary>The schedule's floor as a fraction of <see cref="LearningRate"/>.</summary>
    public float MinLearningRateFraction { get; init; } = 0.01f;
    /// <summary>Epochs of linear learning-rate warm-up at the start (0 = none; <see cref="LearningRateSchedule.WarmupEpochs"/>).</summary>
    public int WarmupEpochs { get; init; }
    /// <summary>Epochs without a validation improvement before stopping (0 = off; needs validation data).</summary>
    public int Patience { get; init; } = 10;
    /// <summary>Seeds the shuffling of the training examples (the model's own seed sets its initial weights).</summary>
    public ulong Seed { get; init; }
    /// <summary>This process's rank in data-parallel training (0-based).</summary>
    public int Rank { get; init; }
    /// <summary>Processes in data-parallel training: each epoch's shuffled order (the same on every rank) is dealt
    /// round-robin, rank r taking positions r, r + W, r + 2W, …</summary>
    public int WorldSize { get; init; } = 1;
    /// <summary>What a batch whose loss or gradient is NaN or ±∞ does: stop the run (the default) or be skipped.</summary>
    public NanPolicy OnNan { get; init; } = NanPolicy.Stop;
    /// <summary>With <see cref="NanPolicy.Skip"/>: the share of an epoch's batches that may be skipped; one more stops
    /// the run (at least one batch per epoch may always be skipped).</summary>
    public double MaxSkippedShare { get; init; } = 0.1;
    /// <summary>Examples in index order every epoch, unshuffled (a task whose examples are consecutive pieces of one
    /// pass, each carrying state into the next, e.g. truncated backpropagation through time).</summary>
    public bool Ordered { get; init; }
    /// <summary>Which weights the run ends with: the best epoch's, or a greedy soup of the best epochs' (<see cref="CheckpointSelection"/>).</summary>
    public CheckpointSelection Select { get; init; } = CheckpointSelection.Best;
    /// <summary>K: with <see cref="CheckpointSelection.Soup"/>, the epochs of lowest validation loss kept as soup
    /// candidates (K copies of the weights held in memory and in the checkpoint).</summary>
    public int SoupSize { get; init; } = 5;

    public void Validate()
    {
        if (Epochs < 0) throw new ArgumentException($"epochs must be ≥ 0, got {Epochs}");
        if (Batch <= 0) throw new ArgumentException($"batch must be positive, got {Batch}");
        if (!(LearningRate > 0) || float.IsInfinity(LearningRate)) throw new ArgumentException($"learning rate must be positive, got {LearningRate}");
        if (!(WeightDecay >= 0)) throw new ArgumentException($"weight decay must be ≥ 0, got {WeightDecay}");
        if (!(ClipNorm >= 0)) throw new ArgumentException($"clip must be ≥ 0, got {ClipNorm}");
        if (!(Beta1 >= 0 && Beta1 < 1) || !(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentException($"Adam's betas must lie in [0, 1), got {Beta1}, {Beta2}");
        LearningRateSchedule.Parse(Schedule);
        if (WarmupEpochs < 0) throw new ArgumentException($"warm-up epochs must be ≥ 0, got {WarmupEpochs}");
        if (Patience < 0) throw new ArgumentException($"patience must be ≥ 0, got {Patience}");
        if (!(MaxSkippedShare >= 0 && MaxSkippedShare < 1)) throw new ArgumentException($"the skipped share must lie in [0, 1), got {MaxSkippedShare}");
        if (WorldSize <= 0 || Rank < 0 || Rank >= WorldSize) throw new ArgumentException($"rank {Rank} is outside a world of {WorldSize}");
        if (SoupSize < 1) throw new ArgumentException($"the soup size must be ≥ 1, got {SoupSize}");
        if (Ordered && WorldSize > 1) throw new ArgumentException("ordered examples carry state from one to the next: they cannot be dealt across ranks");
    }
}

/// <summary>What the <see cref="Trainer"/> does with a batch whose loss or gradient is not finite.</summary>
public enum NanPolicy
{
    /// <summary>Stop with <see cref="TrainingDivergedException"/>; the last checkpoint (of the last whole epoch) stays.</summary>
    Stop,
    /// <summary>Skip the batch: no update, optimizer state untouched; counted in <see cref="EpochRecord.Skipped"/>.
    /// More than <see cref="TrainerOptions.MaxSkippedShare"/> of an epoch's batches skipped stops the run.</summary>
    Skip,
}

/// <summary>Which weights a <see cref="Trainer"/> run ends with.</summary>
public enum CheckpointSelection
{
    /// <summary>The epoch of lowest validation loss (or training loss, without validation data).</summary>
    Best,
    /// <summary>
    /// A greedy checkpoint soup (Wortsman et al. 2022, "Model soups", greedy variant): the <see cref="TrainerOptions.SoupSize"/>
    /// epochs of lowest validation loss are kept; starting from the best, each next one in order of validation loss joins a
    /// uniform average of the weights only if the average's validation loss is not worse. With one member this is
    /// <see cref="Best"/>; without validation data it is <see cref="Best"/> too (nothing to judge an average by).
    /// </summary>
    Soup,
}

/// <summary>Parses the user's word for a <see cref="CheckpointSelection"/>.</summary>
public static class CheckpointSelections
{
    /// <summary>"best" or "soup" (any case); anything else is a one-line error naming <c>--select</c>.</summary>
    public static CheckpointSelection Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "best" => CheckpointSelection.Best,
        "soup" => CheckpointSelection.Soup,
        _ => throw new Data.GyreDataException($"--select must be best or soup (got '{text}')"),
    };

    public static string Name(CheckpointSelection s) => s == CheckpointSelection.Soup ? "soup" : "best";
}

/// <summary>Parses the user's word for a <see cref="NanPolicy"/>.</summary>
public static class NanPolicies
{
    /// <summary>"stop" or "skip" (any case); anything else is a one-line error naming <c>--on-nan</c>.</summary>
    public static NanPolicy Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "stop" => NanPolicy.Stop,
        "skip" => NanPolicy.Skip,
        _ => throw new Data.GyreDataException($"--on-nan must be stop or skip (got '{text}')"),
    };
}
