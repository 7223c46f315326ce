using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// The chunkwise form of <see cref="GlaCell"/> (Yang et al. 2024, §3): the same map as the cell's recurrent form, one
/// direction, computed per chunk of C steps with attention-like products inside a chunk and the state passed only
/// between chunks. Letters: T steps, B batch, I inputs, H hidden, N heads, d = H/N, C chunk length.
/// gx = x·W_ihᵀ + b_ih [T, B, 4H] in the cell's layout (q, k, v, a blocks), q = gx_q/√d, log α = logσ(gx_a)/τ.
/// Per row and head, inside a chunk whose first step follows the state P, with b_r = Σ_{s≤r} log α_s:
/// <code>
/// o_r   = Σ_{s≤r} (Σ_i q_r[i]·k_s[i]·e^{b_r[i] − b_s[i]})·v_s + (q_r ⊙ e^{b_r})·P
/// S_end = diag(e^{b_last})·P + Σ_s (k_s ⊙ e^{b_last − b_s})ᵀ·v_s
/// </code>
/// Exponents are differences b_r − b_s ≤ 0, never e^{−b}: nothing overflows however strong the decay.
/// Backward, per chunk in reverse from ∂L/∂S_T, with D_rs = ∂L/∂o_r·v_s and P the chunk's incoming state:
/// <code>
/// ∂v_s = Σ_{r≥s} A_rs·∂o_r + (k_s ⊙ e^{b_last − b_s})·∂S_end              (A_rs: the bracket in o_r)
/// ∂q_r = Σ_{s≤r} D_rs·k_s ⊙ e^{b_r − b_s} + e^{b_r} ⊙ (P·∂o_rᵀ)
/// ∂k_s = Σ_{r≥s} D_rs·q_r ⊙ e^{b_r − b_s} + e^{b_last − b_s} ⊙ (∂S_end·v_sᵀ)
/// ∂P   = Σ_r (q_r ⊙ e^{b_r})ᵀ·∂o_r + diag(e^{b_last})·∂S_end
/// ∂log α_s = Σ_{u≥s} (q_u ⊙ ∂q_u − k_u ⊙ ∂k_u) + Σ_j ∂S_T[·, j]·S_T[·, j]
/// </code>
/// The last line holds because every log α_u enters only through e^{±g} factors of q (+) and k (−) and the final
/// state's e^{g_T} (g the running sum of log α), so no decay gradient is derived per chunk.
/// The runner does not use this form: it keeps every step's state for the contract's backward, which is what the
/// chunkwise form exists to skip, and on a CPU its O(T·C·d) products per head do not beat the loop's O(T·d²) steps
/// (see docs/cells.md). It is the oracle and the starting point for hardware where matrix products are cheap.
/// Each (row, head) pair runs on the calling thread in a fixed order: same inputs, same bits.
/// </summary>
public static class GlaChunkwise
{
    /// <summary>y [T, B, H] = o_t of every head, sT [B, H·d] = S_T, from x [T, B, I], S₀ [B, H·d] (empty: zero),
    /// weight_ih [4H, I], bias_ih [4H] (empty: none): the cell's function in chunks of <paramref name="chunk"/> steps.</summary>
    public static void Forward(Span<float> y, Span<float> sT, ReadOnlySpan<float> x, ReadOnlySpan<float> s0,
        ReadOnlySpan<float> weightIh, ReadOnlySpan<float> biasIh, int steps, int batch, int input, int hidden, int heads, int chunk)
    {
        var gx = Check(steps, batch, input, hidden, heads, chunk, x, weightIh, biasIh, s0);
        if (y.Length < steps * batch * hidden || sT.Length < batch * hidden * (hidden / heads))
            throw new ArgumentException($"y needs {steps * batch * hidden} floats and sT {batch * hidden * (hidden / heads)}, got {y.Length} and {sT.Length}");
        var work = new Work(steps, hidden / heads, chunk);
        for (int b = 0; b < batch; b++)
            for (int n = 0; n < heads; n++)
            {
                work.Load(gx, s0, b, n, batch, hidden);
                work.Forward(saveStates: false);
                work.Store(y, sT, b, n, batch, hidden);
            }
    }

