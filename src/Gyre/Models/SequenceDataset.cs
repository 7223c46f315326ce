namespace Gyre.Models;

/// <summary>
/// N sequences for a <see cref="SequenceModel"/>: inputs X [N, T, F] padded to a common T, optional valid lengths
/// [N] (1..T; null: all T), and either class labels [N] (classification heads) or real targets [N, O] (linear head).
/// </summary>
public sealed class SequenceDataset
{
    /// <summary>[N, T, F] row-major.</summary>
    public float[] X { get; }
    public int Count { get; }
    /// <summary>T.</summary>
    public int Steps { get; }
    /// <summary>F.</summary>
    public int Features { get; }
    /// <summary>[N] valid steps per sequence, or null when every sequence has T.</summary>
    public int[]? Lengths { get; }
    /// <summary>[N] class labels, or null for regression.</summary>
    public int[]? Labels { get; }
    /// <summary>[N, O] regression targets, or null for classification.</summary>
    public float[]? Targets { get; }
    /// <summary>O for regression targets (0 with labels).</summary>
    public int TargetWidth { get; }

    public SequenceDataset(float[] x, int count, int steps, int features, int[]? lengths = null, int[]? labels = null,
        float[]? targets = null, int targetWidth = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (count <= 0 || steps <= 0 || features <= 0) throw new ArgumentException($"dataset shape [{count}, {steps}, {features}] must be positive");
        if ((long)count * steps * features != x.Length) throw new ArgumentException($"{x.Length} input values for [{count}, {steps}, {features}]");
        if ((labels == null) == (targets == null)) throw new ArgumentException("give exactly one of labels or targets");
        if (labels != null && labels.Length != count) throw new ArgumentException($"{labels.Length} labels for {count} sequences");
        if (targets != null && (targetWidth <= 0 || targets.Length != (long)count * targetWidth))
            throw new ArgumentException($"{targets.Length} targets for {count} sequences × {targetWidth}");
        if (lengths != null)
        {
            if (lengths.Length != count) throw new ArgumentException($"{lengths.Length} lengths for {count} sequences");
            for (int i = 0; i < count; i++)
                if (lengths[i] < 1 || lengths[i] > steps) throw new ArgumentException($"sequence {i} has length {lengths[i]}, outside 1..{steps}");
        }
        X = x; Count = count; Steps = steps; Features = features; Lengths = lengths; Labels = labels; Targets = targets;
        TargetWidth = targets != null ? targetWidth : 0;
    }

    /// <summary>Copies sequences <paramref name="indices"/> into x [B, T, F], lengths [B], labels [B] or targets [B, O] (each may be empty when absent).</summary>
    public void FillBatch(ReadOnlySpan<int> indices, Span<float> x, Span<int> lengths, Span<int> labels, Span<float> targets)
    {
        int row = Steps * Features, o = TargetWidth;
        for (int b = 0; b < indices.Length; b++)
        {
            int i = indices[b];
            X.AsSpan(i * row, row).CopyTo(x.Slice(b * row, row));
            if (Lengths != null) lengths[b] = Lengths[i];
            if (Labels != null) labels[b] = Labels[i];
            if (Targets != null) Targets.AsSpan(i * o, o).CopyTo(targets.Slice(b * o, o));
        }
    }
}
