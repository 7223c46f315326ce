using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Xunit;
using static Gyre.Tests.Kernels.FloatCompare;

namespace Gyre.Tests.Kernels;

/// <summary>
/// The fused sLSTM kernels against their scalar twins (every hidden size 1..49, rows 1..3, both forget gates,
/// special values, short spans), and the twins' backward against double-precision central differences.
/// </summary>
[Trait("Category", "Kernels")]
public class SlstmGatesTests
{
    // Forward: log σ, exp, tanh and σ are a few ulp from the twins', and the error of log f + m (|·| up to ~4)
    // moves f' = exp(log f + m − m') by that much relatively; c' = f'·c + i'·z is an FMA and may cancel.
    const float FwdAbs = 1e-5f, FwdRel = 2e-5f;

    static void AssertClose(float[] actual, float[] expected, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Close(actual[i], expected[i], FwdAbs, FwdRel), $"{what}[{i}]: {actual[i]:R} vs twin {expected[i]:R}");
    }

    /// <summary>Forward inputs: gates, c, n (kept positive, as the cell keeps it), m.</summary>
    static (float[] G, float[] C, float[] N, float[] M) Inputs(Random rng, int n) =>
        (Random(rng, 4 * n, -4f, 4f), Random(rng, n, -2f, 2f), Random(rng, n, 0.2f, 3f), Random(rng, n, -3f, 3f));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Forward_MatchesTwin_EveryShape(bool expForget)
    {
        var rng = new Random(expForget ? 41 : 42);
        for (int rows = 1; rows <= 3; rows++)
            for (int h = 1; h <= 3 * 16 + 1; h++)
            {
                int n = rows * h;
                var (g, cp, np, mp) = Inputs(rng, n);
                var fast = Outputs(n, 2); var twin = Outputs(n, 2);
                fast.S[^1] = fast.S[^2] = 9f;
                SlstmGates.Forward(fast.H, fast.C, fast.N, fast.M, fast.S, g, cp, np, mp, rows, h, expForget);
                SlstmReference.Forward(twin.H, twin.C, twin.N, twin.M, twin.S, g, cp, np, mp, rows, h, expForget);
                string at = $"R={rows} H={h} exp={expForget}";
                AssertClose(fast.H, twin.H, $"h {at}"); AssertClose(fast.C, twin.C, $"c {at}");
                AssertClose(fast.N, twin.N, $"n {at}"); AssertClose(fast.M, twin.M, $"m {at}");
                AssertClose(fast.S[..(5 * n)], twin.S[..(5 * n)], $"saved {at}");
                Assert.Equal([9f, 9f], fast.S[(5 * n)..]);

                // Inference (no saved) gives the same bits.
                var inf = Outputs(n, 0);
                SlstmGates.Forward(inf.H, inf.C, inf.N, inf.M, Span<float>.Empty, g, cp, np, mp, rows, h, expForget);
                Assert.Equal(fast.H, inf.H); Assert.Equal(fast.C, inf.C); Assert.Equal(fast.N, inf.N); Assert.Equal(fast.M, inf.M);
            }
    }

    static (float[] H, float[] C, float[] N, float[] M, float[] S) Outputs(int n, int extra) =>
        (new float[n], new float[n], new float[n], new float[n], new float[extra == 0 ? 0 : 5 * n + extra]);

    [Fact]
    public void Backward_MatchesTwin_BitForBit_EveryShape()
    {
        var rng = new Random(43);
        for (int rows = 1; rows <= 3; rows++)
            for (int h = 1; h <= 3 * 16 + 1; h++)
            {
                int n = rows * h;
                var (g, cp, np, mp) = Inputs(rng, n);
                var o = Outputs(n, 0);
                var saved = new float[5 * n];
                SlstmReference.Forward(o.H, o.C, o.N, o.M, saved, g, cp, np, mp, rows, h, false);
                float[] dh = Random(rng, n, -2f, 2f), dc = Random(rng, n, -2f, 2f), dn = Random(rng, n, -2f, 2f);
                var fast = Grads(n); var twin = Grads(n);
                foreach (var a in new[] { fast.G, fast.C, fast.N, fast.M }) a.AsSpan().Fill(5f);
                SlstmGates.Backward(fast.G, fast.C, fast.N, fast.M, dh, dc, dn, saved, o.C, o.N, cp, np, rows, h);
                SlstmReference.Backward(twin.G, twin.C, twin.N, twin.M, dh, dc, dn, saved, o.C, o.N, cp, np, rows, h);
                Assert.Equal(twin.G, fast.G); Assert.Equal(twin.C, fast.C); Assert.Equal(twin.N, fast.N); Assert.Equal(twin.M, fast.M);
            }
    }

    static (float[] G, float[] C, float[] N, float[] M) Grads(int n) => (new float[4 * n], new float[n], new float[n], new float[n]);

    static float[] WithSpecials(Random rng, int n, int shift, float lo, float hi)
    {
        float[] a = Random(rng, n, lo, hi);
        for (int i = shift % 3; i < n; i += 3) a[i] = GateKernelTests.Specials[(i / 3 + shift) % GateKernelTests.Specials.Length];
        return a;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Forward_SpecialValues_MatchTwin(bool expForget)
    {
        var rng = new Random(44);
        const int rows = 3, h = 21, n = rows * h;
        for (int which = 0; which < 3; which++)
            for (int shift = 0; shift < 5; shift++)
            {
                // Specials in one input at a time (gates, c or m); n stays positive as the cell keeps it.
                var (g, cp, np, mp) = Inputs(rng, n);
                if (which == 0) g = WithSpecials(rng, 4 * n, shift, -3f, 3f);
                if (which == 1) cp = WithSpecials(rng, n, shift, -2f, 2f);
                if (which == 2) mp = WithSpecials(rng, n, shift, -3f, 3f);
                var fast = Outputs(n, 1); var twin = Outputs(n, 1);
                SlstmGates.Forward(fast.H, fast.C, fast.N, fast.M, fast.S, g, cp, np, mp, rows, h, expForget);
                SlstmReference.Forward(twin.H, twin.C, twin.N, twin.M, twin.S, g, cp, np, mp, rows, h, expForget);
                string at = $"special input {which} shift {shift} exp={expForget}";
                AssertClose(fast.H, twin.H, $"h {at}"); AssertClose(fast.C, twin.C, $"c {at}");
                AssertClose(fast.N, twin.N, $"n {at}"); AssertClose(fast.M, twin.M, $"m {at}");
                AssertClose(fast.S, twin.S, $"saved {at}");
            }
    }

    [Fact]
    public void LogSigmoid_IsAccurateOverTheRange()
    {
        // log σ through the kernel's log1p: the forget gate's log at f' = 1 is m' − m, so check it via m'.
        for (float x = -40f; x <= 40f; x += 0.37f)
        {
            float[] g = [-1e30f, x, 0f, 0f], zero = [0f], one = [1f];
            var o = Outputs(1, 0);
            SlstmGates.Forward(o.H, o.C, o.N, o.M, Span<float>.Empty, g, zero, one, zero, 1, 1, false);
            double exact = Math.Min(x, 0.0) - SlstmReference.Log1p(Math.Exp(-Math.Abs((double)x)));
            Assert.True(Ulps(o.M[0], (float)exact) <= 8, $"log σ({x}) = {o.M[0]:R}, exact {exact:R}");
        }
    }

    [Fact]
    public void ShortSpans_Throw()
    {
        const int r = 3, h = 4, n = r * h;
        float[] H() => new float[n];
        float[] G() => new float[4 * n];
        float[] S() => new float[5 * n];
        float[] Short(int len) => new float[len - 1];
        // Forward: each of its nine spans one float short.
        for (int k = 0; k < 9; k++)
        {
            float[][] a = [H(), H(), H(), H(), S(), G(), H(), H(), H()];
            a[k] = Short(a[k].Length);
            Assert.Throws<ArgumentException>(() => SlstmGates.Forward(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], r, h, false));
        }
        // Backward: each of its twelve spans one float short.
        for (int k = 0; k < 12; k++)
        {
            float[][] a = [G(), H(), H(), H(), H(), H(), H(), S(), H(), H(), H(), H()];
            a[k] = Short(a[k].Length);
            Assert.Throws<ArgumentException>(() => SlstmGates.Backward(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], r, h));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => SlstmGates.Forward(H(), H(), H(), H(), S(), G(), H(), H(), H(), r, -2, false));
        SlstmGates.Forward(H(), H(), H(), H(), Span<float>.Empty, G(), H(), H(), H(), r, h, false); // empty saved is inference
    }

    // ---- finite differences of the twin's backward ---------------------------------------------------

    /// <summary>
    /// L = Σ wh·h' + (wc·c' + wn·n')·e^(m' − m̄') in double, with m̄' the unperturbed m': the loss the backward
    /// differentiates (m' held constant where it is computed). Inputs: gates, c, n, m.
    /// </summary>
    static double Loss(double[] g, double[] cp, double[] np, double[] mp, double[] w, double[] mBar, int rows, int h, bool exp)
    {
        double loss = 0;
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < h; j++)
            {
                int k = b * 4 * h + j, o = b * h + j;
                double logF = exp ? g[k + h] : Math.Min(g[k + h], 0) - Math.Log(1 + Math.Exp(-Math.Abs(g[k + h])));
                double a = logF + mp[o], m = Math.Max(a, g[k]);
                double i = Math.Exp(g[k] - m), f = Math.Exp(a - m), z = Math.Tanh(g[k + 2 * h]), og = 1 / (1 + Math.Exp(-g[k + 3 * h]));
                double c = f * cp[o] + i * z, n = f * np[o] + i;
                loss += w[3 * o] * og * c / n + (w[3 * o + 1] * c + w[3 * o + 2] * n) * Math.Exp(m - mBar[o]);
            }
        return loss;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TwinBackward_MatchesFiniteDifferences(bool expForget)
    {
        var rng = new Random(45);
        const int rows = 2, h = 5, n = rows * h;
        var (gf, cf, nf, mf) = Inputs(rng, n);
        var o = Outputs(n, 0);
        var saved = new float[5 * n];
        SlstmReference.Forward(o.H, o.C, o.N, o.M, saved, gf, cf, nf, mf, rows, h, expForget);
        float[] dh = Random(rng, n, -1f, 1f), dc = Random(rng, n, -1f, 1f), dn = Random(rng, n, -1f, 1f);
        var d = Grads(n);
        SlstmReference.Backward(d.G, d.C, d.N, d.M, dh, dc, dn, saved, o.C, o.N, cf, nf, rows, h);

        var w = new double[3 * n];
        for (int k = 0; k < n; k++) { w[3 * k] = dh[k]; w[3 * k + 1] = dc[k]; w[3 * k + 2] = dn[k]; }
        double[] g = [.. gf.Select(x => (double)x)], cp = [.. cf.Select(x => (double)x)], np = [.. nf.Select(x => (double)x)];
        double[] mp = [.. mf.Select(x => (double)x)];
        var mBar = new double[n];
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < h; j++)
            {
                int k = b * 4 * h + j;
                double logF = expForget ? g[k + h] : Math.Min(g[k + h], 0) - Math.Log(1 + Math.Exp(-Math.Abs(g[k + h])));
                mBar[b * h + j] = Math.Max(logF + mp[b * h + j], g[k]);
            }
        void Check(double[] x, float[] analytic, string name)
        {
            for (int i = 0; i < x.Length; i++)
            {
                double keep = x[i], eps = 1e-6;
                x[i] = keep + eps; double up = Loss(g, cp, np, mp, w, mBar, rows, h, expForget);
                x[i] = keep - eps; double down = Loss(g, cp, np, mp, w, mBar, rows, h, expForget);
                x[i] = keep;
                double numeric = (up - down) / (2 * eps);
                Assert.True(Math.Abs(numeric - analytic[i]) <= 1e-4 + 1e-4 * Math.Abs(numeric), $"{name}[{i}]: {analytic[i]:G7} vs {numeric:G7}");
            }
        }
        Check(g, d.G, "dGates"); Check(cp, d.C, "dcPrev"); Check(np, d.N, "dnPrev"); Check(mp, d.M, "dmPrev");
    }
}