    /// <summary>Backward of <see cref="Forward"/> for ∂L/∂y [T, B, H] and ∂L/∂S_T [B, H·d] (empty: zero): writes ∂L/∂x
    /// [T, B, I] and ∂L/∂S₀ [B, H·d], accumulates (+=) ∂L/∂weight_ih [4H, I] and ∂L/∂bias_ih [4H] (empty: skipped).
    /// The chunk states are recomputed from x and S₀.</summary>
    public static void Backward(Span<float> dx, Span<float> ds0, Span<float> dWeightIh, Span<float> dBiasIh,
        ReadOnlySpan<float> dy, ReadOnlySpan<float> dsT, ReadOnlySpan<float> x, ReadOnlySpan<float> s0,
        ReadOnlySpan<float> weightIh, ReadOnlySpan<float> biasIh, int steps, int batch, int input, int hidden, int heads, int chunk)
    {
        var gx = Check(steps, batch, input, hidden, heads, chunk, x, weightIh, biasIh, s0);
        int d = hidden / heads, rows = steps * batch, g = 4 * hidden;
        if (dy.Length < rows * hidden || dx.Length < rows * input || ds0.Length < batch * hidden * d || dWeightIh.Length < g * input
            || (dsT.Length != 0 && dsT.Length < batch * hidden * d) || (dBiasIh.Length != 0 && dBiasIh.Length < g))
            throw new ArgumentException("a gradient span is shorter than its shape");
        var dgx = new float[rows * g]; // [T, B, 4H]
        var work = new Work(steps, d, chunk);
        for (int b = 0; b < batch; b++)
            for (int n = 0; n < heads; n++)
            {
                work.Load(gx, s0, b, n, batch, hidden);
                work.Forward(saveStates: true);
                work.Backward(dgx, ds0, dy, dsT, gx, b, n, batch, hidden);
            }
        Gemm.Multiply(false, false, rows, input, g, dgx, g, weightIh, input, dx, input, false);
        Gemm.Multiply(true, false, g, input, rows, dgx, g, x, input, dWeightIh, input, true);
        if (dBiasIh.Length != 0)
            ColumnSums.Accumulate(dBiasIh, dgx, g, rows);
    }

    /// <summary>log σ(a) = −softplus(−a), finite for every a.</summary>
    internal static double LogSigmoid(double a) => a >= 0 ? -Math.Log(1 + Math.Exp(-a)) : a - Math.Log(1 + Math.Exp(a));

    private static float[] Check(int steps, int batch, int input, int hidden, int heads, int chunk, ReadOnlySpan<float> x,
        ReadOnlySpan<float> weightIh, ReadOnlySpan<float> biasIh, ReadOnlySpan<float> s0)
    {
        if (steps < 1 || batch < 1 || input < 1 || hidden < 1 || heads < 1 || chunk < 1)
            throw new ArgumentOutOfRangeException(nameof(steps), $"T {steps}, B {batch}, I {input}, H {hidden}, heads {heads} and chunk {chunk} must be positive");
        if (hidden % heads != 0) throw new ArgumentException($"hidden size {hidden} must be a multiple of heads = {heads}");
        int g = 4 * hidden, rows = steps * batch;
        if (x.Length < rows * input || weightIh.Length < g * input || (biasIh.Length != 0 && biasIh.Length < g)
            || (s0.Length != 0 && s0.Length < batch * hidden * (hidden / heads)))
            throw new ArgumentException($"x [{steps}, {batch}, {input}], weight_ih [{g}, {input}], bias_ih [{g}] or S0 [{batch}, {hidden * (hidden / heads)}] is too short");
        var gx = new float[rows * g]; // [T, B, 4H]
        if (biasIh.Length != 0) Gemm.Multiply(false, true, rows, g, input, x, input, weightIh, input, gx, g, biasIh[..g]);
        else Gemm.Multiply(false, true, rows, g, input, x, input, weightIh, input, gx, g, false);
        return gx;
    }

    /// <summary>One (row, head) pair's sequence, gathered from gx into contiguous [T, d] buffers; allocated once per call.</summary>
    private sealed class Work(int steps, int d, int chunk)
    {
        private readonly int _chunks = (steps + chunk - 1) / chunk;
        private readonly float[] _q = new float[steps * d], _k = new float[steps * d], _v = new float[steps * d]; // [T, d]
        private readonly float[] _logA = new float[steps * d];     // [T, d]
        private readonly float[] _o = new float[steps * d];        // [T, d]
        private readonly float[] _cum = new float[chunk * d];      // [C, d]: b_r of the current chunk
        private readonly float[] _toR = new float[chunk * d];      // [C, d]: e^{b_r}, the decay from the chunk's start
        private readonly float[] _toEnd = new float[chunk * d];    // [C, d]: e^{b_last − b_s}, the decay to its end
        private readonly float[] _att = new float[chunk * chunk];  // [C, C]: A_rs
        private readonly float[] _dot = new float[chunk * chunk];  // [C, C]: D_rs = ∂o_r·v_s
        private readonly float[] _s = new float[d * d];            // [d, d]: the running state
        private readonly float[] _states = new float[((steps + chunk - 1) / chunk + 1) * d * d]; // [chunks + 1, d, d]
        private readonly float[] _dS = new float[d * d], _dP = new float[d * d];                  // [d, d]
        private readonly float[] _dq = new float[steps * d], _dk = new float[steps * d], _dv = new float[steps * d]; // [T, d]

