namespace Gyre.Kernels;

/// <summary>
/// Fused pointwise GRU gate kernels (forward and backward of one time step); see
/// <see cref="Reference.GateReference.GruForward"/> for the equations and buffer layouts.
/// </summary>
public static class GruGates
{
    public static void Forward(Span<float> hNext, Span<float> saved,
        ReadOnlySpan<float> gi, ReadOnlySpan<float> gh, ReadOnlySpan<float> hPrev, int rows, int hidden)
        => Reference.GateReference.GruForward(hNext, saved, gi, gh, hPrev, rows, hidden);

    public static void Backward(Span<float> dGi, Span<float> dGh, Span<float> dhPrev,
        ReadOnlySpan<float> dhNext, ReadOnlySpan<float> saved, ReadOnlySpan<float> hPrev, int rows, int hidden)
        => Reference.GateReference.GruBackward(dGi, dGh, dhPrev, dhNext, saved, hPrev, rows, hidden);

    internal static void CheckForward(int hNext, int saved, int gi, int gh, int hPrev, int rows, int hidden)
    {
        int n = rows * hidden;
        Need(nameof(hNext), hNext, n); Need(nameof(gi), gi, 3 * n); Need(nameof(gh), gh, 3 * n); Need(nameof(hPrev), hPrev, n);
        if (saved != 0) Need(nameof(saved), saved, 4 * n);
    }

    internal static void CheckBackward(int dGi, int dGh, int dhPrev, int dhNext, int saved, int hPrev, int rows, int hidden)
    {
        int n = rows * hidden;
        Need(nameof(dGi), dGi, 3 * n); Need(nameof(dGh), dGh, 3 * n); Need(nameof(dhPrev), dhPrev, n);
        Need(nameof(dhNext), dhNext, n); Need(nameof(saved), saved, 4 * n); Need(nameof(hPrev), hPrev, n);
    }

    internal static void Need(string name, int length, int need)
    {
        if (length < need) throw new ArgumentException($"span '{name}' holds {length} floats; {need} needed");
    }
}
