using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Gyre.Tensors;
using Xunit;
using static Gyre.Tests.Kernels.FloatCompare;

namespace Gyre.Tests.Kernels;

/// <summary><see cref="GruResetBeforeGates"/> (SIMD) against its scalar twin <see cref="GruResetBeforeReference"/>:
/// forward close (vector σ / tanh), backward bit for bit, over every row length 0..70 (every vector width and
/// tail), special values (NaN, ±Inf, ±0, huge), and the equations themselves; too-short spans throw.</summary>
[Trait("Category", "Kernels")]
public class GruResetBeforeGatesTests
{
    const float FwdAbs = 2e-6f, FwdRel = 1e-5f;

    public static TheoryData<int> Rows() => [1, 3];

    static void AssertClose(float[] actual, float[] expected, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
            Assert.True(Close(actual[i], expected[i], FwdAbs, FwdRel), $"{what}[{i}]: {actual[i]:R} vs twin {expected[i]:R}");
    }

    static void AssertSameBits(float[] actual, float[] expected, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(actual[i]) == BitConverter.SingleToInt32Bits(expected[i]) || (float.IsNaN(actual[i]) && float.IsNaN(expected[i])),
                $"{what}[{i}]: {actual[i]:R} vs twin {expected[i]:R}");
    }

    static readonly float[] Specials =
    [
        float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 1e30f, -1e30f, 200f, -200f,
        float.Epsilon, -1e-40f, 88f, -88f, 9.5f, -9.5f,
    ];

    /// <summary>Forward with the fast kernels and with the twin from the same inputs, then backward on each side
    /// from the twin's saved values (so backward is compared on identical inputs).</summary>
    static void Compare(int rows, int hidden, float[] gates0, float[] hPrev, float[] dh, float[] dRh, string what)
    {
        int n = rows * hidden;
        var gF = (float[])gates0.Clone(); var gR = (float[])gates0.Clone();
        var rhF = new float[n]; var rhR = new float[n];
        GruResetBeforeGates.ResetForward(rhF, gF, hPrev, rows, hidden);
        GruResetBeforeReference.ResetForward(rhR, gR, hPrev, rows, hidden);
        AssertClose(rhF, rhR, $"{what} rh"); AssertClose(gF, gR, $"{what} gates after reset");

        var hF = new float[n]; var hR = new float[n];
        var sF = new float[4 * n + 2]; var sR = new float[4 * n + 2];
        sF[^1] = sF[^2] = 9f;
        GruResetBeforeGates.CandidateForward(hF, sF.AsSpan(0, 4 * n), gR, rhR, hPrev, rows, hidden);
        GruResetBeforeReference.CandidateForward(hR, sR.AsSpan(0, 4 * n), gR, rhR, hPrev, rows, hidden);
        AssertClose(hF, hR, $"{what} hNext"); AssertClose(sF[..(4 * n)], sR[..(4 * n)], $"{what} saved");
        Assert.Equal([9f, 9f], sF[(4 * n)..]);   // nothing written past the end
        var hNoSave = new float[n];
        GruResetBeforeGates.CandidateForward(hNoSave, default, gR, rhR, hPrev, rows, hidden);
        AssertSameBits(hNoSave, hF, $"{what} hNext without saved");

        var saved = sR[..(4 * n)];
        var dgF = new float[3 * n]; var dgR = new float[3 * n];
        var dpF = new float[n]; var dpR = new float[n];
        GruResetBeforeGates.CandidateBackward(dgF, dpF, dh, saved, hPrev, rows, hidden);
        GruResetBeforeReference.CandidateBackward(dgR, dpR, dh, saved, hPrev, rows, hidden);
        GruResetBeforeGates.ResetBackward(dgF, dpF, dRh, saved, hPrev, rows, hidden);
        GruResetBeforeReference.ResetBackward(dgR, dpR, dRh, saved, hPrev, rows, hidden);
        AssertSameBits(dgF, dgR, $"{what} dGates"); AssertSameBits(dpF, dpR, $"{what} dhPrev");
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void EveryLengthMatchesTheScalarTwin(int rows)
    {
        var rng = new Rng(7);
        for (int hidden = 0; hidden <= 70; hidden++)
        {
            int n = rows * hidden;
            float[] R(int len, float scale) => Uniform(rng, len, scale);
            Compare(rows, hidden, R(3 * n, 4f), R(n, 1f), R(n, 1f), R(n, 1f), $"R={rows} H={hidden}");
        }
    }

    [Fact]
    public void SpecialValuesMatchTheScalarTwin()
    {
        var rng = new Rng(11);
        const int rows = 2, hidden = 37, n = rows * hidden;
        float[] R(int len, float scale) => Uniform(rng, len, scale);
        for (int which = 0; which < 4; which++)
            for (int shift = 0; shift < 5; shift++)
                Compare(rows, hidden,
                    which == 0 ? WithSpecials(rng, 3 * n, shift) : R(3 * n, 3f),
                    which == 1 ? WithSpecials(rng, n, shift) : R(n, 1f),
                    which == 2 ? WithSpecials(rng, n, shift) : R(n, 1f),
                    which == 3 ? WithSpecials(rng, n, shift) : R(n, 1f), $"special input {which} shift {shift}");
    }

    // Against the equations directly (one unit, hand-computed from the definitions in the cell file), through the fast kernels.
    [Fact]
    public void OneUnitFollowsTheEquations()
    {
        float hp = 0.4f, preR = 0.3f, preZ = -0.2f, preNinput = 0.1f, wHn = 0.7f;
        float[] gates = [preR, preZ, preNinput];
        var rh = new float[1];
        GruResetBeforeGates.ResetForward(rh, gates, [hp], 1, 1);
        float r = 1f / (1f + MathF.Exp(-preR)), z = 1f / (1f + MathF.Exp(-preZ));
        Assert.Equal(r * hp, rh[0], 6);
        gates[2] += wHn * rh[0]; // the caller's GEMM
        var h = new float[1];
        var saved = new float[4];
        GruResetBeforeGates.CandidateForward(h, saved, gates, rh, [hp], 1, 1);
        float n = MathF.Tanh(preNinput + wHn * r * hp);
        Assert.Equal((1 - z) * n + z * hp, h[0], 6);
        Assert.Equal(r, saved[0], 6); Assert.Equal(z, saved[1], 6); Assert.Equal(n, saved[2], 6); Assert.Equal(r * hp, saved[3], 6);
    }

    [Fact]
    public void ShortSpansThrow()
    {
        Assert.Throws<ArgumentException>(() => GruResetBeforeGates.ResetForward(new float[2], new float[9], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => GruResetBeforeGates.ResetForward(new float[3], new float[8], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => GruResetBeforeGates.ResetForward(new float[3], new float[9], new float[2], 1, 3));
        Assert.Throws<ArgumentException>(() => GruResetBeforeGates.CandidateForward(new float[2], new float[12], new float[9], new float[3], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => GruResetBeforeGates.CandidateForward(new float[3], new float[11], new float[9], new float[3], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => GruResetBeforeGates.CandidateForward(new float[3], new float[12], new float[8], new float[3], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => GruResetBeforeGates.CandidateBackward(new float[9], new float[3], new float[3], new float[11], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => GruResetBeforeGates.CandidateBackward(new float[8], new float[3], new float[3], new float[12], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => GruResetBeforeGates.ResetBackward(new float[9], new float[3], new float[2], new float[12], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => GruResetBeforeGates.ResetBackward(new float[9], new float[2], new float[3], new float[12], new float[3], 1, 3));
    }
}
