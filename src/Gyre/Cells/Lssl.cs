using System.Globalization;
using System.Runtime.InteropServices;
using Gyre.Kernels;
using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Cells;

/// <summary>
/// The linear state-space layer (LSSL, S4D family: diagonal A) as a registered cell, registry name "lssl", options
/// state_size = N (default 16) and discretisation = zoh | bilinear (default zoh). Per channel j of H, N states
/// follow the linear ODE s' = A s + B u, y = C s + D u, discretised with a learnable step Δ_j:
/// <code>
/// u_t = W_ih x_t + b_ih                                      [H]      (the runner's gx, one gate block)
/// s_t[j, n] = Ā[j, n]·s_{t−1}[j, n] + B̄[j, n]·u_t[j]        [H·N]    (state 1, "s")
/// y_t[j] = Σ_n C[j, n]·s_t[j, n] + D[j]·u_t[j]               [H]      (state 0, "h": the output; not fed back)
/// A = −exp(log_neg_a), Δ = exp(log_dt)
/// zoh:      Ā = e^{ΔA},                B̄ = (Ā − 1)/A · B
/// bilinear: Ā = (1 + ΔA/2)/(1 − ΔA/2), B̄ = Δ B/(1 − ΔA/2)
/// </code>
/// Parameters per layer direction: weight_ih [H, I], bias_ih [H], then the extra parameters log_dt [H],
/// log_neg_a [H, N], b [H, N], c [H, N], d [H] (one contiguous block, row-major [H, N]).
/// Initialisation HiPPO-LegS, real diagonal (S4D-Real): the LegS matrix is lower
/// triangular, so its eigenvalues are its diagonal A_n = −(n + 1); B_n = √(2n + 1); log Δ ~ U(log 0.001, log 0.1);
/// C ~ N(0, 1/N); D ~ N(0, 1); weight_ih, bias_ih U(−1/√H, 1/√H) as every cell.
/// State 0 does not enter the step (y depends on s only), so h0 has no effect and ∂L/∂h0 = 0.
/// Saved per unit: u, then per state n the records g·s_{t−1}, g·u, ∂L/∂y·s_t (g = ∂L/∂s_t) that backward writes for
/// the weight gradients, and ∂L/∂y·u: S = 3N + 2. Ā and B̄ are computed in double from the parameters
/// (<see cref="StateSpaceDiscretisation"/>) when those change, not per step or row.
/// Kernel: <see cref="LsslStep"/> (scalar twin <see cref="Kernels.Reference.LsslStepReference"/>), one row at a time.
/// s is linear in itself and y a read-out of s' that is not fed back, so <c>--scan parallel</c> runs the runner's state
/// scan (<see cref="SequencePath.StateScan"/>) over the B·N·H state channels: a = Ā, b = B̄·u.
/// The convolutional mode of the same map, on the same parameters, is <see cref="LsslConvolution"/> (not a runner path).
/// </summary>
public readonly unsafe struct LsslCell : ICell
{
    public static int Gates => 1;
    public static int States => 2;
    public static int SavedWidth => 5;            // N = 1; the real width is SavedWidthFor
    public static int ScratchWidth => 0;
    public static RecurrentWeights Recurrent => RecurrentWeights.None;
    public static bool HiddenBiasApart => false;
    public static bool SavedWidthFromParams => true;
    public static int SavedWidthFor(in CellParams p) => 3 * p.I0 + 2;
    public static bool HasLinearState => true;

    /// <summary>a = Ā and b[j, n] = B̄[j, n]·u[j], the step's product.</summary>
    public static void LinearStateCoefficients(float* a, float* b, nint ld, float* gx, int rows, int hidden, in CellWeights w)
    {
        int h = hidden, n = w.Params.I0, hn = h * n;
        var (aBar, bBar) = Discretised(w, h);
        for (int r = 0; r < rows; r++)
        {
            aBar.AsSpan(0, hn).CopyTo(new Span<float>(a + r * ld, hn));
            float* u = gx + (nint)r * h, br = b + r * ld;
            for (int j = 0; j < h; j++)
                System.Numerics.Tensors.TensorPrimitives.Multiply(bBar.AsSpan(j * n, n), u[j], new Span<float>(br + (nint)j * n, n));
        }
    }

    /// <summary>a = Ā (the same for every step and row).</summary>
    public static void LinearStateDecay(float* a, nint ld, float* saved, int rows, int hidden, in CellWeights w)
    {
        int hn = hidden * w.Params.I0;
        var aBar = Discretised(w, hidden).A;
        for (int r = 0; r < rows; r++) aBar.AsSpan(0, hn).CopyTo(new Span<float>(a + r * ld, hn));
    }

    // Ā, B̄ [H·N] per thread (rows of one step are split over workers), grown once, and the parameters
    // (log_dt | log_neg_a | b, [H + 2·H·N]) they were computed from: recomputed only when those bits change, since a
    // step would otherwise spend H·N double exps on values that stay fixed for a whole sequence.
    [ThreadStatic] private static float[]? _aBar, _bBar, _from;
    [ThreadStatic] private static int _fromDisc;
    [ThreadStatic] private static double[]? _sums;

    private static (float[] A, float[] B) Discretised(in CellWeights w, int h)
    {
        int n = w.Params.I0, hn = h * n, inputs = h + 2 * hn;
        var from = new ReadOnlySpan<float>(w.Extra, inputs);
        if (_from != null && _from.Length == inputs && _fromDisc == w.Params.I1
            && MemoryMarshal.AsBytes(from).SequenceEqual(MemoryMarshal.AsBytes(_from.AsSpan())))
            return (_aBar!, _bBar!);
        if (_aBar == null || _aBar.Length < hn) { _aBar = new float[hn]; _bBar = new float[hn]; }
        if (_from == null || _from.Length != inputs) _from = new float[inputs];
        float* e = w.Extra;
        StateSpaceDiscretisation.Discretise(new ReadOnlySpan<float>(e, h), new ReadOnlySpan<float>(e + h, hn), new ReadOnlySpan<float>(e + h + hn, hn),
            _aBar.AsSpan(0, hn), _bBar!.AsSpan(0, hn), h, n, (Discretisation)w.Params.I1);
        from.CopyTo(_from);
        _fromDisc = w.Params.I1;
        return (_aBar, _bBar!);
    }

    public static void Forward(in CellStep s)
    {
        int h = s.Hidden, n = s.W.Params.I0, hn = h * n, sw = 3 * n + 2;
        var (aBar, bBar) = Discretised(s.W, h);
        var c = new ReadOnlySpan<float>(s.W.Extra + h + 2 * hn, hn);
        var d = new ReadOnlySpan<float>(s.W.Extra + h + 3 * hn, h);
        for (int r = 0; r < s.Rows; r++)
        {
            nint row = (nint)r * s.StateLd;
            var u = new ReadOnlySpan<float>(s.Gx + (nint)r * h, h);
            LsslStep.Forward(new Span<float>(s.Next + row, h), new Span<float>(s.Next + s.StateStride + row, hn),
                new ReadOnlySpan<float>(s.Prev + s.StateStride + row, hn), u, aBar.AsSpan(0, hn), bBar.AsSpan(0, hn), c, d, h, n);
            if (s.Saved != null) u.CopyTo(new Span<float>(s.Saved + (nint)r * sw * h, h));
        }
    }

    public static void Backward(in CellBackwardStep s)
    {
        int h = s.Hidden, n = s.W.Params.I0, hn = h * n, sw = (3 * n + 2) * h;
        var (aBar, bBar) = Discretised(s.W, h);
        var c = new ReadOnlySpan<float>(s.W.Extra + h + 2 * hn, hn);
        var d = new ReadOnlySpan<float>(s.W.Extra + h + 3 * hn, h);
        for (int r = 0; r < s.Rows; r++)
        {
            nint row = (nint)r * s.StateLd;
            float* saved = s.Saved + (nint)r * sw;
            LsslStep.Backward(new Span<float>(s.DGx + (nint)r * h, h), new Span<float>(s.DPrev + s.DStride + row, hn),
                new Span<float>(saved + h, 3 * hn + h), new ReadOnlySpan<float>(s.DNext + row, h), new ReadOnlySpan<float>(s.DNext + s.DStride + row, hn),
                new ReadOnlySpan<float>(s.Prev + s.StateStride + row, hn), new ReadOnlySpan<float>(s.Next + s.StateStride + row, hn),
                new ReadOnlySpan<float>(saved, h), aBar.AsSpan(0, hn), bBar.AsSpan(0, hn), c, d, h, n);
            new Span<float>(s.DPrev + row, h).Clear(); // y is not fed back
        }
    }

    /// <summary>Sums the per-step records over all rows in row order (double), then the discretisation's chain rule
    /// into ∂L/∂log_dt, ∂L/∂log_neg_a, ∂L/∂b; ∂L/∂c and ∂L/∂d directly.</summary>
    public static void RecurrentWeightGradients(in CellWeightGradients g)
    {
        int h = g.Hidden, n = g.W.Params.I0, hn = h * n;
        int len = 3 * hn + h;
        if (_sums == null || _sums.Length < len) _sums = new double[len];
        var sums = _sums; // [Ā | B̄ | C | D] gradients
        Array.Clear(sums, 0, len);
        for (int row = 0; row < g.Rows; row++)
        {
            float* rec = g.Saved + (nint)row * g.SavedWidth + h;
            for (int i = 0; i < len; i++) sums[i] += rec[i];
        }
        float* e = g.W.Extra, de = g.W.ExtraGrad;
        StateSpaceDiscretisation.Chain(sums.AsSpan(0, hn), sums.AsSpan(hn, hn), new ReadOnlySpan<float>(e, h), new ReadOnlySpan<float>(e + h, hn),
            new ReadOnlySpan<float>(e + h + hn, hn), new Span<float>(de, h), new Span<float>(de + h, hn), new Span<float>(de + h + hn, hn),
            h, n, (Discretisation)g.W.Params.I1);
        float* dc = de + h + 2 * hn, dd = dc + hn;
        for (int i = 0; i < hn; i++) dc[i] += (float)sums[2 * hn + i];
        for (int j = 0; j < h; j++) dd[j] += (float)sums[3 * hn + j];
    }
}

