using Gyre.Kernels;
using Gyre.Tensors;

namespace Gyre.Layers;

/// <summary>
/// Gated linear attention (Yang et al. 2024, "Gated Linear Attention Transformers with Hardware-Efficient
/// Training"), one token-mixing layer. Per batch entry and head, with a matrix state S [dk, dv] from S₋₁ = 0:
/// <code>
/// q_t = x_t·W_qᵀ/√dk   k_t = x_t·W_kᵀ   v_t = x_t·W_vᵀ          (split into heads: [dk], [dk], [dv])
/// log α_t = logsigmoid((x_t·W_α1ᵀ)·W_α2ᵀ + b_α) / τ              (low-rank gate, rank r = 16, τ = 16)
/// S_t = diag(α_t)·S_{t−1} + k_tᵀ·v_t      o_t = q_t·S_t            y_t = [o_t of every head]·W_oᵀ
/// </code>
/// Two forms of the same map: the recurrent one (<see cref="ScanMode.Sequential"/>: the time loop above) and the
/// chunkwise one (<see cref="ScanMode.Parallel"/>): chunks of C = 16 steps; with b_r = Σ_{s≤r} log α_s inside a
/// chunk, o_r = Σ_{s≤r} (Σ_i q_r[i]·k_s[i]·e^{b_r[i] − b_s[i]})·v_s + (q_r ⊙ e^{b_r})·S_prev, and the chunk states
/// S_c = diag(e^{b_last})·S_{c−1} + Σ_s (k_s ⊙ e^{b_last − b_s})ᵀ·v_s are one <see cref="LinearRecurrence"/> solve
/// over chunks. Exponents are differences b_r − b_s ≤ 0, never e^{−b}: no overflow however strong the decay.
/// Backward (either mode) runs the recurrent sweeps: dq_t = do_t·S_tᵀ forward, dS_t = diag(α_{t+1})·dS_{t+1} +
/// q_tᵀ·do_t backward giving dk_t = dS_t·v_tᵀ and dv_t = k_t·dS_t, and ∂L/∂log α_s = Σ_{u≥s} (q_u ⊙ dq_u − k_u ⊙ dk_u).
/// Letters: B batch, T steps, I inputs, H hidden (= output), N heads, dk = H/(2N), dv = H/N, R gate rank.
/// Projections have no bias except the gate's; all start U(−1/√fan_in, 1/√fan_in), b_α = 0.
/// </summary>
public sealed class GatedLinearAttention : Module, ISharedWork
{
    /// <summary>Chunk length of the chunkwise form.</summary>
    public const int Chunk = 16;
    /// <summary>Gate temperature τ.</summary>
    public const float Tau = 16f;

    private readonly ParameterBlock _block;
    private readonly Parameter _wq, _wk, _wv, _wa1, _wa2, _ba, _wo;
    private readonly float _scale;

    // Saved by Forward for Backward.
    private int _b, _t;
    private float[] _x = [], _q = [], _k = [], _v = [], _z = [], _pre = [], _logA = [], _o = [];

    public GatedLinearAttention(int inputSize, int hiddenSize, int heads = 4, int gateRank = 16, ulong seed = 0)
    {
        if (inputSize <= 0 || hiddenSize <= 0 || heads <= 0 || gateRank <= 0)
            throw new ArgumentOutOfRangeException(nameof(inputSize), $"sizes must be positive, got input {inputSize}, hidden {hiddenSize}, heads {heads}, rank {gateRank}");
        if (hiddenSize % (2 * heads) != 0) throw new ArgumentException($"hidden size {hiddenSize} must be a multiple of 2 × heads = {2 * heads}");
        InputSize = inputSize; HiddenSize = hiddenSize; Heads = heads; GateRank = gateRank;
        KeyDim = hiddenSize / (2 * heads); ValueDim = hiddenSize / heads;
        int nk = heads * KeyDim;
        _block = new ParameterBlock(
        [
            ("q_proj.weight", [nk, inputSize]), ("k_proj.weight", [nk, inputSize]), ("v_proj.weight", [hiddenSize, inputSize]),
            ("gate_down.weight", [gateRank, inputSize]), ("gate_up.weight", [nk, gateRank]), ("gate_up.bias", [nk]),
            ("o_proj.weight", [hiddenSize, hiddenSize]),
        ]);
        (_wq, _wk, _wv, _wa1, _wa2, _ba, _wo) = (_block.Parameters[0], _block.Parameters[1], _block.Parameters[2],
            _block.Parameters[3], _block.Parameters[4], _block.Parameters[5], _block.Parameters[6]);
        var rng = new Rng(seed);
        foreach (var p in _block.Parameters)
        {
            if (p == _ba) continue;
            float bound = 1f / MathF.Sqrt(p.Value.Dim(1));
            rng.Uniform(p.Value.Span, -bound, bound);
        }
        _scale = 1f / MathF.Sqrt(KeyDim);
    }

