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
/// Classification by softmax: p = softmax(out), weighted cross-entropy as PyTorch's
/// nn.CrossEntropyLoss(weight = w): L = Σ_b w_{y_b}·(−log p_{b, y_b}) / Σ_b w_{y_b} (w = 1 without class weights);
/// ∂L/∂out_b = w_{y_b}·(p_b − onehot(y_b)) / Σ_b w_{y_b}.
/// </summary>
public sealed class SoftmaxHead(int inputSize, int classes, ulong seed) : Head(inputSize, classes, seed)
{
    public override string Kind => "softmax";
    public override bool Classifies => true;

    /// <summary>Per-class weights w [O] (null: all 1).</summary>
    public float[]? ClassWeights { get; set; }

    public override double Loss(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, Span<float> dOutput)
    {
        int o = Outputs, b = labels.Length;
        ClassLoss.Check(output, labels, dOutput, o, ClassWeights);
        double total = 0, weightSum = 0;
        for (int i = 0; i < b; i++) weightSum += ClassLoss.Weight(ClassWeights, labels[i]);
        for (int i = 0; i < b; i++)
        {
            var z = output.Slice(i * o, o); var dz = dOutput.Slice(i * o, o);
            int y = labels[i];
            double w = ClassLoss.Weight(ClassWeights, y) / weightSum;
            // log-sum-exp shifted by the maximum so exp never overflows.
            float max = z[0];
            for (int k = 1; k < o; k++) max = MathF.Max(max, z[k]);
            double sum = 0;
            for (int k = 0; k < o; k++) sum += Math.Exp(z[k] - max);
            double lse = max + Math.Log(sum);
            total += w * (lse - z[y]);
            for (int k = 0; k < o; k++) dz[k] = (float)(w * (Math.Exp(z[k] - lse) - (k == y ? 1 : 0)));
        }
        return total;
    }

    /// <summary>Softmax probabilities [B, O] of out [B, O] into <paramref name="probabilities"/>.</summary>
    public static void Probabilities(ReadOnlySpan<float> output, Span<float> probabilities, int classes)
    {
        for (int i = 0; i < output.Length / classes; i++)
        {
            var z = output.Slice(i * classes, classes); var p = probabilities.Slice(i * classes, classes);
            System.Numerics.Tensors.TensorPrimitives.SoftMax(z, p);
        }
    }
}

/// <summary>
/// Multi-class L2-SVM (one-vs-rest squared hinge, as in GRU-SVM): targets t_bk = +1 for k = y_b and −1 otherwise,
/// L = Σ_b w_{y_b}·Σ_k max(0, 1 − t_bk·out_bk)² / (O·Σ_b w_{y_b}), the mean of the squared hinges; the ½‖W‖²
/// term of the SVM objective is AdamW's weight decay. ∂L/∂out_bk = −2·t_bk·max(0, 1 − t_bk·out_bk)·w_{y_b} / (O·Σ w).
/// The predicted class is argmax_k out_bk.
/// </summary>
public sealed class SvmHead(int inputSize, int classes, ulong seed) : Head(inputSize, classes, seed)
{
    public override string Kind => "svm";
    public override bool Classifies => true;

    /// <summary>Per-class weights w [O] (null: all 1).</summary>
    public float[]? ClassWeights { get; set; }

    public override double Loss(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, Span<float> dOutput)
    {
        int o = Outputs, b = labels.Length;
        ClassLoss.Check(output, labels, dOutput, o, ClassWeights);
        double total = 0, weightSum = 0;
        for (int i = 0; i < b; i++) weightSum += ClassLoss.Weight(ClassWeights, labels[i]);
        for (int i = 0; i < b; i++)
        {
            double w = ClassLoss.Weight(ClassWeights, labels[i]) / (o * weightSum);
            for (int k = 0; k < o; k++)
            {
                float t = k == labels[i] ? 1f : -1f;
                double margin = Math.Max(0.0, 1.0 - t * output[i * o + k]);
                total += w * margin * margin;
                dOutput[i * o + k] = (float)(-2.0 * t * margin * w);
            }
        }
        return total;
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
