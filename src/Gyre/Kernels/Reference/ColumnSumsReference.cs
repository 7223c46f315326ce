namespace Gyre.Kernels.Reference;

/// <summary>Scalar twin of <see cref="ColumnSums"/>: the definition its blocked SIMD passes are tested against.</summary>
public static class ColumnSumsReference
{
    /// <summary>dst[j] += src[0, j] + src[1, j] + … (rows in order, float adds) for j in [j0, j1) of src [rows, ld].</summary>
    public static void Accumulate(Span<float> dst, ReadOnlySpan<float> src, int ld, int rows, int j0, int j1)
    {
        for (int j = j0; j < j1; j++)
            for (int r = 0; r < rows; r++) dst[j] += src[r * ld + j];
    }
}