/// <summary>
/// The registry entry of <see cref="LsslCell"/> ("lssl"; options state_size = N ≥ 1, discretisation = zoh | bilinear).
/// </summary>
public sealed class LsslDefinition : CellDefinition<LsslCell>
{
    public LsslDefinition(int stateSize = 16, Discretisation discretisation = Discretisation.ZeroOrderHold)
    {
        if (stateSize < 1) throw new ArgumentException($"cell 'lssl': state_size must be at least 1, got {stateSize}");
        StateSize = stateSize; Discretisation = discretisation;
        var pairs = new List<KeyValuePair<string, string>>();
        if (stateSize != 16) pairs.Add(new("state_size", stateSize.ToString(CultureInfo.InvariantCulture)));
        if (discretisation != Discretisation.ZeroOrderHold) pairs.Add(new("discretisation", "bilinear"));
        Options = CellOptions.From(pairs);
        ExtraParameters = [("log_dt", 1), ("log_neg_a", stateSize), ("b", stateSize), ("c", stateSize), ("d", 1)];
    }

    /// <summary>The factory the registry holds: options state_size and discretisation, one-line errors naming them.</summary>
    public static CellDefinition FromOptions(CellOptions o)
    {
        o.OnlyKnown("lssl", "discretisation", "state_size");
        var disc = o["discretisation"]?.ToLowerInvariant() switch
        {
            null or "zoh" => Discretisation.ZeroOrderHold,
            "bilinear" => Discretisation.Bilinear,
            var v => throw new ArgumentException($"cell 'lssl': discretisation must be zoh or bilinear, got '{v}'"),
        };
        return new LsslDefinition(o.Int("state_size", 16), disc);
    }

