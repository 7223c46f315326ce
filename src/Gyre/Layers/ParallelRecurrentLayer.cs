using Gyre.Kernels;
using Gyre.Tensors;

namespace Gyre.Layers;

/// <summary>How a recurrent layer runs its time axis.</summary>
public enum ScanMode
{
    /// <summary>The plain time loop, one step after another (split over hidden units across the team).</summary>
    Sequential,
    /// <summary>All steps at once: Newton's method on F(H) = 0 for nonlinear cells, a parallel scan for linear ones.</summary>
    Parallel,
}

/// <summary>
/// Base of the recurrent layers whose step h_t = f(h_{t−1}, x_t) has a diagonal (K = 1) or 2×2 block-diagonal
/// (K = 2) Jacobian ∂h_t/∂h_{t−1} (ParaRNN, Danieli et al. 2025): such a layer runs either the sequential
/// loop or, with <see cref="ScanMode.Parallel"/>, Newton's method on all states at once.
/// <code>
/// F_t(H) = h_t − f(h_{t−1}, x_t) = 0,  t = 0 … T−1, h_{−1} = h₀
/// H⁰_t = f(0, x_t);   repeat: J_t = ∂f/∂h_{t−1}(H_{t−1}),  δh_t = J_t·δh_{t−1} − F_t (δh_{−1} = 0),  H += δH
/// until max |F_t| ≤ <see cref="Tolerance"/> or <see cref="MaxIterations"/> linear solves
/// backward (either mode): g_t = ∂L/∂y_t + J_{t+1}ᵀ·g_{t+1}, g_{T−1} += ∂L/∂h_T, ∂L/∂h₀ = J_0ᵀ·g_0
/// </code>
/// Each Newton step and the backward pass are one <see cref="LinearRecurrence"/> solve; evaluating f and J is
/// parallel over time. The input projection gx = x·W_ihᵀ + b_ih [B, T, G·H] is one GEMM outside the time axis.
/// Letters: B batch, T steps, I inputs, H hidden, K state components, G gate blocks, M = B·H channels.
/// Parameters live in one block: weight_ih [G·H, I], bias_ih [G·H], then the cell's P per-unit vectors [P·H].
/// </summary>
public abstract class ParallelRecurrentLayer : Module, ISharedWork
{
    private readonly ParameterBlock _block;
    private readonly int _diagOffset;

    // Activations, sized for the last (B, T); reused while the shape repeats.
    private int _b, _t;
    private float[] _x = [];      // [B, T, I] the input, kept for backward
    private float[] _gx = [];     // [B, T, G·H]
    private float[] _states = []; // [T, K, M]
    private float[] _jac = [];    // [T, K, K, M]
    private float[] _work = [];   // [T, K, M] f(H) or −F, then δH; backward: the direct gradients d
    private float[] _gates = [];  // [T, B, S·H] what the cell saves per step
    private float[] _init = [];   // [K, M] h₀ (and c₀), or empty for zeros
    private float[] _scratch = [];
    private readonly float[] _maxAbs = new float[1024]; // per worker

    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="block">K, state components per unit.</param>
    /// <param name="gates">G, gate blocks of the input projection.</param>
    /// <param name="saved">S, floats per unit and step the cell keeps for its backward.</param>
    /// <param name="perUnit">Names of the cell's per-unit parameters, each [n·H] with n from the tuple.</param>
    /// <param name="seed">Seed of the U(−1/√H, 1/√H) initialisation.</param>
    protected ParallelRecurrentLayer(int inputSize, int hiddenSize, int block, int gates, int saved,
        IReadOnlyList<(string Name, int Blocks)> perUnit, ulong seed)
    {
        if (inputSize <= 0 || hiddenSize <= 0) throw new ArgumentOutOfRangeException(nameof(inputSize), $"sizes must be positive, got input {inputSize}, hidden {hiddenSize}");
        InputSize = inputSize; HiddenSize = hiddenSize; Block = block; Gates = gates; Saved = saved;
        var layout = new List<(string, int[])> { ("weight_ih", [gates * hiddenSize, inputSize]), ("bias_ih", [gates * hiddenSize]) };
        foreach (var (name, n) in perUnit) { layout.Add((name, [n * hiddenSize])); PerUnit += n; }
        _block = new ParameterBlock(layout);
        _diagOffset = gates * hiddenSize * (inputSize + 1);
        // PyTorch's recurrent init, U(−1/√H, 1/√H), for every parameter.
        float k = 1f / MathF.Sqrt(hiddenSize);
        new Rng(seed).Uniform(_block.Values, -k, k);
    }

    public int InputSize { get; }
    public int HiddenSize { get; }
    /// <summary>K: 1 for a hidden state alone, 2 for (c, h).</summary>
    public int Block { get; }
    protected int Gates { get; }
    protected int Saved { get; }
    /// <summary>P: per-unit parameter vectors after weight_ih and bias_ih.</summary>
    protected int PerUnit { get; }

