using System.Runtime.Intrinsics;
using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Xunit;
using Xunit.Abstractions;
using static Gyre.Tests.Kernels.FloatCompare;

namespace Gyre.Tests.Kernels;

/// <summary>SIMD activations against their scalar twins and against double precision.</summary>
[Trait("Category", "Kernels")]
public class ActivationTests(ITestOutputHelper output)
{
    public enum Fn { Sigmoid, Tanh, Exp }

    // Bound promised in Activations' docs; the measured maxima are printed by AccuracySweep.
    const long MaxUlps = 4;

    public static TheoryData<Fn> Fns => new() { Fn.Sigmoid, Fn.Tanh, Fn.Exp };

    static void Fast(Fn f, Span<float> dst, ReadOnlySpan<float> src)
    {
        switch (f)
        {
            case Fn.Sigmoid: Activations.Sigmoid(dst, src); break;
            case Fn.Tanh: Activations.Tanh(dst, src); break;
            default: Activations.Exp(dst, src); break;
        }
    }

    static void Twin(Fn f, Span<float> dst, ReadOnlySpan<float> src)
    {
        switch (f)
        {
            case Fn.Sigmoid: GateReference.Sigmoid(dst, src); break;
            case Fn.Tanh: GateReference.Tanh(dst, src); break;
            default: GateReference.Exp(dst, src); break;
        }
    }

    static double Exact(Fn f, double x) => f switch
    {
        Fn.Sigmoid => 1.0 / (1.0 + Math.Exp(-x)),
        Fn.Tanh => Math.Tanh(x),
        _ => Math.Exp(x),
    };

    static readonly float[] Specials =
    [
        float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, float.MaxValue, float.MinValue,
        float.Epsilon, -float.Epsilon, 1e-40f, -1e-40f, 1.17549435e-38f, -1.17549435e-38f, 1e-20f, -1e-20f,
        88.72f, 88.73f, -87.3f, -103.97f, -104f, -110f, 1e10f, -1e10f, 9.01f, -9.01f, 17f, -17f,
        0.625f, -0.625f, 0.62499994f, -0.62499994f, 1f, -1f, 0.5f, 20f, -20f, 44f, 100f, -100f,
    ];

    [Theory, MemberData(nameof(Fns))]
    public void EveryLength_MatchesScalarTwin_AndLeavesTheRestAlone(Fn f)
    {
        var rng = new Random(11);
        for (int n = 0; n <= 3 * 16 + 1; n++)
        {
            float[] src = Random(rng, n, -12f, 12f);
            var dst = new float[n + 3];
            dst.AsSpan().Fill(-7.5f);
            var twin = new float[n];
            Fast(f, dst, src);
            Twin(f, twin, src);
            for (int i = 0; i < n; i++)
                Assert.True(Ulps(dst[i], twin[i]) <= MaxUlps, $"{f} n={n} i={i} x={src[i]:R}: {dst[i]:R} vs twin {twin[i]:R}");
            for (int i = n; i < n + 3; i++) Assert.Equal(-7.5f, dst[i]);
        }
    }

    [Theory, MemberData(nameof(Fns))]
    public void InPlace_GivesTheSameBits(Fn f)
    {
        var rng = new Random(12);
        for (int n = 0; n <= 3 * 16 + 1; n++)
        {
            float[] x = Random(rng, n, -30f, 30f);
            var expected = new float[n];
            Fast(f, expected, x);
            Fast(f, x, x);
            Assert.Equal(expected, x);
        }
    }

    [Theory, MemberData(nameof(Fns))]
    public void ElementBits_DoNotDependOnPositionOrLength(Fn f)
    {
        // The tail runs single Vector128 lanes of the same code as the body.
        var rng = new Random(13);
        float[] x = Random(rng, 49, -15f, 15f);
        var full = new float[49];
        Fast(f, full, x);
        for (int start = 0; start < 49; start += 5)
            for (int n = 1; start + n <= 49; n += 7)
            {
                var part = new float[n];
                Fast(f, part, x.AsSpan(start, n));
                Assert.Equal(full.AsSpan(start, n).ToArray(), part);
            }
    }

