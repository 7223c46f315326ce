namespace Gyre.Kernels.Reference;

/// <summary>The scalar twin of <see cref="GlaGates"/>: the definition the fast kernel is tested against.</summary>
public static class GlaGatesReference
{
    /// <summary>
    /// In place over n = q.Length elements: q ← q·<paramref name="scale"/>; a ← α = σ(a)^(1/16) =
    /// e^(min(a, 0)/16) / (1 + e^(−|a|))^(1/16); slope (unless empty) ← ∂α/∂a = α·(1 − σ(a))/16.
    /// a and slope (when not empty) must hold n floats.
    /// </summary>
    public static void Forward(Span<float> q, Span<float> a, Span<float> slope, float scale)
    {
        Check(q.Length, a.Length, slope.Length);
        const float inv = 1f / Cells.GlaCell.Tau;
        for (int j = 0; j < q.Length; j++)
        {
            q[j] *= scale;
            float x = a[j], e = MathF.Exp(-MathF.Abs(x)), onePlus = 1f + e;
            float alpha = MathF.Exp(MathF.Min(x, 0f) * inv) / MathF.Sqrt(MathF.Sqrt(MathF.Sqrt(MathF.Sqrt(onePlus))));
            a[j] = alpha;
            if (!slope.IsEmpty) slope[j] = alpha * ((x >= 0f ? e : 1f) / onePlus) * inv;
        }
    }

    internal static void Check(int q, int a, int slope)
    {
        MinGates.Need("a", a, q);
        if (slope != 0) MinGates.Need("slope", slope, q);
    }
}