    public int InputSize { get; }
    public int HiddenSize { get; }
    public int Heads { get; }
    public int GateRank { get; }
    /// <summary>dk = H / (2N).</summary>
    public int KeyDim { get; }
    /// <summary>dv = H / N.</summary>
    public int ValueDim { get; }
    /// <summary>Recurrent form or chunkwise form (forward; backward is the same).</summary>
    public ScanMode Scan { get; set; } = ScanMode.Sequential;
    /// <summary>Workers; null for <see cref="WorkerTeam.Shared"/>.</summary>
    public WorkerTeam? Team { get; set; }

    public override IEnumerable<Parameter> Parameters() => _block.Parameters;

    /// <summary>y [B, T, H] for x [B, T, I].</summary>
    public Tensor Forward(Tensor x)
    {
        if (x.Rank != 3 || x.Dim(2) != InputSize) throw new ArgumentException($"input must be [B, T, {InputSize}], got {x}");
        int b = x.Dim(0), t = x.Dim(1), rows = b * t, nk = Heads * KeyDim, h = HiddenSize, i = InputSize, r = GateRank;
        if (b < 1 || t < 1) throw new ArgumentException($"input must have at least one batch entry and one step, got {x}");
        if (b != _b || t != _t)
        {
            _b = b; _t = t;
            _x = new float[rows * i]; _q = new float[rows * nk]; _k = new float[rows * nk]; _v = new float[rows * h];
            _z = new float[rows * r]; _pre = new float[rows * nk]; _logA = new float[rows * nk]; _o = new float[rows * h];
        }
        x.ReadOnlySpan.CopyTo(_x);
        Gemm.Multiply(false, true, rows, nk, i, _x, i, _wq.Value.ReadOnlySpan, i, _q, nk, false, Team);
        System.Numerics.Tensors.TensorPrimitives.Multiply(_q, _scale, _q);
        Gemm.Multiply(false, true, rows, nk, i, _x, i, _wk.Value.ReadOnlySpan, i, _k, nk, false, Team);
        Gemm.Multiply(false, true, rows, h, i, _x, i, _wv.Value.ReadOnlySpan, i, _v, h, false, Team);
        Gemm.Multiply(false, true, rows, r, i, _x, i, _wa1.Value.ReadOnlySpan, i, _z, r, false, Team);
        for (int row = 0; row < rows; row++) _ba.Value.ReadOnlySpan.CopyTo(_pre.AsSpan(row * nk, nk));
        Gemm.Multiply(false, true, rows, nk, r, _z, r, _wa2.Value.ReadOnlySpan, r, _pre, nk, true, Team);
        for (int e = 0; e < _pre.Length; e++) _logA[e] = LogSigmoid(_pre[e]) / Tau;

        if (Scan == ScanMode.Sequential) Run(Work.Recurrent);
        else ChunkwiseForward();

        var y = Tensor.Zeros(b, t, h);
        Gemm.Multiply(false, true, rows, h, h, _o, h, _wo.Value.ReadOnlySpan, h, y.Span, h, false, Team);
        return y;
    }