        public void Load(ReadOnlySpan<float> gx, ReadOnlySpan<float> s0, int b, int n, int batch, int h)
        {
            float scale = 1f / MathF.Sqrt(d);
            for (int t = 0; t < steps; t++)
            {
                int at = (t * batch + b) * 4 * h + n * d;
                for (int i = 0; i < d; i++)
                {
                    _q[t * d + i] = gx[at + i] * scale;
                    _k[t * d + i] = gx[at + h + i];
                    _v[t * d + i] = gx[at + 2 * h + i];
                    _logA[t * d + i] = (float)(LogSigmoid(gx[at + 3 * h + i]) / GlaCell.Tau);
                }
            }
            if (s0.Length == 0) Array.Clear(_s);
            else s0.Slice(b * h * d + n * d * d, d * d).CopyTo(_s);
        }

        public void Store(Span<float> y, Span<float> sT, int b, int n, int batch, int h)
        {
            for (int t = 0; t < steps; t++) _o.AsSpan(t * d, d).CopyTo(y.Slice((t * batch + b) * h + n * d, d));
            _s.CopyTo(sT.Slice(b * h * d + n * d * d, d * d));
        }

        // b_r = Σ_{s≤r} log α_s over the chunk starting at t0, and its two decays (once per chunk, not per column);
        // returns the chunk's length.
        private int Cumulate(int c)
        {
            int t0 = c * chunk, len = Math.Min(chunk, steps - t0), last = (len - 1) * d;
            for (int r = 0; r < len; r++)
                for (int i = 0; i < d; i++)
                    _cum[r * d + i] = (r == 0 ? 0f : _cum[(r - 1) * d + i]) + _logA[(t0 + r) * d + i];
            for (int r = 0; r < len; r++)
                for (int i = 0; i < d; i++)
                {
                    _toR[r * d + i] = MathF.Exp(_cum[r * d + i]);
                    _toEnd[r * d + i] = MathF.Exp(_cum[last + i] - _cum[r * d + i]);
                }
            return len;
        }

        // A_rs = Σ_i q_r[i]·k_s[i]·e^{b_r[i] − b_s[i]} for s ≤ r (a sum in double: d terms of either sign).
        private void Attention(int t0, int len)
        {
            for (int r = 0; r < len; r++)
                for (int s = 0; s <= r; s++)
                {
                    double a = 0;
                    for (int i = 0; i < d; i++) a += (double)_q[(t0 + r) * d + i] * _k[(t0 + s) * d + i] * MathF.Exp(_cum[r * d + i] - _cum[s * d + i]);
                    _att[r * chunk + s] = (float)a;
                }
        }

        /// <summary>o for every step and S_T in _s; with saveStates, the state before chunk c in _states[c] and S_T last.</summary>
        public void Forward(bool saveStates)
        {
            for (int c = 0; c < _chunks; c++)
            {
                if (saveStates) _s.CopyTo(_states.AsSpan(c * d * d));
                int t0 = c * chunk, len = Cumulate(c), last = (len - 1) * d;
                Attention(t0, len);
                for (int r = 0; r < len; r++)
                    for (int j = 0; j < d; j++)
                    {
                        double o = 0;
                        for (int s = 0; s <= r; s++) o += (double)_att[r * chunk + s] * _v[(t0 + s) * d + j];
                        for (int i = 0; i < d; i++) o += (double)_q[(t0 + r) * d + i] * _toR[r * d + i] * _s[i * d + j];
                        _o[(t0 + r) * d + j] = (float)o;
                    }
                for (int i = 0; i < d; i++)
                {
                    float decay = _toR[last + i];
                    for (int j = 0; j < d; j++)
                    {
                        double s = (double)decay * _s[i * d + j];
                        for (int u = 0; u < len; u++) s += (double)_k[(t0 + u) * d + i] * _toEnd[u * d + i] * _v[(t0 + u) * d + j];
                        _s[i * d + j] = (float)s;
                    }
                }
            }
            if (saveStates) _s.CopyTo(_states.AsSpan(_chunks * d * d));
        }

