using Gyre.Tensors;
using Gyre.Training;
using Xunit;

namespace Gyre.Tests.Training;

/// <summary>The distribution losses: NLL gradients against finite differences, densities, sampling moments.</summary>
public class DistributionsTests
{
    /// <summary>
    /// ∂(mean NLL)/∂(raw outputs) against central differences in double, over random raw outputs, random targets
    /// (counts for negbinomial), and a random mask, for every parameter of every distribution.
    /// </summary>
    [Theory]
    [InlineData(LossKind.Gaussian)]
    [InlineData(LossKind.StudentT)]
    [InlineData(LossKind.NegBinomial)]
    public void NllGradientsMatchFiniteDifferences(LossKind kind)
    {
        var rng = new Rng(17);
        int n = 12, p = Distributions.ParameterCount(kind);
        var u = new float[n * p];
        rng.Uniform(u, -2f, 2f);
        var t = new float[n];
        for (int i = 0; i < n; i++) t[i] = kind == LossKind.NegBinomial ? rng.NextInt(9) : 3f * rng.NextGaussian();
        var mask = new float[n];
        for (int i = 0; i < n; i++) mask[i] = i % 5 == 3 ? 0f : 1f;
        var grad = new float[n * p];
        Distributions.NllRaw(kind, u, t, mask, grad);
        var scratch = new float[n * p];
        for (int i = 0; i < u.Length; i++)
        {
            float keep = u[i];
            const float h = 1e-3f;
            u[i] = keep + h; double a = Distributions.NllRaw(kind, u, t, mask, scratch);
            u[i] = keep - h; double b = Distributions.NllRaw(kind, u, t, mask, scratch);
            u[i] = keep;
            double numeric = (a - b) / (2 * h);
            Assert.True(Math.Abs(numeric - grad[i]) <= 1e-3 + 1e-2 * Math.Abs(numeric), $"{kind} u[{i}]: {grad[i]} vs {numeric}");
            if (mask[i / p] == 0f) Assert.Equal(0f, grad[i]);
        }
    }

    /// <summary>∂NLL/∂θ in the natural parameters (where ν and α enter through ψ) against central differences in double.</summary>
    [Theory]
    [InlineData(LossKind.Gaussian, new[] { 0.3, 1.7 }, -1.2)]
    [InlineData(LossKind.StudentT, new[] { -0.4, 0.8, 3.5 }, 2.1)]
    [InlineData(LossKind.NegBinomial, new[] { 4.2, 0.35 }, 7.0)]
    public void NaturalParameterGradientsMatchFiniteDifferences(LossKind kind, double[] theta, double y)
    {
        var d = new double[3];
        Distributions.Nll(kind, theta, y, d);
        var ignored = new double[3];
        for (int j = 0; j < theta.Length; j++)
        {
            var plus = (double[])theta.Clone(); plus[j] += 1e-6;
            var minus = (double[])theta.Clone(); minus[j] -= 1e-6;
            double numeric = (Distributions.Nll(kind, plus, y, ignored) - Distributions.Nll(kind, minus, y, ignored)) / 2e-6;
            Assert.Equal(numeric, d[j], 5);
        }
    }

    [Fact]
    public void DensitiesAreTheTextbookOnes()
    {
        var d = new double[3];
        // N(0, 1) at 0: −log(1/√(2π)).
        Assert.Equal(0.5 * Math.Log(2 * Math.PI), Distributions.Nll(LossKind.Gaussian, [0, 1], 0, d), 12);
        // Student t with ν = 1 is Cauchy: p(0) = 1/π (the formula, evaluated at ν = 1 directly).
        Assert.Equal(Math.Log(Math.PI), Distributions.Nll(LossKind.StudentT, [0, 1, 1], 0, d), 10);
        // NB(μ = 2, α → 1, r = 1) is geometric: p(y) = (1/3)(2/3)^y.
        Assert.Equal(-Math.Log(1.0 / 3 * Math.Pow(2.0 / 3, 4)), Distributions.Nll(LossKind.NegBinomial, [2, 1], 4, d), 10);
        Assert.Equal(Math.Log(24), Distributions.LogGamma(5), 12);
        Assert.Equal(-0.5772156649015329, Distributions.Digamma(1), 10);
    }

    /// <summary>The sample mean and variance of 40,000 draws match each distribution's.</summary>
    [Theory]
    [InlineData(LossKind.Gaussian, new[] { 1.5f, 2f }, 1.5, 4.0)]
    [InlineData(LossKind.StudentT, new[] { -1f, 1f, 5f }, -1.0, 5.0 / 3)]
    [InlineData(LossKind.NegBinomial, new[] { 6f, 0.5f }, 6.0, 24.0)]
    [InlineData(LossKind.NegBinomial, new[] { 60f, 0.1f }, 60.0, 420.0)]
    public void SamplesHaveTheDistributionsMoments(LossKind kind, float[] theta, double mean, double variance)
    {
        var rng = new Rng(3);
        const int n = 40_000;
        double s = 0, s2 = 0;
        for (int i = 0; i < n; i++) { double x = Distributions.Sample(kind, theta, rng); s += x; s2 += x * x; }
        double m = s / n, v = s2 / n - m * m;
        Assert.True(Math.Abs(m - mean) < 0.05 * Math.Sqrt(variance) + 0.02, $"mean {m} vs {mean}");
        Assert.True(Math.Abs(v / variance - 1) < 0.08, $"variance {v} vs {variance}");
    }
}
