using Gyre.Training;

namespace Gyre.Models;

/// <summary>Regression head: out = z·Wᵀ + b, loss MSE, MAE or Huber over all B·O outputs (<see cref="Losses"/>).</summary>
public sealed class LinearHead(int inputSize, int outputs, ulong seed, LossKind loss = LossKind.Mse) : Head(inputSize, outputs, seed)
{
    public override string Kind => "linear";
    public override bool Classifies => false;
    public LossKind LossKind { get; } = loss is LossKind.Quantile ? throw new ArgumentException("the linear head has no quantile loss") : loss;

    public override double Loss(ReadOnlySpan<float> output, ReadOnlySpan<float> targets, Span<float> dOutput) =>
        Losses.Compute(LossKind, output, targets, default, dOutput, default);
}

/// <summary>
/// A head over O classes with optional per-class loss weights w [O]: the loss is Σ_b w_{y_b}·ℓ(out_b, y_b) / Σ_b w_{y_b}
/// (w = 1 without weights), ℓ the per-row loss of the kind; the predicted class is argmax_k out_bk.
/// </summary>
public abstract class ClassificationHead(int inputSize, int classes, ulong seed) : Head(inputSize, classes, seed)
{
    public override bool Classifies => true;

    /// <summary>Per-class weights w [O] (null: all 1).</summary>
    public float[]? ClassWeights { get; set; }

    public sealed override double Loss(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, Span<float> dOutput)
    {
        int o = Outputs, b = labels.Length;
        ClassLoss.Check(output, labels, dOutput, o, ClassWeights);
        double total = 0, weightSum = 0;
        for (int i = 0; i < b; i++) weightSum += ClassLoss.Weight(ClassWeights, labels[i]);
        if (weightSum == 0) { dOutput.Slice(0, output.Length).Clear(); return 0; }
        for (int i = 0; i < b; i++)
            total += RowLoss(output.Slice(i * o, o), labels[i], ClassLoss.Weight(ClassWeights, labels[i]) / weightSum, dOutput.Slice(i * o, o));
        return total;
    }

    /// <summary>weight·ℓ(z, y); writes weight·∂ℓ/∂z into <paramref name="dz"/>.</summary>
    protected abstract double RowLoss(ReadOnlySpan<float> z, int label, double weight, Span<float> dz);
}

/// <summary>
/// Classification by softmax: p = softmax(out), weighted cross-entropy against the label-smoothed target
/// q_k = (1 − ε)·[k = y] + ε/O, as PyTorch's nn.CrossEntropyLoss(weight = w, label_smoothing = ε) without weights:
/// ℓ = −Σ_k q_k·log p_k, so L = Σ_b w_{y_b}·ℓ_b / Σ_b w_{y_b}; ∂L/∂out_b = w_{y_b}·(p_b − q_b) / Σ_b w_{y_b}
/// (with weights each row's whole smoothed loss carries its label's weight). ε = 0 is plain cross-entropy.
/// </summary>
public sealed class SoftmaxHead(int inputSize, int classes, ulong seed, float labelSmoothing = 0f) : ClassificationHead(inputSize, classes, seed)
{
    public override string Kind => "softmax";

    /// <summary>ε in [0, 1).</summary>
    public float LabelSmoothing { get; } = labelSmoothing is >= 0f and < 1f ? labelSmoothing
        : throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"label smoothing must be in [0, 1), got {labelSmoothing}");

    protected override double RowLoss(ReadOnlySpan<float> z, int y, double w, Span<float> dz)
    {
        // log-sum-exp shifted by the maximum so exp never overflows.
        float max = z[0];
        for (int k = 1; k < z.Length; k++) max = MathF.Max(max, z[k]);
        double sum = 0;
        for (int k = 0; k < z.Length; k++) sum += Math.Exp(z[k] - max);
        double lse = max + Math.Log(sum), spread = (double)LabelSmoothing / z.Length, loss = lse;
        for (int k = 0; k < z.Length; k++)
        {
            double q = (k == y ? 1 - LabelSmoothing : 0) + spread;
            dz[k] = (float)(w * (Math.Exp(z[k] - lse) - q));
            loss -= q * z[k];
        }
        return w * loss;
    }
}

/// <summary>
/// Multi-class L2-SVM (one-vs-rest squared hinge, as in GRU-SVM): targets t_k = +1 for k = y and −1 otherwise,
/// ℓ = (1/O)·Σ_k max(0, 1 − t_k·out_k)², so L is the (weighted) mean of the B·O squared hinges; the ½‖W‖² term
/// of the SVM objective is AdamW's weight decay. ∂ℓ/∂out_k = −(2/O)·t_k·max(0, 1 − t_k·out_k).
/// </summary>
public sealed class SvmHead(int inputSize, int classes, ulong seed) : ClassificationHead(inputSize, classes, seed)
{
    public override string Kind => "svm";

    protected override double RowLoss(ReadOnlySpan<float> z, int y, double w, Span<float> dz)
    {
        double total = 0, scale = w / z.Length;
        for (int k = 0; k < z.Length; k++)
        {
            float t = k == y ? 1f : -1f;
            double margin = Math.Max(0.0, 1.0 - t * z[k]);
            total += margin * margin;
            dz[k] = (float)(-2.0 * t * margin * scale);
        }
        return total * scale;
    }
}

internal static class ClassLoss
{
    public static double Weight(float[]? weights, int label) => weights == null ? 1.0 : weights[label];

    public static void Check(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, Span<float> dOutput, int classes, float[]? weights)
    {
        if (output.Length != labels.Length * classes || dOutput.Length < output.Length)
            throw new ArgumentException($"loss: {output.Length} outputs for {labels.Length} labels × {classes} classes");
        if (weights != null && weights.Length != classes) throw new ArgumentException($"{weights.Length} class weights for {classes} classes");
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classes) throw new ArgumentException($"label {labels[i]} of row {i} is outside 0..{classes - 1}");
    }
}
