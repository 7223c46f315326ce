namespace Gyre.Training;

/// <summary>The training losses a forecaster can use.</summary>
public enum LossKind { Mse, Mae, Huber, Quantile, Gaussian, StudentT, NegBinomial }

/// <summary>
/// Losses over predictions and targets with an optional mask (0 = missing target, ignored):
/// each returns the mean over counted elements and writes ∂loss/∂prediction.
/// Quantile predictions are laid out [..., Q] per target element; a distribution loss (<see cref="Distributions"/>)
/// takes its P raw parameters per target element the same way and returns the mean negative log-likelihood.
/// </summary>
public static class Losses
{
    public static LossKind Parse(string name) => name.ToLowerInvariant() switch
    {
        "mse" => LossKind.Mse,
        "mae" or "l1" => LossKind.Mae,
        "huber" => LossKind.Huber,
        "quantile" or "pinball" => LossKind.Quantile,
        "gaussian" or "normal" => LossKind.Gaussian,
        "studentt" or "student-t" => LossKind.StudentT,
        "negbinomial" or "negative-binomial" => LossKind.NegBinomial,
        _ => throw new ArgumentException($"unknown loss '{name}' (known: mse, mae, huber, quantile, gaussian, studentt, negbinomial)"),
    };

    /// <summary>
    /// Mean loss over targets t[n] (counted where mask[n] ≠ 0) of predictions p[n·Q + q];
    /// writes grad (same layout as p). Q = 1 except for the quantile loss.
    /// Huber: ½e² for |e| ≤ δ, δ(|e| − ½δ) beyond. Pinball: max(τe, (τ − 1)e) with e = t − p.
    /// </summary>
    public static double Compute(LossKind kind, ReadOnlySpan<float> p, ReadOnlySpan<float> t, ReadOnlySpan<float> mask,
        Span<float> grad, ReadOnlySpan<float> quantiles, float huberDelta = 1f)
    {
        if (Distributions.IsDistribution(kind)) return Distributions.NllRaw(kind, p, t, mask, grad);
        int q = kind == LossKind.Quantile ? quantiles.Length : 1;
        if (q == 0) throw new ArgumentException("the quantile loss needs at least one quantile");
        if (p.Length != t.Length * q || grad.Length < p.Length) throw new ArgumentException($"loss: {p.Length} predictions for {t.Length} targets × {q} quantiles");
        int count = 0;
        for (int n = 0; n < t.Length; n++) if (mask.IsEmpty || mask[n] != 0f) count++;
        grad.Slice(0, p.Length).Clear();
        if (count == 0) return 0;
        double total = 0;
        float scale = 1f / (count * q);
        for (int n = 0; n < t.Length; n++)
        {
            if (!mask.IsEmpty && mask[n] == 0f) continue;
            for (int k = 0; k < q; k++)
            {
                int idx = n * q + k;
                float e = p[idx] - t[n];
                switch (kind)
                {
                    case LossKind.Mse: total += (double)e * e; grad[idx] = 2f * e * scale; break;
                    case LossKind.Mae: total += Math.Abs(e); grad[idx] = MathF.Sign(e) * scale; break;
                    case LossKind.Huber:
                        float a = MathF.Abs(e);
                        if (a <= huberDelta) { total += 0.5 * e * e; grad[idx] = e * scale; }
                        else { total += huberDelta * (a - 0.5 * huberDelta); grad[idx] = huberDelta * MathF.Sign(e) * scale; }
                        break;
                    default:
                        float tau = quantiles[k], diff = t[n] - p[idx];
                        total += diff >= 0 ? tau * diff : (tau - 1f) * diff;
                        grad[idx] = (diff > 0 ? -tau : diff < 0 ? 1f - tau : 0f) * scale;
                        break;
                }
            }
        }
        return total * scale;
    }
}
