using Gyre.Anomaly;
using Gyre.Tensors;
using Gyre.Tests.Layers;
using Gyre.Tests.Models;
using Gyre.Trajectories;
using Xunit;

namespace Gyre.Tests.Anomaly;

/// <summary>Finite-difference checks of the jobs' losses and the autoencoder (random upstream gradients), and behaviour of the learned scorers.</summary>
public sealed class ModelScorerTests
{
    [Fact]
    public void Gaussian_nll_gradient_matches_finite_differences()
    {
        var rng = new Rng(5);
        int b = 4, c = 3;
        var outp = GradientCheckTests.Random(rng, [b, 2 * c]);
        var y = GradientCheckTests.Random(rng, [b, c]).ReadOnlySpan.ToArray();
        var grad = Tensor.Zeros(b, 2 * c);
        var scratch = new float[b * 2 * c];
        GaussianNll.Loss(outp.ReadOnlySpan, y, c, grad.Span);
        ModelGradientTests.Check("out", outp, grad, () => GaussianNll.Loss(outp.ReadOnlySpan, y, c, scratch), 1e-3f);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Bivariate_nll_gradient_matches_finite_differences(int dims)
    {
        var rng = new Rng(9);
        int n = 5, p = BivariateGaussianNll.Parameters(dims);
        var prms = GradientCheckTests.Random(rng, [n, p]);
        var y = GradientCheckTests.Random(rng, [n, dims]).ReadOnlySpan.ToArray();
        var grad = Tensor.Zeros(n, p);
        var scratch = new float[n * p];
        BivariateGaussianNll.Loss(prms.ReadOnlySpan, y, dims, grad.Span);
        ModelGradientTests.Check("params", prms, grad, () => BivariateGaussianNll.Loss(prms.ReadOnlySpan, y, dims, scratch), 1e-3f);
    }

    [Fact]
    public void Bivariate_nll_equals_the_closed_form_density()
    {
        // μ = 0, σx = e^0.5, σy = 1, ρ = 0.99·tanh(0.3); at (1, −2): −log N₂ by hand.
        float[] prms = [0, 0, 0.5f, 0, 0.3f];
        double sx = Math.Exp(0.5), rho = 0.99 * Math.Tanh(0.3), q = 1 - rho * rho, u = 1 / sx, v = -2;
        double expected = Math.Log(2 * Math.PI * sx * Math.Sqrt(q)) + (u * u + v * v - 2 * rho * u * v) / (2 * q);
        Assert.Equal(expected, BivariateGaussianNll.Loss(prms, [1, -2], 2, new float[5]), 5);
    }

    [Fact]
    public void Autoencoder_gradients_match_finite_differences()
    {
        var rng = new Rng(21);
        int b = 2, w = 4, c = 2, p = 1;
        var ae = new SequenceAutoencoder("gru", c, p, hidden: 3, seed: 4) { Training = true };
        var x = GradientCheckTests.Random(rng, [b, w, c + p]);
        var upstream = GradientCheckTests.Random(rng, [b, w, c]);
        double Loss() => GradientCheckTests.Dot(ae.Forward(x, null), upstream);
        Loss();
        ae.ZeroGrad();
        var dx = ae.Backward(upstream).Clone();
        ModelGradientTests.Check("x", x, dx, Loss);
        foreach (var (name, prm) in ae.NamedParameters()) ModelGradientTests.Check(name, prm.Value, prm.Grad, Loss);
    }

    /// <summary>Hourly daily sine with small deterministic noise; rows [shiftAt, shiftAt + 24) raised by 5.</summary>
    private static SeriesInput Shifted(int rows, int shiftAt)
    {
        var v = new float[rows];
        var times = new DateTime[rows];
        for (int t = 0; t < rows; t++)
        {
            times[t] = new DateTime(2021, 1, 1).AddHours(t);
            v[t] = (float)(3 * Math.Sin(2 * Math.PI * t / 24) + 0.1 * Math.Sin(t * 12.9898) + (t >= shiftAt && t < shiftAt + 24 ? 5 : 0));
        }
        return new SeriesInput(v, 1, SeriesInput.DailyPhase(times), 2);
    }

    [Theory]
    [InlineData("forecast")]
    [InlineData("reconstruction")]
    public void Learned_scorers_flag_a_level_shift_and_repeat_bit_for_bit(string method)
    {
        var series = Shifted(480, 400);
        var settings = new ScorerSettings(Window: 12, Seed: 3, Hidden: 8, Epochs: 8);
        var o = new DetectionOptions();
        var a = AnomalyDetection.Run(AnomalyScorers.Create(method, settings), series, 240, o);
        Assert.Contains(a.Events, e => e.Start >= 400 && e.Start < 424);
        var b = AnomalyDetection.Run(AnomalyScorers.Create(method, settings), series, 240, o);
        Assert.Equal(a.Combined, b.Combined);
        Assert.Equal(a.Threshold, b.Threshold);
    }

    /// <summary>
    /// Series of different lengths scored together — one shorter than the warm-up, and enough windows that inference
    /// batches hold windows of several series — equal each series scored alone, and a bidirectional GMU encoder
    /// batches its windows as independently as a plain one.
    /// </summary>
    [Theory]
    [InlineData("forecast", false)]
    [InlineData("reconstruction", false)]
    [InlineData("forecast", true)]
    [InlineData("reconstruction", true)]
    public void Scoring_many_series_together_equals_scoring_each_alone(string method, bool stacked)
    {
        var whole = Shifted(900, 400);
        var settings = new ScorerSettings(Window: 12, Seed: 3, Hidden: 8, Epochs: 1)
            { Layers = stacked ? 2 : null, Gmu = stacked ? 1 : 0, Bidirectional = stacked && method == "forecast" };
        var scorer = AnomalyScorers.Create(method, settings);
        scorer.Fit(whole, 240);
        SeriesInput Rows(int from, int count) =>
            new(whole.Values[from..(from + count)], 1, whole.Covariates![(2 * from)..(2 * (from + count))], 2);
        SeriesInput[] series = [Rows(0, 300), Rows(17, 5), Rows(350, 90), Rows(5, 13), Rows(390, 280), Rows(100, 200)];
        var many = scorer.ScoreMany(series);
        Assert.Equal(series.Length, many.Length);
        int compared = 0;
        for (int i = 0; i < series.Length; i++)
        {
            var alone = scorer.Score(series[i]);
            Assert.Equal(alone.Length, many[i].Length);
            for (int t = 0; t < alone.Length; t++)
            {
                Assert.True(Math.Abs(alone[t] - many[i][t]) <= 1e-5 * Math.Max(1, Math.Abs(alone[t])), $"{method} series {i} row {t}: together {many[i][t]:R}, alone {alone[t]:R}");
                if (alone[t] != 0) compared++;
            }
        }
        Assert.True(compared > 300, $"{compared} non-zero scores compared");
    }
}
