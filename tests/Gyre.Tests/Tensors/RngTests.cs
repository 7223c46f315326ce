using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Tensors;

public sealed class RngTests
{
    [Fact]
    public void Same_seed_same_bits_different_seed_different_bits()
    {
        var a = new Rng(42); var b = new Rng(42); var c = new Rng(43);
        var xa = Enumerable.Range(0, 100).Select(_ => a.NextUInt()).ToArray();
        Assert.Equal(xa, Enumerable.Range(0, 100).Select(_ => b.NextUInt()).ToArray());
        Assert.NotEqual(xa, Enumerable.Range(0, 100).Select(_ => c.NextUInt()).ToArray());
    }

    [Fact]
    public void Matches_an_independent_xoshiro128_starstar_with_splitmix64_seeding()
    {
        // Independent re-derivation with 64-bit arithmetic (masking), to guard the 32-bit implementation.
        ulong x = 12345;
        ulong Next64() { x += 0x9E3779B97F4A7C15UL; ulong z = x; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL; z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL; return z ^ (z >> 31); }
        ulong p = Next64(), q = Next64();
        ulong[] s = [p & 0xFFFFFFFF, p >> 32, q & 0xFFFFFFFF, q >> 32];
        static ulong Rotl(ulong v, int k) => ((v << k) | (v >> (32 - k))) & 0xFFFFFFFF;
        var rng = new Rng(12345);
        for (int i = 0; i < 1000; i++)
        {
            ulong r = Rotl((s[1] * 5) & 0xFFFFFFFF, 7) * 9 & 0xFFFFFFFF;
            ulong t = (s[1] << 9) & 0xFFFFFFFF;
            s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = Rotl(s[3], 11);
            Assert.Equal((uint)r, rng.NextUInt());
        }
    }

    [Fact]
    public void Distributions_have_the_right_moments_and_ranges()
    {
        var rng = new Rng(1);
        const int n = 200_000;
        double sum = 0, sumSq = 0;
        for (int i = 0; i < n; i++) { double g = rng.NextGaussian(); sum += g; sumSq += g * g; }
        Assert.InRange(sum / n, -0.01, 0.01);
        Assert.InRange(sumSq / n, 0.98, 1.02);
        var u = new float[n];
        rng.Uniform(u, -2f, 3f);
        Assert.All(u, v => Assert.InRange(v, -2f, 3f));
        Assert.InRange(u.Average(), 0.49, 0.51);
        var counts = new int[7];
        for (int i = 0; i < 70_000; i++) counts[rng.NextInt(7)]++;
        Assert.All(counts, k => Assert.InRange(k, 9_500, 10_500));
        Assert.Throws<ArgumentOutOfRangeException>(() => rng.NextInt(0));
    }

    [Theory]
    [InlineData(1e-300)]
    [InlineData(0.001)]
    [InlineData(0.5)]
    [InlineData(0.7071)]
    [InlineData(0.999999)]
    [InlineData(1.0)]
    [InlineData(123.456)]
    public void Own_log_matches_Math_Log(double v) => Assert.Equal(Math.Log(v), Rng.Log(v), 1e-13 * Math.Max(1, Math.Abs(Math.Log(v))));
}
