using Gyre.Layers;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Models;

/// <summary>
/// A <see cref="SequenceModel"/> on a <see cref="SequenceDataset"/> as an <see cref="ITrainingTask"/>: a step runs
/// forward, the head's loss (labels or targets) and backward on a batch; validation reports the mean loss and,
/// for classification heads, "accuracy" (argmax of the outputs against the labels).
/// </summary>
public sealed class SequenceTask : ITrainingTask
{
    private readonly SequenceModel _model;
    private readonly SequenceDataset _train;
    private readonly SequenceDataset? _val;
    private readonly string _job;
    private readonly IReadOnlyDictionary<string, string>? _metadata;
    private Batch? _batch;

    /// <param name="model">The model to train.</param>
    /// <param name="train">Training sequences.</param>
    /// <param name="validation">Validation sequences (null: none; early stopping then watches the training loss).</param>
    /// <param name="job">The job named in checkpoints and model files (e.g. "classify").</param>
    /// <param name="metadata">Further metadata the job stores with the model (data description, …).</param>
    public SequenceTask(SequenceModel model, SequenceDataset train, SequenceDataset? validation, string job,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        _model = model; _train = train; _val = validation; _job = job; _metadata = metadata;
        Check(train, "training");
        if (validation != null) Check(validation, "validation");
    }

    private void Check(SequenceDataset d, string what)
    {
        var spec = _model.Spec;
        if (d.Features != spec.InputSize) throw new ArgumentException($"{what} data has {d.Features} features, the model {spec.InputSize}");
        if (_model.Head.Classifies && d.Labels == null) throw new ArgumentException($"{what} data has no labels for the {spec.Head} head");
        if (!_model.Head.Classifies && (d.Targets == null || d.TargetWidth != spec.Outputs))
            throw new ArgumentException($"{what} data needs {spec.Outputs} targets per sequence for the linear head");
    }

    public Module Model => _model;
    public int TrainCount => _train.Count;

    public double TrainBatch(ReadOnlySpan<int> indices)
    {
        var buf = BatchFor(_train, indices.Length);
        _train.FillBatch(indices, buf.X.Span, buf.Lengths ?? default, buf.Labels, buf.Targets);
        _model.Training = true;
        _model.Forward(buf.X, buf.Lengths);
        double loss = _model.Head.Classifies ? _model.Loss(buf.Labels) : _model.Loss(buf.Targets);
        _model.BackwardLoss();
        return loss;
    }

    public ValidationResult? Validate()
    {
        if (_val == null) return null;
        int bmax = Math.Min(256, _val.Count), correct = 0;
        double sum = 0;
        var classes = new int[bmax];
        var order = new int[bmax];
        _model.Training = false;
        for (int s = 0; s < _val.Count; s += bmax)
        {
            int b = Math.Min(bmax, _val.Count - s);
            for (int i = 0; i < b; i++) order[i] = s + i;
            var buf = BatchFor(_val, b);
            _val.FillBatch(order.AsSpan(0, b), buf.X.Span, buf.Lengths ?? default, buf.Labels, buf.Targets);
            var output = _model.Forward(buf.X, buf.Lengths);
            sum += b * (_model.Head.Classifies ? _model.Loss(buf.Labels) : _model.Loss(buf.Targets));
            if (_model.Head.Classifies)
            {
                SequenceModel.ArgMax(output, classes);
                for (int i = 0; i < b; i++) if (classes[i] == buf.Labels[i]) correct++;
            }
        }
        var metrics = _model.Head.Classifies ? new Dictionary<string, double> { ["accuracy"] = (double)correct / _val.Count } : null;
        return new ValidationResult(sum / _val.Count, metrics);
    }

    public string[] SaveRngState() => _model.SaveRngState();
    public void RestoreRngState(string[] states) => _model.RestoreRngState(states);
    public IReadOnlyDictionary<string, string> CheckpointMetadata() => _model.Metadata(_job, _metadata);

    private Batch BatchFor(SequenceDataset d, int b)
    {
        if (_batch is { } cached && cached.B == b && cached.T == d.Steps && (cached.Lengths != null) == (d.Lengths != null)) return cached;
        return _batch = new Batch(b, d.Steps, d.Features, d.Lengths != null, _model.Spec.Outputs);
    }

    private sealed class Batch(int b, int t, int f, bool lengths, int o)
    {
        public readonly int B = b, T = t;
        public readonly Tensor X = Tensor.Zeros(b, t, f);           // [B, T, F]
        public readonly int[]? Lengths = lengths ? new int[b] : null; // [B]
        public readonly int[] Labels = new int[b];                  // [B]
        public readonly float[] Targets = new float[b * o];         // [B, O]
    }
}
