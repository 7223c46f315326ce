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

    [Fact]
    public void NormalCdfAndQuantileMatchTablesAndInvertEachOther()
    {
        Assert.Equal(0.5, Distributions.NormalCdf(0), 15);
        Assert.Equal(0.975, Distributions.NormalCdf(1.959963984540054), 13);
        Assert.Equal(0.0013498980316301, Distributions.NormalCdf(-3), 14);
        Assert.True(Math.Abs(Distributions.NormalCdf(-10) / 7.61985302416047e-24 - 1) < 1e-12);
        Assert.Equal(1.959963984540054, Distributions.NormalQuantile(0.975), 12);
        Assert.Equal(-6.361340902404056, Distributions.NormalQuantile(1e-10), 9);
        foreach (double u in new[] { 1e-12, 1e-6, 0.01, 0.02425, 0.1, 0.3, 0.5, 0.7, 0.9, 0.97575, 0.999, 1 - 1e-9 })
            Assert.True(Math.Abs(Distributions.NormalCdf(Distributions.NormalQuantile(u)) - u) <= 1e-12 * Math.Max(u, 1e-3), $"u = {u}");
        Assert.Equal(double.NegativeInfinity, Distributions.NormalQuantile(0));
        Assert.Equal(double.PositiveInfinity, Distributions.NormalQuantile(1));
    }

    [Fact]
    public void StudentTCdfMatchesClosedFormsAndTheQuantileInvertsIt()
    {
        // ν = 1 (Cauchy): F(t) = ½ + atan(t)/π; ν = 2: F(t) = ½ + t/(2√(t² + 2)).
        foreach (double t in new[] { -30, -2.5, -1, -0.2, 0, 0.7, 1, 3, 50 })
        {
            Assert.Equal(0.5 + Math.Atan(t) / Math.PI, Distributions.StudentTCdf(t, 1), 12);
            Assert.Equal(0.5 + t / (2 * Math.Sqrt(t * t + 2)), Distributions.StudentTCdf(t, 2), 12);
        }
        foreach (double nu in new[] { 2.1, 5, 30 })
            foreach (double u in new[] { 1e-6, 0.05, 0.3, 0.5, 0.8, 0.99, 1 - 1e-7 })
                Assert.Equal(u, Distributions.StudentTCdf(Distributions.StudentTQuantile(u, nu), nu), 10);
        float[] theta = [1.5f, 2f, 4f];
        Assert.Equal(0.9, Distributions.Cdf(LossKind.StudentT, theta, Distributions.Quantile(LossKind.StudentT, theta, 0.9)), 10);
    }

    [Fact]
    public void NegativeBinomialCdfSumsThePmfAndTheQuantileIsTheSmallestCount()
    {
        float[] theta = [4.5f, 0.3f];
        double sum = 0;
        var d = new double[2];
        double[] th = [theta[0], theta[1]];
        for (int k = 0; k < 40; k++)
        {
            sum += Math.Exp(-Distributions.Nll(LossKind.NegBinomial, th, k, d));
            Assert.Equal(sum, Distributions.Cdf(LossKind.NegBinomial, theta, k), 10);
            Assert.Equal(sum, Distributions.Cdf(LossKind.NegBinomial, theta, k + 0.5), 10);
        }
        foreach (double u in new[] { 0.01, 0.2, 0.5, 0.9, 0.999 })
        {
            double k = Distributions.Quantile(LossKind.NegBinomial, theta, u);
            Assert.True(Distributions.Cdf(LossKind.NegBinomial, theta, k) >= u);
            Assert.True(k == 0 || Distributions.Cdf(LossKind.NegBinomial, theta, k - 1) < u);
        }
    }
}
