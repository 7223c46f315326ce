using Gyre.Anomaly;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Anomaly;

public sealed class SeasonalProfileTests
{
    private static DateTime[] Times(int n, double stepSeconds, DateTime? start = null)
    {
        var t0 = start ?? new DateTime(2014, 4, 1);
        return [.. Enumerable.Range(0, n).Select(i => t0.AddSeconds(i * stepSeconds))];
    }

    [Fact]
    public void Envelope_and_held_out_ratio_match_the_hand_computed_values()
    {
        // Rows every 6 h: P = 4 phases. Day 1 = [0, 2, 0, 0], day 2 = [0, 3, 0, 0.5], tolerance K = 0.
        double[] s = [0, 2, 0, 0, 0, 3, 0, 0.5];
        var p = SeasonalProfile.Fit(s, Times(8, 6 * 3600), 0, 8, 0)!;
        Assert.Equal(4, p.Period);
        Assert.Equal([0, 3, 0, 0.5], p.Envelope);
        // Day 2 against day 1's envelope: 3 / max(2, 1) = 1.5 at phase 1, 0.5 / max(0, 1) at phase 3; day 1 against day 2's: 2/3.
        Assert.Equal(1.5, p.Ratio, 12);

        // τ = 4: at phase 1, τ(φ) = max(4, 1.5·3) = 4.5 lowers the score by 4/4.5; at phase 3, 1.5·0.5 < 4 leaves it.
        double[] fresh = [9, 9, 9, 9];
        var q = p.Apply(fresh, Times(4, 6 * 3600, new DateTime(2014, 4, 5)), 4);
        Assert.Equal([9, 9 * 4 / 4.5, 9, 9], q);
    }

    [Fact]
    public void The_tolerance_spreads_each_score_over_neighbouring_phases_circularly()
    {
        // 1-hour rows (P = 24), a peak at 23:00 on day 1 only; K = 2 reaches 21:00 … 01:00.
        var s = new double[48];
        s[23] = 5;
        var p = SeasonalProfile.Fit(s, Times(48, 3600), 0, 48, 2)!;
        for (int phase = 0; phase < 24; phase++)
            Assert.Equal(phase is >= 21 or <= 1 ? 5 : 0, p.Envelope[phase]);
    }

    [Fact]
    public void A_recurring_daily_peak_is_absorbed_and_an_off_phase_spike_is_kept()
    {
        // 5-minute rows, 14 days; every day a peak of height 3 ± 0.05 around 10:40 and noise below 0.5 elsewhere.
        const int perDay = 288, days = 14, train = 3 * perDay;
        var rng = new Rng(3);
        var s = new double[days * perDay];
        for (int i = 0; i < s.Length; i++)
        {
            int phase = i % perDay;
            s[i] = 0.5 * rng.NextDouble();
            if (Math.Abs(phase - 128) <= 2) s[i] = 3 + 0.1 * (rng.NextDouble() - 0.5);
        }
        s[10 * perDay + 200] = 30;   // an anomaly at 16:40 on day 11
        var times = Times(s.Length, 300);
        double tau = s.AsSpan(0, train).ToArray().Max();   // a threshold at the largest training score
        var p = SeasonalProfile.Fit(s, times, 0, train, 3)!;
        var q = p.Apply(s, times, tau);
        for (int i = train; i < s.Length; i++)
            if (i != 10 * perDay + 200) Assert.True(q[i] < tau, $"row {i}: {q[i]} ≥ {tau}");
        Assert.Equal(30, q[10 * perDay + 200]);
        // Without the profile, some later day's peak beats the training days' largest one.
        Assert.Contains(Enumerable.Range(train, s.Length - train), i => s[i] > tau && i != 10 * perDay + 200);
    }

    [Theory]
    [InlineData(300, 200)]        // training inside one calendar day: no held-out day
    [InlineData(86400, 30)]       // daily rows: no phase within a day
    [InlineData(420 * 1.5, 400)]  // 10.5-minute rows do not divide a day into whole bins
    public void No_profile_without_two_training_days_of_whole_phase_bins(double step, int rows)
    {
        var s = new double[rows];
        Assert.Null(SeasonalProfile.Fit(s, Times(rows, step), 0, rows, 1));
    }

    [Fact]
    public void Times_and_scores_of_different_lengths_are_refused()
    {
        var ex = Assert.Throws<ArgumentException>(() => SeasonalProfile.Fit(new double[10], Times(9, 3600), 0, 10, 0));
        Assert.Contains("9 times for 10 scores", ex.Message);
    }
}
