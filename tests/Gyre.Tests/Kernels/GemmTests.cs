using System.Runtime.Intrinsics;
using Gyre.Kernels;
using Gyre.Kernels.Reference;
using Xunit;

namespace Gyre.Tests.Kernels;

/// <summary>
/// The blocked <see cref="Gemm"/> against the scalar <see cref="GemmReference"/>. Sweeps force the blocked
/// path (the plain small-problem loop is tested separately) so every tile edge, row count and K block is run.
/// Tolerance: both sides sum k products in float, so errors grow with k·max|a·b|.
/// </summary>
[Trait("Category", "Kernels")]
[Collection(nameof(GemmTuningCollection))]
public class GemmTests
{
    private static float[] Random(int length, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = ((float)rng.NextDouble() * 2f - 1f) * scale;
        return x;
    }

    private sealed record Case(bool TransA, bool TransB, int M, int N, int K, int Lda, int Ldb, int Ldc,
        float[] A, float[] B, float[] C);

    private static Case Make(bool transA, bool transB, int m, int n, int k, int pad, int seed)
    {
        int lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad;
        int aRows = transA ? k : m, bRows = transB ? n : k;
        return new Case(transA, transB, m, n, k, Math.Max(lda, 1), Math.Max(ldb, 1), Math.Max(ldc, 1),
            Random(Math.Max(aRows * Math.Max(lda, 1), 0), seed), Random(Math.Max(bRows * Math.Max(ldb, 1), 0), seed + 1),
            Random(Math.Max(m * Math.Max(ldc, 1), 0), seed + 2));
    }

