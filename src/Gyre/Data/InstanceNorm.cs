namespace Gyre.Data;

/// <summary>
/// Reversible instance normalisation (RevIN, Kim et al. 2022) without the learned affine part (the
/// layer owns that): per window and column, μ = mean of the L lookback values, σ = √(var + ε)
/// (population variance); inputs become (x − μ)/σ and outputs are mapped back by y·σ + μ.
/// μ and σ are treated as constants (as RevIN detaches them), so the only backward is dy_norm = dy·σ.
/// Dimensions: B batch, L lookback, N horizon, K input columns; the first <c>count</c> columns are normalised.
/// </summary>
public static class InstanceNorm
{
    /// <summary>In place on input [B, L, K]; writes mean [B, count] and std [B, count].</summary>
    public static void Normalize(Span<float> input, Span<float> mean, Span<float> std, int B, int L, int K, int count, float eps = 1e-5f)
    {
        if (input.Length < B * L * K || mean.Length < B * count || std.Length < B * count || count > K)
            throw new ArgumentException($"InstanceNorm.Normalize: buffers too short for [B={B}, L={L}, K={K}], count {count}");
        for (int b = 0; b < B; b++)
        {
            var x = input.Slice(b * L * K, L * K);
            for (int c = 0; c < count; c++)
            {
                double s = 0;
                for (int t = 0; t < L; t++) s += x[t * K + c];
                double mu = s / L, v = 0;
                for (int t = 0; t < L; t++) { double d = x[t * K + c] - mu; v += d * d; }
                float sigma = (float)Math.Sqrt(v / L + eps);
                float m = (float)mu;
                for (int t = 0; t < L; t++) x[t * K + c] = (x[t * K + c] - m) / sigma;
                mean[b * count + c] = m;
                std[b * count + c] = sigma;
            }
        }
    }

    /// <summary>
    /// Last-value normalisation (SegRNN), in place on input [B, L, K]: the first <paramref name="count"/> columns
    /// become x − x_L (their value at the window's last step); writes level [B, count] = x_L and scale [B, count] = 1,
    /// so <see cref="Denormalize"/> undoes it. x_L is a constant, so the backward is the identity.
    /// </summary>
    public static void SubtractLast(Span<float> input, Span<float> level, Span<float> scale, int B, int L, int K, int count)
    {
        if (input.Length < B * L * K || level.Length < B * count || scale.Length < B * count || count > K)
            throw new ArgumentException($"InstanceNorm.SubtractLast: buffers too short for [B={B}, L={L}, K={K}], count {count}");
        for (int b = 0; b < B; b++)
        {
            var x = input.Slice(b * L * K, L * K);
            for (int c = 0; c < count; c++)
            {
                float last = x[(L - 1) * K + c];
                for (int t = 0; t < L; t++) x[t * K + c] -= last;
                level[b * count + c] = last;
                scale[b * count + c] = 1f;
            }
        }
    }

    /// <summary>Applies <paramref name="mode"/> ("revin", "last" or "none") in place on input [B, L, K]; writes level and scale [B, count].</summary>
    public static void Apply(string mode, Span<float> input, Span<float> level, Span<float> scale, int B, int L, int K, int count)
    {
        switch (mode)
        {
            case "revin": Normalize(input, level, scale, B, L, K, count); break;
            case "last": SubtractLast(input, level, scale, B, L, K, count); break;
            case "none": level.Slice(0, B * count).Clear(); scale.Slice(0, B * count).Fill(1f); break;
            default: throw new ArgumentException($"unknown normalisation '{mode}' (known: revin, last, none)");
        }
    }

    /// <summary>In place on output [B, N, C] (C = count): y = y_norm·σ + μ.</summary>
    public static void Denormalize(Span<float> output, ReadOnlySpan<float> mean, ReadOnlySpan<float> std, int B, int N, int C)
    {
        for (int b = 0; b < B; b++)
            for (int h = 0; h < N; h++)
                for (int c = 0; c < C; c++)
                {
                    ref float y = ref output[(b * N + h) * C + c];
                    y = y * std[b * C + c] + mean[b * C + c];
                }
    }

    /// <summary>Gradient through <see cref="Denormalize"/>, in place on dOutput [B, N, C]: dy_norm = dy·σ.</summary>
    public static void DenormalizeBackward(Span<float> dOutput, ReadOnlySpan<float> std, int B, int N, int C)
    {
        for (int b = 0; b < B; b++)
            for (int h = 0; h < N; h++)
                for (int c = 0; c < C; c++) dOutput[(b * N + h) * C + c] *= std[b * C + c];
    }
}
