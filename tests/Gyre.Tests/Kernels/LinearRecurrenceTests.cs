using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Xunit;

namespace Gyre.Tests.Kernels;

/// <summary>
/// <see cref="LinearRecurrence"/> against its scalar twin bit for bit (every block size, channel tails across
/// all vector widths and the 512-channel work blocks, chunk counts, T = 1, special values), against the plain
/// sequential loop, across team sizes, and the reverse solve as the exact adjoint of the forward one.
/// Letters: T steps, K block, M channels.
/// </summary>
[Trait("Category", "Kernels")]
public class LinearRecurrenceTests
{
    sealed record Problem(int T, int K, int M, float[] A, float[] B, float[] H0);

    static Problem Make(int seed, int t, int k, int m, float scale = 0.9f)
    {
        var rng = new Random(seed);
        // Block entries in ±scale/K keep every block's norm ≤ scale, so long products neither blow up nor flush.
        var a = FloatCompare.Random(rng, t * k * k * m, -scale / k, scale / k);
        var b = FloatCompare.Random(rng, t * k * m, -1f, 1f);
        var h0 = FloatCompare.Random(rng, k * m, -1f, 1f);
        return new Problem(t, k, m, a, b, h0);
    }

    static (float[] H, float[] Last) Solve(Problem p, int chunk, bool reverse, bool twin, bool withInit = true, WorkerTeam? team = null)
    {
        var h = new float[p.T * p.K * p.M];
        var last = new float[p.K * p.M];
        var scratch = new float[LinearRecurrence.ScratchLength(p.T, p.K, p.M, chunk)];
        var init = withInit ? p.H0 : [];
        if (twin && reverse) LinearRecurrenceReference.Reverse(h, last, p.A, p.B, init, scratch, p.T, p.K, p.M, chunk);
        else if (twin) LinearRecurrenceReference.Forward(h, last, p.A, p.B, init, scratch, p.T, p.K, p.M, chunk);
        else if (reverse) LinearRecurrence.Reverse(h, last, p.A, p.B, init, scratch, p.T, p.K, p.M, chunk, team);
        else LinearRecurrence.Forward(h, last, p.A, p.B, init, scratch, p.T, p.K, p.M, chunk, team);
        return (h, last);
    }

