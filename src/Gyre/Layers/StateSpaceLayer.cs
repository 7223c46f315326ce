using Gyre.Kernels;
using Gyre.Tensors;

namespace Gyre.Layers;

/// <summary>How a continuous-time state-space model becomes a discrete recurrence with step Δ.</summary>
public enum Discretisation
{
    /// <summary>Zero-order hold: Ā = e^{ΔA}, B̄ = (Ā − 1)/A · B.</summary>
    ZeroOrderHold,
    /// <summary>Bilinear (Tustin): Ā = (1 + ΔA/2)/(1 − ΔA/2), B̄ = ΔB/(1 − ΔA/2).</summary>
    Bilinear,
}

/// <summary>
/// Linear state-space layer with a diagonal state matrix (LSSL / S4D family): an input projection to H channels,
/// then per channel h an N-state linear ODE x' = A x + B u, y = C x + D u, discretised with a learnable step Δ_h:
/// <code>
/// u_t = x_t·W_inᵀ + b_in                      [H]
/// s_t[h, n] = Ā[h, n]·s_{t−1}[h, n] + B̄[h, n]·u_t[h]     (s₋₁ = 0)
/// y_t[h] = Σ_n C[h, n]·s_t[h, n] + D[h]·u_t[h]
/// A = −exp(log_neg_a), Δ = exp(log_dt)
/// </code>
/// Initialisation HiPPO-LegS, real diagonal (S4D-Real): the LegS matrix is lower triangular, so its eigenvalues are
/// its diagonal A_n = −(n + 1); B_n = √(2n + 1) as in LegS; log Δ ~ U(log 0.001, log 0.1); C ~ N(0, 1/N); D ~ N(0, 1).
/// Three ways to run the same map: the recurrent loop (<see cref="ScanMode.Sequential"/>), the chunked parallel
/// scan (<see cref="ScanMode.Parallel"/>, <see cref="LinearRecurrence"/> with chunks), and with
/// <see cref="Convolutional"/> the causal convolution y_t = Σ_{ℓ≤t} K_h[ℓ]·u_{t−ℓ} + D·u_t with kernel
/// K_h[ℓ] = Σ_n C[h, n]·Ā[h, n]^ℓ·B̄[h, n] (direct O(T²) sum). Backward (any mode): the states' gradient is one
/// reverse linear recurrence g_t = C·dy_t + Ā·g_{t+1}, then the discretisation's chain rule.
/// Letters: B batch, T steps, I inputs, H channels, N states per channel, M = B·H·N.
/// </summary>
public sealed class StateSpaceLayer : Module
{
    private readonly ParameterBlock _block;
    private readonly Parameter _win, _bin, _logDt, _logNegA, _bp, _cp, _dp;

    private int _b, _t;
    private float[] _x = [], _u = [];     // [B, T, I], [B, T, H]
    private float[] _states = [];         // [T, M]
    private float[] _coef = [], _drive = [];  // [T, M] Ā broadcast; B̄·u, then the reverse pass's C·dy
    private float[] _aBar = [], _bBar = [];   // [H, N]
    private bool _statesValid;

    public StateSpaceLayer(int inputSize, int hiddenSize, int stateSize = 16, Discretisation discretisation = Discretisation.ZeroOrderHold, ulong seed = 0)
    {
        if (inputSize <= 0 || hiddenSize <= 0 || stateSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(inputSize), $"sizes must be positive, got input {inputSize}, hidden {hiddenSize}, state {stateSize}");
        InputSize = inputSize; HiddenSize = hiddenSize; StateSize = stateSize; Discretisation = discretisation;
        int h = hiddenSize, n = stateSize;
        _block = new ParameterBlock(
        [
            ("in_proj.weight", [h, inputSize]), ("in_proj.bias", [h]), ("log_dt", [h]),
            ("log_neg_a", [h, n]), ("b", [h, n]), ("c", [h, n]), ("d", [h]),
        ]);
        (_win, _bin, _logDt, _logNegA, _bp, _cp, _dp) = (_block.Parameters[0], _block.Parameters[1], _block.Parameters[2],
            _block.Parameters[3], _block.Parameters[4], _block.Parameters[5], _block.Parameters[6]);
        var rng = new Rng(seed);
        float bound = 1f / MathF.Sqrt(inputSize);
        rng.Uniform(_win.Value.Span, -bound, bound);
        rng.Uniform(_bin.Value.Span, -bound, bound);
        rng.Uniform(_logDt.Value.Span, MathF.Log(1e-3f), MathF.Log(1e-1f));
        for (int c = 0; c < h; c++)
            for (int s = 0; s < n; s++)
            {
                _logNegA.Value[c, s] = MathF.Log(s + 1f);
                _bp.Value[c, s] = MathF.Sqrt(2f * s + 1f);
            }
        rng.Normal(_cp.Value.Span, 0f, 1f / MathF.Sqrt(n));
        rng.Normal(_dp.Value.Span, 0f, 1f);
    }

