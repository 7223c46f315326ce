using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// Building blocks cells use inside their step: the dense recurrent products against the packed W_hh and
/// the default dense weight gradient. A product runs on <see cref="StepTeam"/> (split by output columns,
/// never by K, so the bits do not depend on it) when the runner splits units, else on the calling thread.
/// </summary>
public static unsafe class CellOps
{
    /// <summary>Set by the runner on its own thread while it runs a sequence with units split over a team;
    /// null (serial) on every worker of a row split.</summary>
    [ThreadStatic] internal static WorkerTeam? StepTeam;

    /// <summary>c [R, n] (ldc) = (accumulate ? c : 0) + a [R, H] (lda) · W_hhᵀ with W_hhᵀ packed (K = H, N = n).</summary>
    public static void HiddenProduct(int rows, float* a, nint lda, in CellWeights w, int n, int hidden, float* c, nint ldc, bool accumulate) =>
        Gemm.MultiplyPacked(rows, a, lda, w.WhhT, n, hidden, c, ldc, accumulate, StepTeam);

    /// <summary>dhPrev [R, H] = (accumulate ? dhPrev : 0) + dG [R, n] · W_hh with W_hh packed (K = n = G·H, N = H).</summary>
    public static void HiddenProductBackward(int rows, float* dG, nint ldg, in CellWeights w, int n, int hidden, float* dhPrev, bool accumulate) =>
        Gemm.MultiplyPacked(rows, dG, ldg, w.WhhPacked, hidden, n, dhPrev, hidden, accumulate, StepTeam);

    /// <summary>C [M, N] (+)= op(A)·op(B) on <see cref="StepTeam"/> (unpacked operands, e.g. a block of W_hh).</summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float* a, int lda, long aLength,
        float* b, int ldb, long bLength, float* c, int ldc, long cLength, bool accumulate) =>
        Gemm.Multiply(transA, transB, m, n, k, new ReadOnlySpan<float>(a, checked((int)aLength)), lda,
            new ReadOnlySpan<float>(b, checked((int)bLength)), ldb, new Span<float>(c, checked((int)cLength)), ldc, accumulate,
            StepTeam ?? Serial);

    /// <summary>A one-worker team: multiplies on the calling thread.</summary>
    internal static readonly WorkerTeam Serial = new(1);

    /// <summary>Dense dW_hh [G·H, H] += dGhᵀ [G·H, N] · H_prev [N, H].</summary>
    public static void DenseRecurrentGradients(in CellWeightGradients g)
    {
        int gh = g.Gates * g.Hidden;
        Gemm.Multiply(true, false, gh, g.Hidden, g.Rows, new ReadOnlySpan<float>(g.DGh, checked(g.Rows * gh)), gh,
            new ReadOnlySpan<float>(g.HPrev, checked(g.Rows * g.Hidden)), g.Hidden,
            new Span<float>(g.DWhh, checked(gh * g.Hidden)), g.Hidden, true);
    }
}