        /// <summary>After <see cref="Forward"/>(saveStates: true): writes this pair's columns of ∂L/∂gx and ∂L/∂S₀.</summary>
        public void Backward(Span<float> dgx, Span<float> ds0, ReadOnlySpan<float> dy, ReadOnlySpan<float> dsT, ReadOnlySpan<float> gx,
            int b, int n, int batch, int h)
        {
            int at0 = b * h * d + n * d * d;
            if (dsT.Length == 0) Array.Clear(_dS);
            else dsT.Slice(at0, d * d).CopyTo(_dS);
            var sT = _states.AsSpan(_chunks * d * d, d * d);
            Span<double> finalTerm = stackalloc double[d]; // Σ_j ∂S_T[i, j]·S_T[i, j]
            for (int i = 0; i < d; i++)
            {
                double f = 0;
                for (int j = 0; j < d; j++) f += (double)_dS[i * d + j] * sT[i * d + j];
                finalTerm[i] = f;
            }
            int dyAt(int t) => (t * batch + b) * h + n * d;
            for (int c = _chunks - 1; c >= 0; c--)
            {
                int t0 = c * chunk, len = Cumulate(c), last = (len - 1) * d;
                var p = _states.AsSpan(c * d * d, d * d);
                Attention(t0, len);
                for (int r = 0; r < len; r++)
                    for (int s = 0; s <= r; s++)
                    {
                        double dot = 0;
                        for (int j = 0; j < d; j++) dot += (double)dy[dyAt(t0 + r) + j] * _v[(t0 + s) * d + j];
                        _dot[r * chunk + s] = (float)dot;
                    }
                for (int s = 0; s < len; s++)
                {
                    int ts = (t0 + s) * d;
                    for (int j = 0; j < d; j++)
                    {
                        double dv = 0;
                        for (int r = s; r < len; r++) dv += (double)_att[r * chunk + s] * dy[dyAt(t0 + r) + j];
                        for (int i = 0; i < d; i++) dv += (double)_k[ts + i] * _toEnd[s * d + i] * _dS[i * d + j];
                        _dv[ts + j] = (float)dv;
                    }
                    for (int i = 0; i < d; i++)
                    {
                        double dq = 0, dk = 0, pdo = 0, dsv = 0;
                        for (int u = 0; u <= s; u++) dq += (double)_dot[s * chunk + u] * _k[(t0 + u) * d + i] * MathF.Exp(_cum[s * d + i] - _cum[u * d + i]);
                        for (int j = 0; j < d; j++) pdo += (double)p[i * d + j] * dy[dyAt(t0 + s) + j];
                        _dq[ts + i] = (float)(dq + _toR[s * d + i] * pdo);
                        for (int r = s; r < len; r++) dk += (double)_dot[r * chunk + s] * _q[(t0 + r) * d + i] * MathF.Exp(_cum[r * d + i] - _cum[s * d + i]);
                        for (int j = 0; j < d; j++) dsv += (double)_dS[i * d + j] * _v[ts + j];
                        _dk[ts + i] = (float)(dk + _toEnd[s * d + i] * dsv);
                    }
                }
                for (int i = 0; i < d; i++)
                {
                    float decay = _toR[last + i];
                    for (int j = 0; j < d; j++)
                    {
                        double dp = (double)decay * _dS[i * d + j];
                        for (int r = 0; r < len; r++) dp += (double)_q[(t0 + r) * d + i] * _toR[r * d + i] * dy[dyAt(t0 + r) + j];
                        _dP[i * d + j] = (float)dp;
                    }
                }
                _dP.CopyTo(_dS, 0);
            }
            _dS.CopyTo(ds0.Slice(at0, d * d));
            // ∂gx: q = gx_q/√d, log α = logσ(gx_a)/τ with ∂/∂gx_a = σ(−gx_a)/τ; the decay gradient a reverse running sum.
            float scale = 1f / MathF.Sqrt(d);
            Span<double> dLogA = stackalloc double[d];
            finalTerm.CopyTo(dLogA);
            for (int t = steps - 1; t >= 0; t--)
            {
                int at = (t * batch + b) * 4 * h + n * d;
                for (int i = 0; i < d; i++)
                {
                    dLogA[i] += (double)_q[t * d + i] * _dq[t * d + i] - (double)_k[t * d + i] * _dk[t * d + i];
                    dgx[at + i] = _dq[t * d + i] * scale;
                    dgx[at + h + i] = _dk[t * d + i];
                    dgx[at + 2 * h + i] = _dv[t * d + i];
                    dgx[at + 3 * h + i] = (float)(dLogA[i] / GlaCell.Tau / (1 + Math.Exp(gx[at + 3 * h + i])));
                }
            }
        }
    }
}