    private static void CheckAgainstReference(Case t, bool accumulate, WorkerTeam? team = null)
    {
        var expected = (float[])t.C.Clone();
        var actual = (float[])t.C.Clone();
        GemmReference.Multiply(t.TransA, t.TransB, t.M, t.N, t.K, t.A, t.Lda, t.B, t.Ldb, expected, t.Ldc, accumulate);
        Gemm.Multiply(t.TransA, t.TransB, t.M, t.N, t.K, t.A, t.Lda, t.B, t.Ldb, actual, t.Ldc, accumulate, team ?? new WorkerTeam(1));
        float tol = 4e-6f * (t.K + 2);
        for (int i = 0; i < actual.Length; i++)
        {
            int row = i / t.Ldc, col = i % t.Ldc;
            if (col >= t.N)
            {
                // Padding between rows of C must never be written.
                if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(t.C[i]))
                    Assert.Fail($"m={t.M} n={t.N} k={t.K} tA={t.TransA} tB={t.TransB}: padding C[{row},{col}] was written");
                continue;
            }
            if (MathF.Abs(actual[i] - expected[i]) > tol)
                Assert.Fail($"m={t.M} n={t.N} k={t.K} tA={t.TransA} tB={t.TransB} acc={accumulate} ldc={t.Ldc}: C[{row},{col}] = {actual[i]}, reference {expected[i]}");
        }
    }

    public static IEnumerable<object[]> TransCombos() =>
        [[false, false], [false, true], [true, false], [true, true]];

    [Theory]
    [MemberData(nameof(TransCombos))]
    public void BlockedPathMatchesReferenceForEverySmallShape(bool transA, bool transB)
    {
        using var _ = GemmTuning.ForceBlocked();
        int maxMn = 3 * Gemm.NR + 1 > 49 ? 49 : 3 * Gemm.NR + 1; // covers 2 full panels + tail at NR ≤ 16
        int[] ks = [1, 2, 7];
        int seed = 0;
        for (int m = 0; m <= 13; m++)
            for (int n = 0; n <= maxMn; n++)
                foreach (int k in ks)
                {
                    var t = Make(transA, transB, m, n, k, pad: (m + n) % 3, seed: seed++);
                    CheckAgainstReference(t, accumulate: (m + n + k) % 2 == 0);
                }
        for (int n = 0; n <= Gemm.NR * 2 + 1; n++)
            foreach (int m in new[] { 1, 5, 6, 7, 12, 19 })
            {
                var t = Make(transA, transB, m, n, 3, pad: 1, seed: seed++);
                CheckAgainstReference(t, accumulate: n % 2 == 1);
            }
    }

    [Theory]
    [MemberData(nameof(TransCombos))]
    public void LargerShapesCrossKBlocksAndStrips(bool transA, bool transB)
    {
        using var _ = GemmTuning.ForceBlocked();
        // k past KC (two and three K blocks), m past MC (several strips), in-place and packed A.
        int[][] shapes = [[97, 70, 129], [130, 131, 513], [7, 200, 1100], [203, 65, 64], [1, 300, 700], [61, 17, 1030]];
        int seed = 100;
        foreach (var s in shapes)
            foreach (bool acc in new[] { false, true })
                CheckAgainstReference(Make(transA, transB, s[0], s[1], s[2], pad: 3, seed: seed++), acc);
    }

    [Fact]
    public void SmallProblemLoopMatchesReference()
    {
        int seed = 500;
        foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
            for (int m = 0; m <= 9; m++)
                for (int n = 0; n <= 9; n++)
                    foreach (int k in new[] { 0, 1, 4, 9 })
                        CheckAgainstReference(Make(ta, tb, m, n, k, pad: m % 2, seed: seed++), accumulate: (m + n) % 2 == 0);
    }

    [Fact]
    public void SmallProblemLoopGivesTheBlockedPathsBits()
    {
        // A product's bits must not depend on whether it is small enough for the plain loop: a row split over the team
        // makes each worker's product smaller. Without FMA hardware (CI runs this with AVX2 off) the vector tile rounds
        // a·b and the sum apart, and the loop must do the same.
        int seed = 900;
        foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
            foreach (var (m, n, k) in new[] { (1, 1, 1), (3, 7, 13), (6, 16, 9), (7, 33, 17), (15, 13, 13) })
                foreach (bool accumulate in new[] { false, true })
                {
                    var t = Make(ta, tb, m, n, k, pad: 1, seed: seed++);
                    var small = (float[])t.C.Clone();
                    var blocked = (float[])t.C.Clone();
                    Gemm.Multiply(ta, tb, m, n, k, t.A, t.Lda, t.B, t.Ldb, small, t.Ldc, accumulate, new WorkerTeam(1));
                    using (GemmTuning.ForceBlocked())
                        Gemm.Multiply(ta, tb, m, n, k, t.A, t.Lda, t.B, t.Ldb, blocked, t.Ldc, accumulate, new WorkerTeam(1));
                    for (int i = 0; i < small.Length; i++)
                        if (BitConverter.SingleToInt32Bits(small[i]) != BitConverter.SingleToInt32Bits(blocked[i]))
                            Assert.Fail($"m={m} n={n} k={k} tA={ta} tB={tb} acc={accumulate}: element {i}: loop {small[i]:R}, blocked {blocked[i]:R}");
                }
    }

    [Fact]
    public void RowStreamGivesTheTilesBits()
    {
        // One or two rows of A times a row-major B stream B's rows (GemmMicro.RowStream) instead of packing it: every
        // column tail (64-, 32-, 16-, 8-wide blocks and single lanes), depths across a K block, accumulate or not, and
        // special values (NaN, ±∞, −0, subnormals) must give the packed tile's bits (and the plain loop's, its scalar
        // twin, since the loop and the tile agree: SmallProblemLoopGivesTheBlockedPathsBits).
        float[] specials = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, 1e-40f, -3e-39f, 0f];
        int seed = 1200;
        foreach (int m in new[] { 1, 2 })
            for (int n = 1; n <= 140; n += n < 20 ? 1 : 7)
                foreach (int k in new[] { 1, 3, 64, 600 })
                    foreach (bool accumulate in new[] { false, true })
                    {
                        var t = Make(false, false, m, n, k, pad: 2, seed: seed++);
                        if (seed % 3 == 0)
                            for (int s = 0; s < 3; s++) t.B[(seed * 7 + s * 13) % t.B.Length] = specials[(seed + s) % specials.Length];
                        if (seed % 5 == 0) t.A[seed % t.A.Length] = specials[seed % specials.Length];
                        if (accumulate && seed % 4 == 0) t.C[0] = -0f;
                        var streamed = (float[])t.C.Clone();
                        var tiled = (float[])t.C.Clone();
                        Assert.True(GemmMicro.RowStreamSupported || !Vector256.IsHardwareAccelerated);
                        long saved = Gemm.SmallWork;
                        Gemm.SmallWork = 0;   // the row path, not the plain loop, for these small products too
                        try { Gemm.Multiply(false, false, m, n, k, t.A, t.Lda, t.B, t.Ldb, streamed, t.Ldc, accumulate, new WorkerTeam(1)); }
                        finally { Gemm.SmallWork = saved; }
                        using (GemmTuning.ForceBlocked())
                            Gemm.Multiply(false, false, m, n, k, t.A, t.Lda, t.B, t.Ldb, tiled, t.Ldc, accumulate, new WorkerTeam(1));
                        for (int i = 0; i < tiled.Length; i++)
                            if (BitConverter.SingleToInt32Bits(streamed[i]) != BitConverter.SingleToInt32Bits(tiled[i]))
                                Assert.Fail($"m={m} n={n} k={k} acc={accumulate}: element {i}: streamed {streamed[i]:R}, tiled {tiled[i]:R}");
                    }
    }

    [Fact]
    public void ZeroDepthOverwritesOrKeepsC()
    {
        var c = new float[] { 1, 2, 3, 4, 5, 6 };
        Gemm.Multiply(false, false, 2, 3, 0, [], 1, [], 3, c, 3, accumulate: true);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, c);
        Gemm.Multiply(false, false, 2, 3, 0, [], 1, [], 3, c, 3, accumulate: false);
        Assert.Equal(new float[6], c);
    }

    [Fact]
    public void ThreadCountDoesNotChangeBits()
    {
        using var one = new WorkerTeam(1);
        using var two = new WorkerTeam(2);
        using var three = new WorkerTeam(3);
        // Tall (split over M), and short and wide (split over N panels), with K past one block.
        int[][] shapes = [[300, 200, 700], [4, 1000, 600], [61, 130, 96]];
        int seed = 900;
        foreach (var s in shapes)
            foreach (var (ta, tb) in new[] { (false, false), (true, true), (false, true) })
            {
                var t = Make(ta, tb, s[0], s[1], s[2], pad: 2, seed: seed++);
                var c1 = (float[])t.C.Clone(); var c2 = (float[])t.C.Clone(); var c3 = (float[])t.C.Clone();
                Gemm.Multiply(ta, tb, t.M, t.N, t.K, t.A, t.Lda, t.B, t.Ldb, c1, t.Ldc, true, one);
                Gemm.Multiply(ta, tb, t.M, t.N, t.K, t.A, t.Lda, t.B, t.Ldb, c2, t.Ldc, true, two);
                Gemm.Multiply(ta, tb, t.M, t.N, t.K, t.A, t.Lda, t.B, t.Ldb, c3, t.Ldc, true, three);
                for (int i = 0; i < c1.Length; i++)
                {
                    Assert.Equal(BitConverter.SingleToInt32Bits(c1[i]), BitConverter.SingleToInt32Bits(c2[i]));
                    Assert.Equal(BitConverter.SingleToInt32Bits(c1[i]), BitConverter.SingleToInt32Bits(c3[i]));
                }
                CheckAgainstReference(t, true, two);
            }
    }

    [Fact]
    public void RowInitMatchesBiasRowsThenAccumulateBitForBit()
    {
        // C = 1·bias + op(A)·op(B) must equal writing bias into every row and accumulating, on any team;
        // shapes: small-problem loop, a ragged right panel, K past one block, in-place and packed A.
        using var one = new WorkerTeam(1);
        using var two = new WorkerTeam(2);
        int seed = 1500;
        foreach (var (m, n, k) in new[] { (3, 5, 4), (100, 520, 32), (61, 130, 700), (400, 200, 256) })
            foreach (var (ta, tb) in new[] { (false, true), (true, false) })
            {
                var t = Make(ta, tb, m, n, k, pad: 2, seed: seed++);
                var bias = Random(n, seed++);
                var twoPass = (float[])t.C.Clone();
                for (int r = 0; r < m; r++) bias.CopyTo(twoPass, r * t.Ldc);
                Gemm.Multiply(ta, tb, m, n, k, t.A, t.Lda, t.B, t.Ldb, twoPass, t.Ldc, true, one);
                foreach (var team in new[] { one, two })
                {
                    var fused = (float[])t.C.Clone();
                    Gemm.Multiply(ta, tb, m, n, k, t.A, t.Lda, t.B, t.Ldb, fused, t.Ldc, bias, team);
                    for (int i = 0; i < fused.Length; i++)
                        Assert.True(BitConverter.SingleToInt32Bits(twoPass[i]) == BitConverter.SingleToInt32Bits(fused[i]),
                            $"m={m} n={n} k={k} C[{i / t.Ldc},{i % t.Ldc}]: {twoPass[i]:R} vs {fused[i]:R}");
                }
            }
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 2, 3, 4, new float[8], 4, new float[12], 3, new float[6], 3, new float[2]));
    }

    [Fact]
    public void PackedBMatchesUnpackedBitForBit()
    {
        using var _ = GemmTuning.ForceBlocked();
        using var two = new WorkerTeam(2);
        var packed = new PackedMatrix();
        int seed = 1200;
        // Recurrent step shapes: h [B, H] · W_hhᵀ, W_hh [G·H, H].
        foreach (var (batch, gh, h) in new[] { (1, 96, 32), (3, 384, 128), (17, 200, 70), (64, 768, 256), (5, 3 * 600, 600) })
        {
            var t = Make(false, true, batch, gh, h, pad: 0, seed: seed++);
            packed.Pack(true, gh, h, t.B, t.Ldb);
            Assert.Equal(gh, packed.Columns);
            Assert.Equal(h, packed.Depth);
            var viaPacked = (float[])t.C.Clone();
            var direct = (float[])t.C.Clone();
            Gemm.Multiply(false, batch, t.A, t.Lda, packed, viaPacked, t.Ldc, accumulate: true, two);
            Gemm.Multiply(false, true, batch, gh, h, t.A, t.Lda, t.B, t.Ldb, direct, t.Ldc, true, new WorkerTeam(1));
            for (int i = 0; i < direct.Length; i++)
                Assert.Equal(BitConverter.SingleToInt32Bits(direct[i]), BitConverter.SingleToInt32Bits(viaPacked[i]));
        }
        // Non-transposed B and transposed A through the packed path.
        var u = Make(true, false, 23, 77, 45, pad: 2, seed: seed++);
        var p2 = Gemm.PackB(false, u.N, u.K, u.B, u.Ldb);
        var expected = (float[])u.C.Clone();
        var got = (float[])u.C.Clone();
        GemmReference.Multiply(true, false, u.M, u.N, u.K, u.A, u.Lda, u.B, u.Ldb, expected, u.Ldc, false);
        Gemm.Multiply(true, u.M, u.A, u.Lda, p2, got, u.Ldc, accumulate: false);
        for (int i = 0; i < got.Length; i++)
            if (i % u.Ldc < u.N) Assert.True(MathF.Abs(got[i] - expected[i]) <= 4e-6f * 50, $"C[{i / u.Ldc},{i % u.Ldc}]");
            else Assert.Equal(u.C[i], got[i]);
    }

    [Fact]
    public void NaNAndInfinityPropagate()
    {
        foreach (bool blocked in new[] { false, true })
        {
            using var _ = blocked ? GemmTuning.ForceBlocked() : null;
            int m = 7, n = 9, k = 5;
            var a = Random(m * k, 1); var b = Random(k * n, 2); var c = new float[m * n];
            a[2 * k + 3] = float.NaN;          // row 2 of C becomes NaN
            b[1 * n + 4] = float.PositiveInfinity; // column 4 becomes ±Inf (or NaN in row 2)
            Gemm.Multiply(false, false, m, n, k, a, k, b, n, c, n, false);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    float v = c[i * n + j];
                    if (i == 2) Assert.True(float.IsNaN(v), $"C[{i},{j}] = {v}, expected NaN");
                    else if (j == 4) Assert.True(float.IsInfinity(v), $"C[{i},{j}] = {v}, expected ±Inf");
                    else Assert.True(float.IsFinite(v), $"C[{i},{j}] = {v}");
                }
        }
    }

    [Fact]
    public void TooShortSpansThrow()
    {
        float[] a = new float[6], b = new float[6], c = new float[4];
        // [2, 3] · [3, 2] fits exactly; each operand one short must throw.
        Gemm.Multiply(false, false, 2, 2, 3, a, 3, b, 2, c, 2, false);
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 2, 2, 3, a.AsSpan(1), 3, b, 2, c, 2, false));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 2, 2, 3, a, 3, b.AsSpan(1), 2, c, 2, false));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 2, 2, 3, a, 3, b, 2, c.AsSpan(1), 2, false));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 2, 2, 3, a, 2, b, 2, c, 2, false)); // lda < k
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(true, true, 2, 2, 3, a, 2, b, 3, c, 1, false));   // ldc < n
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(false, false, -1, 2, 3, a, 3, b, 2, c, 2, false));
        Assert.Throws<ArgumentException>(() => Gemm.PackB(true, 3, 3, b, 3));
        var packed = Gemm.PackB(true, 2, 3, b, 3);
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, 2, a.AsSpan(1), 3, packed, c, 2, false));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, 2, a, 3, packed, c.AsSpan(1), 2, false));
    }

    [Fact]
    public void WorkerTeamRunsEveryShareOnceAndRethrows()
    {
        using var team = new WorkerTeam(3);
        var hits = new int[3];
        unsafe
        {
            fixed (int* p = hits)
            {
                for (int round = 0; round < 200; round++)
                {
                    var job = new CountJob { Hits = p };
                    team.Run(ref job);
                }
                var bad = new ThrowJob();
                var e = Assert.Throws<InvalidOperationException>(() => team.Run(ref bad));
                Assert.Equal("share 1", e.Message);
                var again = new CountJob { Hits = p };
                team.Run(ref again); // still usable after an exception
            }
        }
        Assert.Equal(new[] { 201, 201, 201 }, hits);
        Assert.Equal(3, team.Size);
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerTeam(0));
    }

    [Fact]
    public void ClaimedRunsDoEveryChunkOnceWhileLateWorkersAreLeftOut()
    {
        // A claimed job that worker 0 can finish alone (one chunk) is mostly over before the others wake: their seats
        // are closed. Plain runs in between must still run every share once, a late worker joining whichever job is
        // current; any chunk done twice or never, or a share run for a closed seat, shows in the counts.
        using var team = new WorkerTeam(3);
        const int rounds = 3000;
        var hits = new int[3];
        var chunkHits = new int[5];
        var cursors = GC.AllocateArray<int>(3 * Gemm.Chunks.Stride, pinned: true);
        unsafe
        {
            fixed (int* p = hits) fixed (int* c = chunkHits) fixed (int* cur = cursors)
            {
                for (int round = 0; round < rounds; round++)
                {
                    int chunks = 1 + round % 5;
                    Gemm.Chunks.Init(cur, team.Size, chunks);
                    var claimed = new ClaimJob { Hits = c, Cursors = cur, Chunks = chunks };
                    team.RunClaimed(ref claimed);
                    if (round % 3 == 0)
                    {
                        var all = new CountJob { Hits = p };
                        team.Run(ref all);
                    }
                }
            }
        }
        int perRound = (rounds + 2) / 3;
        Assert.Equal(new[] { perRound, perRound, perRound }, hits);
        for (int k = 0; k < 5; k++) Assert.Equal(Enumerable.Range(0, rounds).Count(r => 1 + r % 5 > k), chunkHits[k]);
    }

    private unsafe struct ClaimJob : IWorkerJob
    {
        public int* Hits, Cursors;
        public int Chunks;

        public void Execute(int worker, int workers)
        {
            for (int v = 0, chunk; (chunk = Gemm.Chunks.Claim(Cursors, worker, workers, Chunks, ref v)) >= 0;)
                Interlocked.Increment(ref Hits[chunk]);
        }
    }

    private unsafe struct CountJob : IWorkerJob
    {
        public int* Hits;
        public void Execute(int worker, int workers) => Interlocked.Increment(ref Hits[worker]);
    }

    private struct ThrowJob : IWorkerJob
    {
        public void Execute(int worker, int workers)
        {
            if (worker == 1) throw new InvalidOperationException("share 1");
        }
    }
}

