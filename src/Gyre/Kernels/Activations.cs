namespace Gyre.Kernels;

/// <summary>Elementwise activations over spans; scalar twins in <see cref="Reference.GateReference"/>.</summary>
public static class Activations
{
    public static void Sigmoid(Span<float> dst, ReadOnlySpan<float> src) => Reference.GateReference.Sigmoid(dst, src);

    public static void Tanh(Span<float> dst, ReadOnlySpan<float> src) => Reference.GateReference.Tanh(dst, src);
}
