namespace Gyre.Anomaly;

/// <summary>
/// Gaussian negative log-likelihood of targets y [B, C] under heads out [B, 2C] = (μ [C], s [C]) with
/// log σ = clamp(s, −LogSigmaLimit, LogSigmaLimit):
/// L = (1/(B·C)) Σ (log σ + (y − μ)²/(2σ²) + ½ log 2π);
/// ∂L/∂μ = −(y − μ)/σ² /(B·C), ∂L/∂s = (1 − (y − μ)²/σ²)/(B·C) inside the clamp, 0 outside (as torch.clamp).
/// </summary>
public static class GaussianNll
{
    /// <summary>|log σ| bound: σ in [e⁻⁶, e⁶] of the standardised scale keeps 1/σ² finite in float.</summary>
    public const float LogSigmaLimit = 6f;

    private static readonly double HalfLog2Pi = 0.5 * Math.Log(2 * Math.PI);

    public static double Loss(ReadOnlySpan<float> output, ReadOnlySpan<float> targets, int channels, Span<float> dOutput)
    {
        int b = targets.Length / channels;
        if (output.Length != 2 * targets.Length || dOutput.Length < output.Length) throw new ArgumentException($"outputs [{b}, {2 * channels}] do not match targets [{b}, {channels}]");
        double total = 0, scale = 1.0 / targets.Length;
        for (int i = 0; i < b; i++)
            for (int c = 0; c < channels; c++)
            {
                int o = i * 2 * channels;
                float s = output[o + channels + c];
                double logSigma = Math.Clamp(s, -LogSigmaLimit, LogSigmaLimit);
                double inv = Math.Exp(-2 * logSigma), e = targets[i * channels + c] - output[o + c];
                total += logSigma + 0.5 * e * e * inv + HalfLog2Pi;
                dOutput[o + c] = (float)(-e * inv * scale);
                dOutput[o + channels + c] = Math.Abs(s) < LogSigmaLimit ? (float)((1 - e * e * inv) * scale) : 0f;
            }
        return total * scale;
    }
}
