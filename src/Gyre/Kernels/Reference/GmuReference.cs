using static Gyre.Kernels.GruResetBeforeGates;

namespace Gyre.Kernels.Reference;

/// <summary>
/// Scalar twins of <see cref="GmuGates"/>: the gate of the gated memory unit (<see cref="Layers.GatedMemoryUnit"/>),
/// elementwise over N values (N = rows · D_m; the layer's GEMM has already formed a = W_g·x + b_g):
/// <code>
/// forward:  g = σ(a), y = g ⊙ m
/// backward: dm = dy ⊙ g, da = dy ⊙ m ⊙ g(1 − g)
/// </code>
/// g may share its buffer with a (in place), da with dy.
/// </summary>
public static class GmuReference
{
    /// <summary>gate[N] = σ(a), y[N] = gate ⊙ m.</summary>
    public static void Forward(Span<float> y, Span<float> gate, ReadOnlySpan<float> a, ReadOnlySpan<float> m, int n)
    {
        Check(y.Length, gate.Length, a.Length, m.Length, n, "y", "gate", "a", "m");
        for (int i = 0; i < n; i++)
        {
            float g = GateReference.Sigmoid(a[i]);
            gate[i] = g;
            y[i] = g * m[i];
        }
    }

    /// <summary>Backward of <see cref="Forward"/> (overwrites): dM[N] = dy ⊙ gate, dA[N] = dy ⊙ m ⊙ gate(1 − gate).</summary>
    public static void Backward(Span<float> dA, Span<float> dM, ReadOnlySpan<float> dy, ReadOnlySpan<float> gate, ReadOnlySpan<float> m, int n)
    {
        Check(dA.Length, dM.Length, dy.Length, gate.Length, n, "dA", "dM", "dy", "gate");
        Need(nameof(m), m.Length, n);
        for (int i = 0; i < n; i++)
        {
            float g = gate[i], d = dy[i];
            dM[i] = d * g;
            dA[i] = d * m[i] * (g * (1f - g));
        }
    }

    internal static void Check(int l0, int l1, int l2, int l3, int n, string n0, string n1, string n2, string n3)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), $"length must be ≥ 0, got {n}");
        Need(n0, l0, n); Need(n1, l1, n); Need(n2, l2, n); Need(n3, l3, n);
    }
}
