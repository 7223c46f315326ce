namespace Gyre.Kernels;

public static unsafe partial class Gemm
{
    /// <summary>
    /// C[M, N] = (accumulate ? C : 0) + A[M, K] · B[K, N] on the calling thread only, with B pre-packed
    /// (<see cref="PackedMatrix.Pointer"/>, N columns, depth K): for kernels that already split their work over a team, e.g. a
    /// recurrent sequence whose batch rows are divided between workers for all time steps.
    /// With <paramref name="rowInit"/> [N] (not null, accumulate false) every row of C starts from it instead of 0.
    /// </summary>
    internal static void MultiplyPackedSerial(int m, float* a, nint lda, float* packedB, int n, int k, float* c, nint ldc, bool accumulate,
        float* rowInit = null)
    {
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (rowInit != null) for (int r = 0; r < m; r++) new ReadOnlySpan<float>(rowInit, n).CopyTo(new Span<float>(c + r * ldc, n));
            else if (!accumulate) ZeroC(c, m, n, ldc);
            return;
        }
        Compute(null, false, m, n, k, a, lda, packedB, c, ldc, accumulate, rowInit);
    }

    /// <summary>
    /// As <see cref="MultiplyPackedSerial"/>, but a problem large enough is split over <paramref name="team"/>
    /// (by N panels, never K: same bits as on one thread); null keeps it on the calling thread. The same
    /// choice as <see cref="Multiply(bool, int, ReadOnlySpan{float}, int, PackedMatrix, Span{float}, int, bool, WorkerTeam?)"/>.
    /// </summary>
    internal static void MultiplyPacked(int m, float* a, nint lda, float* packedB, int n, int k, float* c, nint ldc, bool accumulate,
        WorkerTeam? team)
    {
        if (team is null || m == 0 || n == 0 || k == 0) { MultiplyPackedSerial(m, a, lda, packedB, n, k, c, ldc, accumulate); return; }
        Compute(ChooseTeam(team, m, n, k), false, m, n, k, a, lda, packedB, c, ldc, accumulate);
    }
}