    /// <summary>Backward of the last <see cref="Forward"/> for dy [B, T, H]: accumulates (+=) every parameter gradient, returns ∂L/∂x.</summary>
    public Tensor Backward(Tensor dy)
    {
        int b = _b, t = _t, rows = b * t, nk = Heads * KeyDim, h = HiddenSize, i = InputSize, r = GateRank;
        if (t == 0) throw new InvalidOperationException("Backward needs a Forward first");
        if (!dy.HasShape(b, t, h)) throw new ArgumentException($"dy must be [{b}, {t}, {h}], got {dy}");
        Gemm.Multiply(true, false, h, h, rows, dy.ReadOnlySpan, h, _o, h, _wo.Grad.Span, h, true, Team);
        var dO = new float[rows * h];  // [B, T, H]
        Gemm.Multiply(false, false, rows, h, h, dy.ReadOnlySpan, h, _wo.Value.ReadOnlySpan, h, dO, h, false, Team);
        var dq = new float[rows * nk]; var dk = new float[rows * nk]; var dv = new float[rows * h]; var dPre = new float[rows * nk];
        _grads = (dO, dq, dk, dv, dPre);
        Run(Work.Backward);
        _grads = default;

        // q = x·W_qᵀ·scale: dW_q += scale·dqᵀ·x, dx += scale·dq·W_q (the scale folded into dq).
        System.Numerics.Tensors.TensorPrimitives.Multiply(dq, _scale, dq);
        var dx = Tensor.Zeros(b, t, i);
        var dz = new float[rows * r];
        Gemm.Multiply(true, false, nk, i, rows, dq, nk, _x, i, _wq.Grad.Span, i, true, Team);
        Gemm.Multiply(true, false, nk, i, rows, dk, nk, _x, i, _wk.Grad.Span, i, true, Team);
        Gemm.Multiply(true, false, h, i, rows, dv, h, _x, i, _wv.Grad.Span, i, true, Team);
        Gemm.Multiply(true, false, nk, r, rows, dPre, nk, _z, r, _wa2.Grad.Span, r, true, Team);
        var dba = _ba.Grad.Span;
        for (int row = 0; row < rows; row++) System.Numerics.Tensors.TensorPrimitives.Add(dba, dPre.AsSpan(row * nk, nk), dba);
        Gemm.Multiply(false, false, rows, r, nk, dPre, nk, _wa2.Value.ReadOnlySpan, r, dz, r, false, Team);
        Gemm.Multiply(true, false, r, i, rows, dz, r, _x, i, _wa1.Grad.Span, i, true, Team);
        var dxs = dx.Span;
        Gemm.Multiply(false, false, rows, i, nk, dq, nk, _wq.Value.ReadOnlySpan, i, dxs, i, false, Team);
        Gemm.Multiply(false, false, rows, i, nk, dk, nk, _wk.Value.ReadOnlySpan, i, dxs, i, true, Team);
        Gemm.Multiply(false, false, rows, i, h, dv, h, _wv.Value.ReadOnlySpan, i, dxs, i, true, Team);
        Gemm.Multiply(false, false, rows, i, r, dz, r, _wa1.Value.ReadOnlySpan, i, dxs, i, true, Team);
        return dx;
    }

    private (float[] DO, float[] Dq, float[] Dk, float[] Dv, float[] DPre) _grads;
    private float[] _chunkStates = [], _chunkCoef = [], _chunkInputs = [];

    /// <summary>log σ(x) = −softplus(−x), stable for either sign.</summary>
    internal static float LogSigmoid(float x) => x >= 0 ? -MathF.Log(1f + MathF.Exp(-x)) : x - MathF.Log(1f + MathF.Exp(x));

    private void ChunkwiseForward()
    {
        int chunks = (_t + Chunk - 1) / Chunk, m = _b * Heads * KeyDim * ValueDim;
        if (_chunkStates.Length != chunks * m) { _chunkStates = new float[chunks * m]; _chunkCoef = new float[chunks * m]; _chunkInputs = new float[chunks * m]; }
        Run(Work.ChunkIntra);
        // S_c = diag(e^{b_last})·S_{c−1} + U_c over chunks, every (b, head, i, j) a channel.
        LinearRecurrence.Forward(_chunkStates, default, _chunkCoef, _chunkInputs, default, [], chunks, 1, m, 0, Team);
        Run(Work.ChunkInter);
    }

    private enum Work { Recurrent, ChunkIntra, ChunkInter, Backward }

