using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Gyre.Tensors;
using Xunit;
using static Gyre.Tests.Kernels.FloatCompare;

namespace Gyre.Tests.Kernels;

/// <summary><see cref="LeakyGates"/> (SIMD) against its scalar twin <see cref="LeakyReference"/>: forward and backward
/// close (both use the vector σ for α = σ(−ρ)), over every row length 0..70, special values, the equations themselves
/// and the dρ pass; too-short spans throw.</summary>
[Trait("Category", "Kernels")]
public class LeakyGatesTests
{
    const float Abs = 2e-6f, Rel = 1e-5f;

    public static TheoryData<int> Rows() => [1, 3];

    static void AssertClose(float[] actual, float[] expected, string what) => AssertAllClose(actual, expected, Abs, Rel, what);

    static void Compare(int rows, int hidden, float[] u, float[] hPrev, float[] rho, float[] dh, string what)
    {
        int n = rows * hidden;
        var hF = new float[n + 2]; var hR = new float[n];
        hF[^1] = hF[^2] = 9f;
        LeakyGates.Forward(hF.AsSpan(0, n), u, hPrev, rho, rows, hidden);
        LeakyReference.Forward(hR, u, hPrev, rho, rows, hidden);
        AssertClose(hF[..n], hR, $"{what} hNext");
        Assert.Equal([9f, 9f], hF[n..]);   // nothing written past the end

        float[] duF = new float[n], duR = new float[n], dpF = new float[n], dpR = new float[n], rcF = new float[n], rcR = new float[n];
        LeakyGates.Backward(duF, dpF, rcF, dh, u, hPrev, rho, rows, hidden);
        LeakyReference.Backward(duR, dpR, rcR, dh, u, hPrev, rho, rows, hidden);
        AssertClose(duF, duR, $"{what} du"); AssertClose(dpF, dpR, $"{what} dhPrev"); AssertClose(rcF, rcR, $"{what} record");
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void EveryLengthMatchesTheScalarTwin(int rows)
    {
        var rng = new Rng(5);
        for (int hidden = 0; hidden <= 70; hidden++)
        {
            int n = rows * hidden;
            float[] R(int len, float scale) => Uniform(rng, len, scale);
            Compare(rows, hidden, R(n, 1f), R(n, 1f), R(hidden, 4f), R(n, 1f), $"R={rows} H={hidden}");
        }
    }

    [Fact]
    public void RhoGradientGivesTheTwinsBits()
    {
        // The record summed by ColumnSums (every column block width and tail) against the twin's column walk: the same
        // chain per unit, so the same bits, onto a dρ that already holds something; special values included.
        var rng = new Rng(21);
        foreach (int rows in new[] { 0, 1, 5, 130 })
            for (int hidden = 0; hidden <= 70; hidden += hidden < 20 ? 1 : 9)
            {
                int ld = 2 * hidden + 3, len = rows == 0 ? 0 : (rows - 1) * ld + hidden;
                var record = hidden % 4 == 1 ? WithSpecials(rng, len, hidden) : Uniform(rng, len, 2f);
                var rho = Uniform(rng, hidden, 3f);
                var start = Uniform(rng, hidden, 1f);
                float[] fast = (float[])start.Clone(), twin = (float[])start.Clone();
                LeakyGates.RhoGradient(fast, record, ld, rows, rho, hidden);
                LeakyReference.RhoGradient(twin, record, ld, rows, rho, hidden);
                AssertSameBits(fast, twin, $"rows {rows} H {hidden} dρ");
            }
        Assert.Throws<ArgumentException>(() => LeakyGates.RhoGradient(new float[4], new float[10], 4, 3, new float[4], 4));
    }

    [Fact]
    public void SpecialValuesMatchTheScalarTwin()
    {
        var rng = new Rng(13);
        const int rows = 2, hidden = 37, n = rows * hidden;
        float[] R(int len, float scale) => Uniform(rng, len, scale);
        for (int which = 0; which < 4; which++)
            for (int shift = 0; shift < 5; shift++)
                Compare(rows, hidden,
                    which == 0 ? WithSpecials(rng, n, shift) : R(n, 1f),
                    which == 1 ? WithSpecials(rng, n, shift) : R(n, 1f),
                    which == 2 ? WithSpecials(rng, hidden, shift) : R(hidden, 3f),
                    which == 3 ? WithSpecials(rng, n, shift) : R(n, 1f), $"special input {which} shift {shift}");
    }

    // τ = 1 + e^ρ: ρ = ln 3 gives τ = 4, so h' = (3/4)·h + (1/4)·u; dρ = −α(1 − α)·Σ rec.
    [Fact]
    public void OneUnitFollowsTheEquations()
    {
        float rho = MathF.Log(3f), hp = 0.8f, u = -0.4f, dh = 0.5f;
        var h = new float[1];
        LeakyGates.Forward(h, [u], [hp], [rho], 1, 1);
        Assert.Equal(0.75f * hp + 0.25f * u, h[0], 6);
        float[] du = new float[1], dp = new float[1], rec = new float[1];
        LeakyGates.Backward(du, dp, rec, [dh], [u], [hp], [rho], 1, 1);
        Assert.Equal(0.25f * dh, du[0], 6); Assert.Equal(0.75f * dh, dp[0], 6); Assert.Equal(dh * (u - hp), rec[0], 6);
        var dRho = new float[] { 1f };
        LeakyReference.RhoGradient(dRho, [rec[0], 99f, rec[0]], 2, 2, [rho], 1);   // rows 2 apart: 99 is not read
        Assert.Equal(1f - 0.25f * 0.75f * 2 * rec[0], dRho[0], 6);
    }

    [Fact]
    public void ShortSpansThrow()
    {
        Assert.Throws<ArgumentException>(() => LeakyGates.Forward(new float[5], new float[6], new float[6], new float[3], 2, 3));
        Assert.Throws<ArgumentException>(() => LeakyGates.Forward(new float[6], new float[5], new float[6], new float[3], 2, 3));
        Assert.Throws<ArgumentException>(() => LeakyGates.Forward(new float[6], new float[6], new float[5], new float[3], 2, 3));
        Assert.Throws<ArgumentException>(() => LeakyGates.Forward(new float[6], new float[6], new float[6], new float[2], 2, 3));
        Assert.Throws<ArgumentException>(() => LeakyGates.Backward(new float[5], new float[6], new float[6], new float[6], new float[6], new float[6], new float[3], 2, 3));
        Assert.Throws<ArgumentException>(() => LeakyGates.Backward(new float[6], new float[6], new float[5], new float[6], new float[6], new float[6], new float[3], 2, 3));
        Assert.Throws<ArgumentException>(() => LeakyGates.Backward(new float[6], new float[6], new float[6], new float[6], new float[6], new float[6], new float[2], 2, 3));
        Assert.Throws<ArgumentException>(() => LeakyReference.RhoGradient(new float[3], new float[4], 3, 2, new float[3], 3));
    }
}
