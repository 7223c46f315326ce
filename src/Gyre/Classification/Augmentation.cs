using Gyre.Data;
using Gyre.Tensors;

namespace Gyre.Classification;

/// <summary>
/// Training-set augmentation for small sequence sets: each copy of a case is a random window slice
/// (Le Guennec et al. 2016) stretched back to the case's length, plus a little jitter. A slice keeps a
/// fraction u ~ U[<see cref="MinSlice"/>, 1] of the steps starting at a random position, so the copies differ
/// by the small shifts and stretches that DTW forgives and a recurrent network otherwise has to learn from
/// few examples. Deterministic for a seed.
/// </summary>
public static class Augmentation
{
    /// <summary>Shortest window kept, as a fraction of the case.</summary>
    public const double MinSlice = 0.8;

    /// <summary>Jitter standard deviation as a fraction of each channel's standard deviation in the case.</summary>
    public const double Jitter = 0.03;

    /// <summary>
    /// Copies per case by default: enough for about 4000 training sequences, at most 15. The epoch count follows a
    /// step budget, so more copies mean more varied batches, not longer training.
    /// </summary>
    public static int AutoCopies(int cases) => Math.Clamp((4000 + cases - 1) / cases - 1, 0, 15);

    /// <summary>One augmented copy of a [T, C] case: x′[t, c] = x(s + t·(L − 1)/(T − 1), c) + ε, linear interpolation, ε ~ N(0, (0.03·σ_c)²).</summary>
    public static LabeledSequence Copy(LabeledSequence s, int channels, Rng rng)
    {
        int T = s.Length, C = channels;
        var x = s.Values;
        var y = new float[x.Length];                          // [T, C]
        double window = (MinSlice + (1 - MinSlice) * rng.NextDouble()) * (T - 1);
        double start = rng.NextDouble() * (T - 1 - window);
        for (int t = 0; t < T; t++)
        {
            double pos = T == 1 ? 0 : start + t * window / (T - 1);
            int i0 = Math.Min((int)pos, T - 1), i1 = Math.Min(i0 + 1, T - 1);
            double w = pos - i0;
            for (int c = 0; c < C; c++) y[t * C + c] = (float)((1 - w) * x[i0 * C + c] + w * x[i1 * C + c]);
        }
        for (int c = 0; c < C; c++)
        {
            double sum = 0, sq = 0;
            for (int t = 0; t < T; t++) { double v = x[t * C + c]; sum += v; sq += v * v; }
            double sd = Math.Sqrt(Math.Max(0, sq / T - sum / T * (sum / T)));
            float scale = (float)(Jitter * sd);
            if (scale > 0)
                for (int t = 0; t < T; t++) y[t * C + c] += scale * rng.NextGaussian();
        }
        return new LabeledSequence(s.Id, y, C, s.Label, s.Target, s.Line);
    }
}
