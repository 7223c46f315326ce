using Gyre.Data;

namespace Gyre.Classification;

/// <summary>
/// One-nearest-neighbour search, the classic time-series classification baselines. Equal-length
/// comparisons use squared Euclidean distance; <see cref="Dtw"/> uses a Sakoe–Chiba band. Each query
/// is independent, so queries run in parallel and the answer never depends on the thread count; ties go
/// to the lowest training index.
/// </summary>
public static class NearestNeighbour
{
    /// <summary>
    /// For each query [L·C] (all the same length as the references), the index of the reference with the least
    /// Σ (q − r)²; the sum for a candidate stops early once it passes the best so far.
    /// </summary>
    public static int[] Euclidean(IReadOnlyList<float[]> references, IReadOnlyList<float[]> queries, int threads = 0)
    {
        Check(references, queries);
        int len = references[0].Length;
        foreach (var r in references) if (r.Length != len) throw new ArgumentException("references differ in length: resample first");
        foreach (var q in queries) if (q.Length != len) throw new ArgumentException("queries differ from the references in length: resample first");
        var result = new int[queries.Count];
        Parallel.For(0, queries.Count, Options(threads), qi =>
        {
            var q = queries[qi].AsSpan();
            double best = double.PositiveInfinity;
            int arg = -1;
            for (int ri = 0; ri < references.Count; ri++)
            {
                double d = SquaredDistance(q, references[ri], best);
                if (d < best) { best = d; arg = ri; }
            }
            result[qi] = arg;
        });
        return result;
    }

    /// <summary>
    /// For each query, the reference at the least DTW distance (series [T, C] of any lengths; band
    /// <see cref="Dtw.Window"/>(n, m, <paramref name="windowFraction"/>)); ties go to the lowest index.
    /// Candidates are visited in order of their Euclidean distance after resampling to the query's length (a
    /// cheap guess at the neighbour), so the best-so-far bound is tight early; most candidates are then ruled out by
    /// LB_Keogh (<see cref="Dtw.LowerBound"/>) or abandon after a few rows. The visiting order cannot change the answer: a candidate abandons only when it is strictly
    /// worse than the best so far, and equal distances are settled by index.
    /// </summary>
    public static int[] DynamicTimeWarping(IReadOnlyList<float[]> references, IReadOnlyList<float[]> queries, int channels,
        double windowFraction = 0.1, int threads = 0)
    {
        Check(references, queries);
        int maxRef = references.Max(r => r.Length) / channels;
        var result = new int[queries.Count];
        Parallel.For(0, queries.Count, Options(threads), () => new DtwScratch(references.Count, maxRef), (qi, _, scratch) =>
        {
            var q = queries[qi];
            int n = q.Length / channels;
            // Visiting order: squared Euclidean distance of the query to each reference resampled to n steps.
            for (int ri = 0; ri < references.Count; ri++)
            {
                scratch.Order[ri] = ri;
                scratch.Guess[ri] = ResampledDistance(q, references[ri], channels);
            }
            Array.Sort(scratch.Guess, scratch.Order);
            double best = double.PositiveInfinity;
            int arg = -1;
            foreach (int ri in scratch.Order)
            {
                var r = references[ri];
                int m = r.Length / channels;
                int w = Dtw.Window(n, m, windowFraction);
                // LB_Keogh first: a candidate whose bound is already strictly worse cannot win or tie.
                if (Dtw.LowerBound(q, r, channels, w, best, scratch.Deque) > best) continue;
                double d = Dtw.Distance(q, r, channels, w, best, scratch.Rows);
                if (d < best || (d == best && ri < arg)) { best = d; arg = ri; }
            }
            result[qi] = arg;
            return scratch;
        }, _ => { });
        return result;
    }

    /// <summary>Per-worker buffers of the DTW search: two cost-matrix rows and the visiting order.</summary>
    private sealed class DtwScratch(int references, int maxLength)
    {
        public readonly double[] Rows = new double[Dtw.BufferLength(maxLength)];
        public readonly int[] Deque = new int[Dtw.DequeLength(maxLength)];
        public readonly int[] Order = new int[references];
        public readonly double[] Guess = new double[references];
    }

    /// <summary>Σ_t Σ_c (q[t,c] − r[t·(m−1)/(n−1), c])² with r read at the nearest resampled step (no allocation).</summary>
    private static double ResampledDistance(ReadOnlySpan<float> q, ReadOnlySpan<float> r, int channels)
    {
        int n = q.Length / channels, m = r.Length / channels;
        double sum = 0;
        for (int t = 0; t < n; t++)
        {
            int j = n == 1 ? 0 : (int)(((long)t * (m - 1) * 2 + (n - 1)) / (2L * (n - 1)));
            for (int c = 0; c < channels; c++) { double d = q[t * channels + c] - r[j * channels + c]; sum += d * d; }
        }
        return sum;
    }

    /// <summary>Σ (a − b)², or a partial sum above <paramref name="abandonAbove"/> once it exceeds it.</summary>
    public static double SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b, double abandonAbove)
    {
        double sum = 0;
        const int Block = 64;   // check the bound every block: a branch per element would cost more than it saves
        for (int start = 0; start < a.Length; start += Block)
        {
            int end = Math.Min(a.Length, start + Block);
            for (int i = start; i < end; i++) { double d = a[i] - b[i]; sum += d * d; }
            if (sum > abandonAbove) return sum;
        }
        return sum;
    }

    /// <summary>
    /// Linear resampling of a [n, C] series to [length, C]: step t maps to position t·(n − 1)/(length − 1).
    /// Used to compare unequal-length series by Euclidean distance.
    /// </summary>
    public static float[] Resample(ReadOnlySpan<float> series, int channels, int length)
    {
        int n = series.Length / channels;
        var result = new float[length * channels];
        if (n == length) { series.CopyTo(result); return result; }
        for (int t = 0; t < length; t++)
        {
            double pos = length == 1 ? 0 : t * (double)(n - 1) / (length - 1);
            int i0 = (int)Math.Floor(pos);
            int i1 = Math.Min(n - 1, i0 + 1);
            double w = pos - i0;
            for (int c = 0; c < channels; c++)
                result[t * channels + c] = (float)((1 - w) * series[i0 * channels + c] + w * series[i1 * channels + c]);
        }
        return result;
    }

    private static ParallelOptions Options(int threads) => new() { MaxDegreeOfParallelism = threads > 0 ? threads : -1 };

    private static void Check(IReadOnlyList<float[]> references, IReadOnlyList<float[]> queries)
    {
        if (references.Count == 0) throw new ArgumentException("no reference series");
        ArgumentNullException.ThrowIfNull(queries);
    }
}