/// <summary>Tests that change Gemm's internal thresholds run one at a time.</summary>
[CollectionDefinition(nameof(GemmTuningCollection), DisableParallelization = true)]
public class GemmTuningCollection { }

internal sealed class GemmTuning : IDisposable
{
    private readonly long _small = Gemm.SmallWork;
    private readonly int _rowStream = Gemm.RowStreamMaxRows;
    private GemmTuning() { Gemm.SmallWork = 0; Gemm.RowStreamMaxRows = 0; }
    /// <summary>The packed, tiled path for every product (no plain loop for tiny ones, no row streaming).</summary>
    public static GemmTuning ForceBlocked() => new();
    public void Dispose() { Gemm.SmallWork = _small; Gemm.RowStreamMaxRows = _rowStream; }
}

/// <summary>The 12×32 tile for panels at most 32 wide against the 6×64 tile it replaces: the same bits.</summary>
[Trait("Category", "Kernels")]
[Collection(nameof(GemmTuningCollection))]
public class GemmNarrowTileTests
{
    [Theory]
    [MemberData(nameof(GemmTests.TransCombos), MemberType = typeof(GemmTests))]
    public void NarrowTileMatchesTheWideTileBitForBit(bool transA, bool transB)
    {
        using var _ = GemmTuning.ForceBlocked();
        var rng = new Random(11);
        int seed = 0;
        foreach (int n in new[] { 1, 7, 16, 31, 32, 33, 95, 96 })
            foreach (int m in new[] { 1, 11, 12, 13, 24, 30, 97 })
                foreach (int k in new[] { 5, 130, 700 })
                {
                    seed++;
                    int lda = (transA ? m : k) + 1, ldb = (transB ? k : n) + 2, ldc = n + 3;
                    var a = Fill(new float[(transA ? k : m) * lda]); var b = Fill(new float[(transB ? n : k) * ldb]);
                    var c0 = Fill(new float[m * ldc]); var init = Fill(new float[n]);
                    foreach (int mode in new[] { 0, 1, 2 }) // overwrite, accumulate, start from a row
                    {
                        var wide = Run(false); var narrow = Run(true);
                        for (int i = 0; i < wide.Length; i++)
                            if (BitConverter.SingleToInt32Bits(wide[i]) != BitConverter.SingleToInt32Bits(narrow[i]))
                                Assert.Fail($"m={m} n={n} k={k} tA={transA} tB={transB} mode {mode}: C[{i / ldc}, {i % ldc}] {narrow[i]:R} vs {wide[i]:R}");

                        float[] Run(bool narrowTiles)
                        {
                            bool saved = Gemm.NarrowTiles;
                            Gemm.NarrowTiles = narrowTiles;
                            try
                            {
                                var c = (float[])c0.Clone();
                                using var team = new WorkerTeam(1 + seed % 2);
                                if (mode == 2) Gemm.Multiply(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, init, team);
                                else Gemm.Multiply(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, mode == 1, team);
                                return c;
                            }
                            finally { Gemm.NarrowTiles = saved; }
                        }
                    }
                }

        float[] Fill(float[] x)
        {
            for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble() * 2f - 1f;
            return x;
        }
    }
}
