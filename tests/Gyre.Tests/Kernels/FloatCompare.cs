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

    public static float[] Random(Random rng, int n, float lo, float hi)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)rng.NextDouble();
        return a;
    }
}
