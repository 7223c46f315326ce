namespace Gyre.Kernels.Reference;

/// <summary>
/// Scalar twin of <see cref="LinearRecurrence"/>: the same chunked passes, one element at a time, in the same
/// operation order (products summed left to right, then + b, separate roundings), so the SIMD solver must
/// match it bit for bit. Layouts and formulas: see <see cref="LinearRecurrence"/>. The team is not used.
/// </summary>
public static class LinearRecurrenceReference
{
    /// <inheritdoc cref="LinearRecurrence.Forward"/>
    public static void Forward(Span<float> h, Span<float> hLast, ReadOnlySpan<float> a, ReadOnlySpan<float> b,
        ReadOnlySpan<float> h0, Span<float> scratch, int steps, int block, int channels, int chunkLength, WorkerTeam? team = null)
    {
        LinearRecurrence.Check(h.Length, hLast.Length, a.Length, b.Length, h0.Length, scratch.Length, steps, block, channels, chunkLength, "h", "hLast", "b", "h0");
        new Solver(steps, block, channels, chunkLength, reverse: false).Solve(h, hLast, a, b, h0, scratch);
    }

    /// <inheritdoc cref="LinearRecurrence.Reverse"/>
    public static void Reverse(Span<float> g, Span<float> gFirst, ReadOnlySpan<float> a, ReadOnlySpan<float> d,
        ReadOnlySpan<float> gEnd, Span<float> scratch, int steps, int block, int channels, int chunkLength, WorkerTeam? team = null)
    {
        LinearRecurrence.Check(g.Length, gFirst.Length, a.Length, d.Length, gEnd.Length, scratch.Length, steps, block, channels, chunkLength, "g", "gFirst", "d", "gEnd");
        new Solver(steps, block, channels, chunkLength, reverse: true).Solve(g, gFirst, a, d, gEnd, scratch);
    }

    /// <summary>
    /// The passes over processing steps s = 0 … T−1 (time t = s forward, t = T−1−s in reverse). Offsets point
    /// into spans; a coefficient offset of −1 is the identity.
    /// </summary>
    private readonly struct Solver(int steps, int block, int channels, int chunkLength, bool reverse)
    {
        readonly int T = steps, K = block, M = channels, C = LinearRecurrence.ChunkCount(steps, chunkLength);
        int L => C == 1 ? T : chunkLength;
        int State => K * M;
        int Row(int s) => (reverse ? T - 1 - s : s) * State;
        int Coef(int s) => reverse ? (s == 0 ? -1 : (T - s) * State * K) : s * State * K;
        int Ends(int c) => (c - 1) * State;
        int Products(int c) => (C - 1) * State + (c - 1) * State * K;

        public void Solve(Span<float> h, Span<float> last, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> init, Span<float> scratch)
        {
            if (C == 1)
            {
                Outputs(h, a, b, init, 0, T);
            }
            else
            {
                // Pass 1: chunk 0 from the initial state; chunks 1 … C−2 from zero, with their coefficient products.
                Outputs(h, a, b, init, 0, L);
                for (int c = 1; c < C - 1; c++)
                {
                    int s0 = c * L, s1 = Math.Min(T, s0 + L), e = Ends(c), p = Products(c);
                    for (int i = 0; i < State; i++) scratch[e + i] = b[Row(s0) + i];
                    for (int m = 0; m < M; m++)
                        for (int i = 0; i < K; i++)
                            for (int j = 0; j < K; j++)
                                scratch[p + (i * K + j) * M + m] = a[Coef(s0) + CoefIndex(i, j, reverse) * M + m];
                    var tmp = new float[K];
                    for (int s = s0 + 1; s < s1; s++)
                    {
                        for (int m = 0; m < M; m++)
                        {
                            Apply(scratch, e, M, a, Coef(s), reverse, m, tmp);
                            for (int i = 0; i < K; i++) scratch[e + i * M + m] = tmp[i] + b[Row(s) + i * M + m];
                            for (int col = 0; col < K; col++)
                            {
                                Apply(scratch, p + col * M, K * M, a, Coef(s), reverse, m, tmp);
                                for (int i = 0; i < K; i++) scratch[p + (i * K + col) * M + m] = tmp[i];
                            }
                        }
                    }
                }
                // Pass 2: carry the entering states; the state entering chunk c replaces chunk c−1's end.
                var carry = new float[K];
                for (int c = 2; c < C; c++)
                    for (int m = 0; m < M; m++)
                    {
                        for (int i = 0; i < K; i++)
                        {
                            float acc = 0f;
                            for (int j = 0; j < K; j++)
                            {
                                float x = scratch[Products(c - 1) + (i * K + j) * M + m] * Entering(h, scratch, c - 1, j * M + m);
                                acc = j == 0 ? x : acc + x;
                            }
                            carry[i] = acc + scratch[Ends(c - 1) + i * M + m];
                        }
                        for (int i = 0; i < K; i++) scratch[Ends(c - 1) + i * M + m] = carry[i];
                    }
                // Pass 3: every chunk after the first from its true entering state.
                for (int c = 1; c < C; c++)
                {
                    var entering = new float[State];
                    for (int i = 0; i < State; i++) entering[i] = Entering(h, scratch, c, i);
                    Outputs(h, a, b, entering, c * L, Math.Min(T, c * L + L));
                }
            }
            if (last.IsEmpty) return;
            int final = Row(T - 1);
            if (!reverse)
            {
                h.Slice(final, State).CopyTo(last);
                return;
            }
            var r = new float[K];
            for (int m = 0; m < M; m++)
            {
                Apply(h, final, M, a, 0, transpose: true, m, r);
                for (int i = 0; i < K; i++) last[i * M + m] = r[i];
            }
        }

        float Entering(Span<float> h, Span<float> scratch, int c, int index) =>
            c == 1 ? h[Row(L - 1) + index] : scratch[Ends(c - 1) + index];

        void Outputs(Span<float> h, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> init, int s0, int s1)
        {
            var tmp = new float[K];
            for (int s = s0; s < s1; s++)
                for (int m = 0; m < M; m++)
                {
                    if (s == s0 && init.IsEmpty)
                    {
                        for (int i = 0; i < K; i++) h[Row(s) + i * M + m] = b[Row(s) + i * M + m];
                        continue;
                    }
                    if (s == s0) Apply(init, 0, M, a, Coef(s), reverse, m, tmp);
                    else Apply(h, Row(s - 1), M, a, Coef(s), reverse, m, tmp);
                    for (int i = 0; i < K; i++) h[Row(s) + i * M + m] = tmp[i] + b[Row(s) + i * M + m];
                }
        }

        // r = A·x for channel m, x's component i at state[offset + i·stride + m]; coefficient −1 is the identity.
        void Apply(ReadOnlySpan<float> state, int offset, int stride, ReadOnlySpan<float> a, int coef, bool transpose, int m, float[] r)
        {
            for (int i = 0; i < K; i++)
            {
                if (coef < 0) { r[i] = state[offset + i * stride + m]; continue; }
                float acc = 0f;
                for (int j = 0; j < K; j++)
                {
                    float x = a[coef + CoefIndex(i, j, transpose) * M + m] * state[offset + j * stride + m];
                    acc = j == 0 ? x : acc + x;
                }
                r[i] = acc;
            }
        }

        int CoefIndex(int i, int j, bool transpose) => transpose ? j * K + i : i * K + j;
    }
}
