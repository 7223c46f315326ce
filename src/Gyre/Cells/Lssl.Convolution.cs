using Gyre.Kernels;

namespace Gyre.Cells;

/// <summary>
/// The convolutional mode of <see cref="LsslCell"/> (Gu et al. 2021, LSSL §3): from a zero state the recurrence
/// s_t = Ā⊙s_{t−1} + B̄·u_t, y_t = Σ_n C⊙s_t + D·u_t unrolls to a causal convolution per channel j with the kernel
/// <code>
/// K_τ[j] = Σ_n C[j, n]·Ā[j, n]^τ·B̄[j, n]        (τ = 0 … T−1; Ā, B̄ from <see cref="StateSpaceDiscretisation"/>)
/// y_t[j] = Σ_{τ≤t} K_τ[j]·u_{t−τ}[j] + D[j]·u_t[j]   (u = x·W_ihᵀ + b_ih, the cell's gx)
/// </code>
/// Letters: T steps, B batch, I inputs, H hidden, N state size. One direction over [T, B, ·] inputs, zero initial
/// state, y only (no final state). The sum is direct, O(T²·B·H): the kernel is computed in double from powers of the
/// rounded Ā, B̄ the cell uses. Backward: ∂u_s = D·∂y_s + Σ_{t≥s} K_{t−s}·∂y_t, ∂K_τ = Σ_{b,t} ∂y_t·u_{t−τ},
/// ∂C = Σ_τ ∂K_τ·Ā^τ·B̄, ∂B̄ = Σ_τ ∂K_τ·C·Ā^τ, ∂Ā = Σ_τ ∂K_τ·C·τ·Ā^{τ−1}·B̄, then the discretisation's chain rule.
/// The runner does not use this mode (it keeps every step's state for the contract's backward, and the direct sum
/// costs T/2 times the loop's work); it is the reference the recurrent form is held to, and the form that an FFT
/// (O(T log T)) would speed up for long sequences. Runs on the calling thread in a fixed order: same inputs, same bits.
/// </summary>
public static class LsslConvolution
{
    /// <summary>K [T, H, 1]: K_τ[j] = Σ_n C[j, n]·Ā[j, n]^τ·B̄[j, n].</summary>
    public static void Kernel(Span<double> kernel, ReadOnlySpan<float> aBar, ReadOnlySpan<float> bBar, ReadOnlySpan<float> c, int steps, int hidden, int stateSize)
    {
        int h = hidden, n = stateSize;
        kernel[..(steps * h)].Clear();
        for (int j = 0; j < h; j++)
            for (int k = 0; k < n; k++)
            {
                int i = j * n + k;
                double power = 1; // Ā^τ
                for (int tau = 0; tau < steps; tau++, power *= aBar[i]) kernel[tau * h + j] += (double)c[i] * power * bBar[i];
            }
    }

    /// <summary>y [T, B, H] from x [T, B, I], weight_ih [H, I], bias_ih [H] (empty: none) and the cell's log_dt [H],
    /// log_neg_a, b, c [H, N] and d [H], from a zero state.</summary>
    public static void Forward(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> weightIh, ReadOnlySpan<float> biasIh,
        ReadOnlySpan<float> logDt, ReadOnlySpan<float> logNegA, ReadOnlySpan<float> b, ReadOnlySpan<float> c, ReadOnlySpan<float> d,
        int steps, int batch, int input, int hidden, int stateSize, Discretisation discretisation)
    {
        var (u, kernel, _, _) = Prepare(x, weightIh, biasIh, logDt, logNegA, b, c, d, steps, batch, input, hidden, stateSize, discretisation);
        if (y.Length < steps * batch * hidden) throw new ArgumentException($"y needs {steps * batch * hidden} floats, got {y.Length}");
        int h = hidden;
        for (int t = 0; t < steps; t++)
            for (int r = 0; r < batch; r++)
                for (int j = 0; j < h; j++)
                {
                    double acc = (double)d[j] * u[(t * batch + r) * h + j];
                    for (int tau = 0; tau <= t; tau++) acc += kernel[tau * h + j] * u[((t - tau) * batch + r) * h + j];
                    y[(t * batch + r) * h + j] = (float)acc;
                }
    }