    /// <summary>Sequential loop or Newton's method (forward); the backward pass is the same linear solve in both.</summary>
    public ScanMode Scan { get; set; } = ScanMode.Sequential;
    /// <summary>Newton stops once max_t |F_t| ≤ Tolerance (float32: 1e-6 is a few ulp of states of order 1).</summary>
    public float Tolerance { get; set; } = 1e-6f;
    /// <summary>Newton's cap on linear solves. T solves always reach the exact sequential states.</summary>
    public int MaxIterations { get; set; } = 100;
    /// <summary>
    /// Chunk length for <see cref="LinearRecurrence"/>; 0 (default) picks one from M alone: the plain loop
    /// split over channels when M ≥ 256 (enough to share out), else chunks of 256 steps.
    /// </summary>
    public int ChunkLength { get; set; }
    /// <summary>Workers; null for <see cref="WorkerTeam.Shared"/>.</summary>
    public WorkerTeam? Team { get; set; }
    /// <summary>Linear solves the last Newton forward used (0 in sequential mode).</summary>
    public int LastIterations { get; private set; }
    /// <summary>max_t |F_t| at the end of the last Newton forward (NaN when it diverged).</summary>
    public float LastResidual { get; private set; }

    public override IEnumerable<Parameter> Parameters() => _block.Parameters;

    protected Parameter this[string name] => _block[name];
    /// <summary>The per-unit parameter values [P·H], in the order given to the constructor.</summary>
    protected ReadOnlySpan<float> PerUnitValues => _block.Values.AsSpan(_diagOffset, PerUnit * HiddenSize);
    protected ReadOnlySpan<float> Gx => _gx;
    protected Span<float> SavedGates => _gates;
    protected int BatchSize => _b;
    protected int Steps => _t;
    protected int Channels => _b * HiddenSize;

    /// <summary>
    /// One step for units [j0, j1) of batch entry b at time t: reads gx and prev [K, M] (empty: the zero state),
    /// writes the new state into next [K, M], saves what backward needs, and, when jac is not empty, writes
    /// ∂h_t/∂h_{t−1} into jac [K, K, M] (entry (i, k) of unit m at (i·K + k)·M + m).
    /// </summary>
    protected abstract void Evaluate(int t, int b, int j0, int j1, ReadOnlySpan<float> prev, Span<float> next, Span<float> jac);

    /// <summary>
    /// Local backward of step t, batch entry b, all units, given g [K, M] = total ∂L/∂state_t: writes
    /// dgx [G·H] (pre-activation gradients, which are also the input projection's) and dUnit [P·H], this step's
    /// contributions to the per-unit parameter gradients.
    /// </summary>
    protected abstract void LocalBackward(int t, int b, ReadOnlySpan<float> prev, ReadOnlySpan<float> g, Span<float> dgx, Span<float> dUnit);

    /// <summary>
    /// Runs the layer over x [B, T, I] from h₀ [B, H] (and c₀ [B, H] when K = 2; null: zeros). Returns
    /// y [B, T, H], h_T [B, H] and c_T [B, H] for K = 2.
    /// </summary>
    public (Tensor Output, Tensor Hidden, Tensor? Cell) Forward(Tensor x, Tensor? h0 = null, Tensor? c0 = null)
    {
        if (x.Rank != 3 || x.Dim(2) != InputSize) throw new ArgumentException($"input must be [B, T, {InputSize}], got {x}");
        int b = x.Dim(0), t = x.Dim(1), h = HiddenSize, k = Block, m = b * h;
        if (b < 1 || t < 1) throw new ArgumentException($"input must have at least one batch entry and one step, got {x}");
        if (h0 != null && !h0.HasShape(b, h)) throw new ArgumentException($"h0 must be [{b}, {h}], got {h0}");
        if (c0 != null && (k != 2 || !c0.HasShape(b, h))) throw new ArgumentException(k != 2 ? "this layer has no cell state" : $"c0 must be [{b}, {h}], got {c0}");
        Resize(b, t);
        x.ReadOnlySpan.CopyTo(_x);
        Project();
        if (h0 == null && c0 == null) _init = [];
        else
        {
            if (_init.Length != k * m) _init = new float[k * m];
            Array.Clear(_init);
            h0?.ReadOnlySpan.CopyTo(_init.AsSpan((k - 1) * m, m));
            c0?.ReadOnlySpan.CopyTo(_init.AsSpan(0, m));
        }
        if (Scan == ScanMode.Sequential) { LastIterations = 0; LastResidual = 0f; Run(Work.Sequential); }
        else Newton();

        var y = Tensor.Zeros(b, t, h);
        for (int s = 0; s < t; s++)
            for (int e = 0; e < b; e++)
                _states.AsSpan((s * k + k - 1) * m + e * h, h).CopyTo(y.Span.Slice((e * t + s) * h, h));
        var hT = Tensor.FromSpan(_states.AsSpan(((t - 1) * k + k - 1) * m, m), b, h);
        var cT = k == 2 ? Tensor.FromSpan(_states.AsSpan((t - 1) * k * m, m), b, h) : null;
        return (y, hT, cT);
    }

