using Gyre.Anomaly;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Anomaly;

public sealed class PeaksOverThresholdTests
{
    private static double[] Gpd(double gamma, double sigma, int n, ulong seed)
    {
        var rng = new Rng(seed);
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            double u = 1 - rng.NextDouble();   // (0, 1]
            y[i] = Math.Abs(gamma) < 1e-12 ? -sigma * Math.Log(u) : sigma / gamma * (Math.Pow(u, -gamma) - 1);
        }
        return y;
    }

    [Theory]
    [InlineData(0.3, 2.0)]
    [InlineData(-0.2, 1.0)]
    [InlineData(0.0, 0.5)]
    public void Maximum_likelihood_fit_recovers_the_generating_parameters(double gamma, double sigma)
    {
        var fit = PeaksOverThreshold.Fit(Gpd(gamma, sigma, 20000, 7));
        Assert.InRange(fit.Gamma, gamma - 0.04, gamma + 0.04);
        Assert.InRange(fit.Sigma, sigma * 0.95, sigma * 1.05);
    }

    [Fact]
    public void Threshold_exceedance_rate_matches_the_risk_on_fresh_gaussian_data()
    {
        // Calibrate on 20 000 |N(0,1)| scores at risk 1e-3; on 200 000 fresh ones about 200 should exceed it.
        var rng = new Rng(11);
        double[] Draw(int n) => Enumerable.Range(0, n).Select(_ => Math.Abs(rng.NextGaussianDouble())).ToArray();
        double z = PeaksOverThreshold.Threshold(Draw(20000), 1e-3);
        Assert.InRange(z, 3.0, 3.6);   // the exact two-sided normal quantile is 3.29
        int over = Draw(200000).Count(s => s > z);
        Assert.InRange(over, 80, 400);
    }

    [Fact]
    public void Threshold_is_never_below_the_largest_calibration_score()
    {
        var s = Enumerable.Range(0, 500).Select(i => (double)(i % 7)).ToArray();
        Assert.True(PeaksOverThreshold.Threshold(s, 1e-4) >= 6.0);
    }

    [Fact]
    public void Quantile_interpolates_like_numpy() =>
        Assert.Equal(3.25, PeaksOverThreshold.Quantile([1, 2, 3, 4, 5], 0.5625), 12);

    [Fact]
    public void Risk_outside_0_1_throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => PeaksOverThreshold.Threshold([1, 2, 3], 1.5));
}
