using Gyre.Classification;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Classification;

public sealed class DtwTests
{
    /// <summary>The full cost matrix with the band, no abandoning: the oracle the two-row version is held to.</summary>
    private static double Reference(float[] a, float[] b, int channels, int window)
    {
        int n = a.Length / channels, m = b.Length / channels;
        var d = new double[n + 1, m + 1];
        for (int i = 0; i <= n; i++) for (int j = 0; j <= m; j++) d[i, j] = double.PositiveInfinity;
        d[0, 0] = 0;
        for (int i = 1; i <= n; i++)
            for (int j = 1; j <= m; j++)
            {
                if (Math.Abs(i - j) > window) continue;
                double cost = 0;
                for (int c = 0; c < channels; c++) { double x = a[(i - 1) * channels + c] - b[(j - 1) * channels + c]; cost += x * x; }
                d[i, j] = cost + Math.Min(d[i - 1, j - 1], Math.Min(d[i - 1, j], d[i, j - 1]));
            }
        return d[n, m];
    }

    /// <summary>LB_Keogh by brute force: each step's squared distance to the min–max of its band window.</summary>
    private static double LowerBoundReference(float[] a, float[] b, int channels, int window)
    {
        int n = a.Length / channels, m = b.Length / channels;
        double sum = 0;
        for (int i = 0; i < n; i++)
            for (int c = 0; c < channels; c++)
            {
                double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
                for (int j = Math.Max(0, i - window); j <= Math.Min(m - 1, i + window); j++) { lo = Math.Min(lo, b[j * channels + c]); hi = Math.Max(hi, b[j * channels + c]); }
                double x = a[i * channels + c];
                sum += x > hi ? (x - hi) * (x - hi) : x < lo ? (lo - x) * (lo - x) : 0;
            }
        return sum;
    }

    private static double Run(float[] a, float[] b, int channels, int window, double abandon = double.PositiveInfinity) =>
        Dtw.Distance(a, b, channels, window, abandon, new double[Dtw.BufferLength(b.Length / channels)]);

    [Fact]
    public void Hand_computed_cases()
    {
        // cost (a−b)²: rows a = 0,1,2, columns b = 0,2 → [[0,4],[1,1],[4,0]]; best path (1,1)(2,1)(3,2) = 0 + 1 + 0.
        Assert.Equal(1.0, Run([0, 1, 2], [0, 2], 1, 1));
        Assert.Equal(1.0, Run([0, 1, 2], [0, 2], 1, 5));
        // Window 0 on equal lengths is the squared Euclidean distance.
        Assert.Equal(50.0, Run([0, 0, 0, 5], [5, 0, 0, 0], 1, 0));
        // Even a full window cannot align the spikes for free: every path starts at (1,1) and ends at (4,4), 25 each.
        Assert.Equal(Reference([0, 0, 0, 5], [5, 0, 0, 0], 1, 3), Run([0, 0, 0, 5], [5, 0, 0, 0], 1, 3));
        Assert.Equal(50.0, Run([0, 0, 0, 5], [5, 0, 0, 0], 1, 3));
        // Two channels add their squared differences: steps (1,1) vs (0,0) and (2,0) vs (2,2).
        Assert.Equal(2.0 + 4.0, Run([1, 1, 2, 0], [0, 0, 2, 2], 2, 0));
        Assert.Equal(0.0, Run([3, 3, 3], [3], 1, 2));
        // LB_Keogh, window 1: a = 0,0,0,5 against b's windows {5,0} {5,0,0} {0,0,0} {0,0} → 0 + 0 + 0 + 25.
        Assert.Equal(25.0, Dtw.LowerBound([0, 0, 0, 5], [5, 0, 0, 0], 1, 1, double.PositiveInfinity, new int[8]));
    }

    [Fact]
    public void Matches_the_full_matrix_on_random_series_of_unequal_lengths()
    {
        var rng = new Rng(7);
        for (int trial = 0; trial < 200; trial++)
        {
            int channels = 1 + trial % 3, n = 1 + (int)(rng.NextUInt() % 40), m = 1 + (int)(rng.NextUInt() % 40);
            var a = new float[n * channels]; var b = new float[m * channels];
            for (int i = 0; i < a.Length; i++) a[i] = rng.NextFloat() * 4 - 2;
            for (int i = 0; i < b.Length; i++) b[i] = rng.NextFloat() * 4 - 2;
            int w = Dtw.Window(n, m, trial % 2 == 0 ? 0.1 : 0.5);
            double expected = Reference(a, b, channels, w), got = Run(a, b, channels, w);
            Assert.True(Math.Abs(expected - got) <= 1e-9 * Math.Max(1, expected), $"trial {trial}: {got} vs {expected}");
            // Abandoning: exact when the bound is above the result, +inf when a full row exceeds it.
            Assert.Equal(got, Run(a, b, channels, w, got * 1.0001 + 1e-9));
            double lb = Dtw.LowerBound(a, b, channels, w, double.PositiveInfinity, new int[Dtw.DequeLength(m)]);
            Assert.True(lb <= got * (1 + 1e-9) + 1e-12, $"trial {trial}: lower bound {lb} above DTW {got}");
            Assert.True(lb >= LowerBoundReference(a, b, channels, w) * (1 - 1e-9) - 1e-12, $"trial {trial}: lower bound {lb} below the envelope sum");
            double low = Run(a, b, channels, w, got * 0.5);
            Assert.True(double.IsPositiveInfinity(low) || low == got, $"trial {trial}: abandoned run gave {low}, full {got}");
        }
    }

    [Fact]
    public void Window_reaches_the_end_cell_and_arguments_are_checked()
    {
        Assert.Equal(15, Dtw.Window(150, 150, 0.1));
        Assert.Equal(90, Dtw.Window(10, 100, 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Run([1, 2, 3], [1], 1, 1));
        Assert.Throws<ArgumentException>(() => Dtw.Distance([1f, 2f], [1f, 2f], 1, 1, double.PositiveInfinity, new double[3]));
    }
}
