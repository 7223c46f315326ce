using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Gyre.Kernels;

/// <summary>
/// Solves the linear recurrence h_t = A_t·h_{t−1} + b_t for all t at once, where every A_t is diagonal
/// (block K = 1) or block-diagonal with K×K blocks (K = 2, 3): the inner loop of parallel scans for linear
/// recurrent layers (minGRU / minLSTM, gated linear attention, diagonal state-space layers) and of each
/// Newton step of a parallel-in-time nonlinear recurrence (δh_t = J_t·δh_{t−1} − F_t). <see cref="Reverse"/>
/// runs the transposed recurrence that back-propagation through such a layer needs.
/// Scalar twin with the same signatures and the same operation order: <see cref="Reference.LinearRecurrenceReference"/>.
/// </summary>
/// <remarks>
/// <para>Letters: T steps, K block size, M channels (independent blocks, e.g. batch × hidden). Layouts are
/// time-major and planar so that SIMD runs across channels: states and inputs h, b [T, K, M] with component k
/// of channel m at <c>(t·K + k)·M + m</c>; coefficients a [T, K, K, M] with entry (i, j) of A_t's block m at
/// <c>((t·K + i)·K + j)·M + m</c>; initial and final states [K, M].</para>
/// <para>Chunked in time for the CPU: with <c>chunkLength</c> L &gt; 0 the steps fall into C = ⌈T/L⌉ chunks.
/// Pass 1 runs chunk 0 from h₀ and, for every other chunk but the last, the chunk's own recurrence from a zero
/// state together with the product of its coefficients. Pass 2 carries the true state across chunk boundaries
/// (s_c = P_c·s_{c−1} + e_c, C − 2 short steps). Pass 3 reruns every chunk after the first from its true
/// initial state, writing h. Work items are (chunk, 512-channel block) pairs handed out round robin, so
/// the cost over the plain loop is one extra pass and the coefficient products (K³ per step), and there is no
/// log-depth tree: on two cores the scan can at best break even against the plain loop split over channels
/// — it pays where channels are too few to share out.</para>
/// <para>Determinism: every output element is computed by one worker in a fixed order, and the chunking
/// depends on L alone, never on the team size: the bits are the same for any thread count. A chunked solve
/// (C &gt; 1) differs from the plain sequential loop in rounding at the chunk boundaries (the carried state is
/// P·s + e, not the step-by-step value); with L = 0 or L ≥ T it is the plain loop, bit for bit:
/// new = ((a₀₀·s₀ + a₀₁·s₁) + a₀₂·s₂) + b₀ with separate roundings (no FMA, so every vector width and
/// the scalar twin agree exactly). Special values propagate as in that loop, except that a chunked solve can
/// turn 0·∞ at a boundary into NaN where the loop would not have formed the product.</para>
/// </remarks>
public static unsafe class LinearRecurrence
{
    /// <summary>Largest block size K supported.</summary>
    public const int MaxBlock = 3;

    // Channels per work item: a [K, 512] state block stays in L1 while a chunk streams through it.
    internal const int ChannelBlock = 512;

    /// <summary>Number of chunks C = ⌈T/L⌉, or 1 when L ≤ 0 or L ≥ T.</summary>
    public static int ChunkCount(int steps, int chunkLength) =>
        chunkLength <= 0 || chunkLength >= steps ? 1 : (steps + chunkLength - 1) / chunkLength;

    /// <summary>Floats of scratch a solve needs: (C − 1)·K·(K + 1)·M (zero for one chunk).</summary>
    public static int ScratchLength(int steps, int block, int channels, int chunkLength)
    {
        int c = ChunkCount(steps, chunkLength);
        return c <= 1 ? 0 : checked((c - 1) * block * (block + 1) * channels);
    }

