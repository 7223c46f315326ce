using Gyre.IO;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.IO;

public class KerasWeightsTests
{
    // Inverse mapping, written out gate by gate (not with the library's permutation tables).
    // PyTorch GRU rows r | z | n; Keras GRU columns z | r | h.
    private static (Tensor Kernel, Tensor Recurrent, Tensor Bias) ToKerasGru(Tensor wih, Tensor whh, Tensor? bih, Tensor? bhh, bool resetAfter)
    {
        int U = whh.Dim(1);
        Tensor Cols(Tensor w)
        {
            int n = w.Dim(1);
            var k = Tensor.Zeros(n, 3 * U);
            for (int i = 0; i < n; i++)
                for (int u = 0; u < U; u++)
                {
                    k[i, u] = w[U + u, i];          // z
                    k[i, U + u] = w[u, i];          // r
                    k[i, 2 * U + u] = w[2 * U + u, i]; // h / n
                }
            return k;
        }
        Tensor Vec(Tensor? b)
        {
            var v = Tensor.Zeros(3 * U);
            if (b is null) return v;
            for (int u = 0; u < U; u++)
            {
                v[u] = b[U + u];
                v[U + u] = b[u];
                v[2 * U + u] = b[2 * U + u];
            }
            return v;
        }
        Tensor bias;
        if (resetAfter)
        {
            bias = Tensor.Zeros(2, 3 * U);
            Vec(bih).ReadOnlySpan.CopyTo(bias.Row(0).Span);
            Vec(bhh).ReadOnlySpan.CopyTo(bias.Row(1).Span);
        }
        else bias = Vec(bih);
        return (Cols(wih), Cols(whh), bias);
    }

    // PyTorch LSTM rows i | f | g | o; Keras columns i | f | c | o, one bias.
    private static (Tensor Kernel, Tensor Recurrent, Tensor Bias) ToKerasLstm(Tensor wih, Tensor whh, Tensor bih, Tensor bhh)
    {
        int U = whh.Dim(1);
        Tensor T(Tensor w)
        {
            var k = Tensor.Zeros(w.Dim(1), 4 * U);
            for (int r = 0; r < 4 * U; r++)
                for (int i = 0; i < w.Dim(1); i++) k[i, r] = w[r, i];
            return k;
        }
        var b = Tensor.Zeros(4 * U);
        for (int r = 0; r < 4 * U; r++) b[r] = bih[r] + bhh[r];
        return (T(wih), T(whh), b);
    }

    private static Dictionary<string, Tensor> KerasStack(OnnxTests.Fixture f, Func<int, int, string> prefix)
    {
        var keras = new Dictionary<string, Tensor>();
        for (int k = 0; k < f.Spec.NumLayers; k++)
            for (int d = 0; d < f.Spec.Directions; d++)
            {
                string s = RecurrentSpec.Suffix(d);
                var p = f.Params;
                var (kernel, rk, bias) = f.Spec.Kind == RecurrentKind.Gru
                    ? ToKerasGru(p[$"weight_ih_l{k}{s}"], p[$"weight_hh_l{k}{s}"], p[$"bias_ih_l{k}{s}"], p[$"bias_hh_l{k}{s}"], resetAfter: true)
                    : ToKerasLstm(p[$"weight_ih_l{k}{s}"], p[$"weight_hh_l{k}{s}"], p[$"bias_ih_l{k}{s}"], p[$"bias_hh_l{k}{s}"]);
                string pre = prefix(k, d);
                keras[$"{pre}/kernel:0"] = kernel;
                keras[$"{pre}/recurrent_kernel:0"] = rk;
                keras[$"{pre}/bias:0"] = bias;
            }
        return keras;
    }

    private static void AssertIdentical(Tensor e, Tensor a, string name)
    {
        Assert.True(e.SameShape(a), $"{name}: shape {a} != {e}");
        Assert.True(e.ReadOnlySpan.SequenceEqual(a.ReadOnlySpan), $"{name}: values differ");
    }

    [Theory]
    [InlineData("gru_i4_h6_l2_bi_b2_t9_s3.safetensors")]
    [InlineData("gru_i3_h16_l3_b4_t20_s7.safetensors")]
    public void Gru_ResetAfter_FromFixture_IsExact(string file)
    {
        var f = OnnxTests.LoadFixture(file);
        var keras = KerasStack(f, (k, d) => f.Spec.Bidirectional
            ? $"bidirectional{(k == 0 ? "" : "_" + k)}/{(d == 0 ? "forward_gru" : "backward_gru")}/gru_cell"
            : $"sequential/gru{(k == 0 ? "" : "_" + k)}/gru_cell");
        keras["dense/kernel:0"] = Tensor.Zeros(f.Spec.Directions * f.Spec.HiddenSize, 1);
        keras["dense/bias:0"] = Tensor.Zeros(1);
        var c = KerasWeights.Convert(keras, file);
        Assert.Equal(f.Spec, c.Spec);
        Assert.Equal(["dense/bias:0", "dense/kernel:0"], c.Ignored);
        Assert.Equal(f.Params.Count, c.StateDict.Count);
        foreach (var (name, t) in f.Params) AssertIdentical(t, c.StateDict[name], name);
    }