    static void SameBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]) && !(float.IsNaN(expected[i]) && float.IsNaN(actual[i])))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, twin {expected[i]:R}");
    }

    public static TheoryData<int, int> BlocksAndChannels()
    {
        var d = new TheoryData<int, int>();
        foreach (int k in new[] { 1, 2, 3 })
            foreach (int m in new[] { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 47, 63, 64, 65, 511, 512, 513, 1100 }) d.Add(k, m);
        return d;
    }

    [Theory, MemberData(nameof(BlocksAndChannels))]
    public void MatchesScalarTwin_EveryChunking(int k, int m)
    {
        foreach (int t in new[] { 1, 2, 5, 13 })
            foreach (int chunk in new[] { 0, 1, 2, 4, 5, 13, 20 })
                foreach (bool reverse in new[] { false, true })
                    foreach (bool withInit in new[] { true, false })
                    {
                        var p = Make(k * 1000 + m + t, t, k, m);
                        var fast = Solve(p, chunk, reverse, twin: false, withInit);
                        var slow = Solve(p, chunk, reverse, twin: true, withInit);
                        string what = $"K={k} M={m} T={t} L={chunk} reverse={reverse} init={withInit}";
                        SameBits(slow.H, fast.H, what + " states");
                        SameBits(slow.Last, fast.Last, what + " final");
                    }
    }

    [Fact]
    public void SpecialValues_MatchScalarTwin()
    {
        float[] specials = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 1e-40f, -1e-40f, float.MaxValue, 1f, -1f];
        var rng = new Random(5);
        foreach (int k in new[] { 1, 2, 3 })
            foreach (int chunk in new[] { 0, 3 })
                foreach (bool reverse in new[] { false, true })
                {
                    var p = Make(77 + k, 11, k, 37);
                    foreach (var arr in new[] { p.A, p.B, p.H0 })
                        for (int i = 0; i < arr.Length; i += 1 + rng.Next(7)) arr[i] = specials[rng.Next(specials.Length)];
                    var fast = Solve(p, chunk, reverse, twin: false);
                    var slow = Solve(p, chunk, reverse, twin: true);
                    SameBits(slow.H, fast.H, $"K={k} L={chunk} reverse={reverse} states");
                    SameBits(slow.Last, fast.Last, $"K={k} L={chunk} reverse={reverse} final");
                }
    }

    // The definition, written out: h_t = A_t·h_{t−1} + b_t with sums left to right, then + b.
    static (float[] H, float[] Last) PlainLoop(Problem p)
    {
        int k = p.K, m = p.M, s = k * m;
        var h = new float[p.T * s];
        var prev = (float[])p.H0.Clone();
        for (int t = 0; t < p.T; t++)
        {
            for (int c = 0; c < m; c++)
                for (int i = 0; i < k; i++)
                {
                    float acc = 0f;
                    for (int j = 0; j < k; j++)
                    {
                        float x = p.A[((t * k + i) * k + j) * m + c] * prev[j * m + c];
                        acc = j == 0 ? x : acc + x;
                    }
                    h[t * s + i * m + c] = acc + p.B[t * s + i * m + c];
                }
            Array.Copy(h, t * s, prev, 0, s);
        }
        return (h, prev);
    }

    [Theory]
    [InlineData(1, 70)]
    [InlineData(2, 33)]
    [InlineData(3, 17)]
    public void OneChunk_IsThePlainLoopBitForBit_AndChunksAgreeWithinRounding(int k, int m)
    {
        var p = Make(3, 300, k, m);
        var plain = PlainLoop(p);
        var one = Solve(p, 0, reverse: false, twin: false);
        SameBits(plain.H, one.H, "L=0");
        SameBits(plain.Last, one.Last, "L=0 final");
        foreach (int chunk in new[] { 1, 7, 64, 299 })
        {
            var chunked = Solve(p, chunk, reverse: false, twin: false);
            for (int i = 0; i < plain.H.Length; i++)
                Assert.True(Math.Abs(plain.H[i] - chunked.H[i]) <= 1e-5f * (1 + Math.Abs(plain.H[i])), $"L={chunk} element {i}: {chunked.H[i]} vs {plain.H[i]}");
        }
    }

    [Fact]
    public void Reverse_IsTheAdjointOfForward()
    {
        // h = F(b, h0) is linear; with (g, gFirst) = Reverse(d = u, gEnd = w):
        // ⟨u, h⟩ + ⟨w, h_{T−1}⟩ = ⟨g, b⟩ + ⟨gFirst, h0⟩, whatever the chunking.
        foreach (int k in new[] { 1, 2, 3 })
            foreach (int chunk in new[] { 0, 1, 6, 40 })
            {
                var p = Make(11 + k, 40, k, 21);
                var rng = new Random(k);
                var u = FloatCompare.Random(rng, p.B.Length, -1f, 1f);
                var w = FloatCompare.Random(rng, p.H0.Length, -1f, 1f);
                var (h, last) = Solve(p, chunk, reverse: false, twin: false);
                var q = p with { B = u, H0 = w };
                var (g, gFirst) = Solve(q, chunk, reverse: true, twin: false);
                double lhs = Dot(u, h) + Dot(w, last), rhs = Dot(g, p.B) + Dot(gFirst, p.H0);
                Assert.True(Math.Abs(lhs - rhs) <= 1e-4 * (1 + Math.Abs(lhs)), $"K={k} L={chunk}: {lhs} vs {rhs}");
            }
    }

    static double Dot(float[] x, float[] y)
    {
        double s = 0;
        for (int i = 0; i < x.Length; i++) s += (double)x[i] * y[i];
        return s;
    }

    [Fact]
    public void SameBits_ForAnyTeamSize()
    {
        var p = Make(9, 97, 2, 1100);
        foreach (bool reverse in new[] { false, true })
        {
            using var one = new WorkerTeam(1);
            var expected = Solve(p, 7, reverse, twin: false, team: one);
            foreach (int n in new[] { 2, 3, 5 })
            {
                using var team = new WorkerTeam(n);
                var got = Solve(p, 7, reverse, twin: false, team: team);
                SameBits(expected.H, got.H, $"{n} workers");
                SameBits(expected.Last, got.Last, $"{n} workers final");
            }
        }
    }

    [Fact]
    public void NaN_StaysAfterItsStep_WhenChunked()
    {
        var p = Make(21, 50, 1, 4);
        p.B[30 * 4 + 2] = float.NaN;
        var (h, _) = Solve(p, 8, reverse: false, twin: false);
        for (int t = 0; t < 50; t++)
            for (int c = 0; c < 4; c++)
                Assert.Equal(t >= 30 && c == 2, float.IsNaN(h[t * 4 + c]));
    }

    [Fact]
    public void InPlace_WhereTheStatesOverwriteTheInputs()
    {
        foreach (int chunk in new[] { 0, 4 })
        {
            var p = Make(31, 30, 2, 19);
            var expected = Solve(p, chunk, reverse: false, twin: false);
            var inPlace = (float[])p.B.Clone();
            LinearRecurrence.Forward(inPlace, default, p.A, inPlace, p.H0, new float[LinearRecurrence.ScratchLength(30, 2, 19, chunk)], 30, 2, 19, chunk);
            SameBits(expected.H, inPlace, $"L={chunk} in place");
        }
    }

    [Fact]
    public void BadArguments_Throw()
    {
        float[] Z(int n) => new float[n];
        Assert.Throws<ArgumentException>(() => LinearRecurrence.Forward(Z(5), Z(0), Z(6), Z(6), Z(0), Z(0), 3, 1, 2, 0));
        Assert.Throws<ArgumentException>(() => LinearRecurrence.Forward(Z(6), Z(0), Z(5), Z(6), Z(0), Z(0), 3, 1, 2, 0));
        Assert.Throws<ArgumentException>(() => LinearRecurrence.Forward(Z(6), Z(0), Z(6), Z(5), Z(0), Z(0), 3, 1, 2, 0));
        Assert.Throws<ArgumentException>(() => LinearRecurrence.Forward(Z(6), Z(1), Z(6), Z(6), Z(0), Z(0), 3, 1, 2, 0));
        Assert.Throws<ArgumentException>(() => LinearRecurrence.Forward(Z(6), Z(0), Z(6), Z(6), Z(1), Z(0), 3, 1, 2, 0));
        Assert.Throws<ArgumentException>(() => LinearRecurrence.Reverse(Z(6), Z(0), Z(6), Z(6), Z(0), Z(3), 3, 1, 2, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => LinearRecurrence.Forward(Z(6), Z(0), Z(6), Z(6), Z(0), Z(0), 3, 4, 2, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => LinearRecurrence.Forward(Z(6), Z(0), Z(6), Z(6), Z(0), Z(0), 0, 1, 2, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => LinearRecurrence.Forward(Z(6), Z(0), Z(6), Z(6), Z(0), Z(0), 3, 1, 2, -1));
    }
}