    /// <summary>
    /// Forward recurrence h_t = A_t·h_{t−1} + b_t for t = 0 … T−1 with h_{−1} = h₀.
    /// </summary>
    /// <param name="h">[T, K, M] all states (output); may be the very span b (solved in place).</param>
    /// <param name="hLast">[K, M] receives h_{T−1}; empty to skip.</param>
    /// <param name="a">[T, K, K, M] coefficients (for K = 1 simply [T, M]).</param>
    /// <param name="b">[T, K, M] inputs.</param>
    /// <param name="h0">[K, M] initial state; empty means zeros (then h_0 = b_0 exactly).</param>
    /// <param name="scratch"><see cref="ScratchLength"/> floats.</param>
    /// <param name="steps">T ≥ 1.</param>
    /// <param name="block">K ∈ {1, 2, 3}.</param>
    /// <param name="channels">M ≥ 1.</param>
    /// <param name="chunkLength">L: 0 for the plain sequential loop, else the chunk length (see remarks).</param>
    /// <param name="team">Workers to share the items; null for <see cref="WorkerTeam.Shared"/>.</param>
    public static void Forward(Span<float> h, Span<float> hLast, ReadOnlySpan<float> a, ReadOnlySpan<float> b,
        ReadOnlySpan<float> h0, Span<float> scratch, int steps, int block, int channels, int chunkLength, WorkerTeam? team = null)
    {
        Check(h.Length, hLast.Length, a.Length, b.Length, h0.Length, scratch.Length, steps, block, channels, chunkLength, "h", "hLast", "b", "h0");
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.LinearRecurrenceReference.Forward(h, hLast, a, b, h0, scratch, steps, block, channels, chunkLength, team);
            return;
        }
        Solve(h, hLast, a, b, h0, scratch, steps, block, channels, chunkLength, reverse: false, team);
    }

    /// <summary>
    /// Reverse (adjoint) recurrence g_t = d_t + A_{t+1}ᵀ·g_{t+1} for t = T−1 … 0, with A_T·g_T read as gEnd
    /// (so g_{T−1} = d_{T−1} + gEnd), and gFirst = A_0ᵀ·g_0. With d_t = ∂L/∂h_t from outside the recurrence and
    /// gEnd = ∂L/∂h_{T−1} from the final state, g_t is the total ∂L/∂h_t and gFirst is ∂L/∂h₀.
    /// Same layouts and arguments as <see cref="Forward"/>; a holds the forward coefficients A_t (read transposed).
    /// </summary>
    public static void Reverse(Span<float> g, Span<float> gFirst, ReadOnlySpan<float> a, ReadOnlySpan<float> d,
        ReadOnlySpan<float> gEnd, Span<float> scratch, int steps, int block, int channels, int chunkLength, WorkerTeam? team = null)
    {
        Check(g.Length, gFirst.Length, a.Length, d.Length, gEnd.Length, scratch.Length, steps, block, channels, chunkLength, "g", "gFirst", "d", "gEnd");
        if (!Vector128.IsHardwareAccelerated)
        {
            Reference.LinearRecurrenceReference.Reverse(g, gFirst, a, d, gEnd, scratch, steps, block, channels, chunkLength, team);
            return;
        }
        Solve(g, gFirst, a, d, gEnd, scratch, steps, block, channels, chunkLength, reverse: true, team);
    }

    internal static void Check(int hLen, int lastLen, int aLen, int bLen, int initLen, int scratchLen,
        int steps, int block, int channels, int chunkLength, string hName, string lastName, string bName, string initName)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), $"steps must be ≥ 1, got {steps}");
        if (block < 1 || block > MaxBlock) throw new ArgumentOutOfRangeException(nameof(block), $"block must be 1, 2 or 3, got {block}");
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels), $"channels must be ≥ 1, got {channels}");
        if (chunkLength < 0) throw new ArgumentOutOfRangeException(nameof(chunkLength), $"chunkLength must be ≥ 0, got {chunkLength}");
        long state = (long)block * channels, all = state * steps;
        Need(hName, hLen, all);
        Need("a", aLen, all * block);
        Need(bName, bLen, all);
        if (lastLen != 0) Need(lastName, lastLen, state);
        if (initLen != 0) Need(initName, initLen, state);
        Need("scratch", scratchLen, ScratchLength(steps, block, channels, chunkLength));
    }

    static void Need(string name, int length, long need)
    {
        if (length < need) throw new ArgumentException($"span '{name}' holds {length} floats; {need} needed");
    }

    static void Solve(Span<float> h, Span<float> last, ReadOnlySpan<float> a, ReadOnlySpan<float> b,
        ReadOnlySpan<float> init, Span<float> scratch, int steps, int block, int channels, int chunkLength, bool reverse, WorkerTeam? team)
    {
        team ??= WorkerTeam.Shared;
        fixed (float* ph = h, plast = last, pa = a, pb = b, pinit = init, ps = scratch)
        {
            var job = new Job
            {
                H = ph, Last = last.IsEmpty ? null : plast, A = pa, B = pb, Init = init.IsEmpty ? null : pinit, Scratch = ps,
                T = steps, K = block, M = channels, Reverse = reverse,
                C = ChunkCount(steps, chunkLength), Blocks = (channels + ChannelBlock - 1) / ChannelBlock,
            };
            job.L = job.C == 1 ? steps : chunkLength;
            if (job.C == 1)
            {
                job.Pass = 3;
                team.Run(ref job);
                return;
            }
            job.Pass = 1;
            team.Run(ref job);
            if (job.C >= 3)
            {
                job.Pass = 2;
                team.Run(ref job);
            }
            job.Pass = 3;
            team.Run(ref job);
        }
    }

    struct Job : IWorkerJob
    {
        public float* H, Last, A, B, Init, Scratch;
        public int T, K, M, L, C, Blocks, Pass;
        public bool Reverse;

        public void Execute(int worker, int workers)
        {
            // Pass 1 covers chunks 0 … C−2, pass 3 chunks 1 … C−1 (or chunk 0 alone when C = 1), pass 2 channel blocks.
            int chunks = Pass == 2 ? 1 : C == 1 ? 1 : C - 1;
            int items = chunks * Blocks;
            for (int item = worker; item < items; item += workers)
            {
                int blk = item % Blocks, chunk = item / Blocks;
                int m0 = blk * ChannelBlock, m1 = Math.Min(M, m0 + ChannelBlock);
                if (Pass == 1) PassOne(chunk, m0, m1);
                else if (Pass == 2) PassTwo(m0, m1);
                else PassThree(C == 1 ? 0 : chunk + 1, m0, m1);
            }
        }

        readonly int StateSize => K * M;
        readonly float* Ends(int c) => Scratch + (long)(c - 1) * StateSize;                          // [K, M]
        readonly float* Products(int c) => Scratch + (long)(C - 1) * StateSize + (long)(c - 1) * StateSize * K; // [K, K, M]
        readonly int Time(int s) => Reverse ? T - 1 - s : s;
        readonly float* Row(float* p, int s) => p + (long)Time(s) * StateSize;

        // Coefficients that map the state before processing step s to the state after it; null is the identity.
        readonly float* Coefficients(int s)
        {
            if (!Reverse) return A + (long)s * StateSize * K;
            int t = T - s; // A_{t+1} for output time t = T − 1 − s
            return t == T ? null : A + (long)t * StateSize * K;
        }

        // The state entering chunk c (c ≥ 1) once pass 2 has run: the last output row of chunk 0, or a carried end.
        readonly float* Entering(int c) => c == 1 ? Row(H, L - 1) : Ends(c - 1);

        readonly void PassOne(int c, int m0, int m1)
        {
            int s0 = c * L, s1 = Math.Min(T, s0 + L);
            if (c == 0)
            {
                RunOutputs(Init, s0, s1, m0, m1);
                return;
            }
            float* e = Ends(c), p = Products(c);
            Steps.Run(K, null, e, Coefficients(s0), Row(B, s0), Reverse, Steps.Mode.Set, m0, m1, M);
            Steps.CopyCoefficients(K, p, Coefficients(s0), Reverse, m0, m1, M);
            for (int s = s0 + 1; s < s1; s++)
            {
                float* coef = Coefficients(s);
                Steps.Run(K, e, e, coef, Row(B, s), Reverse, Steps.Mode.Step, m0, m1, M);
                Steps.Product(K, p, coef, Reverse, m0, m1, M);
            }
        }

        readonly void PassTwo(int m0, int m1)
        {
            for (int c = 2; c < C; c++)
                Steps.Run(K, Entering(c - 1), Ends(c - 1), Products(c - 1), Ends(c - 1), false, Steps.Mode.Step, m0, m1, M);
        }

        readonly void PassThree(int c, int m0, int m1)
        {
            int s0 = c * L, s1 = Math.Min(T, s0 + L);
            RunOutputs(c == 0 ? Init : Entering(c), s0, s1, m0, m1);
            if (s1 == T && Last != null)
            {
                // Forward: h_{T−1}; reverse: A_0ᵀ·g_0.
                float* final = Row(H, T - 1);
                if (Reverse) Steps.Run(K, final, Last, A, null, true, Steps.Mode.Step, m0, m1, M);
                else Steps.Run(K, final, Last, null, null, false, Steps.Mode.Step, m0, m1, M);
            }
        }

        readonly void RunOutputs(float* init, int s0, int s1, int m0, int m1)
        {
            float* prev = init;
            for (int s = s0; s < s1; s++)
            {
                float* next = Row(H, s);
                Steps.Run(K, prev, next, Coefficients(s), Row(B, s), Reverse, prev == null ? Steps.Mode.Set : Steps.Mode.Step, m0, m1, M);
                prev = next;
            }
        }
    }

    /// <summary>The per-step channel loops, widest vector first, then one lane at a time for the tail.</summary>
    static class Steps
    {
        public enum Mode
        {
            /// <summary>next = A·prev + b (A null: identity; b null: no add).</summary>
            Step,
            /// <summary>next = b (the state before was zero).</summary>
            Set,
        }

        public static void Run(int k, float* prev, float* next, float* coef, float* b, bool transpose, Mode mode, int m0, int m1, int m)
        {
            if (mode == Mode.Set)
            {
                for (int i = 0; i < k; i++)
                    new ReadOnlySpan<float>(b + (long)i * m + m0, m1 - m0).CopyTo(new Span<float>(next + (long)i * m + m0, m1 - m0));
                return;
            }
            Channels(new StepArgs(prev, next, coef, b, transpose, k, m), m0, m1);
        }

        static void Channels(in StepArgs p, int m0, int m1)
        {
            int j = m0;
            if (Vector512.IsHardwareAccelerated) j = Lanes<Simd512, Vector512<float>>(p, j, m1);
            if (Vector256.IsHardwareAccelerated) j = Lanes<Simd256, Vector256<float>>(p, j, m1);
            j = Lanes<Simd128, Vector128<float>>(p, j, m1);
            Lanes<Simd1, Vector128<float>>(p, j, m1);
        }

        /// <summary>p ← A·p for a [K, K, M] product block p.</summary>
        public static void Product(int k, float* p, float* coef, bool transpose, int m0, int m1, int m)
        {
            // Column j of A·P is A·(column j of P): K state-shaped steps over the columns, each without b.
            // Columns are read whole before any is written back, so the in-place update is safe.
            for (int col = 0; col < k; col++)
            {
                Channels(new StepArgs(p + (long)col * m, p + (long)col * m, coef, null, transpose, k, m) { Stride = (long)k * m }, m0, m1);
            }
        }

        /// <summary>p = A (read transposed when asked; identity for null).</summary>
        public static void CopyCoefficients(int k, float* p, float* coef, bool transpose, int m0, int m1, int m)
        {
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++)
                {
                    var dst = new Span<float>(p + (long)(i * k + j) * m + m0, m1 - m0);
                    if (coef == null) dst.Fill(i == j ? 1f : 0f);
                    else new ReadOnlySpan<float>(coef + (long)(transpose ? j * k + i : i * k + j) * m + m0, m1 - m0).CopyTo(dst);
                }
        }

        /// <summary>One step's operands: component i of a state at <c>i·Stride</c>, coefficient (i, j) at (i·K + j)·M.</summary>
        public readonly struct StepArgs(float* prev, float* next, float* coef, float* b, bool transpose, int k, int m)
        {
            public readonly float* Prev = prev, Next = next, Coef = coef, B = b;
            public readonly bool Transpose = transpose;
            public readonly int K = k;
            public readonly long M = m;
            public long Stride { get; init; } = m;
            public long CoefOffset(int i, int j) => (Transpose ? j * K + i : i * K + j) * M;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static int Lanes<S, TV>(in StepArgs p, int j, int end) where S : struct, ISimd<TV> where TV : struct
        {
            int w = S.Count;
            long st = p.Stride;
            switch (p.K)
            {
                case 1:
                    for (; j + w <= end; j += w)
                    {
                        nuint u = (nuint)j;
                        TV s = S.Load(ref *p.Prev, u);
                        TV r = p.Coef == null ? s : S.Mul(S.Load(ref *p.Coef, u), s);
                        if (p.B != null) r = S.Add(r, S.Load(ref *p.B, u));
                        S.Store(r, ref *p.Next, u);
                    }
                    break;
                case 2:
                    for (; j + w <= end; j += w)
                    {
                        nuint u = (nuint)j;
                        TV s0 = S.Load(ref *p.Prev, u), s1 = S.Load(ref p.Prev[st], u);
                        TV r0 = s0, r1 = s1;
                        if (p.Coef != null)
                        {
                            r0 = S.Add(S.Mul(Co<S, TV>(p, 0, 0, u), s0), S.Mul(Co<S, TV>(p, 0, 1, u), s1));
                            r1 = S.Add(S.Mul(Co<S, TV>(p, 1, 0, u), s0), S.Mul(Co<S, TV>(p, 1, 1, u), s1));
                        }
                        if (p.B != null)
                        {
                            r0 = S.Add(r0, S.Load(ref *p.B, u));
                            r1 = S.Add(r1, S.Load(ref p.B[p.M], u));
                        }
                        S.Store(r0, ref *p.Next, u);
                        S.Store(r1, ref p.Next[st], u);
                    }
                    break;
                default:
                    for (; j + w <= end; j += w)
                    {
                        nuint u = (nuint)j;
                        TV s0 = S.Load(ref *p.Prev, u), s1 = S.Load(ref p.Prev[st], u), s2 = S.Load(ref p.Prev[2 * st], u);
                        TV r0 = s0, r1 = s1, r2 = s2;
                        if (p.Coef != null)
                        {
                            r0 = S.Add(S.Add(S.Mul(Co<S, TV>(p, 0, 0, u), s0), S.Mul(Co<S, TV>(p, 0, 1, u), s1)), S.Mul(Co<S, TV>(p, 0, 2, u), s2));
                            r1 = S.Add(S.Add(S.Mul(Co<S, TV>(p, 1, 0, u), s0), S.Mul(Co<S, TV>(p, 1, 1, u), s1)), S.Mul(Co<S, TV>(p, 1, 2, u), s2));
                            r2 = S.Add(S.Add(S.Mul(Co<S, TV>(p, 2, 0, u), s0), S.Mul(Co<S, TV>(p, 2, 1, u), s1)), S.Mul(Co<S, TV>(p, 2, 2, u), s2));
                        }
                        if (p.B != null)
                        {
                            r0 = S.Add(r0, S.Load(ref *p.B, u));
                            r1 = S.Add(r1, S.Load(ref p.B[p.M], u));
                            r2 = S.Add(r2, S.Load(ref p.B[2 * p.M], u));
                        }
                        S.Store(r0, ref *p.Next, u);
                        S.Store(r1, ref p.Next[st], u);
                        S.Store(r2, ref p.Next[2 * st], u);
                    }
                    break;
            }
            return j;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV Co<S, TV>(in StepArgs p, int i, int j, nuint u) where S : struct, ISimd<TV> where TV : struct
            => S.Load(ref p.Coef[p.CoefOffset(i, j)], u);
    }
}
