using Gyre.Layers;

namespace Gyre.Training;

/// <summary>One epoch of training, as logged and stored in a model file's history.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainLoss">Mean training loss over the epoch's batches.</param>
/// <param name="ValLoss">Mean validation loss (null without validation data).</param>
/// <param name="LearningRate">The epoch's learning rate.</param>
/// <param name="GradNorm">Mean global gradient norm before clipping.</param>
/// <param name="Seconds">Wall-clock seconds (zeroed in model files).</param>
/// <param name="Best">Whether this epoch improved the monitored loss (its weights are the ones kept so far).</param>
public sealed record EpochRecord(int Epoch, double TrainLoss, double? ValLoss, float LearningRate, double GradNorm, double Seconds, bool Best)
{
    /// <summary>Validation metrics by name (e.g. "accuracy"); null when the job reports none.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, double>? Metrics { get; init; }

    /// <summary>Batches skipped because their loss or gradient was not finite (<see cref="NanPolicy.Skip"/>);
    /// the epoch's loss and gradient norm are the means over the other batches.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public int Skipped { get; init; }

    /// <summary>"  skipped N (NaN/Inf)" for an epoch's log line, or "" when none was skipped.</summary>
    public string SkippedNote() => Skipped == 0 ? "" : $"  skipped {Skipped} (NaN/Inf)";
}

/// <summary>The validation loss of an epoch and any metrics beside it.</summary>
public sealed record ValidationResult(double Loss, IReadOnlyDictionary<string, double>? Metrics = null);

/// <summary>
/// What a job gives the <see cref="Trainer"/>: the model, how many training examples there are, one training
/// step on a batch of them, and a validation pass. The trainer owns the loop, the optimizer, the schedule,
/// early stopping, checkpoints and gradient synchronisation; the task owns data, forward, loss and backward.
/// </summary>
public interface ITrainingTask
{
    /// <summary>The model whose <see cref="Module.NamedParameters"/> are trained and checkpointed.</summary>
    Module Model { get; }

    /// <summary>N: training examples, indexed 0..N−1.</summary>
    int TrainCount { get; }

    /// <summary>
    /// Forward, loss and backward on training examples <paramref name="indices"/> (training mode); gradients
    /// were zeroed by the trainer and accumulate (+=). Returns the batch's mean loss.
    /// </summary>
    double TrainBatch(ReadOnlySpan<int> indices);

    /// <summary>Loss (and metrics) on the validation data in inference mode; null when there is none.</summary>
    ValidationResult? Validate();

    /// <summary>States of the model's random generators (dropout), for checkpoints.</summary>
    string[] SaveRngState();

    void RestoreRngState(string[] states);

    /// <summary>Metadata that describes the model in a checkpoint (its job, spec, data description).</summary>
    IReadOnlyDictionary<string, string> CheckpointMetadata();
}

/// <summary>
/// The point between backward and clipping/optimizer step where data-parallel training synchronises:
/// every rank computes gradients on its own shard (see <see cref="TrainerOptions.Rank"/>), then the flat
/// gradient block is reduced (e.g. an MPI all-reduce followed by a division by the world size).
/// Flat blocks list every parameter of <see cref="Module.Parameters"/> in order, each row-major.
/// </summary>
public interface IGradientSync
{
    /// <summary>Called once before the first step (after a resume): make every rank's weights identical (e.g. broadcast from rank 0).</summary>
    void SynchronizeParameters(Span<float> values);

    /// <summary>Called after every backward, before clipping and the optimizer step; reduce the gradients in place.</summary>
    void SynchronizeGradients(Span<float> gradients);

    /// <summary>The mean of <paramref name="value"/> over the ranks (an epoch's training loss, each rank having
    /// seen its own shard), so every rank logs, records and checkpoints the same number.</summary>
    double MeanOverRanks(double value) => value;
}

/// <summary>Progress of a run, reported after every batch: enough for a bar with an ETA.</summary>
/// <param name="Epoch">1-based epoch being trained.</param>
/// <param name="Epochs">Maximum epochs.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="Batches">Batches per epoch.</param>
/// <param name="Loss">Mean training loss of this epoch so far.</param>
/// <param name="Elapsed">Time since this run (or resume) started.</param>
/// <param name="Remaining">Estimated time to the last epoch at the rate so far (early stopping may end sooner).</param>
public readonly record struct TrainingProgress(int Epoch, int Epochs, int Batch, int Batches, double Loss, TimeSpan Elapsed, TimeSpan Remaining);