    private void Run(Work work) => SharedJob.Run(Team ?? WorkerTeam.Shared, this, (int)work);

    void ISharedWork.Share(int work, int worker, int workers) => Share((Work)work, worker, workers);

    // Items are (batch, head) pairs or (batch, head, chunk) triples; each writes only its own outputs.
    private void Share(Work work, int worker, int workers)
    {
        int pairs = _b * Heads, chunks = (_t + Chunk - 1) / Chunk;
        int items = work is Work.ChunkIntra or Work.ChunkInter ? pairs * chunks : pairs;
        for (int item = worker; item < items; item += workers)
        {
            switch (work)
            {
                case Work.Recurrent: RecurrentForward(item / Heads, item % Heads); break;
                case Work.Backward: RecurrentBackward(item / Heads, item % Heads); break;
                case Work.ChunkIntra: ChunkIntra(item / chunks / Heads, item / chunks % Heads, item % chunks); break;
                default: ChunkInter(item / chunks / Heads, item / chunks % Heads, item % chunks); break;
            }
        }
    }

    // Offsets of head n's slices in row (b, t) of q/k/log α ([.., N·dk]) and of v/o ([.., H]).
    private int KeyAt(int b, int t, int n) => (b * _t + t) * Heads * KeyDim + n * KeyDim;
    private int ValueAt(int b, int t, int n) => (b * _t + t) * HiddenSize + n * ValueDim;

    private void RecurrentForward(int b, int n)
    {
        int dk = KeyDim, dv = ValueDim;
        var s = new float[dk * dv]; // [dk, dv]
        var alpha = new float[dk];  // [dk]
        for (int t = 0; t < _t; t++)
        {
            int ko = KeyAt(b, t, n), vo = ValueAt(b, t, n);
            for (int i = 0; i < dk; i++) alpha[i] = MathF.Exp(_logA[ko + i]);
            Cells.GlaCell.HeadStep(s, s, _q.AsSpan(ko, dk), _k.AsSpan(ko, dk), alpha, _v.AsSpan(vo, dv), _o.AsSpan(vo, dv));
        }
    }

    // o[j] (+)= Σ_i q[i]·S[i, j]
    private void QTimesState(ReadOnlySpan<float> q, ReadOnlySpan<float> s, Span<float> o, bool accumulate)
    {
        int dv = ValueDim;
        if (!accumulate) o.Clear();
        for (int i = 0; i < q.Length; i++)
        {
            float qi = q[i];
            for (int j = 0; j < dv; j++) o[j] += qi * s[i * dv + j];
        }
    }

    // Within-chunk cumulative log decay b_r [len, dk] from the chunk's first step.
    private float[] CumulativeDecay(int b, int n, int t0, int len)
    {
        int dk = KeyDim;
        var cum = new float[len * dk];
        for (int r = 0; r < len; r++)
        {
            int ko = KeyAt(b, t0 + r, n);
            for (int i = 0; i < dk; i++) cum[r * dk + i] = (r == 0 ? 0f : cum[(r - 1) * dk + i]) + _logA[ko + i];
        }
        return cum;
    }

    private int ChannelBase(int b, int n) => (b * Heads + n) * KeyDim * ValueDim;

    private void ChunkIntra(int b, int n, int c)
    {
        int dk = KeyDim, dv = ValueDim, t0 = c * Chunk, len = Math.Min(Chunk, _t - t0), m = _b * Heads * dk * dv;
        var cum = CumulativeDecay(b, n, t0, len);
        for (int r = 0; r < len; r++)
        {
            int qo = KeyAt(b, t0 + r, n), oo = ValueAt(b, t0 + r, n);
            var o = _o.AsSpan(oo, dv);
            o.Clear();
            for (int s = 0; s <= r; s++)
            {
                int ko = KeyAt(b, t0 + s, n), vo = ValueAt(b, t0 + s, n);
                float a = 0f;
                for (int i = 0; i < dk; i++) a += _q[qo + i] * _k[ko + i] * MathF.Exp(cum[r * dk + i] - cum[s * dk + i]);
                for (int j = 0; j < dv; j++) o[j] += a * _v[vo + j];
            }
        }
        // The chunk's own state from zero, U_c, and its decay e^{b_last} per key dim, broadcast over dv.
        int baseM = c * m + ChannelBase(b, n), last = (len - 1) * dk;
        var u = _chunkInputs.AsSpan(baseM, dk * dv);
        u.Clear();
        for (int s = 0; s < len; s++)
        {
            int ko = KeyAt(b, t0 + s, n), vo = ValueAt(b, t0 + s, n);
            for (int i = 0; i < dk; i++)
            {
                float w = _k[ko + i] * MathF.Exp(cum[last + i] - cum[s * dk + i]);
                for (int j = 0; j < dv; j++) u[i * dv + j] += w * _v[vo + j];
            }
        }
        for (int i = 0; i < dk; i++) _chunkCoef.AsSpan(baseM + i * dv, dv).Fill(MathF.Exp(cum[last + i]));
    }

