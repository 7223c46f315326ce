using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Kernels;

/// <summary><see cref="GruResetBeforeGates"/> against its scalar twin, bit for bit, over row and hidden sizes
/// that cover every vector width and tail; too-short spans must throw.</summary>
[Trait("Category", "Kernels")]
public class GruResetBeforeGatesTests
{
    public static TheoryData<int, int> Sizes()
    {
        var d = new TheoryData<int, int>();
        foreach (int rows in new[] { 1, 3 })
            foreach (int hidden in new[] { 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65, 100 }) d.Add(rows, hidden);
        return d;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void MatchesScalarTwin(int rows, int hidden)
    {
        var rng = new Rng((ulong)(rows * 1000 + hidden));
        int n = rows * hidden;
        float[] R(int len, float scale = 3f) { var a = new float[len]; rng.Uniform(a, -scale, scale); return a; }
        var hPrev = R(n, 1f);
        var gates0 = R(3 * n);

        var gA = (float[])gates0.Clone(); var gB = (float[])gates0.Clone();
        var rhA = new float[n]; var rhB = new float[n];
        GruResetBeforeGates.ResetForward(rhA, gA, hPrev, rows, hidden);
        GruResetBeforeReference.ResetForward(rhB, gB, hPrev, rows, hidden);
        Assert.Equal(rhB, rhA); Assert.Equal(gB, gA);

        var hA = new float[n]; var hB = new float[n];
        var sA = new float[4 * n]; var sB = new float[4 * n];
        GruResetBeforeGates.CandidateForward(hA, sA, gA, rhA, hPrev, rows, hidden);
        GruResetBeforeReference.CandidateForward(hB, sB, gB, rhB, hPrev, rows, hidden);
        Assert.Equal(hB, hA); Assert.Equal(sB, sA);
        var hNoSave = new float[n];
        GruResetBeforeGates.CandidateForward(hNoSave, default, gA, rhA, hPrev, rows, hidden);
        Assert.Equal(hA, hNoSave);

        var dh = R(n, 1f); var dRh = R(n, 1f);
        var dgA = new float[3 * n]; var dgB = new float[3 * n];
        var dhpA = new float[n]; var dhpB = new float[n];
        GruResetBeforeGates.CandidateBackward(dgA, dhpA, dh, sA, hPrev, rows, hidden);
        GruResetBeforeReference.CandidateBackward(dgB, dhpB, dh, sB, hPrev, rows, hidden);
        GruResetBeforeGates.ResetBackward(dgA, dhpA, dRh, sA, hPrev, rows, hidden);
        GruResetBeforeReference.ResetBackward(dgB, dhpB, dRh, sB, hPrev, rows, hidden);
        Assert.Equal(dgB, dgA); Assert.Equal(dhpB, dhpA);
    }

    // Against the equations directly (one unit, hand-computed from the definitions in the cell file).
    [Fact]
    public void OneUnitFollowsTheEquations()
    {
        float hp = 0.4f, preR = 0.3f, preZ = -0.2f, preNinput = 0.1f, wHn = 0.7f;
        float[] gates = [preR, preZ, preNinput];
        var rh = new float[1];
        GruResetBeforeReference.ResetForward(rh, gates, [hp], 1, 1);
        float r = 1f / (1f + MathF.Exp(-preR)), z = 1f / (1f + MathF.Exp(-preZ));
        Assert.Equal(r * hp, rh[0], 6);
        gates[2] += wHn * rh[0]; // the caller's GEMM
        var h = new float[1];
        var saved = new float[4];
        GruResetBeforeReference.CandidateForward(h, saved, gates, rh, [hp], 1, 1);
        float n = MathF.Tanh(preNinput + wHn * r * hp);
        Assert.Equal((1 - z) * n + z * hp, h[0], 6);
        Assert.Equal([r, z, n, r * hp], saved);
    }

    [Fact]
    public void ShortSpansThrow()
    {
        Assert.Throws<ArgumentException>(() => GruResetBeforeGates.ResetForward(new float[2], new float[8], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => GruResetBeforeGates.CandidateForward(new float[3], new float[11], new float[9], new float[3], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => GruResetBeforeGates.CandidateBackward(new float[9], new float[3], new float[3], new float[11], new float[3], 1, 3));
        Assert.Throws<ArgumentException>(() => GruResetBeforeGates.ResetBackward(new float[9], new float[3], new float[2], new float[12], new float[3], 1, 3));
    }
}