    /// <summary>
    /// Backward of the last <see cref="Forward"/> for dy [B, T, H], dh_T [B, H] (and dc_T): accumulates (+=)
    /// every parameter gradient and returns ∂L/∂x [B, T, I], ∂L/∂h₀ [B, H] (and ∂L/∂c₀).
    /// </summary>
    public (Tensor Input, Tensor Hidden, Tensor? Cell) Backward(Tensor dy, Tensor? dhT = null, Tensor? dcT = null)
    {
        int b = _b, t = _t, h = HiddenSize, k = Block, m = b * h, gh = Gates * h, i = InputSize;
        if (t == 0) throw new InvalidOperationException("Backward needs a Forward first");
        if (!dy.HasShape(b, t, h)) throw new ArgumentException($"dy must be [{b}, {t}, {h}], got {dy}");
        // d [T, K, M]: the direct gradients reach the h component only.
        Array.Clear(_work);
        for (int s = 0; s < t; s++)
            for (int e = 0; e < b; e++)
                dy.ReadOnlySpan.Slice((e * t + s) * h, h).CopyTo(_work.AsSpan((s * k + k - 1) * m + e * h, h));
        var gEnd = new float[k * m];
        dhT?.ReadOnlySpan.CopyTo(gEnd.AsSpan((k - 1) * m, m));
        if (dcT != null && k == 2) dcT.ReadOnlySpan.CopyTo(gEnd.AsSpan(0, m));
        var g = new float[t * k * m];   // [T, K, M] total ∂L/∂state
        var gFirst = new float[k * m];  // [K, M]
        LinearRecurrence.Reverse(g, gFirst, _jac, _work, gEnd, Scratch(m), t, k, m, SolveChunk(m), Team);

        var dgx = new float[b * t * gh];            // [B, T, G·H]
        var dUnit = new float[t * b * PerUnit * h]; // [T, B, P·H]
        _backward = (g, dgx, dUnit);
        Run(Work.Backward);
        Run(Work.ReduceUnits);
        _backward = default;

        // Input projection: dW_ih += dgxᵀ·x, db_ih += Σ dgx, dx = dgx·W_ih.
        int rows = b * t;
        var w = _block["weight_ih"];
        Gemm.Multiply(true, false, gh, i, rows, dgx, gh, _x, i, w.Grad.Span, i, true, Team);
        var db = _block["bias_ih"].Grad.Span;
        for (int r = 0; r < rows; r++) System.Numerics.Tensors.TensorPrimitives.Add(db, dgx.AsSpan(r * gh, gh), db);
        var dx = Tensor.Zeros(b, t, i);
        Gemm.Multiply(false, false, rows, i, gh, dgx, gh, w.Value.ReadOnlySpan, i, dx.Span, i, false, Team);
        var dh0 = Tensor.FromSpan(gFirst.AsSpan((k - 1) * m, m), b, h);
        var dc0 = k == 2 ? Tensor.FromSpan(gFirst.AsSpan(0, m), b, h) : null;
        return (dx, dh0, dc0);
    }

    private (float[] G, float[] Dgx, float[] DUnit) _backward;

    private int SolveChunk(int m) => ChunkLength > 0 ? ChunkLength : m >= 256 ? 0 : 256;

    private float[] Scratch(int m)
    {
        int need = LinearRecurrence.ScratchLength(_t, Block, m, SolveChunk(m));
        if (_scratch.Length < need) _scratch = new float[need];
        return _scratch;
    }

    private void Resize(int b, int t)
    {
        if (b == _b && t == _t) return;
        _b = b; _t = t;
        int k = Block, m = b * HiddenSize;
        _x = new float[b * t * InputSize];
        _gx = new float[b * t * Gates * HiddenSize];
        _states = new float[t * k * m];
        _jac = new float[t * k * k * m];
        _work = new float[t * k * m];
        _gates = new float[t * b * Saved * HiddenSize];
    }

    private void Project()
    {
        int rows = _b * _t, gh = Gates * HiddenSize;
        var bias = _block["bias_ih"].Value.ReadOnlySpan;
        for (int r = 0; r < rows; r++) bias.CopyTo(_gx.AsSpan(r * gh, gh));
        Gemm.Multiply(false, true, rows, gh, InputSize, _x, InputSize, _block["weight_ih"].Value.ReadOnlySpan, InputSize, _gx, gh, true, Team);
    }