    public int InputSize { get; }
    public int HiddenSize { get; }
    /// <summary>N, states per channel.</summary>
    public int StateSize { get; }
    public Discretisation Discretisation { get; }
    /// <summary>Recurrent loop or chunked parallel scan (when not <see cref="Convolutional"/>).</summary>
    public ScanMode Scan { get; set; } = ScanMode.Sequential;
    /// <summary>Run the forward as the causal convolution with the materialised kernel.</summary>
    public bool Convolutional { get; set; }
    /// <summary>Chunk length of the parallel scan.</summary>
    public int ChunkLength { get; set; } = 256;
    /// <summary>Workers; null for <see cref="WorkerTeam.Shared"/>.</summary>
    public WorkerTeam? Team { get; set; }

    public override IEnumerable<Parameter> Parameters() => _block.Parameters;

    /// <summary>y [B, T, H] for x [B, T, I].</summary>
    public Tensor Forward(Tensor x)
    {
        if (x.Rank != 3 || x.Dim(2) != InputSize) throw new ArgumentException($"input must be [B, T, {InputSize}], got {x}");
        int b = x.Dim(0), t = x.Dim(1), h = HiddenSize, i = InputSize, rows = b * t;
        if (b < 1 || t < 1) throw new ArgumentException($"input must have at least one batch entry and one step, got {x}");
        if (b != _b || t != _t)
        {
            _b = b; _t = t;
            _x = new float[rows * i]; _u = new float[rows * h];
            _states = []; _coef = []; _drive = [];
        }
        x.ReadOnlySpan.CopyTo(_x);
        for (int r = 0; r < rows; r++) _bin.Value.ReadOnlySpan.CopyTo(_u.AsSpan(r * h, h));
        Gemm.Multiply(false, true, rows, h, i, _x, i, _win.Value.ReadOnlySpan, i, _u, h, true, Team);
        Discretise();
        var y = Tensor.Zeros(b, t, h);
        if (Convolutional) { Convolve(y.Span); _statesValid = false; }
        else { SolveStates(); Readout(y.Span); }
        return y;
    }

    /// <summary>Backward of the last <see cref="Forward"/> for dy [B, T, H]: accumulates (+=) every parameter gradient, returns ∂L/∂x.</summary>
    public Tensor Backward(Tensor dy)
    {
        int b = _b, t = _t, h = HiddenSize, n = StateSize, i = InputSize, m = b * h * n, rows = b * t;
        if (t == 0) throw new InvalidOperationException("Backward needs a Forward first");
        if (!dy.HasShape(b, t, h)) throw new ArgumentException($"dy must be [{b}, {t}, {h}], got {dy}");
        if (!_statesValid) SolveStates();
        var dys = dy.ReadOnlySpan;
        var c = _cp.Value.ReadOnlySpan;
        // d_t = ∂L/∂s_t from the readout, then g_t = d_t + Ā·g_{t+1} (Ā is symmetric: diagonal).
        for (int s = 0; s < t; s++)
            for (int e = 0; e < b; e++)
                for (int ch = 0; ch < h; ch++)
                {
                    float d = dys[(e * t + s) * h + ch];
                    int o = s * m + (e * h + ch) * n;
                    for (int k = 0; k < n; k++) _drive[o + k] = c[ch * n + k] * d;
                }
        var g = new float[t * m]; // [T, M]
        LinearRecurrence.Reverse(g, default, _coef, _drive, default, new float[LinearRecurrence.ScratchLength(t, 1, m, ScanChunk)], t, 1, m, ScanChunk, Team);

        // Per channel: sums over (b, t) in a fixed order; channels split over the team would change nothing, kept serial for clarity.
        var du = new float[rows * h];                 // [B, T, H]
        var dAbar = new double[h * n]; var dBbar = new double[h * n];
        var dC = _cp.Grad.Span; var dD = _dp.Grad.Span;
        var u = _u; var d0 = _dp.Value.ReadOnlySpan;
        for (int e = 0; e < b; e++)
            for (int s = 0; s < t; s++)
                for (int ch = 0; ch < h; ch++)
                {
                    int row = (e * t + s) * h + ch;
                    float dyv = dys[row], uv = u[row];
                    double duAcc = d0[ch] * dyv;
                    dD[ch] += dyv * uv;
                    int o = s * m + (e * h + ch) * n, op = (s - 1) * m + (e * h + ch) * n;
                    for (int k = 0; k < n; k++)
                    {
                        float gk = g[o + k];
                        dC[ch * n + k] += dyv * _states[o + k];
                        dBbar[ch * n + k] += (double)gk * uv;
                        if (s > 0) dAbar[ch * n + k] += (double)gk * _states[op + k];
                        duAcc += (double)gk * _bBar[ch * n + k];
                    }
                    du[row] = (float)duAcc;
                }
        ChainDiscretisation(dAbar, dBbar);

        // u = x·W_inᵀ + b_in
        Gemm.Multiply(true, false, h, i, rows, du, h, _x, i, _win.Grad.Span, i, true, Team);
        var db = _bin.Grad.Span;
        for (int r = 0; r < rows; r++) System.Numerics.Tensors.TensorPrimitives.Add(db, du.AsSpan(r * h, h), db);
        var dx = Tensor.Zeros(b, t, i);
        Gemm.Multiply(false, false, rows, i, h, du, h, _win.Value.ReadOnlySpan, i, dx.Span, i, false, Team);
        return dx;
    }

