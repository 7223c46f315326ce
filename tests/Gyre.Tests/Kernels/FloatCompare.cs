namespace Gyre.Tests.Kernels;

/// <summary>Float comparison helpers for kernel tests: ulp distance and "close or same special value".</summary>
internal static class FloatCompare
{
    /// <summary>Maps the float bit patterns onto a line where adjacent floats differ by 1 (−0 and +0 both 0).</summary>
    public static long Ordered(float f)
    {
        int i = BitConverter.SingleToInt32Bits(f);
        return i >= 0 ? i : (long)int.MinValue - i;
    }

    /// <summary>Units in the last place between a and b; 0 when both are NaN, long.MaxValue when only one is.</summary>
    public static long Ulps(float a, float b)
    {
        if (float.IsNaN(a) || float.IsNaN(b)) return float.IsNaN(a) && float.IsNaN(b) ? 0 : long.MaxValue;
        return Math.Abs(Ordered(a) - Ordered(b));
    }

    /// <summary>True when both are NaN, both equal (infinities included), or |a − b| ≤ abs + rel·|b|.</summary>
    public static bool Close(float a, float b, float abs, float rel)
    {
        if (float.IsNaN(a) || float.IsNaN(b)) return float.IsNaN(a) && float.IsNaN(b);
        if (a == b) return true;
        if (float.IsInfinity(a) || float.IsInfinity(b)) return false;
        return Math.Abs((double)a - b) <= abs + rel * Math.Abs((double)b);
    }

    /// <summary>Every element <see cref="Close"/> to the twin's; the message names the buffer and index.</summary>
    public static void AssertAllClose(float[] actual, float[] expected, float abs, float rel, string what)
    {
        Xunit.Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
            Xunit.Assert.True(Close(actual[i], expected[i], abs, rel), $"{what}[{i}]: {actual[i]:R} vs twin {expected[i]:R}");
    }

    /// <summary>Every element the twin's bits (any NaN matches any NaN).</summary>
    public static void AssertSameBits(float[] actual, float[] expected, string what)
    {
        Xunit.Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
            Xunit.Assert.True(BitConverter.SingleToInt32Bits(actual[i]) == BitConverter.SingleToInt32Bits(expected[i]) || (float.IsNaN(actual[i]) && float.IsNaN(expected[i])),
                $"{what}[{i}]: {actual[i]:R} vs twin {expected[i]:R}");
    }

    /// <summary>Special inputs for kernel tests: NaN, ±Inf, ±0, huge, subnormal, and the saturation edges of σ / tanh / exp.</summary>
    /// <summary>len values uniform in [−scale, scale) from <paramref name="rng"/>.</summary>
    public static float[] Uniform(Gyre.Tensors.Rng rng, int len, float scale)
    {
        var a = new float[len];
        rng.Uniform(a, -scale, scale);
        return a;
    }

    /// <summary>Uniform in [−3, 3) with every third element from shift mod 3 replaced by one of <see cref="Specials"/>
    /// (cycling from shift), so each special value meets every vector lane and the scalar tail.</summary>
    public static float[] WithSpecials(Gyre.Tensors.Rng rng, int len, int shift)
    {
        var a = Uniform(rng, len, 3f);
        for (int i = shift % 3; i < len; i += 3) a[i] = Specials[(i / 3 + shift) % Specials.Length];
        return a;
    }

    public static readonly float[] Specials =
    [
        float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 1e30f, -1e30f, 200f, -200f,
        float.Epsilon, -1e-40f, 88f, -88f, 9.5f, -9.5f,
    ];

    public static float[] Random(Random rng, int n, float lo, float hi)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)rng.NextDouble();
        return a;
    }
}
