using System.Numerics;

namespace Gyre.Tensors;

/// <summary>
/// Deterministic pseudo-random numbers: xoshiro128** (Blackman &amp; Vigna 2018) seeded by SplitMix64.
/// The same seed gives the same bits on every platform and runtime: only integer ops, IEEE +−×÷ and
/// sqrt are used (the Gaussian's logarithm is computed here, not by the C library, whose last-ulp
/// results differ between platforms). Not thread-safe: give each thread its own instance.
/// </summary>
public sealed class Rng
{
    private uint _s0, _s1, _s2, _s3;
    private double _spare;
    private bool _hasSpare;

    public Rng(ulong seed)
    {
        ulong x = seed;
        ulong a = SplitMix64(ref x), b = SplitMix64(ref x);
        _s0 = (uint)a; _s1 = (uint)(a >> 32); _s2 = (uint)b; _s3 = (uint)(b >> 32);
        if ((_s0 | _s1 | _s2 | _s3) == 0) _s0 = 0x9E3779B9u; // the all-zero state is a fixed point
    }

    /// <summary>The generator's full state as text (for checkpoints), restored by <see cref="Restore"/>.</summary>
    public string SaveState() =>
        string.Join(",", _s0, _s1, _s2, _s3, BitConverter.DoubleToInt64Bits(_spare), _hasSpare ? 1 : 0);

    public void Restore(string state)
    {
        var parts = state.Split(',');
        if (parts.Length != 6) throw new FormatException($"bad RNG state '{state}'");
        _s0 = uint.Parse(parts[0]); _s1 = uint.Parse(parts[1]); _s2 = uint.Parse(parts[2]); _s3 = uint.Parse(parts[3]);
        _spare = BitConverter.Int64BitsToDouble(long.Parse(parts[4])); _hasSpare = parts[5] == "1";
    }

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Next 32 random bits.</summary>
    public uint NextUInt()
    {
        uint result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        uint t = _s1 << 9;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 11);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 24 random bits: k·2⁻²⁴.</summary>
    public float NextFloat() => (NextUInt() >> 8) * (1f / 16777216f);

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble()
    {
        ulong hi = NextUInt() >> 5, lo = NextUInt() >> 6; // 27 + 26 bits
        return (hi * 67108864.0 + lo) * (1.0 / 9007199254740992.0);
    }

    /// <summary>Uniform integer in [0, n), unbiased (Lemire's multiply-and-reject).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), $"n must be positive (got {n})");
        ulong m = (ulong)NextUInt() * (uint)n;
        uint low = (uint)m;
        if (low < (uint)n)
        {
            uint threshold = (uint)(-n) % (uint)n;
            while (low < threshold)
            {
                m = (ulong)NextUInt() * (uint)n;
                low = (uint)m;
            }
        }
        return (int)(m >> 32);
    }

    /// <summary>Standard normal N(0, 1) by Marsaglia's polar method: z = u·√(−2 ln s / s), s = u² + v² ∈ (0, 1).</summary>
    public float NextGaussian() => (float)NextGaussianDouble();

    public double NextGaussianDouble()
    {
        if (_hasSpare) { _hasSpare = false; return _spare; }
        double u, v, s;
        do
        {
            u = 2 * NextDouble() - 1;
            v = 2 * NextDouble() - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        double f = Math.Sqrt(-2 * Log(s) / s);
        _spare = v * f;
        _hasSpare = true;
        return u * f;
    }

    /// <summary>Fills <paramref name="dst"/> with lo + (hi − lo)·U[0, 1).</summary>
    public void Uniform(Span<float> dst, float lo, float hi)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = lo + (hi - lo) * NextFloat();
    }

    /// <summary>Fills <paramref name="dst"/> with mean + std·N(0, 1).</summary>
    public void Normal(Span<float> dst, float mean, float std)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = (float)(mean + std * NextGaussianDouble());
    }

    /// <summary>Fisher–Yates shuffle in place.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>
    /// ln x for normal positive x, platform-independent: x = m·2ᵉ with m ∈ [√½, √2), then
    /// ln x = e·ln 2 + 2·atanh((m−1)/(m+1)) by its odd power series (|r| ≤ 0.1716, 13 terms reach 1e-17).
    /// </summary>
    internal static double Log(double x)
    {
        long bits = BitConverter.DoubleToInt64Bits(x);
        int e = (int)((bits >> 52) & 0x7FF) - 1023;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L); // [1, 2)
        if (m > 1.4142135623730951) { m *= 0.5; e++; }
        double r = (m - 1) / (m + 1), r2 = r * r;
        double term = r, sum = 0;
        for (int k = 1; k <= 25; k += 2)
        {
            sum += term / k;
            term *= r2;
        }
        return e * 0.6931471805599453 + 2 * sum;
    }
}