    [Theory, MemberData(nameof(Fns))]
    public void SpecialValues_AtEveryPosition(Fn f)
    {
        for (int shift = 0; shift < 17; shift++)
        {
            var src = new float[Specials.Length + shift];
            for (int i = 0; i < src.Length; i++) src[i] = Specials[(i + shift) % Specials.Length];
            var dst = new float[src.Length];
            Fast(f, dst, src);
            for (int i = 0; i < src.Length; i++)
            {
                float x = src[i], y = dst[i];
                float expected = (float)Exact(f, x);
                Assert.True(Ulps(y, expected) <= MaxUlps, $"{f}({x:R}) = {y:R}, expected {expected:R}");
            }
        }
    }

    [Fact]
    public void Limits_AreExact()
    {
        float[] x = [float.NegativeInfinity, float.PositiveInfinity, float.NaN, 0f, -0f, -200f, 200f];
        var s = new float[x.Length]; var t = new float[x.Length]; var e = new float[x.Length];
        // Pad to a full vector too, so the limits are checked in the vector body as well as the tail.
        foreach (int pad in new[] { 0, 16 })
        {
            float[] xx = [.. new float[pad], .. x];
            var ss = new float[xx.Length]; var tt = new float[xx.Length]; var ee = new float[xx.Length];
            Activations.Sigmoid(ss, xx); Activations.Tanh(tt, xx); Activations.Exp(ee, xx);
            ss.AsSpan(pad).CopyTo(s); tt.AsSpan(pad).CopyTo(t); ee.AsSpan(pad).CopyTo(e);
            Assert.Equal([0f, 1f], s[..2]);
            Assert.True(float.IsNaN(s[2]));
            Assert.Equal(0.5f, s[3]); Assert.Equal(0.5f, s[4]);
            Assert.Equal(0f, s[5]); Assert.Equal(1f, s[6]);
            Assert.Equal([-1f, 1f], t[..2]);
            Assert.True(float.IsNaN(t[2]));
            Assert.Equal(0, BitConverter.SingleToInt32Bits(t[3]));                      // +0
            Assert.Equal(unchecked((int)0x80000000), BitConverter.SingleToInt32Bits(t[4])); // −0
            Assert.Equal(-1f, t[5]); Assert.Equal(1f, t[6]);
            Assert.Equal([0f, float.PositiveInfinity], e[..2]);
            Assert.True(float.IsNaN(e[2]));
            Assert.Equal(1f, e[3]); Assert.Equal(1f, e[4]);
            Assert.Equal(0f, e[5]); Assert.Equal(float.PositiveInfinity, e[6]);
        }
    }

    [Theory, MemberData(nameof(Fns))]
    public void TooShortDestination_Throws(Fn f)
    {
        var src = new float[20];
        Assert.Throws<ArgumentException>(() => Fast(f, new float[19], src));
        Assert.Throws<ArgumentException>(() => Twin(f, new float[19], src));
    }

    [Theory, MemberData(nameof(Fns))]
    public void PartialOverlap_Throws(Fn f)
    {
        var buf = new float[40];
        Assert.Throws<ArgumentException>(() => Fast(f, buf.AsSpan(1, 30), buf.AsSpan(0, 30)));
        Assert.Throws<ArgumentException>(() => Fast(f, buf.AsSpan(0, 30), buf.AsSpan(3, 30)));
    }

    /// <summary>
    /// Every 257th bit pattern (16.7 M floats, both signs, subnormals to infinities) through the span
    /// kernel, against the double-precision function rounded to float.
    /// </summary>
    [Theory, MemberData(nameof(Fns))]
    public void AccuracySweep_WholeFloatRange(Fn f)
    {
        const int stride = 257, chunk = 1 << 16;
        var src = new float[chunk]; var dst = new float[chunk];
        long maxUlp = 0; float worstX = 0; long count = 0;
        for (long start = 0; start < 1L << 32; start += (long)chunk * stride)
        {
            int m = 0;
            for (long bits = start; bits < 1L << 32 && m < chunk; bits += stride)
                src[m++] = BitConverter.Int32BitsToSingle((int)(uint)bits);
            Fast(f, dst.AsSpan(0, m), src.AsSpan(0, m));
            for (int i = 0; i < m; i++)
            {
                long u = Ulps(dst[i], (float)Exact(f, src[i]));
                if (u > maxUlp) { maxUlp = u; worstX = src[i]; }
            }
            count += m;
        }
        output.WriteLine($"{f} [{Activations.SimdPath}]: {count} floats, max {maxUlp} ulp at x = {worstX:R}");
        Assert.True(maxUlp <= MaxUlps, $"{f}: {maxUlp} ulp at x = {worstX:R}");
    }

