using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Xunit;
using static Gyre.Tests.Kernels.FloatCompare;

namespace Gyre.Tests.Kernels;

/// <summary>
/// Fused GRU / LSTM gate kernels against their scalar twins (every hidden size 1..49, rows 1..3, in
/// place, special values, short spans), and the twins' backward against double-precision central
/// differences of the forward equations.
/// </summary>
[Trait("Category", "Kernels")]
public class GateKernelTests
{
    // Forward: the activations differ from the twins by a few ulp and the SIMD path fuses
    // gi_n + r·gh_n and c' = f·c + i·g into FMAs, so a few ulp of the pre-activations (|a| ≤ 8) too.
    const float FwdAbs = 2e-6f, FwdRel = 1e-5f;

    static void AssertClose(float[] actual, float[] expected, string what, float abs = FwdAbs, float rel = FwdRel)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Close(actual[i], expected[i], abs, rel), $"{what}[{i}]: {actual[i]:R} vs twin {expected[i]:R}");
    }

    // ---- GRU -------------------------------------------------------------------------------------------

    [Fact]
    public void GruForward_MatchesTwin_EveryShape()
    {
        var rng = new Random(21);
        for (int rows = 1; rows <= 3; rows++)
            for (int h = 1; h <= 3 * 16 + 1; h++)
            {
                int n = rows * h;
                float[] gi = Random(rng, 3 * n, -4f, 4f), gh = Random(rng, 3 * n, -4f, 4f), hp = Random(rng, n, -1f, 1f);
                float[] hFast = new float[n], sFast = new float[4 * n + 2], hRef = new float[n], sRef = new float[4 * n + 2];
                sFast[^1] = sFast[^2] = 9f;
                GruGates.Forward(hFast, sFast, gi, gh, hp, rows, h);
                GateReference.GruForward(hRef, sRef, gi, gh, hp, rows, h);
                AssertClose(hFast, hRef, $"GRU hNext R={rows} H={h}");
                AssertClose(sFast[..(4 * n)], sRef[..(4 * n)], $"GRU saved R={rows} H={h}");
                Assert.Equal([9f, 9f], sFast[(4 * n)..]);

                // Inference (no saved) gives the same bits; hNext = hPrev in place gives the same bits.
                var hInf = new float[n];
                GruGates.Forward(hInf, Span<float>.Empty, gi, gh, hp, rows, h);
                Assert.Equal(hFast, hInf);
                var hInPlace = (float[])hp.Clone();
                GruGates.Forward(hInPlace, Span<float>.Empty, gi, gh, hInPlace, rows, h);
                Assert.Equal(hFast, hInPlace);
            }
    }

    [Fact]
    public void GruBackward_MatchesTwin_EveryShape()
    {
        var rng = new Random(22);
        for (int rows = 1; rows <= 3; rows++)
            for (int h = 1; h <= 3 * 16 + 1; h++)
            {
                int n = rows * h;
                float[] gi = Random(rng, 3 * n, -4f, 4f), gh = Random(rng, 3 * n, -4f, 4f), hp = Random(rng, n, -1f, 1f);
                float[] saved = new float[4 * n], hn = new float[n];
                GateReference.GruForward(hn, saved, gi, gh, hp, rows, h);
                float[] dh = Random(rng, n, -2f, 2f);
                float[] dGiF = new float[3 * n], dGhF = new float[3 * n], dhpF = new float[n];
                float[] dGiR = new float[3 * n], dGhR = new float[3 * n], dhpR = new float[n];
                dGiF.AsSpan().Fill(5f); dGhF.AsSpan().Fill(5f); dhpF.AsSpan().Fill(5f); // overwritten, not accumulated
                GruGates.Backward(dGiF, dGhF, dhpF, dh, saved, hp, rows, h);
                GateReference.GruBackward(dGiR, dGhR, dhpR, dh, saved, hp, rows, h);
                // Same operations in the same order, no FMA: bit for bit.
                Assert.Equal(dGiR, dGiF); Assert.Equal(dGhR, dGhF); Assert.Equal(dhpR, dhpF);

                var dInPlace = (float[])dh.Clone();
                GruGates.Backward(dGiF, dGhF, dInPlace, dInPlace, saved, hp, rows, h);
                Assert.Equal(dhpR, dInPlace);
                Assert.Equal(dGiR, dGiF);
            }
    }

    internal static readonly float[] Specials =
    [
        float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 1e30f, -1e30f, 200f, -200f,
        float.Epsilon, -1e-40f, 88f, -88f, 105f, -105f, 9.5f, -9.5f,
    ];

    static float[] WithSpecials(Random rng, int n, int shift)
    {
        float[] a = Random(rng, n, -3f, 3f);
        for (int i = shift % 3; i < n; i += 3) a[i] = Specials[(i / 3 + shift) % Specials.Length];
        return a;
    }

    [Fact]
    public void GruForward_SpecialValues_MatchTwin()
    {
        var rng = new Random(23);
        const int rows = 2, h = 37, n = rows * h;
        for (int which = 0; which < 3; which++)
            for (int shift = 0; shift < 5; shift++)
            {
                // Specials in one input at a time: mixing e.g. ±1e30 in gi and gh would make the fused
                // gi + r·gh an ill-conditioned cancellation that FMA legitimately rounds differently.
                float[] gi = which == 0 ? WithSpecials(rng, 3 * n, shift) : Random(rng, 3 * n, -3f, 3f);
                float[] gh = which == 1 ? WithSpecials(rng, 3 * n, shift) : Random(rng, 3 * n, -3f, 3f);
                float[] hp = which == 2 ? WithSpecials(rng, n, shift) : Random(rng, n, -1f, 1f);
                float[] hF = new float[n], sF = new float[4 * n], hR = new float[n], sR = new float[4 * n];
                GruGates.Forward(hF, sF, gi, gh, hp, rows, h);
                GateReference.GruForward(hR, sR, gi, gh, hp, rows, h);
                AssertClose(hF, hR, $"GRU special input {which} shift {shift} hNext");
                AssertClose(sF, sR, $"GRU special input {which} shift {shift} saved");
            }
    }

    [Fact]
    public void GruForward_Saturates()
    {
        // r, z → 0 or 1 and n → ±1 exactly for huge pre-activations: h' = n exactly when z = 0, h' = h when z = 1.
        const int h = 19;
        float[] gi = new float[3 * h], gh = new float[3 * h], hp = new float[h];
        for (int j = 0; j < h; j++) { gi[j] = 1e6f; gi[h + j] = j % 2 == 0 ? -1e6f : float.PositiveInfinity; gi[2 * h + j] = j % 3 == 0 ? -1e6f : float.NegativeInfinity; hp[j] = 0.25f * j; }
        var hn = new float[h];
        GruGates.Forward(hn, Span<float>.Empty, gi, gh, hp, 1, h);
        for (int j = 0; j < h; j++) Assert.Equal(j % 2 == 0 ? -1f : hp[j], hn[j]);
    }

    [Fact]
    public void Gru_ShortSpans_Throw()
    {
        const int r = 2, h = 5, n = r * h;
        float[] H() => new float[n];
        float[] G() => new float[3 * n];
        float[] S() => new float[4 * n];
        float[] Short(int len) => new float[len - 1];
        Assert.Throws<ArgumentException>(() => GruGates.Forward(Short(n), S(), G(), G(), H(), r, h));
        Assert.Throws<ArgumentException>(() => GruGates.Forward(H(), Short(4 * n), G(), G(), H(), r, h));
        Assert.Throws<ArgumentException>(() => GruGates.Forward(H(), S(), Short(3 * n), G(), H(), r, h));
        Assert.Throws<ArgumentException>(() => GruGates.Forward(H(), S(), G(), Short(3 * n), H(), r, h));
        Assert.Throws<ArgumentException>(() => GruGates.Forward(H(), S(), G(), G(), Short(n), r, h));
        Assert.Throws<ArgumentException>(() => GruGates.Backward(Short(3 * n), G(), H(), H(), S(), H(), r, h));
        Assert.Throws<ArgumentException>(() => GruGates.Backward(G(), Short(3 * n), H(), H(), S(), H(), r, h));
        Assert.Throws<ArgumentException>(() => GruGates.Backward(G(), G(), Short(n), H(), S(), H(), r, h));
        Assert.Throws<ArgumentException>(() => GruGates.Backward(G(), G(), H(), Short(n), S(), H(), r, h));
        Assert.Throws<ArgumentException>(() => GruGates.Backward(G(), G(), H(), H(), Short(4 * n), H(), r, h));
        Assert.Throws<ArgumentException>(() => GruGates.Backward(G(), G(), H(), H(), S(), Short(n), r, h));
        Assert.Throws<ArgumentException>(() => GruGates.Backward(G(), G(), H(), H(), Span<float>.Empty, H(), r, h));
        Assert.Throws<ArgumentOutOfRangeException>(() => GruGates.Forward(H(), S(), G(), G(), H(), -1, h));
        GruGates.Forward(H(), Span<float>.Empty, G(), G(), H(), r, h); // empty saved is inference, not an error
    }

    // ---- LSTM ------------------------------------------------------------------------------------------

    [Fact]
    public void LstmForward_MatchesTwin_EveryShape()
    {
        var rng = new Random(31);
        for (int rows = 1; rows <= 3; rows++)
            for (int h = 1; h <= 3 * 16 + 1; h++)
            {
                int n = rows * h;
                float[] a = Random(rng, 4 * n, -4f, 4f), cp = Random(rng, n, -2f, 2f);
                float[] hF = new float[n], cF = new float[n], sF = new float[5 * n + 2], hR = new float[n], cR = new float[n], sR = new float[5 * n + 2];
                sF[^1] = sF[^2] = 9f;
                LstmGates.Forward(hF, cF, sF, a, cp, rows, h);
                GateReference.LstmForward(hR, cR, sR, a, cp, rows, h);
                AssertClose(hF, hR, $"LSTM hNext R={rows} H={h}");
                AssertClose(cF, cR, $"LSTM cNext R={rows} H={h}");
                AssertClose(sF[..(5 * n)], sR[..(5 * n)], $"LSTM saved R={rows} H={h}");
                Assert.Equal([9f, 9f], sF[(5 * n)..]);

                float[] hInf = new float[n], cInPlace = (float[])cp.Clone();
                LstmGates.Forward(hInf, cInPlace, Span<float>.Empty, a, cInPlace, rows, h);
                Assert.Equal(hF, hInf);
                Assert.Equal(cF, cInPlace);
            }
    }

    [Fact]
    public void LstmBackward_MatchesTwin_EveryShape()
    {
        var rng = new Random(32);
        for (int rows = 1; rows <= 3; rows++)
            for (int h = 1; h <= 3 * 16 + 1; h++)
            {
                int n = rows * h;
                float[] a = Random(rng, 4 * n, -4f, 4f), cp = Random(rng, n, -2f, 2f);
                float[] hn = new float[n], cn = new float[n], saved = new float[5 * n];
                GateReference.LstmForward(hn, cn, saved, a, cp, rows, h);
                float[] dh = Random(rng, n, -2f, 2f), dc = Random(rng, n, -2f, 2f);
                float[] daF = new float[4 * n], dcpF = new float[n], daR = new float[4 * n], dcpR = new float[n];
                daF.AsSpan().Fill(5f); dcpF.AsSpan().Fill(5f);
                LstmGates.Backward(daF, dcpF, dh, dc, saved, cp, rows, h);
                GateReference.LstmBackward(daR, dcpR, dh, dc, saved, cp, rows, h);
                Assert.Equal(daR, daF); Assert.Equal(dcpR, dcpF);

                var dcInPlace = (float[])dc.Clone();
                LstmGates.Backward(daF, dcInPlace, dh, dcInPlace, saved, cp, rows, h);
                Assert.Equal(dcpR, dcInPlace);
                Assert.Equal(daR, daF);
            }
    }

    [Fact]
    public void LstmForward_SpecialValues_MatchTwin()
    {
        var rng = new Random(33);
        const int rows = 3, h = 21, n = rows * h;
        for (int which = 0; which < 2; which++)
            for (int shift = 0; shift < 5; shift++)
            {
                float[] a = which == 0 ? WithSpecials(rng, 4 * n, shift) : Random(rng, 4 * n, -3f, 3f);
                float[] cp = which == 1 ? WithSpecials(rng, n, shift) : Random(rng, n, -2f, 2f);
                float[] hF = new float[n], cF = new float[n], sF = new float[5 * n], hR = new float[n], cR = new float[n], sR = new float[5 * n];
                LstmGates.Forward(hF, cF, sF, a, cp, rows, h);
                GateReference.LstmForward(hR, cR, sR, a, cp, rows, h);
                AssertClose(hF, hR, $"LSTM special input {which} shift {shift} hNext");
                AssertClose(cF, cR, $"LSTM special input {which} shift {shift} cNext");
                AssertClose(sF, sR, $"LSTM special input {which} shift {shift} saved");
            }
    }

    [Fact]
    public void Lstm_ShortSpans_Throw()
    {
        const int r = 3, h = 4, n = r * h;
        float[] H() => new float[n];
        float[] G() => new float[4 * n];
        float[] S() => new float[5 * n];
        float[] Short(int len) => new float[len - 1];
        Assert.Throws<ArgumentException>(() => LstmGates.Forward(Short(n), H(), S(), G(), H(), r, h));
        Assert.Throws<ArgumentException>(() => LstmGates.Forward(H(), Short(n), S(), G(), H(), r, h));
        Assert.Throws<ArgumentException>(() => LstmGates.Forward(H(), H(), Short(5 * n), G(), H(), r, h));
        Assert.Throws<ArgumentException>(() => LstmGates.Forward(H(), H(), S(), Short(4 * n), H(), r, h));
        Assert.Throws<ArgumentException>(() => LstmGates.Forward(H(), H(), S(), G(), Short(n), r, h));
        Assert.Throws<ArgumentException>(() => LstmGates.Backward(Short(4 * n), H(), H(), H(), S(), H(), r, h));
        Assert.Throws<ArgumentException>(() => LstmGates.Backward(G(), Short(n), H(), H(), S(), H(), r, h));
        Assert.Throws<ArgumentException>(() => LstmGates.Backward(G(), H(), Short(n), H(), S(), H(), r, h));
        Assert.Throws<ArgumentException>(() => LstmGates.Backward(G(), H(), H(), Short(n), S(), H(), r, h));
        Assert.Throws<ArgumentException>(() => LstmGates.Backward(G(), H(), H(), H(), Short(5 * n), H(), r, h));
        Assert.Throws<ArgumentException>(() => LstmGates.Backward(G(), H(), H(), H(), S(), Short(n), r, h));
        Assert.Throws<ArgumentOutOfRangeException>(() => LstmGates.Forward(H(), H(), S(), G(), H(), r, -2));
        LstmGates.Forward(H(), H(), Span<float>.Empty, G(), H(), r, h);
    }

    // ---- finite differences of the twins' backward ---------------------------------------------------

    static double Sig(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>L = Σ w ⊙ h' of the GRU forward, in double, with gi, gh, h independent inputs.</summary>
    static double GruLoss(double[] gi, double[] gh, double[] hp, double[] w, int rows, int h)
    {
        double loss = 0;
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < h; j++)
            {
                int g = b * 3 * h + j, o = b * h + j;
                double r = Sig(gi[g] + gh[g]), z = Sig(gi[g + h] + gh[g + h]);
                double n = Math.Tanh(gi[g + 2 * h] + r * gh[g + 2 * h]);
                loss += w[o] * ((1 - z) * n + z * hp[o]);
            }
        return loss;
    }

    /// <summary>L = Σ wh ⊙ h' + Σ wc ⊙ c' of the LSTM forward, in double.</summary>
    static double LstmLoss(double[] a, double[] cp, double[] wh, double[] wc, int rows, int h)
    {
        double loss = 0;
        for (int b = 0; b < rows; b++)
            for (int j = 0; j < h; j++)
            {
                int g = b * 4 * h + j, o = b * h + j;
                double i = Sig(a[g]), f = Sig(a[g + h]), gg = Math.Tanh(a[g + 2 * h]), og = Sig(a[g + 3 * h]);
                double c = f * cp[o] + i * gg;
                loss += wh[o] * og * Math.Tanh(c) + wc[o] * c;
            }
        return loss;
    }

    /// <summary>Central difference of loss with respect to every element of x (step 1e-6, in double).</summary>
    static double[] NumericGrad(double[] x, Func<double> loss)
    {
        const double eps = 1e-6;
        var g = new double[x.Length];
        for (int k = 0; k < x.Length; k++)
        {
            double keep = x[k];
            x[k] = keep + eps; double up = loss();
            x[k] = keep - eps; double down = loss();
            x[k] = keep;
            g[k] = (up - down) / (2 * eps);
        }
        return g;
    }

    static void AssertGrad(float[] analytic, double[] numeric, string what)
    {
        for (int k = 0; k < numeric.Length; k++)
            Assert.True(Math.Abs(analytic[k] - numeric[k]) <= 2e-5 + 1e-4 * Math.Abs(numeric[k]),
                $"{what}[{k}]: backward {analytic[k]:R} vs central difference {numeric[k]:R}");
    }

    static double[] D(float[] a) => Array.ConvertAll(a, v => (double)v);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GruBackward_MatchesCentralDifferences(bool fast)
    {
        var rng = new Random(41);
        const int rows = 2, h = 7, n = rows * h;
        float[] gi = Random(rng, 3 * n, -2f, 2f), gh = Random(rng, 3 * n, -2f, 2f), hp = Random(rng, n, -1f, 1f);
        float[] w = Random(rng, n, -1f, 1f); // random upstream gradient, never all ones
        float[] hn = new float[n], saved = new float[4 * n], dGi = new float[3 * n], dGh = new float[3 * n], dhp = new float[n];
        GateReference.GruForward(hn, saved, gi, gh, hp, rows, h);
        if (fast) GruGates.Backward(dGi, dGh, dhp, w, saved, hp, rows, h);
        else GateReference.GruBackward(dGi, dGh, dhp, w, saved, hp, rows, h);

        double[] giD = D(gi), ghD = D(gh), hpD = D(hp), wD = D(w);
        double Loss() => GruLoss(giD, ghD, hpD, wD, rows, h);
        AssertGrad(dGi, NumericGrad(giD, Loss), "dGi");
        AssertGrad(dGh, NumericGrad(ghD, Loss), "dGh");
        AssertGrad(dhp, NumericGrad(hpD, Loss), "dhPrev");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LstmBackward_MatchesCentralDifferences(bool fast)
    {
        var rng = new Random(42);
        const int rows = 3, h = 5, n = rows * h;
        float[] a = Random(rng, 4 * n, -2f, 2f), cp = Random(rng, n, -1.5f, 1.5f);
        float[] wh = Random(rng, n, -1f, 1f), wc = Random(rng, n, -1f, 1f);
        float[] hn = new float[n], cn = new float[n], saved = new float[5 * n], da = new float[4 * n], dcp = new float[n];
        GateReference.LstmForward(hn, cn, saved, a, cp, rows, h);
        if (fast) LstmGates.Backward(da, dcp, wh, wc, saved, cp, rows, h);
        else GateReference.LstmBackward(da, dcp, wh, wc, saved, cp, rows, h);

        double[] aD = D(a), cpD = D(cp), whD = D(wh), wcD = D(wc);
        double Loss() => LstmLoss(aD, cpD, whD, wcD, rows, h);
        AssertGrad(da, NumericGrad(aD, Loss), "dGates");
        AssertGrad(dcp, NumericGrad(cpD, Loss), "dcPrev");
    }
}