    [Theory]
    [InlineData("lstm_i5_h7_l1_b3_t11_s2.safetensors")]
    [InlineData("lstm_i4_h6_l2_bi_b2_t9_s4.safetensors")]
    public void Lstm_FromFixture_ReproducesLibtorchOutputs(string file)
    {
        var f = OnnxTests.LoadFixture(file);
        var keras = KerasStack(f, (k, d) => f.Spec.Bidirectional
            ? $"model/bidirectional{(k == 0 ? "" : "_" + k)}/{(d == 0 ? "forward_lstm" : "backward_lstm")}/lstm_cell"
            : $"lstm{(k == 0 ? "" : "_" + k)}/lstm_cell");
        var c = KerasWeights.Convert(keras, file);
        Assert.Equal(f.Spec, c.Spec);
        Assert.Empty(c.Ignored);
        foreach (var name in f.Params.Keys.Where(n => n.StartsWith("weight_"))) AssertIdentical(f.Params[name], c.StateDict[name], name);
        Assert.All(c.StateDict.Where(kv => kv.Key.StartsWith("bias_hh")), kv => Assert.All(kv.Value.ReadOnlySpan.ToArray(), v => Assert.Equal(0f, v)));
        var (y, hn, cn) = RecurrentReference.Forward(c.Spec, c.StateDict, f.All["x"], f.All["h0"], f.All["c0"]);
        OnnxTests.AssertClose(f.All["y"], y, OnnxTests.Tol, "y");
        OnnxTests.AssertClose(f.All["h_n"], hn, OnnxTests.Tol, "h_n");
        OnnxTests.AssertClose(f.All["c_n"], cn, OnnxTests.Tol, "c_n");
    }