    /// <summary>N: states per channel.</summary>
    public int StateSize { get; }
    /// <summary>How the continuous system is discretised.</summary>
    public Discretisation Discretisation { get; }

    public override string Name => "lssl";
    public override IReadOnlyList<string> StateNames => ["h", "s"];
    public override int StateWidth(int state, int hidden) => state == 0 ? hidden : StateSize * hidden;
    public override IReadOnlyList<(string Name, int Rows)> ExtraParameters { get; }
    // log_dt [H], then log_neg_a, b, c [H, N] (row-major: channel j's N states together), then d [H].
    public override int[] ExtraParameterShape(int index, int hidden) => index is 1 or 2 or 3 ? [hidden, StateSize] : [hidden];
    public override CellParams Params => new() { I0 = StateSize, I1 = (int)Discretisation };
    public override string Equation => "s' = Ā ⊙ s + B̄ u, y = Σ_n C ⊙ s' + D u (diagonal A, HiPPO-LegS, learnable Δ)";

    /// <summary>U(−1/√H, 1/√H) for weight_ih and bias_ih, then HiPPO-LegS (see the cell) for the state-space parameters.</summary>
    public override void Initialize(ParameterBlock block, Rng rng, int hidden)
    {
        base.Initialize(block, rng, hidden);
        int n = StateSize;
        foreach (var p in block.Parameters)
        {
            string kind = p.Name.Split("_l")[0]; // "log_neg_a_l1_reverse" → "log_neg_a" (no name has "_l" inside)
            var v = p.Value.Span;
            switch (kind)
            {
                case "log_dt": rng.Uniform(v, MathF.Log(1e-3f), MathF.Log(1e-1f)); break;
                case "log_neg_a": for (int i = 0; i < v.Length; i++) v[i] = MathF.Log(i % n + 1f); break;
                case "b": for (int i = 0; i < v.Length; i++) v[i] = MathF.Sqrt(2f * (i % n) + 1f); break;
                case "c": rng.Normal(v, 0f, 1f / MathF.Sqrt(n)); break;
                case "d": rng.Normal(v, 0f, 1f); break;
            }
        }
    }

