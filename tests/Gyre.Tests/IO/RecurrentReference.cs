using Gyre.IO;
using Gyre.Tensors;

namespace Gyre.Tests.IO;

/// <summary>
/// Slow, obviously correct recurrent stack over a PyTorch-layout state dict (double accumulation), the
/// oracle for ONNX variants the libtorch fixtures do not cover (reset-before GRU, reverse-only stacks).
/// Letters: B batch, T steps, I input, H hidden, D directions.
/// </summary>
internal static class RecurrentReference
{
    /// <summary>x [B, T, I] batch-first; h0 (c0) [L·D, B, H] or null for zeros. Returns y [B, T, D·H], h_n, c_n.</summary>
    public static (Tensor Y, Tensor Hn, Tensor Cn) Forward(RecurrentSpec spec, IReadOnlyDictionary<string, Tensor> p, Tensor x, Tensor? h0, Tensor? c0)
    {
        int B = x.Dim(0), T = x.Dim(1), H = spec.HiddenSize, D = spec.Directions, L = spec.NumLayers;
        var hn = Tensor.Zeros(L * D, B, H);
        var cn = Tensor.Zeros(L * D, B, H);
        Tensor input = x;
        for (int k = 0; k < L; k++)
        {
            int I = spec.LayerInputSize(k);
            var y = Tensor.Zeros(B, T, D * H);
            for (int d = 0; d < D; d++)
            {
                string s = RecurrentSpec.Suffix(d);
                bool backwards = d == 1 || spec.Reverse;
                var wih = p[$"weight_ih_l{k}{s}"];
                var whh = p[$"weight_hh_l{k}{s}"];
                Tensor? bih = spec.Bias ? p[$"bias_ih_l{k}{s}"] : null;
                Tensor? bhh = spec.Bias ? p[$"bias_hh_l{k}{s}"] : null;
                int sd = k * D + d;
                for (int b = 0; b < B; b++)
                {
                    var h = new double[H];
                    var c = new double[H];
                    for (int j = 0; j < H; j++)
                    {
                        h[j] = h0 is null ? 0 : h0[sd, b, j];
                        c[j] = c0 is null ? 0 : c0[sd, b, j];
                    }
                    for (int step = 0; step < T; step++)
                    {
                        int t = backwards ? T - 1 - step : step;
                        var xi = new double[I];
                        for (int i = 0; i < I; i++) xi[i] = input[b, t, i];
                        if (spec.Kind == RecurrentKind.Gru) h = GruStep(spec.ResetBefore, wih, whh, bih, bhh, xi, h, H);
                        else (h, c) = LstmStep(wih, whh, bih, bhh, xi, h, c, H);
                        for (int j = 0; j < H; j++) y[b, t, d * H + j] = (float)h[j];
                    }
                    for (int j = 0; j < H; j++)
                    {
                        hn[sd, b, j] = (float)h[j];
                        cn[sd, b, j] = (float)c[j];
                    }
                }
            }
            input = y;
        }
        return (input, hn, cn);
    }

    private static double Dot(Tensor w, int row, double[] v)
    {
        double s = 0;
        for (int i = 0; i < v.Length; i++) s += w[row, i] * v[i];
        return s;
    }

    private static double Sig(double v) => 1 / (1 + Math.Exp(-v));

    // PyTorch order r, z, n.
    private static double[] GruStep(bool resetBefore, Tensor wih, Tensor whh, Tensor? bih, Tensor? bhh, double[] x, double[] h, int H)
    {
        double Bi(int row) => bih is null ? 0 : bih[row];
        double Bh(int row) => bhh is null ? 0 : bhh[row];
        var r = new double[H];
        var z = new double[H];
        for (int j = 0; j < H; j++)
        {
            r[j] = Sig(Dot(wih, j, x) + Bi(j) + Dot(whh, j, h) + Bh(j));
            z[j] = Sig(Dot(wih, H + j, x) + Bi(H + j) + Dot(whh, H + j, h) + Bh(H + j));
        }
        var rh = new double[H];
        for (int j = 0; j < H; j++) rh[j] = r[j] * h[j];
        var next = new double[H];
        for (int j = 0; j < H; j++)
        {
            double hidden = resetBefore
                ? Dot(whh, 2 * H + j, rh) + Bh(2 * H + j)
                : r[j] * (Dot(whh, 2 * H + j, h) + Bh(2 * H + j));
            double n = Math.Tanh(Dot(wih, 2 * H + j, x) + Bi(2 * H + j) + hidden);
            next[j] = (1 - z[j]) * n + z[j] * h[j];
        }
        return next;
    }

    // PyTorch order i, f, g, o.
    private static (double[] H, double[] C) LstmStep(Tensor wih, Tensor whh, Tensor? bih, Tensor? bhh, double[] x, double[] h, double[] c, int H)
    {
        double Pre(int row) => Dot(wih, row, x) + Dot(whh, row, h) + (bih is null ? 0 : bih[row]) + (bhh is null ? 0 : bhh[row]);
        var hn = new double[H];
        var cn = new double[H];
        for (int j = 0; j < H; j++)
        {
            double i = Sig(Pre(j)), f = Sig(Pre(H + j)), g = Math.Tanh(Pre(2 * H + j)), o = Sig(Pre(3 * H + j));
            cn[j] = f * c[j] + i * g;
            hn[j] = o * Math.Tanh(cn[j]);
        }
        return (hn, cn);
    }

    /// <summary>A seeded random PyTorch-layout state dict for <paramref name="spec"/>, values in [−0.5, 0.5).</summary>
    public static Dictionary<string, Tensor> RandomStateDict(RecurrentSpec spec, int seed)
    {
        var rng = new Random(seed);
        var dict = new Dictionary<string, Tensor>();
        foreach (var (name, shape) in spec.Parameters())
        {
            var t = Tensor.Zeros(shape);
            for (int i = 0; i < t.Length; i++) t.Span[i] = (float)(rng.NextDouble() - 0.5);
            dict[name] = t;
        }
        return dict;
    }

    public static Tensor Random(int seed, params int[] shape)
    {
        var rng = new Random(seed);
        var t = Tensor.Zeros(shape);
        for (int i = 0; i < t.Length; i++) t.Span[i] = (float)(rng.NextDouble() * 2 - 1);
        return t;
    }
}