    [Theory]
    [InlineData("layers/gru/cell/vars/{0}")]
    [InlineData("layer.{0}")]
    [InlineData("rnn/gru_cell/{0}")]
    public void NamePatterns_Accepted(string pattern)
    {
        var f = OnnxTests.LoadFixture("gru_i5_h7_l1_b3_t11_s1.safetensors");
        var p = f.Params;
        var (kernel, rk, bias) = ToKerasGru(p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"], true);
        bool vars = pattern.Contains("vars");
        var keras = new Dictionary<string, Tensor>
        {
            [string.Format(pattern, vars ? "0" : "kernel")] = kernel,
            [string.Format(pattern, vars ? "1" : "recurrent_kernel")] = rk,
            [string.Format(pattern, vars ? "2" : "bias")] = bias,
        };
        var c = KerasWeights.Convert(keras, "names");
        Assert.Equal(f.Spec, c.Spec);
        foreach (var (name, t) in p) AssertIdentical(t, c.StateDict[name], name);
    }

    // Keras' own cell equations on Keras-layout weights, independent of the PyTorch mapping.
    internal static float[] KerasRun(string cell, Tensor kernel, Tensor rk, Tensor? bias, Tensor x)
    {
        int B = x.Dim(0), T = x.Dim(1), I = x.Dim(2), U = rk.Dim(0);
        var outH = new float[B * U];
        static double Sig(double v) => 1 / (1 + Math.Exp(-v));
        for (int b = 0; b < B; b++)
        {
            var h = new double[U];
            var c = new double[U];
            for (int t = 0; t < T; t++)
            {
                int G = cell == "lstm" ? 4 : 3;
                var xk = new double[G * U]; // x · kernel (+ input bias)
                var hk = new double[G * U]; // h · recurrent_kernel (+ recurrent bias)
                for (int col = 0; col < G * U; col++)
                {
                    for (int i = 0; i < I; i++) xk[col] += x[b, t, i] * kernel[i, col];
                    for (int j = 0; j < U; j++) hk[col] += h[j] * rk[j, col];
                    if (bias is null) continue;
                    if (bias.Rank == 2) { xk[col] += bias[0, col]; hk[col] += bias[1, col]; }
                    else xk[col] += bias[col];
                }
                var next = new double[U];
                for (int u = 0; u < U; u++)
                {
                    if (cell == "lstm")
                    {
                        double i = Sig(xk[u] + hk[u]), fg = Sig(xk[U + u] + hk[U + u]);
                        double cc = Math.Tanh(xk[2 * U + u] + hk[2 * U + u]), o = Sig(xk[3 * U + u] + hk[3 * U + u]);
                        c[u] = fg * c[u] + i * cc;
                        next[u] = o * Math.Tanh(c[u]);
                        continue;
                    }
                    double z = Sig(xk[u] + hk[u]), r = Sig(xk[U + u] + hk[U + u]);
                    double hh;
                    if (cell == "gru_after") hh = Math.Tanh(xk[2 * U + u] + r * hk[2 * U + u]);
                    else
                    {
                        double rec = 0; // (r ⊙ h) · recurrent_kernel_h
                        for (int j = 0; j < U; j++) rec += Sig(xk[U + j] + hk[U + j]) * h[j] * rk[j, 2 * U + u];
                        hh = Math.Tanh(xk[2 * U + u] + rec);
                    }
                    next[u] = z * h[u] + (1 - z) * hh;
                }
                h = next;
            }
            for (int u = 0; u < U; u++) outH[b * U + u] = (float)h[u];
        }
        return outH;
    }

    [Theory]
    [InlineData("gru_after")]
    [InlineData("gru_before")]
    [InlineData("lstm")]
    public void Conversion_ReproducesKerasEquations(string cell)
    {
        int I = 3, U = 4, G = cell == "lstm" ? 4 : 3, B = 2, T = 5;
        var kernel = RecurrentReference.Random(1, I, G * U);
        var rk = RecurrentReference.Random(2, U, G * U);
        var bias = cell == "gru_after" ? RecurrentReference.Random(3, 2, G * U) : RecurrentReference.Random(3, G * U);
        var x = RecurrentReference.Random(4, B, T, I);
        var c = KerasWeights.Convert(new Dictionary<string, Tensor>
        {
            ["gru/kernel"] = kernel, ["gru/recurrent_kernel"] = rk, ["gru/bias"] = bias,
        }, "mem");
        Assert.Equal(cell == "gru_before", c.Spec.ResetBefore);
        Assert.Equal(cell == "lstm" ? RecurrentKind.Lstm : RecurrentKind.Gru, c.Spec.Kind);
        var (_, hn, _) = RecurrentReference.Forward(c.Spec, c.StateDict, x, null, null);
        OnnxTests.AssertClose(Tensor.FromSpan(KerasRun(cell, kernel, rk, bias, x), 1, B, U), hn, 1e-5f, cell);
    }

    [Fact]
    public void Layers_StackInNaturalOrder()
    {
        // Input sizes differ per position, so a lexical order (gru_10 before gru_2) would not stack.
        var keras = new Dictionary<string, Tensor>();
        void Add(string pre, int i, int seed)
        {
            keras[$"{pre}/kernel"] = RecurrentReference.Random(seed, i, 12);
            keras[$"{pre}/recurrent_kernel"] = RecurrentReference.Random(seed + 1, 4, 12);
        }
        Add("gru_10", 4, 10);
        Add("gru", 7, 20);
        Add("gru_2", 4, 30);
        var c = KerasWeights.Convert(keras, "order");
        Assert.Equal(new RecurrentSpec(RecurrentKind.Gru, 7, 4, 3, Bias: false), c.Spec);
        Assert.Equal(7, c.StateDict["weight_ih_l0"].Dim(1));
        Assert.Equal(keras["gru_10/kernel"][1, 0], c.StateDict["weight_ih_l2"][4, 1]); // z block (Keras cols 0..3) -> rows 4..7
    }

    [Fact]
    public void BadInput_OneLineMessagesNamingTheTensor()
    {
        var ok = new Dictionary<string, Tensor>
        {
            ["gru/kernel"] = Tensor.Zeros(3, 12), ["gru/recurrent_kernel"] = Tensor.Zeros(4, 12), ["gru/bias"] = Tensor.Zeros(2, 12),
        };
        void Fails(Dictionary<string, Tensor> w, string expected)
        {
            var ex = Assert.Throws<InvalidDataException>(() => KerasWeights.Convert(w, "keras.safetensors"));
            Assert.Contains("keras.safetensors", ex.Message);
            Assert.Contains(expected, ex.Message);
            Assert.DoesNotContain('\n', ex.Message);
        }
        Fails(new(ok) { ["gru/kernel"] = Tensor.Zeros(3, 11) }, "kernel has shape [3, 11]");
        Fails(new(ok) { ["gru/bias"] = Tensor.Zeros(11) }, "bias has shape [11]");
        var noKernel = new Dictionary<string, Tensor>(ok);
        noKernel.Remove("gru/kernel");
        Fails(noKernel, "gru/recurrent_kernel");
        Fails(new() { ["dense/kernel"] = Tensor.Zeros(3, 2) }, "no Keras GRU/LSTM weights");
        Fails(new(ok) { ["gru_1/kernel"] = Tensor.Zeros(4, 15), ["gru_1/recurrent_kernel"] = Tensor.Zeros(5, 15), ["gru_1/bias"] = Tensor.Zeros(2, 15) }, "layer 'gru_1'");
        Fails(new(ok) { ["gru/kernel:0"] = Tensor.Zeros(3, 12) }, "both the kernel");
    }
}