    /// <summary>Backward of <see cref="Forward"/> for ∂L/∂y [T, B, H]: writes ∂L/∂x [T, B, I]; accumulates (+=)
    /// ∂L/∂weight_ih, ∂L/∂bias_ih (empty: skipped), ∂L/∂log_dt, ∂L/∂log_neg_a, ∂L/∂b, ∂L/∂c, ∂L/∂d.</summary>
    public static void Backward(Span<float> dx, Span<float> dWeightIh, Span<float> dBiasIh, Span<float> dLogDt, Span<float> dLogNegA,
        Span<float> dB, Span<float> dC, Span<float> dD, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> weightIh,
        ReadOnlySpan<float> biasIh, ReadOnlySpan<float> logDt, ReadOnlySpan<float> logNegA, ReadOnlySpan<float> b, ReadOnlySpan<float> c,
        ReadOnlySpan<float> d, int steps, int batch, int input, int hidden, int stateSize, Discretisation discretisation)
    {
        var (u, kernel, aBar, bBar) = Prepare(x, weightIh, biasIh, logDt, logNegA, b, c, d, steps, batch, input, hidden, stateSize, discretisation);
        int h = hidden, n = stateSize, rows = steps * batch;
        if (dy.Length < rows * h || dx.Length < rows * input || dWeightIh.Length < h * input || (dBiasIh.Length != 0 && dBiasIh.Length < h)
            || dLogDt.Length < h || dLogNegA.Length < h * n || dB.Length < h * n || dC.Length < h * n || dD.Length < h)
            throw new ArgumentException("a gradient span is shorter than its shape");
        var du = new float[rows * h];          // [T, B, H]
        var dKernel = new double[steps * h];   // [T, H]
        var dDd = new double[h];               // [H]
        for (int s = 0; s < steps; s++)
            for (int r = 0; r < batch; r++)
                for (int j = 0; j < h; j++)
                {
                    int at = (s * batch + r) * h + j;
                    double g = (double)d[j] * dy[at];
                    dDd[j] += (double)dy[at] * u[at];
                    for (int t = s; t < steps; t++)
                    {
                        float dyt = dy[(t * batch + r) * h + j];
                        g += kernel[(t - s) * h + j] * dyt;
                        dKernel[(t - s) * h + j] += (double)dyt * u[at];
                    }
                    du[at] = (float)g;
                }
        for (int j = 0; j < h; j++) dD[j] += (float)dDd[j];
        var dAbar = new double[h * n]; var dBbar = new double[h * n]; // [H, N]
        for (int j = 0; j < h; j++)
            for (int k = 0; k < n; k++)
            {
                int i = j * n + k;
                double power = 1, lower = 0, gc = 0, ga = 0, gb = 0; // Ā^τ and τ·Ā^{τ−1}
                for (int tau = 0; tau < steps; tau++)
                {
                    double gk = dKernel[tau * h + j];
                    gc += gk * power * bBar[i];
                    gb += gk * c[i] * power;
                    ga += gk * c[i] * lower * bBar[i];
                    lower = lower * aBar[i] + power;
                    power *= aBar[i];
                }
                dC[i] += (float)gc;
                dAbar[i] = ga; dBbar[i] = gb;
            }
        StateSpaceDiscretisation.Chain(dAbar, dBbar, logDt, logNegA, b, dLogDt, dLogNegA, dB, h, n, discretisation);
        Gemm.Multiply(false, false, rows, input, h, du, h, weightIh, input, dx, input, false);
        Gemm.Multiply(true, false, h, input, rows, du, h, x, input, dWeightIh, input, true);
        if (dBiasIh.Length != 0)
            ColumnSums.Accumulate(dBiasIh[..h], du, h, rows);
    }

    private static (float[] U, double[] Kernel, float[] ABar, float[] BBar) Prepare(ReadOnlySpan<float> x, ReadOnlySpan<float> weightIh,
        ReadOnlySpan<float> biasIh, ReadOnlySpan<float> logDt, ReadOnlySpan<float> logNegA, ReadOnlySpan<float> b, ReadOnlySpan<float> c,
        ReadOnlySpan<float> d, int steps, int batch, int input, int hidden, int stateSize, Discretisation discretisation)
    {
        if (steps < 1 || batch < 1 || input < 1 || hidden < 1 || stateSize < 1)
            throw new ArgumentOutOfRangeException(nameof(steps), $"T {steps}, B {batch}, I {input}, H {hidden} and N {stateSize} must be positive");
        int h = hidden, n = stateSize, rows = steps * batch;
        if (x.Length < rows * input || weightIh.Length < h * input || (biasIh.Length != 0 && biasIh.Length < h) || logDt.Length < h
            || logNegA.Length < h * n || b.Length < h * n || c.Length < h * n || d.Length < h)
            throw new ArgumentException($"x [{steps}, {batch}, {input}], weight_ih [{h}, {input}], bias_ih, log_dt, d [{h}] or log_neg_a, b, c [{h}, {n}] is too short");
        var u = new float[rows * h]; // [T, B, H]
        if (biasIh.Length != 0) Gemm.Multiply(false, true, rows, h, input, x, input, weightIh, input, u, h, biasIh[..h]);
        else Gemm.Multiply(false, true, rows, h, input, x, input, weightIh, input, u, h, false);
        var aBar = new float[h * n]; var bBar = new float[h * n]; // [H, N]
        StateSpaceDiscretisation.Discretise(logDt, logNegA, b, aBar, bBar, h, n, discretisation);
        var kernel = new double[steps * h]; // [T, H]
        Kernel(kernel, aBar, bBar, c, steps, h, n);
        return (u, kernel, aBar, bBar);
    }
}