    private void Newton()
    {
        int t = _t, k = Block, m = Channels, chunk = SolveChunk(m);
        var scratch = Scratch(m);
        Run(Work.Guess);
        int iterations = 0;
        float residual;
        while (true)
        {
            Run(Work.Residual); // _work = −F, J at the current states
            residual = 0f;
            foreach (float r in _maxAbs.AsSpan(0, Workers)) if (!(r <= residual)) residual = r;
            if (residual <= Tolerance || iterations >= MaxIterations || float.IsNaN(residual)) break;
            LinearRecurrence.Forward(_work, default, _jac, _work, default, scratch, t, k, m, chunk, Team);
            Run(Work.Update);
            iterations++;
        }
        LastIterations = iterations;
        LastResidual = residual;
    }

    private enum Work { Sequential, Guess, Residual, Update, Backward, ReduceUnits }

    private int Workers => (Team ?? WorkerTeam.Shared).Size;

    private void Run(Work work) => SharedJob.Run(Team ?? WorkerTeam.Shared, this, (int)work);

    void ISharedWork.Share(int work, int worker, int workers) => Share((Work)work, worker, workers);

    // Every output element is computed by one worker in a fixed order, so the bits do not depend on the team size.
    private void Share(Work work, int worker, int workers)
    {
        int b = _b, t = _t, h = HiddenSize, k = Block, m = b * h;
        int state = k * m;
        (int Begin, int End) Part(int n) => ((int)((long)n * worker / workers), (int)((long)n * (worker + 1) / workers));
        switch (work)
        {
            case Work.Sequential:
            {
                // Hidden units split in 16-float runs; each share runs the whole time loop on its units.
                var (u0, u1) = Part((h + 15) / 16);
                int j0 = Math.Min(h, u0 * 16), j1 = Math.Min(h, u1 * 16);
                if (j0 == j1) return;
                for (int s = 0; s < t; s++)
                    for (int e = 0; e < b; e++)
                        Evaluate(s, e, j0, j1, s == 0 ? _init : _states.AsSpan((s - 1) * state, state),
                            _states.AsSpan(s * state, state), _jac.AsSpan(s * state * k, state * k));
                return;
            }
            case Work.Guess:
            {
                var (r0, r1) = Part(t * b);
                for (int r = r0; r < r1; r++)
                    Evaluate(r / b, r % b, 0, h, default, _states.AsSpan(r / b * state, state), default);
                return;
            }
            case Work.Residual:
            {
                var (r0, r1) = Part(t * b);
                float max = 0f;
                for (int r = r0; r < r1; r++)
                {
                    int s = r / b, e = r % b;
                    Evaluate(s, e, 0, h, s == 0 ? _init : _states.AsSpan((s - 1) * state, state),
                        _work.AsSpan(s * state, state), _jac.AsSpan(s * state * k, state * k));
                    for (int c = 0; c < k; c++)
                    {
                        int o = s * state + c * m + e * h;
                        for (int j = 0; j < h; j++)
                        {
                            float negF = _work[o + j] - _states[o + j];
                            _work[o + j] = negF;
                            float a = MathF.Abs(negF);
                            if (!(a <= max)) max = a;
                        }
                    }
                }
                _maxAbs[worker] = max;
                return;
            }
            case Work.Update:
            {
                var (s0, s1) = Part(t);
                System.Numerics.Tensors.TensorPrimitives.Add(_states.AsSpan(s0 * state, (s1 - s0) * state),
                    _work.AsSpan(s0 * state, (s1 - s0) * state), _states.AsSpan(s0 * state, (s1 - s0) * state));
                return;
            }
            case Work.Backward:
            {
                var (g, dgx, dUnit) = _backward;
                int gh = Gates * h, ph = PerUnit * h;
                var (r0, r1) = Part(t * b);
                for (int r = r0; r < r1; r++)
                {
                    int s = r / b, e = r % b;
                    LocalBackward(s, e, s == 0 ? _init : _states.AsSpan((s - 1) * state, state), g.AsSpan(s * state, state),
                        dgx.AsSpan((e * t + s) * gh, gh), dUnit.AsSpan(r * ph, ph));
                }
                return;
            }
            case Work.ReduceUnits:
            {
                // Per-unit gradients summed over (t, b) in that order, split over units: a fixed reduction order.
                var dUnit = _backward.DUnit;
                int ph = PerUnit * h;
                var (p0, p1) = Part(ph);
                var grads = _block.Grads.AsSpan(_diagOffset, ph);
                for (int p = p0; p < p1; p++)
                {
                    float acc = 0f;
                    for (int r = 0; r < t * b; r++) acc += dUnit[r * ph + p];
                    grads[p] += acc;
                }
                return;
            }
        }
    }
}