    /// <summary>Ā and B̄ [H, N] from Δ = e^{log_dt}, A = −e^{log_neg_a}, B.</summary>
    private void Discretise()
    {
        int h = HiddenSize, n = StateSize;
        if (_aBar.Length != h * n) { _aBar = new float[h * n]; _bBar = new float[h * n]; }
        Cells.StateSpaceDiscretisation.Discretise(_logDt.Value.ReadOnlySpan, _logNegA.Value.ReadOnlySpan, _bp.Value.ReadOnlySpan, _aBar, _bBar, h, n, Discretisation);
    }

    /// <summary>∂L/∂Ā, ∂L/∂B̄ → ∂L/∂log_dt, ∂L/∂log_neg_a, ∂L/∂B (in double: a sum of many terms per channel).</summary>
    private void ChainDiscretisation(double[] dAbar, double[] dBbar) =>
        Cells.StateSpaceDiscretisation.Chain(dAbar, dBbar, _logDt.Value.ReadOnlySpan, _logNegA.Value.ReadOnlySpan, _bp.Value.ReadOnlySpan,
            _logDt.Grad.Span, _logNegA.Grad.Span, _bp.Grad.Span, HiddenSize, StateSize, Discretisation);

    private int ScanChunk => Scan == ScanMode.Parallel ? ChunkLength : 0;

    private void SolveStates()
    {
        int b = _b, t = _t, h = HiddenSize, n = StateSize, m = b * h * n;
        if (_states.Length != t * m) { _states = new float[t * m]; _coef = new float[t * m]; _drive = new float[t * m]; }
        for (int s = 0; s < t; s++)
            for (int e = 0; e < b; e++)
                for (int ch = 0; ch < h; ch++)
                {
                    float uv = _u[(e * t + s) * h + ch];
                    int o = s * m + (e * h + ch) * n;
                    _aBar.AsSpan(ch * n, n).CopyTo(_coef.AsSpan(o, n));
                    for (int k = 0; k < n; k++) _drive[o + k] = _bBar[ch * n + k] * uv;
                }
        LinearRecurrence.Forward(_states, default, _coef, _drive, default, new float[LinearRecurrence.ScratchLength(t, 1, m, ScanChunk)], t, 1, m, ScanChunk, Team);
        _statesValid = true;
    }

    private void Readout(Span<float> y)
    {
        int b = _b, t = _t, h = HiddenSize, n = StateSize, m = b * h * n;
        var c = _cp.Value.ReadOnlySpan; var d = _dp.Value.ReadOnlySpan;
        for (int e = 0; e < b; e++)
            for (int s = 0; s < t; s++)
                for (int ch = 0; ch < h; ch++)
                {
                    int row = (e * t + s) * h + ch, o = s * m + (e * h + ch) * n;
                    float acc = 0f;
                    for (int k = 0; k < n; k++) acc += c[ch * n + k] * _states[o + k];
                    y[row] = acc + d[ch] * _u[row];
                }
    }

    private void Convolve(Span<float> y)
    {
        int b = _b, t = _t, h = HiddenSize, n = StateSize;
        var kernel = new float[h * t]; // [H, T]: K_h[ℓ] = Σ_n C·Ā^ℓ·B̄, powers in double
        var c = _cp.Value.ReadOnlySpan; var d = _dp.Value.ReadOnlySpan;
        for (int ch = 0; ch < h; ch++)
            for (int k = 0; k < n; k++)
            {
                double w = (double)c[ch * n + k] * _bBar[ch * n + k], a = _aBar[ch * n + k];
                for (int l = 0; l < t; l++, w *= a) kernel[ch * t + l] += (float)w;
            }
        for (int e = 0; e < b; e++)
            for (int ch = 0; ch < h; ch++)
                for (int s = 0; s < t; s++)
                {
                    double acc = 0;
                    for (int l = 0; l <= s; l++) acc += (double)kernel[ch * t + l] * _u[(e * t + s - l) * h + ch];
                    int row = (e * t + s) * h + ch;
                    y[row] = (float)acc + d[ch] * _u[row];
                }
    }
}