    /// <summary>Ā, B̄ from the parameters (as the step), s' = Ā ⊙ s + B̄ ⊙ u over [R, H, N], y = s'·C per channel
    /// (a batched MatMul [R, H, 1, N]·[H, N, 1]) + D ⊙ u.</summary>
    public override bool EmitOnnxStep(IOnnxStep s)
    {
        int h = s.Hidden, n = StateSize;
        string a = s.Neg(s.Exp(s.Parameter("log_neg_a")!));
        string dt = s.Reshape(s.Exp(s.Parameter("log_dt")!), h, 1);
        string b = s.Parameter("b")!;
        string aBar, bBar;
        if (Discretisation == Discretisation.ZeroOrderHold)
        {
            aBar = s.Exp(s.Mul(dt, a));
            bBar = s.Mul(s.Div(s.Sub(aBar, s.Constant(1f)), a), b);
        }
        else
        {
            string half = s.Mul(s.Mul(dt, a), s.Constant(0.5f));
            string den = s.Sub(s.Constant(1f), half);
            aBar = s.Div(s.Add(s.Constant(1f), half), den);
            bBar = s.Div(s.Mul(dt, b), den);
        }
        string u = s.Gx;
        string next = s.Add(s.Mul(aBar, s.Reshape(s.State(1), 0, h, n)), s.Mul(bBar, s.Reshape(u, 0, h, 1)));
        string cy = s.Reshape(s.MatMul(s.Reshape(next, 0, h, 1, n), s.Reshape(s.Parameter("c")!, h, n, 1)), 0, h);
        s.SetNext(s.Add(cy, s.Mul(s.Parameter("d")!, u)), s.Reshape(next, 0, h * n));
        return true;
    }
}