    /// <summary>
    /// The register-level functions the fused kernels call, every width, whether or not this machine
    /// accelerates it (unaccelerated widths run the runtime's software fallback, which is still exact IEEE
    /// arithmetic), so a width the dispatcher skips here is still held to the bound.
    /// </summary>
    [Theory, MemberData(nameof(Fns))]
    public void RegisterFunctions_AllWidths(Fn f)
    {
        var rng = new Random(14);
        var xs = new float[4096 + Specials.Length];
        for (int i = 0; i < 4096; i++)
            xs[i] = i % 2 == 0 ? BitConverter.Int32BitsToSingle(rng.Next(int.MinValue, int.MaxValue)) : (float)(rng.NextDouble() * 40 - 20);
        Specials.CopyTo(xs, 4096);
        long max512 = 0, max256 = 0, max128 = 0;
        for (int i = 0; i + 16 <= xs.Length; i += 16)
        {
            var x512 = Vector512.Create(xs.AsSpan(i, 16));
            Vector512<float> y512 = f switch { Fn.Sigmoid => Activations.Sigmoid(x512), Fn.Tanh => Activations.Tanh(x512), _ => Activations.Exp(x512) };
            for (int half = 0; half < 2; half++)
            {
                var x256 = Vector256.Create(xs.AsSpan(i + 8 * half, 8));
                Vector256<float> y256 = f switch { Fn.Sigmoid => Activations.Sigmoid(x256), Fn.Tanh => Activations.Tanh(x256), _ => Activations.Exp(x256) };
                for (int k = 0; k < 8; k++) max256 = Math.Max(max256, Ulps(y256[k], (float)Exact(f, x256[k])));
            }
            for (int q = 0; q < 4; q++)
            {
                var x128 = Vector128.Create(xs.AsSpan(i + 4 * q, 4));
                Vector128<float> y128 = f switch { Fn.Sigmoid => Activations.Sigmoid(x128), Fn.Tanh => Activations.Tanh(x128), _ => Activations.Exp(x128) };
                for (int k = 0; k < 4; k++) max128 = Math.Max(max128, Ulps(y128[k], (float)Exact(f, x128[k])));
            }
            for (int k = 0; k < 16; k++) max512 = Math.Max(max512, Ulps(y512[k], (float)Exact(f, x512[k])));
        }
        output.WriteLine($"{f}: max ulp Vector512 {max512}, Vector256 {max256}, Vector128 {max128}");
        Assert.True(max512 <= MaxUlps && max256 <= MaxUlps && max128 <= MaxUlps, $"{f}: {max512}/{max256}/{max128} ulp");
    }

    [Fact]
    public void Dispatch_FollowsTheRuntimeSwitches()
    {
        output.WriteLine($"path {Activations.SimdPath}: Vector512 {Vector512.IsHardwareAccelerated}, Vector256 {Vector256.IsHardwareAccelerated}, " +
                         $"Vector128 {Vector128.IsHardwareAccelerated}, FMA {System.Runtime.Intrinsics.X86.Fma.IsSupported}");
        static bool Off(string knob) => Environment.GetEnvironmentVariable(knob) == "0";
        if (Off("DOTNET_EnableHWIntrinsic")) Assert.Equal("scalar", Activations.SimdPath);
        if (Off("DOTNET_EnableAVX2")) Assert.False(Vector256.IsHardwareAccelerated);
        if (Off("DOTNET_EnableAVX512")) Assert.False(Vector512.IsHardwareAccelerated);
        Assert.Equal(Vector512.IsHardwareAccelerated ? "Vector512" : Vector256.IsHardwareAccelerated ? "Vector256"
            : Vector128.IsHardwareAccelerated ? "Vector128" : "scalar", Activations.SimdPath);
    }
}
