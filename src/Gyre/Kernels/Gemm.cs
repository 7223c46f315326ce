namespace Gyre.Kernels;

/// <summary>
/// Single-precision matrix multiply, row-major: C[M, N] = (accumulate ? C : 0) + op(A)[M, K] · op(B)[K, N].
/// op(A) is A stored [M, lda] or, when <c>transA</c>, Aᵀ with A stored [K, lda]; likewise B.
/// The scalar twin is <see cref="Reference.GemmReference"/>.
/// </summary>
public static partial class Gemm
{
    /// <summary>Throws unless every operand holds the rows its shape and leading dimension demand.</summary>
    public static void Validate(bool transA, bool transB, int m, int n, int k,
        int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), $"negative GEMM size m={m} n={n} k={k}");
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        Check("A", aRows, aCols, aLength, lda);
        Check("B", bRows, bCols, bLength, ldb);
        Check("C", m, n, cLength, ldc);

        static void Check(string name, int rows, int cols, int length, int ld)
        {
            if (rows == 0 || cols == 0) return;
            if (ld < cols) throw new ArgumentException($"GEMM operand {name}: leading dimension {ld} < {cols} columns");
            long need = (long)(rows - 1) * ld + cols;
            if (length < need) throw new ArgumentException($"GEMM operand {name}: span of {length} floats is shorter than the {need} that [{rows}, {cols}] with ld {ld} needs");
        }
    }
}

public static partial class Gemm
{
    /// <summary>
    /// C[M, N] = (accumulate ? C : 0) + op(A)[M, K] · op(B)[K, N]. Until the blocked kernel lands this
    /// forwards to the reference.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate)
        => Reference.GemmReference.Multiply(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}
