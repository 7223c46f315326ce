namespace Gyre.Kernels.Reference;

/// <summary>
/// The obviously-correct SGEMM that <see cref="Gemm"/> is tested against. Same contract:
/// C[M, N] = (accumulate ? C : 0) + op(A)[M, K] · op(B)[K, N], all row-major with leading dimensions.
/// op(A) = A (A stored [M, lda]) or Aᵀ (A stored [K, lda]); likewise for B.
/// </summary>
public static class GemmReference
{
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate)
    {
        Gemm.Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float sum = 0f;
                for (int p = 0; p < k; p++)
                {
                    float av = transA ? a[p * lda + i] : a[i * lda + p];
                    float bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum = MathF.FusedMultiplyAdd(av, bv, sum);
                }
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
            }
    }
}
