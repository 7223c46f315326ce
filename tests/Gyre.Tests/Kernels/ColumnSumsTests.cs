using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Kernels;

/// <summary><see cref="ColumnSums"/> (register-blocked SIMD passes) against its scalar twin
/// <see cref="ColumnSumsReference"/>: the same bits over every column count 0..300 (every mix of 8-, 4-, 2- and 1-vector
/// passes and scalar tails at each vector width), column ranges that start anywhere, row strides wider than the range,
/// special values (±0, ±∞, NaN, subnormals, huge values whose sums overflow or cancel), and nothing written outside [j0, j1).</summary>
[Trait("Category", "Kernels")]
public class ColumnSumsTests
{
    private static unsafe void Compare(float[] src, int ld, int rows, int j0, int j1, float[] start, string what)
    {
        var fast = (float[])start.Clone();
        var twin = (float[])start.Clone();
        fixed (float* d = fast) fixed (float* s = src) ColumnSums.Accumulate(d, s, ld, rows, j0, j1);
        ColumnSumsReference.Accumulate(twin, src, ld, rows, j0, j1);
        for (int j = 0; j < fast.Length; j++)
            if (BitConverter.SingleToInt32Bits(fast[j]) != BitConverter.SingleToInt32Bits(twin[j]))
                Assert.Fail($"{what}: column {j}: SIMD {fast[j]:R}, scalar twin {twin[j]:R}");
        for (int j = 0; j < fast.Length; j++)
            if (j < j0 || j >= j1) Assert.Equal(BitConverter.SingleToInt32Bits(start[j]), BitConverter.SingleToInt32Bits(fast[j]));
    }

    private static float[] Uniform(Rng rng, int n, float scale)
    {
        var a = new float[n];
        rng.Uniform(a, -scale, scale);
        return a;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(33)]
    public void EveryColumnCountMatchesTheScalarTwin(int rows)
    {
        var rng = new Rng(3);
        for (int n = 0; n <= 300; n++)
        {
            int ld = n + 5;
            var src = Uniform(rng, rows * ld, 2f);
            Compare(src, ld, rows, 0, n, Uniform(rng, ld, 1f), $"rows={rows} n={n}");
        }
    }

    [Fact]
    public void RangesThatStartAnywhereMatchTheScalarTwin()
    {
        var rng = new Rng(4);
        const int ld = 200, rows = 11;
        var src = Uniform(rng, rows * ld, 1f);
        for (int j0 = 0; j0 < 40; j0++)
            foreach (int width in new[] { 0, 1, 15, 16, 17, 63, 64, 65, 130 })
                Compare(src, ld, rows, j0, Math.Min(ld, j0 + width), Uniform(rng, ld, 1f), $"[{j0}, {j0 + width})");
    }

    [Fact]
    public void NoRowsLeavesTheSumsAlone()
    {
        var start = new float[] { 1f, -0f, float.NaN };
        Compare([], 3, 0, 0, 3, start, "rows=0");
    }

    [Fact]
    public void SpecialValuesMatchTheScalarTwin()
    {
        var rng = new Rng(9);
        float[] specials = [0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.Epsilon, -float.Epsilon,
            1e-40f, float.MaxValue, -float.MaxValue, 3e38f];
        const int rows = 9;
        foreach (int n in new[] { 5, 16, 37, 128, 200 })
            for (int shift = 0; shift < 4; shift++)
            {
                var src = Uniform(rng, rows * n, 1f);
                for (int k = shift; k < src.Length; k += 5) src[k] = specials[(k / 5 + shift) % specials.Length];
                var start = Uniform(rng, n, 1f);
                for (int k = shift; k < n; k += 7) start[k] = specials[(k + shift) % specials.Length];
                Compare(src, n, rows, 0, n, start, $"n={n} shift={shift}");
            }
    }
}
