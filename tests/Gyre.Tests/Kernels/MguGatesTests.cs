using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Gyre.Tensors;
using Xunit;
using static Gyre.Tests.Kernels.FloatCompare;

namespace Gyre.Tests.Kernels;

/// <summary><see cref="MguGates"/> (SIMD) against its scalar twin <see cref="MguReference"/>: forward close (vector σ /
/// tanh), backward bit for bit, over every row length 0..70 (every vector width and tail), special values (NaN, ±Inf,
/// ±0, huge), and the equations themselves; too-short spans throw.</summary>
[Trait("Category", "Kernels")]
public class MguGatesTests
{
    const float FwdAbs = 2e-6f, FwdRel = 1e-5f;

    public static TheoryData<int> Rows() => [1, 3];

    static void AssertClose(float[] actual, float[] expected, string what) => AssertAllClose(actual, expected, FwdAbs, FwdRel, what);

    /// <summary>Forward with the fast kernels and with the twin from the same inputs, then backward on each side from
    /// the twin's saved values (so backward is compared on identical inputs).</summary>
    static void Compare(int rows, int hidden, float[] gates0, float[] hPrev, float[] dh, float[] dFh, string what)
    {
        int n = rows * hidden;
        var gF = (float[])gates0.Clone(); var gR = (float[])gates0.Clone();
        var fhF = new float[n]; var fhR = new float[n];
        MguGates.GateForward(fhF, gF, hPrev, rows, hidden);
        MguReference.GateForward(fhR, gR, hPrev, rows, hidden);
        AssertClose(fhF, fhR, $"{what} fh"); AssertClose(gF, gR, $"{what} gates after f");

        var hF = new float[n]; var hR = new float[n];
        var sF = new float[3 * n + 2]; var sR = new float[3 * n + 2];
        sF[^1] = sF[^2] = 9f;
        MguGates.CandidateForward(hF, sF.AsSpan(0, 3 * n), gR, fhR, hPrev, rows, hidden);
        MguReference.CandidateForward(hR, sR.AsSpan(0, 3 * n), gR, fhR, hPrev, rows, hidden);
        AssertClose(hF, hR, $"{what} hNext"); AssertClose(sF[..(3 * n)], sR[..(3 * n)], $"{what} saved");
        Assert.Equal([9f, 9f], sF[(3 * n)..]);   // nothing written past the end
        var hNoSave = new float[n];
        MguGates.CandidateForward(hNoSave, default, gR, fhR, hPrev, rows, hidden);
        AssertSameBits(hNoSave, hF, $"{what} hNext without saved");

        var saved = sR[..(3 * n)];
        var dgF = new float[2 * n]; var dgR = new float[2 * n];
        var dpF = new float[n]; var dpR = new float[n];
        MguGates.CandidateBackward(dgF, dpF, dh, saved, rows, hidden);
        MguReference.CandidateBackward(dgR, dpR, dh, saved, rows, hidden);
        MguGates.GateBackward(dgF, dpF, dFh, dh, saved, hPrev, rows, hidden);
        MguReference.GateBackward(dgR, dpR, dFh, dh, saved, hPrev, rows, hidden);
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
            Compare(rows, hidden, R(2 * n, 4f), R(n, 1f), R(n, 1f), R(n, 1f), $"R={rows} H={hidden}");
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
                    which == 0 ? WithSpecials(rng, 2 * n, shift) : R(2 * n, 3f),
                    which == 1 ? WithSpecials(rng, n, shift) : R(n, 1f),
                    which == 2 ? WithSpecials(rng, n, shift) : R(n, 1f),
                    which == 3 ? WithSpecials(rng, n, shift) : R(n, 1f), $"special input {which} shift {shift}");
    }

    // One unit against the equations in the cell file (f, h̃, h'), through the fast kernels.
    [Fact]
    public void OneUnitFollowsTheEquations()
    {
        float hp = 0.4f, preF = 0.3f, preHx = -0.2f, uH = 0.7f;
        float[] gates = [preF, preHx];
        var fh = new float[1];
        MguGates.GateForward(fh, gates, [hp], 1, 1);
        float f = 1f / (1f + MathF.Exp(-preF));
        Assert.Equal(f * hp, fh[0], 6);
        gates[1] += uH * fh[0]; // the caller's GEMM
        var h = new float[1];
        var saved = new float[3];
        MguGates.CandidateForward(h, saved, gates, fh, [hp], 1, 1);
        float c = MathF.Tanh(preHx + uH * f * hp);
        Assert.Equal((1 - f) * hp + f * c, h[0], 6);
        Assert.Equal(f, saved[0], 6); Assert.Equal(c, saved[1], 6); Assert.Equal(f * hp, saved[2], 6);
    }

    [Fact]
    public void ShortSpansThrow()
    {
        Assert.Throws<ArgumentException>(() => MguGates.GateForward(new float[2], new float[6], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => MguGates.GateForward(new float[3], new float[5], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => MguGates.GateForward(new float[3], new float[6], new float[2], 1, 3));
        Assert.Throws<ArgumentException>(() => MguGates.CandidateForward(new float[2], new float[9], new float[6], new float[3], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => MguGates.CandidateForward(new float[3], new float[8], new float[6], new float[3], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => MguGates.CandidateForward(new float[3], new float[9], new float[5], new float[3], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => MguGates.CandidateBackward(new float[6], new float[3], new float[3], new float[8], 1, 3));
        Assert.Throws<ArgumentException>(() => MguGates.CandidateBackward(new float[5], new float[3], new float[3], new float[9], 1, 3));
        Assert.Throws<ArgumentException>(() => MguGates.GateBackward(new float[6], new float[3], new float[2], new float[3], new float[9], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => MguGates.GateBackward(new float[6], new float[2], new float[3], new float[3], new float[9], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => MguGates.GateBackward(new float[6], new float[3], new float[3], new float[3], new float[9], new float[2], 1, 3));
    }
}
