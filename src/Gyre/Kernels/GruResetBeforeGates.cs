namespace Gyre.Kernels;

/// <summary>
/// Pointwise kernels of the reset-before GRU (<see cref="Cells.GruResetBeforeCellMath"/>). A step is
/// split in two around the second GEMM (r ⊙ h)·W_hnᵀ, so each half is its own kernel. Scalar twins with
/// the same signatures, equations and buffer layouts: <see cref="Reference.GruResetBeforeReference"/>.
/// Letters: R rows (batch entries of one step), H hidden units.
/// </summary>
public static class GruResetBeforeGates
{
    /// <inheritdoc cref="Reference.GruResetBeforeReference.ResetForward"/>
    public static void ResetForward(Span<float> rh, Span<float> gates, ReadOnlySpan<float> hPrev, int rows, int hidden)
        => Reference.GruResetBeforeReference.ResetForward(rh, gates, hPrev, rows, hidden);

    /// <inheritdoc cref="Reference.GruResetBeforeReference.CandidateForward"/>
    public static void CandidateForward(Span<float> hNext, Span<float> saved,
        ReadOnlySpan<float> gates, ReadOnlySpan<float> rh, ReadOnlySpan<float> hPrev, int rows, int hidden)
        => Reference.GruResetBeforeReference.CandidateForward(hNext, saved, gates, rh, hPrev, rows, hidden);

    /// <inheritdoc cref="Reference.GruResetBeforeReference.CandidateBackward"/>
    public static void CandidateBackward(Span<float> dGates, Span<float> dhPrev,
        ReadOnlySpan<float> dhNext, ReadOnlySpan<float> saved, ReadOnlySpan<float> hPrev, int rows, int hidden)
        => Reference.GruResetBeforeReference.CandidateBackward(dGates, dhPrev, dhNext, saved, hPrev, rows, hidden);

    /// <inheritdoc cref="Reference.GruResetBeforeReference.ResetBackward"/>
    public static void ResetBackward(Span<float> dGates, Span<float> dhPrev,
        ReadOnlySpan<float> dRh, ReadOnlySpan<float> saved, ReadOnlySpan<float> hPrev, int rows, int hidden)
        => Reference.GruResetBeforeReference.ResetBackward(dGates, dhPrev, dRh, saved, hPrev, rows, hidden);

    internal static void Need(string name, int length, int need)
    {
        if (length < need) throw new ArgumentException($"span '{name}' holds {length} floats; {need} needed");
    }
}
