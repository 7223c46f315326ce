using Gyre.Forecasting;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Forecasting;

public class HorizonCopulaTests
{
    /// <summary>W vectors of a stationary AR(1) with unit variance: corr(z_a, z_b) = ρ^|a − b|.</summary>
    private static float[] Ar1(int rows, int n, double rho, ulong seed)
    {
        var rng = new Rng(seed);
        var z = new float[rows * n];
        for (int k = 0; k < rows; k++)
        {
            double v = rng.NextGaussianDouble();
            for (int h = 0; h < n; h++)
            {
                if (h > 0) v = rho * v + Math.Sqrt(1 - rho * rho) * rng.NextGaussianDouble();
                z[k * n + h] = (float)(3 + 2 * v);   // location and scale are not the copula's business
            }
        }
        return z;
    }

    [Fact]
    public void EstimatesTheCorrelationOfTheScores()
    {
        const int n = 6;
        var cop = HorizonCopula.Estimate(Ar1(5000, n, 0.8, 1), 5000, n)!;
        Assert.True(cop.Shrinkage < 0.05, $"shrinkage {cop.Shrinkage}");
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
                Assert.True(Math.Abs(cop.Correlation(a, b) - Math.Pow(0.8, Math.Abs(a - b))) < 0.05, $"R[{a},{b}] = {cop.Correlation(a, b)}");
        Assert.Equal(0.8, cop.MeanLagOneCorrelation(), 1);
    }

    [Fact]
    public void IndependentScoresShrinkTowardTheIdentity()
    {
        const int n = 8;
        var cop = HorizonCopula.Estimate(Ar1(400, n, 0, 2), 400, n)!;
        Assert.True(cop.Shrinkage > 0.5, $"shrinkage {cop.Shrinkage}");
        for (int a = 0; a < n; a++)
            for (int b = 0; b < a; b++) Assert.True(Math.Abs(cop.Correlation(a, b)) < 0.05);
    }

    /// <summary>Fewer vectors than steps: the sample correlation is singular, the shrunk one still has a Cholesky factor with a unit diagonal of R.</summary>
    [Fact]
    public void FewVectorsStillGiveAValidCorrelation()
    {
        const int n = 24;
        var cop = HorizonCopula.Estimate(Ar1(3, n, 0.9, 3), 3, n)!;
        Assert.InRange(cop.Shrinkage, 0, 1);
        for (int a = 0; a < n; a++) Assert.Equal(1, cop.Correlation(a, a), 5);
        Assert.Null(HorizonCopula.Estimate(Ar1(1, n, 0.9, 3), 1, n));
    }

    /// <summary>Draws z = L·ε: standard normal marginals and the correlation the copula holds.</summary>
    [Fact]
    public void DrawsFollowTheEstimatedCorrelation()
    {
        const int n = 5, draws = 40000;
        var cop = HorizonCopula.Estimate(Ar1(3000, n, 0.6, 4), 3000, n)!;
        var rng = new Rng(9);
        var eps = new double[n]; var z = new double[n];
        var sum = new double[n]; var sq = new double[n, n];
        for (int d = 0; d < draws; d++)
        {
            cop.Draw(rng, eps, z);
            for (int a = 0; a < n; a++) { sum[a] += z[a]; for (int b = 0; b < n; b++) sq[a, b] += z[a] * z[b]; }
        }
        for (int a = 0; a < n; a++)
        {
            Assert.True(Math.Abs(sum[a] / draws) < 0.02);
            Assert.True(Math.Abs(sq[a, a] / draws - 1) < 0.03);
            for (int b = 0; b < a; b++)
                Assert.True(Math.Abs(sq[a, b] / draws - cop.Correlation(a, b)) < 0.02, $"[{a},{b}] {sq[a, b] / draws} vs {cop.Correlation(a, b)}");
        }
    }
}
