using Gyre.Cells;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// LSTM with proj_size (PyTorch's nn.LSTM(proj_size = P)): h is P wide, c H wide, weight_hh [4H, P], weight_hr [P, H].
/// Checked against a double-precision loop written from PyTorch's documented equations, a hand-computed case,
/// finite differences on every input, state and parameter, and PyTorch's parameter names and shapes.
/// </summary>
public class LstmProjTests
{
    public static TheoryData<int, int, int, int, bool, int, int, bool, bool> Shapes()
    {
        // I, H, P, layers, bidirectional, B, T, bias, batchFirst
        return new()
        {
            { 1, 2, 1, 1, false, 1, 1, true, true },
            { 3, 5, 2, 1, false, 2, 5, true, false },
            { 5, 7, 3, 1, false, 1, 1, true, true },
            { 2, 3, 2, 2, true, 3, 4, true, true },
            { 3, 5, 4, 2, true, 2, 3, false, false },
        };
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardMatchesFiniteDifferences(int inputSize, int hidden, int proj, int layers, bool bidir, int batch, int steps,
        bool bias, bool batchFirst)
    {
        var rng = new Rng(51);
        var layer = new RecurrentLayer(CellRegistry.FromText($"lstm(proj_size={proj})"), inputSize, hidden, layers, bias, batchFirst, 0f, bidir, seed: 9);
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        SlstmAndHeadsTests.CheckAllStates(layer, rng, batch, steps);
    }

    [Fact]
    public void ParametersHavePyTorchsNamesAndShapes()
    {
        var layer = new RecurrentLayer(CellRegistry.FromText("lstm(proj_size=3)"), 4, 6, 2, bidirectional: true);
        Assert.Equal(3, layer.OutputSize);
        Assert.Equal([3, 6], new[] { layer.StateWidth(0), layer.StateWidth(1) });
        string[] expected =
        [
            "weight_ih_l0[24, 4]", "weight_hh_l0[24, 3]", "bias_ih_l0[24]", "bias_hh_l0[24]", "weight_hr_l0[3, 6]",
            "weight_ih_l0_reverse[24, 4]", "weight_hh_l0_reverse[24, 3]", "bias_ih_l0_reverse[24]", "bias_hh_l0_reverse[24]", "weight_hr_l0_reverse[3, 6]",
            "weight_ih_l1[24, 6]", "weight_hh_l1[24, 3]", "bias_ih_l1[24]", "bias_hh_l1[24]", "weight_hr_l1[3, 6]",
            "weight_ih_l1_reverse[24, 6]", "weight_hh_l1_reverse[24, 3]", "bias_ih_l1_reverse[24]", "bias_hh_l1_reverse[24]", "weight_hr_l1_reverse[3, 6]",
        ];
        Assert.Equal(expected, layer.Parameters().Select(p => $"{p.Name}{Tensor.ShapeString(p.Value.Shape)}"));
        // P = 1 keeps the matrix shape [1, H], as PyTorch.
        Assert.Equal([1, 6], new RecurrentLayer(CellRegistry.FromText("lstm(proj_size=1)"), 4, 6).Parameters().Single(p => p.Name == "weight_hr_l0").Value.Shape.ToArray());
        var o = layer.ForwardStates(Tensor.Zeros(5, 2, 4), null);
        Assert.Equal([5, 2, 6], o.Output.Shape.ToArray());
        Assert.Equal([4, 2, 3], o.Hidden.Shape.ToArray());
        Assert.Equal([4, 2, 6], o.Cell!.Shape.ToArray());
    }

    [Fact]
    public void OptionsAreChecked()
    {
        Assert.Equal("lstm(proj_size=2)", CellRegistry.FromText("lstm(proj_size=2)").ToString());
        Assert.IsType<LstmDefinition>(CellRegistry.FromText("lstm(proj_size=0)"));
        Assert.Equal("cell 'lstm': proj_size 4 must be smaller than the hidden size 4",
            Assert.Throws<ArgumentException>(() => new RecurrentLayer(CellRegistry.FromText("lstm(proj_size=4)"), 2, 4)).Message);
        Assert.Contains("proj_size and heads do not combine", Assert.Throws<ArgumentException>(() => CellRegistry.FromText("lstm(proj_size=2,heads=2)")).Message);
        Assert.Contains("proj_size must be 0 (none) or positive", Assert.Throws<ArgumentException>(() => CellRegistry.FromText("lstm(proj_size=-1)")).Message);
        var layer = new RecurrentLayer(CellRegistry.FromText("lstm(proj_size=2)"), 2, 4);
        Assert.Contains("h0 must be [1, 3, 2]", Assert.Throws<ArgumentException>(() => layer.Forward(Tensor.Zeros(5, 3, 2), Tensor.Zeros(1, 3, 4))).Message);
    }

    /// <summary>
    /// By hand: I = 1, H = 2, P = 1, every weight but W_hr zero, so each gate's pre-activation is its bias: i, f, o at
    /// σ(0) = 1/2 and g = tanh(a) with a = (1, −1). From c0 = 0: c_t = c_{t−1}/2 + tanh(a)/2, h̃_t = tanh(c_t)/2 and
    /// h_t = W_hr h̃_t with W_hr = [1, 2]: c_1 = ±tanh(1)/2, h_1 = −tanh(tanh(1)/2)/2 = −0.181699742…,
    /// c_2 = ±(3/4)·tanh(1), h_2 = −tanh((3/4)·tanh(1))/2 = −0.258118401….
    /// </summary>
    [Theory]
    [InlineData(1, 128, 64)]
    [InlineData(2, 48, 20)]
    [InlineData(5, 33, 7)]
    public unsafe void ProjectionThroughThePackedWeightGivesTheStepsBits(int rows, int hidden, int proj)
    {
        // The runner packs W_hr once per call (ICell.PackedExtraColumns) and the step multiplies through it; without the
        // packed form the step multiplies W_hr as stored. Both must give the same bits, in inference and in training.
        var rng = new Gyre.Tensors.Rng(9);
        int h = hidden, p = proj, g = 4 * h;
        float[] R(int n) { var x = new float[n]; rng.Uniform(x, -1f, 1f); return x; }
        float[] whh = R(g * p), whr = R(p * h), prev = R(2 * rows * h);
        var hiddenToGates = Gyre.Kernels.Gemm.PackB(true, g, p, whh, p);
        var projection = Gyre.Kernels.Gemm.PackB(true, p, h, whr, h);
        foreach (bool training in new[] { false, true })
        {
            float[]? first = null;
            foreach (bool packed in new[] { true, false })
            {
                float[] gx = R(rows * g), next = new float[2 * rows * h], saved = new float[rows * 7 * h], scratch = new float[rows * h];
                var again = new Gyre.Tensors.Rng(17); again.Uniform(gx, -1f, 1f);
                fixed (float* pW = whh) fixed (float* pR = whr) fixed (float* pPrev = prev) fixed (float* pNext = next)
                fixed (float* pGx = gx) fixed (float* pSaved = saved) fixed (float* pScratch = scratch)
                fixed (float* pWT = hiddenToGates.Buffer) fixed (float* pRP = projection.Buffer)
                {
                    var step = new CellStep
                    {
                        Rows = rows, Hidden = h, Prev = pPrev, Next = pNext, StateStride = rows * h, StateLd = h,
                        Gx = pGx, Saved = training ? pSaved : null, Scratch = pScratch,
                        W = new CellWeights
                        {
                            Whh = pW, WhhT = pWT + hiddenToGates.Start, Extra = pR,
                            ExtraPacked = packed ? pRP + projection.Start : null, Params = new CellParams { I0 = p },
                        },
                    };
                    LstmProjCell.Forward(step);
                }
                if (first is null) { first = next; continue; }
                for (int i = 0; i < next.Length; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(first[i]) == BitConverter.SingleToInt32Bits(next[i]),
                        $"training={training} state[{i}]: packed {first[i]:R}, as stored {next[i]:R}");
            }
        }
    }

    [Fact]
    public void HandComputedCase()
    {
        var layer = new RecurrentLayer(CellRegistry.FromText("lstm(proj_size=1)"), 1, 2, batchFirst: true);
        foreach (var p in layer.Parameters()) p.Value.Span.Clear();
        var bias = layer.Parameters().Single(p => p.Name == "bias_ih_l0").Value.Span;   // gate blocks i, f, g, o
        bias[4] = 1f; bias[5] = -1f;
        var whr = layer.Parameters().Single(p => p.Name == "weight_hr_l0").Value.Span;
        whr[0] = 1f; whr[1] = 2f;
        var o = layer.ForwardStates(Tensor.Zeros(1, 2, 1), null);
        Assert.Equal(-0.18169974219452625, o.Output.ReadOnlySpan[0], 6);
        Assert.Equal(-0.258118401869521, o.Output.ReadOnlySpan[1], 6);
        Assert.Equal(0.5711956169668236, o.Cell!.ReadOnlySpan[0], 6);
        Assert.Equal(-0.5711956169668236, o.Cell!.ReadOnlySpan[1], 6);
    }

    /// <summary>A stack of 2 bidirectional layers against a double loop of PyTorch's equations.</summary>
    [Fact]
    public void MatchesADoubleReferenceOfPyTorchsEquations()
    {
        const int I = 3, H = 5, P = 2, L = 2, B = 3, T = 4;
        var layer = new RecurrentLayer(CellRegistry.FromText($"lstm(proj_size={P})"), I, H, L, batchFirst: true, bidirectional: true, seed: 21);
        var rng = new Rng(22);
        var x = GradientCheckTests.Random(rng, [B, T, I]);
        var h0 = GradientCheckTests.Random(rng, [2 * L, B, P]);
        var c0 = GradientCheckTests.Random(rng, [2 * L, B, H]);
        var o = layer.ForwardStates(x, [h0, c0]);
        var w = layer.Parameters().ToDictionary(p => p.Name, p => p.Value.ReadOnlySpan.ToArray());

        var input = new double[B, T, I];
        for (int b = 0; b < B; b++) for (int t = 0; t < T; t++) for (int i = 0; i < I; i++) input[b, t, i] = x.ReadOnlySpan[(b * T + t) * I + i];
        int inSize = I;
        for (int k = 0; k < L; k++)
        {
            var output = new double[B, T, 2 * P];
            for (int d = 0; d < 2; d++)
            {
                string s = $"_l{k}{(d == 1 ? "_reverse" : "")}";
                float[] wih = w["weight_ih" + s], whh = w["weight_hh" + s], bih = w["bias_ih" + s], bhh = w["bias_hh" + s], whr = w["weight_hr" + s];
                int slot = k * 2 + d;
                for (int b = 0; b < B; b++)
                {
                    var h = new double[P]; var c = new double[H];
                    for (int j = 0; j < P; j++) h[j] = h0.ReadOnlySpan[(slot * B + b) * P + j];
                    for (int j = 0; j < H; j++) c[j] = c0.ReadOnlySpan[(slot * B + b) * H + j];
                    for (int step = 0; step < T; step++)
                    {
                        int t = d == 0 ? step : T - 1 - step;
                        var a = new double[4 * H];
                        for (int r = 0; r < 4 * H; r++)
                        {
                            double v = bih[r] + bhh[r];
                            for (int i = 0; i < inSize; i++) v += wih[r * inSize + i] * input[b, t, i];
                            for (int j = 0; j < P; j++) v += whh[r * P + j] * h[j];
                            a[r] = v;
                        }
                        var ht = new double[H];
                        for (int j = 0; j < H; j++)
                        {
                            double ig = Sigmoid(a[j]), fg = Sigmoid(a[H + j]), gg = Math.Tanh(a[2 * H + j]), og = Sigmoid(a[3 * H + j]);
                            c[j] = fg * c[j] + ig * gg;
                            ht[j] = og * Math.Tanh(c[j]);
                        }
                        for (int q = 0; q < P; q++)
                        {
                            double v = 0;
                            for (int j = 0; j < H; j++) v += whr[q * H + j] * ht[j];
                            h[q] = v;
                            output[b, t, d * P + q] = v;
                        }
                    }
                    for (int q = 0; q < P; q++) Close(h[q], o.Hidden.ReadOnlySpan[(slot * B + b) * P + q], $"h_n[{slot}, {b}, {q}]");
                    for (int j = 0; j < H; j++) Close(c[j], o.Cell!.ReadOnlySpan[(slot * B + b) * H + j], $"c_n[{slot}, {b}, {j}]");
                }
            }
            input = output; inSize = 2 * P;
        }
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int q = 0; q < 2 * P; q++) Close(input[b, t, q], o.Output.ReadOnlySpan[(b * T + t) * 2 * P + q], $"y[{b}, {t}, {q}]");
    }

    private static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));

    private static void Close(double expected, float actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-5 + 1e-5 * Math.Abs(expected), $"{what}: {actual:G9} vs {expected:G9}");
}
