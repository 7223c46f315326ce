namespace Gyre.Classification;

/// <summary>
/// Dynamic time warping with a Sakoe–Chiba band. Series are [T, C] row-major; the local cost of aligning
/// step i of a with step j of b is the squared Euclidean distance Σ_c (a[i,c] − b[j,c])², and
/// D(i, j) = cost(i, j) + min(D(i−1, j), D(i, j−1), D(i−1, j−1)) over |i − j| ≤ w. The result is D(n, m)
/// (a sum of squares, no square root: the nearest neighbour is the same).
/// </summary>
public static class Dtw
{
    /// <summary>
    /// Band half-width for lengths n and m: ⌈fraction · max(n, m)⌉, widened to |n − m| so the end cell
    /// (n, m) stays reachable when the lengths differ.
    /// </summary>
    public static int Window(int n, int m, double fraction) =>
        Math.Max((int)Math.Ceiling(fraction * Math.Max(n, m)), Math.Abs(n - m));

    /// <summary>Scratch doubles <see cref="Distance"/> needs for a second series of length m.</summary>
    public static int BufferLength(int m) => 2 * (m + 1);

    /// <summary>
    /// D(n, m) of a [n, C] and b [m, C] within the band w, or +∞ as soon as a whole row of the cost matrix
    /// exceeds <paramref name="abandonAbove"/> (then D(n, m) would too: costs are non-negative). O(n·w) time,
    /// no allocation: <paramref name="buffer"/> holds two rows (at least <see cref="BufferLength"/>(m)).
    /// </summary>
    public static double Distance(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int channels, int window,
        double abandonAbove, Span<double> buffer)
    {
        int C = channels;
        if (C <= 0 || a.Length % C != 0 || b.Length % C != 0) throw new ArgumentException("series lengths must be multiples of the channel count");
        int n = a.Length / C, m = b.Length / C;
        if (n == 0 || m == 0) throw new ArgumentException("empty series");
        if (window < Math.Abs(n - m)) throw new ArgumentOutOfRangeException(nameof(window), $"window {window} < |n − m| = {Math.Abs(n - m)}: (n, m) unreachable");
        if (buffer.Length < BufferLength(m)) throw new ArgumentException($"buffer needs {BufferLength(m)} doubles", nameof(buffer));
        var prev = buffer[..(m + 1)];            // D(i−1, ·)  [m + 1]
        var curr = buffer.Slice(m + 1, m + 1);   // D(i, ·)    [m + 1]
        prev.Fill(double.PositiveInfinity);
        prev[0] = 0;
        for (int i = 1; i <= n; i++)
        {
            int jStart = Math.Max(1, i - window), jEnd = Math.Min(m, i + window);
            curr[jStart - 1] = double.PositiveInfinity;
            if (jEnd < m) curr[jEnd + 1] = double.PositiveInfinity;   // the next row reads one cell further right
            var ai = a.Slice((i - 1) * C, C);
            double rowMin = double.PositiveInfinity;
            for (int j = jStart; j <= jEnd; j++)
            {
                double cost;
                if (C == 1) { double d = ai[0] - b[j - 1]; cost = d * d; }
                else
                {
                    cost = 0;
                    var bj = b.Slice((j - 1) * C, C);
                    for (int c = 0; c < C; c++) { double d = ai[c] - bj[c]; cost += d * d; }
                }
                double best = Math.Min(prev[j - 1], Math.Min(prev[j], curr[j - 1]));
                double v = cost + best;
                curr[j] = v;
                if (v < rowMin) rowMin = v;
            }
            if (rowMin > abandonAbove) return double.PositiveInfinity;
            var swap = prev; prev = curr; curr = swap;
        }
        return prev[m];
    }

    /// <summary>Scratch ints <see cref="LowerBound"/> needs for a second series of length m.</summary>
    public static int DequeLength(int m) => 2 * m;

    /// <summary>
    /// LB_Keogh for the band: every warping path visits each step i of a at least once, in some column
    /// j ∈ [i − w, i + w] of b, so D(n, m) ≥ Σ_i Σ_c d(a[i,c], [L_ic, U_ic]) with L, U the minimum and maximum of
    /// b[·, c] over that window and d the squared distance to the interval (0 inside it). The running minima and
    /// maxima come from monotone queues, O((n + m)·C) time; stops early above <paramref name="abandonAbove"/>
    /// (the partial sum is then returned). <paramref name="deque"/>: at least <see cref="DequeLength"/>(m) ints.
    /// </summary>
    public static double LowerBound(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int channels, int window,
        double abandonAbove, Span<int> deque)
    {
        int C = channels, n = a.Length / C, m = b.Length / C;
        if (window < Math.Abs(n - m)) throw new ArgumentOutOfRangeException(nameof(window), $"window {window} < |n − m| = {Math.Abs(n - m)}");
        if (deque.Length < DequeLength(m)) throw new ArgumentException($"deque needs {DequeLength(m)} ints", nameof(deque));
        var minQ = deque[..m];                    // indices j with increasing b[j, c]
        var maxQ = deque.Slice(m, m);             // indices j with decreasing b[j, c]
        double sum = 0;
        for (int c = 0; c < C; c++)
        {
            int minHead = 0, minTail = 0, maxHead = 0, maxTail = 0, pushed = -1;
            for (int i = 0; i < n; i++)
            {
                int lo = Math.Max(0, i - window), hi = Math.Min(m - 1, i + window);
                while (pushed < hi)
                {
                    pushed++;
                    float v = b[pushed * C + c];
                    while (minTail > minHead && b[minQ[minTail - 1] * C + c] >= v) minTail--;
                    minQ[minTail++] = pushed;
                    while (maxTail > maxHead && b[maxQ[maxTail - 1] * C + c] <= v) maxTail--;
                    maxQ[maxTail++] = pushed;
                }
                while (minQ[minHead] < lo) minHead++;
                while (maxQ[maxHead] < lo) maxHead++;
                double x = a[i * C + c], lower = b[minQ[minHead] * C + c], upper = b[maxQ[maxHead] * C + c];
                if (x > upper) sum += (x - upper) * (x - upper);
                else if (x < lower) sum += (lower - x) * (lower - x);
            }
            if (sum > abandonAbove) return sum;
        }
        return sum;
    }
}