/// <summary>
/// The discretisation of a diagonal state-space model and its chain rule (<see cref="LsslCell"/>). Parameters per channel j: Δ = e^{log_dt[j]}, A = −e^{log_neg_a[j, n]}, B = b[j, n];
/// everything in double (a gradient is a sum of many terms per channel).
/// </summary>
public static class StateSpaceDiscretisation
{
    /// <summary>Ā, B̄ [H, N]: zoh Ā = e^{ΔA}, B̄ = (Ā − 1)/A·B; bilinear Ā = (1 + ΔA/2)/(1 − ΔA/2), B̄ = ΔB/(1 − ΔA/2).</summary>
    public static void Discretise(ReadOnlySpan<float> logDt, ReadOnlySpan<float> logNegA, ReadOnlySpan<float> b,
        Span<float> aBar, Span<float> bBar, int h, int n, Discretisation discretisation)
    {
        for (int ch = 0; ch < h; ch++)
        {
            double dt = Math.Exp(logDt[ch]);
            for (int k = 0; k < n; k++)
            {
                int i = ch * n + k;
                double a = -Math.Exp(logNegA[i]), bb = b[i];
                if (discretisation == Discretisation.ZeroOrderHold)
                {
                    double ab = Math.Exp(dt * a);
                    aBar[i] = (float)ab;
                    bBar[i] = (float)((ab - 1) / a * bb);
                }
                else
                {
                    double den = 1 - dt * a / 2;
                    aBar[i] = (float)((1 + dt * a / 2) / den);
                    bBar[i] = (float)(dt * bb / den);
                }
            }
        }
    }

    /// <summary>∂L/∂Ā, ∂L/∂B̄ [H, N] → accumulates (+=) ∂L/∂log_dt [H], ∂L/∂log_neg_a [H, N], ∂L/∂b [H, N].</summary>
    public static void Chain(ReadOnlySpan<double> dAbar, ReadOnlySpan<double> dBbar, ReadOnlySpan<float> logDt, ReadOnlySpan<float> logNegA,
        ReadOnlySpan<float> b, Span<float> dLogDt, Span<float> dLogNegA, Span<float> dB, int h, int n, Discretisation discretisation)
    {
        for (int ch = 0; ch < h; ch++)
        {
            double dt = Math.Exp(logDt[ch]), dDt = 0;
            for (int k = 0; k < n; k++)
            {
                int i = ch * n + k;
                double a = -Math.Exp(logNegA[i]), bb = b[i];
                double gA = dAbar[i], gB = dBbar[i];
                double abDt, abA, bbDt, bbA, bbB;
                if (discretisation == Discretisation.ZeroOrderHold)
                {
                    double ab = Math.Exp(dt * a);
                    abDt = a * ab; abA = dt * ab;
                    bbDt = ab * bb; bbA = bb * (dt * ab * a - (ab - 1)) / (a * a); bbB = (ab - 1) / a;
                }
                else
                {
                    double den = 1 - dt * a / 2, den2 = den * den;
                    abDt = a / den2; abA = dt / den2;
                    bbDt = bb / den2; bbA = dt * dt * bb / (2 * den2); bbB = dt / den;
                }
                dDt += gA * abDt + gB * bbDt;
                // A = −e^{log_neg_a}: ∂A/∂log_neg_a = A.
                dLogNegA[i] += (float)((gA * abA + gB * bbA) * a);
                dB[i] += (float)(gB * bbB);
            }
            dLogDt[ch] += (float)(dDt * dt);
        }
    }
}

/// <summary>How a continuous-time state-space model becomes a discrete recurrence with step Δ.</summary>
public enum Discretisation
{
    /// <summary>Zero-order hold: Ā = e^{ΔA}, B̄ = (Ā − 1)/A · B.</summary>
    ZeroOrderHold,
    /// <summary>Bilinear (Tustin): Ā = (1 + ΔA/2)/(1 − ΔA/2), B̄ = ΔB/(1 − ΔA/2).</summary>
    Bilinear,
}