    private void ChunkInter(int b, int n, int c)
    {
        if (c == 0) return;
        int dk = KeyDim, dv = ValueDim, t0 = c * Chunk, len = Math.Min(Chunk, _t - t0), m = _b * Heads * dk * dv;
        var cum = CumulativeDecay(b, n, t0, len);
        var prev = _chunkStates.AsSpan((c - 1) * m + ChannelBase(b, n), dk * dv);
        var qd = new float[dk];
        for (int r = 0; r < len; r++)
        {
            int qo = KeyAt(b, t0 + r, n);
            for (int i = 0; i < dk; i++) qd[i] = _q[qo + i] * MathF.Exp(cum[r * dk + i]);
            QTimesState(qd, prev, _o.AsSpan(ValueAt(b, t0 + r, n), dv), accumulate: true);
        }
    }

    private void RecurrentBackward(int b, int n)
    {
        var (dO, dq, dk, dv, dPre) = _grads;
        int kd = KeyDim, vd = ValueDim;
        var s = new float[kd * vd];
        // dq_t[i] = Σ_j S_t[i, j]·do_t[j], with S rebuilt by the forward recurrence.
        for (int t = 0; t < _t; t++)
        {
            int ko = KeyAt(b, t, n), vo = ValueAt(b, t, n);
            for (int i = 0; i < kd; i++)
            {
                float a = MathF.Exp(_logA[ko + i]), ki = _k[ko + i], acc = 0f;
                for (int j = 0; j < vd; j++)
                {
                    float sij = a * s[i * vd + j] + ki * _v[vo + j];
                    s[i * vd + j] = sij;
                    acc += sij * dO[vo + j];
                }
                dq[ko + i] = acc;
            }
        }
        // dS_t = diag(α_{t+1})·dS_{t+1} + q_tᵀ·do_t; dk_t = dS_t·v_t; dv_t = k_t·dS_t.
        Array.Clear(s);
        var dLogA = new double[kd]; // Σ_{u ≥ t} (q_u ⊙ dq_u − k_u ⊙ dk_u), in double: a long running sum
        for (int t = _t - 1; t >= 0; t--)
        {
            int ko = KeyAt(b, t, n), vo = ValueAt(b, t, n);
            bool decay = t + 1 < _t;
            int kn = decay ? KeyAt(b, t + 1, n) : 0;
            dv.AsSpan(vo, vd).Clear();
            for (int i = 0; i < kd; i++)
            {
                float a = decay ? MathF.Exp(_logA[kn + i]) : 0f, qi = _q[ko + i], ki = _k[ko + i], acc = 0f;
                for (int j = 0; j < vd; j++)
                {
                    float d = a * s[i * vd + j] + qi * dO[vo + j];
                    s[i * vd + j] = d;
                    acc += d * _v[vo + j];
                    dv[vo + j] += ki * d;
                }
                dk[ko + i] = acc;
                dLogA[i] += (double)qi * dq[ko + i] - (double)ki * acc;
                // d logsigmoid(p)/dp = σ(−p); log α = logsigmoid(p)/τ.
                float p = _pre[ko + i];
                dPre[ko + i] = (float)dLogA[i] / Tau / (1f + MathF.Exp(p));
            }
        }
    }
}
