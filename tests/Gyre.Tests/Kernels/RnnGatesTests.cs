using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Gyre.Tensors;
using Xunit;
using static Gyre.Tests.Kernels.FloatCompare;

namespace Gyre.Tests.Kernels;

/// <summary><see cref="RnnGates"/> (SIMD) against its scalar twin <see cref="RnnReference"/> over every length 0..70 and
/// special values: ReLU forward and both backwards bit for bit, tanh forward within the activations' 4 ulp; in place;
/// nothing written past the end; ReLU keeps NaN and turns −0 into +0, as PyTorch's relu does with NaN.</summary>
[Trait("Category", "Kernels")]
public class RnnGatesTests
{
    static void Compare(float[] pre, float[] dh, string what)
    {
        int n = pre.Length;
        foreach (bool relu in new[] { true, false })
        {
            var hF = new float[n + 2]; var hR = new float[n];
            hF[^1] = hF[^2] = 9f;
            RnnGates.Forward(hF.AsSpan(0, n), pre, relu);
            RnnReference.Forward(hR, pre, relu);
            if (relu) AssertSameBits(hF[..n], hR, $"{what} relu h");
            else for (int i = 0; i < n; i++)
                    Assert.True(float.IsNaN(hR[i]) ? float.IsNaN(hF[i]) : Ulps(hF[i], hR[i]) <= 4, $"{what} tanh h[{i}]: {hF[i]:R} vs {hR[i]:R}");
            Assert.Equal([9f, 9f], hF[n..]);
            // In place gives the same.
            var inPlace = (float[])pre.Clone();
            RnnGates.Forward(inPlace, inPlace, relu);
            AssertSameBits(inPlace, hF[..n], $"{what} in place");

            var dF = new float[n + 1]; var dR = new float[n];
            dF[^1] = 7f;
            RnnGates.Backward(dF.AsSpan(0, n), dh, hR, relu);
            RnnReference.Backward(dR, dh, hR, relu);
            AssertSameBits(dF[..n], dR, $"{what} {(relu ? "relu" : "tanh")} dPre");
            Assert.Equal(7f, dF[n]);
        }
    }

    [Fact]
    public void EveryLengthMatchesTheScalarTwin()
    {
        var rng = new Rng(5);
        for (int n = 0; n <= 70; n++) Compare(Uniform(rng, n, 3f), Uniform(rng, n, 1f), $"n={n}");
    }

    [Fact]
    public void SpecialValuesMatchTheScalarTwin()
    {
        var rng = new Rng(13);
        for (int shift = 0; shift < 5; shift++) Compare(WithSpecials(rng, 53, shift), WithSpecials(rng, 53, shift + 1), $"shift {shift}");
        var h = new float[4];
        RnnGates.Forward(h, [float.NaN, -0f, -2f, 3f], relu: true);
        Assert.True(float.IsNaN(h[0]));
        Assert.Equal(0, BitConverter.SingleToInt32Bits(h[1]));   // +0
        Assert.Equal([0f, 3f], h[2..]);
    }

    [Fact]
    public void ShortSpansThrow()
    {
        Assert.Throws<ArgumentException>(() => RnnGates.Forward(new float[3], new float[4], relu: true));
        Assert.Throws<ArgumentException>(() => RnnGates.Backward(new float[3], new float[4], new float[4], relu: false));
    }
}
