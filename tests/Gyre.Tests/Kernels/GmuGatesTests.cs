using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Gyre.Tensors;
using Xunit;
using static Gyre.Tests.Kernels.FloatCompare;

namespace Gyre.Tests.Kernels;

/// <summary><see cref="GmuGates"/> (SIMD) against its scalar twin <see cref="GmuReference"/>: forward close (the vector σ
/// against the exact one), backward the same bits given the same gate, over every length 0..256, special values,
/// in place (g over a, da over dy), the equations themselves; too-short spans throw.</summary>
[Trait("Category", "Kernels")]
public class GmuGatesTests
{
    const float Abs = 2e-6f, Rel = 1e-5f;

    static void Compare(float[] a, float[] m, float[] dy, string what)
    {
        int n = a.Length;
        float[] yF = new float[n + 2], gF = new float[n + 2], yR = new float[n], gR = new float[n];
        yF[^1] = yF[^2] = gF[^1] = gF[^2] = 9f;
        GmuGates.Forward(yF.AsSpan(0, n), gF.AsSpan(0, n), a, m, n);
        GmuReference.Forward(yR, gR, a, m, n);
        AssertAllClose(gF[..n], gR, Abs, Rel, $"{what} gate");
        AssertAllClose(yF[..n], yR, Abs, Rel, $"{what} y");
        Assert.Equal([9f, 9f], yF[n..]);   // nothing written past the end
        Assert.Equal([9f, 9f], gF[n..]);

        // In place, as the layer runs it: g over a.
        var inPlace = (float[])a.Clone();
        var yI = new float[n];
        GmuGates.Forward(yI, inPlace, inPlace, m, n);
        AssertSameBits(inPlace, gF[..n], $"{what} in-place gate");
        AssertSameBits(yI, yF[..n], $"{what} in-place y");

        // Backward from the same gate: the same operations in the same order, so the same bits.
        float[] daF = new float[n + 1], dmF = new float[n + 1], daR = new float[n], dmR = new float[n];
        daF[^1] = dmF[^1] = 9f;
        GmuGates.Backward(daF.AsSpan(0, n), dmF.AsSpan(0, n), dy, gR, m, n);
        GmuReference.Backward(daR, dmR, dy, gR, m, n);
        AssertSameBits(daF[..n], daR, $"{what} da");
        AssertSameBits(dmF[..n], dmR, $"{what} dm");
        Assert.Equal(9f, daF[n]); Assert.Equal(9f, dmF[n]);
        var dyInPlace = (float[])dy.Clone();
        var dmI = new float[n];
        GmuGates.Backward(dyInPlace, dmI, dyInPlace, gR, m, n);
        AssertSameBits(dyInPlace, daR, $"{what} in-place da");
    }

    [Fact]
    public void EveryLengthMatchesTheScalarTwin()
    {
        var rng = new Rng(5);
        float[] R(int len, float scale) { var v = new float[len]; rng.Uniform(v, -scale, scale); return v; }
        for (int n = 0; n <= 256; n++) Compare(R(n, 6f), R(n, 1f), R(n, 1f), $"N={n}");
    }

    [Fact]
    public void SpecialValuesMatchTheScalarTwin()
    {
        var rng = new Rng(13);
        const int n = 75;
        float[] R(float scale) { var v = new float[n]; rng.Uniform(v, -scale, scale); return v; }
        float[] WithSpecials(int shift)
        {
            var v = R(3f);
            for (int i = shift % 3; i < n; i += 3) v[i] = Specials[(i / 3 + shift) % Specials.Length];
            return v;
        }
        for (int which = 0; which < 3; which++)
            for (int shift = 0; shift < 5; shift++)
                Compare(which == 0 ? WithSpecials(shift) : R(4f), which == 1 ? WithSpecials(shift) : R(1f), which == 2 ? WithSpecials(shift) : R(1f),
                    $"special input {which} shift {shift}");
    }

    // a = ln 3: g = 3/4, y = 0.75·m; dm = 0.75·dy, da = dy·m·(3/16).
    [Fact]
    public void OneValueFollowsTheEquations()
    {
        float a = MathF.Log(3f), m = -0.8f, dy = 0.5f;
        float[] y = new float[1], g = new float[1];
        GmuGates.Forward(y, g, [a], [m], 1);
        Assert.Equal(0.75f, g[0], 6); Assert.Equal(0.75f * m, y[0], 6);
        float[] da = new float[1], dm = new float[1];
        GmuGates.Backward(da, dm, [dy], [0.75f], [m], 1);
        Assert.Equal(0.75f * dy, dm[0], 6); Assert.Equal(dy * m * 0.1875f, da[0], 6);
    }

    [Fact]
    public void ShortSpansThrow()
    {
        foreach (var (f, r) in new (Action, Action)[]
        {
            (() => GmuGates.Forward(new float[4], new float[5], new float[5], new float[5], 5), () => GmuReference.Forward(new float[4], new float[5], new float[5], new float[5], 5)),
            (() => GmuGates.Forward(new float[5], new float[4], new float[5], new float[5], 5), () => GmuReference.Forward(new float[5], new float[4], new float[5], new float[5], 5)),
            (() => GmuGates.Forward(new float[5], new float[5], new float[4], new float[5], 5), () => GmuReference.Forward(new float[5], new float[5], new float[4], new float[5], 5)),
            (() => GmuGates.Forward(new float[5], new float[5], new float[5], new float[4], 5), () => GmuReference.Forward(new float[5], new float[5], new float[5], new float[4], 5)),
            (() => GmuGates.Backward(new float[4], new float[5], new float[5], new float[5], new float[5], 5), () => GmuReference.Backward(new float[4], new float[5], new float[5], new float[5], new float[5], 5)),
            (() => GmuGates.Backward(new float[5], new float[4], new float[5], new float[5], new float[5], 5), () => GmuReference.Backward(new float[5], new float[4], new float[5], new float[5], new float[5], 5)),
            (() => GmuGates.Backward(new float[5], new float[5], new float[4], new float[5], new float[5], 5), () => GmuReference.Backward(new float[5], new float[5], new float[4], new float[5], new float[5], 5)),
            (() => GmuGates.Backward(new float[5], new float[5], new float[5], new float[4], new float[5], 5), () => GmuReference.Backward(new float[5], new float[5], new float[5], new float[4], new float[5], 5)),
            (() => GmuGates.Backward(new float[5], new float[5], new float[5], new float[5], new float[4], 5), () => GmuReference.Backward(new float[5], new float[5], new float[5], new float[5], new float[4], 5)),
        })
        {
            Assert.Throws<ArgumentException>(f);
            Assert.Throws<ArgumentException>(r);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => GmuGates.Forward([], [], [], [], -1));
    }
}
