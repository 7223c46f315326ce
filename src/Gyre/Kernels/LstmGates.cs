namespace Gyre.Kernels;

/// <summary>
/// Fused pointwise LSTM gate kernels (forward and backward of one time step); see
/// <see cref="Reference.GateReference.LstmForward"/> for the equations and buffer layouts.
/// </summary>
public static class LstmGates
{
    public static void Forward(Span<float> hNext, Span<float> cNext, Span<float> saved,
        ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, int rows, int hidden)
        => Reference.GateReference.LstmForward(hNext, cNext, saved, gates, cPrev, rows, hidden);

    public static void Backward(Span<float> dGates, Span<float> dcPrev,
        ReadOnlySpan<float> dhNext, ReadOnlySpan<float> dcNext, ReadOnlySpan<float> saved, ReadOnlySpan<float> cPrev,
        int rows, int hidden)
        => Reference.GateReference.LstmBackward(dGates, dcPrev, dhNext, dcNext, saved, cPrev, rows, hidden);

    internal static void CheckForward(int hNext, int cNext, int saved, int gates, int cPrev, int rows, int hidden)
    {
        int n = rows * hidden;
        GruGates.Need(nameof(hNext), hNext, n); GruGates.Need(nameof(cNext), cNext, n);
        GruGates.Need(nameof(gates), gates, 4 * n); GruGates.Need(nameof(cPrev), cPrev, n);
        if (saved != 0) GruGates.Need(nameof(saved), saved, 5 * n);
    }

    internal static void CheckBackward(int dGates, int dcPrev, int dhNext, int dcNext, int saved, int cPrev, int rows, int hidden)
    {
        int n = rows * hidden;
        GruGates.Need(nameof(dGates), dGates, 4 * n); GruGates.Need(nameof(dcPrev), dcPrev, n);
        GruGates.Need(nameof(dhNext), dhNext, n); GruGates.Need(nameof(dcNext), dcNext, n);
        GruGates.Need(nameof(saved), saved, 5 * n); GruGates.Need(nameof(cPrev), cPrev, n);
    }
}
