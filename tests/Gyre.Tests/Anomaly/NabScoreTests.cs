using Gyre.Anomaly;
using Xunit;

namespace Gyre.Tests.Anomaly;

/// <summary>NAB scores of hand-made detections; expected values worked out from the paper's formulas by hand.</summary>
public sealed class NabScoreTests
{
    private static readonly RowWindow[] One = [new(40, 49)];

    [Fact]
    public void Scaled_sigmoid_matches_the_papers_anchor_values()
    {
        Assert.Equal(0.98661, NabScore.ScaledSigmoid(-1.0), 5);
        Assert.Equal(0.84828, NabScore.ScaledSigmoid(-0.5), 5);
        Assert.Equal(0.0, NabScore.ScaledSigmoid(0.0), 12);
        Assert.Equal(-0.98661, NabScore.ScaledSigmoid(1.0), 5);
        Assert.Equal(-1.0, NabScore.ScaledSigmoid(3.0));
    }

    [Fact]
    public void Null_detector_scores_0_and_perfect_one_100()
    {
        foreach (var p in NabProfile.All)
        {
            var none = NabScore.Score(100, One, [], p, probation: 0);
            Assert.Equal(0.0, none.Normalized!.Value, 10);
            Assert.Equal(-p.FalseNegative, none.Raw, 12);
            Assert.Equal(0, none.WindowsHit);
            var perfect = NabScore.Score(100, One, [40], p, probation: 0);
            Assert.Equal(100.0, perfect.Normalized!.Value, 10);
            Assert.Equal(1, perfect.WindowsHit);
        }
    }

    [Fact]
    public void Detection_at_the_window_end_earns_the_sigmoid_at_minus_one_tenth()
    {
        var r = NabScore.Score(100, One, [49], NabProfile.Standard, probation: 0);
        Assert.Equal(0.2482415, r.Raw, 6);
        Assert.Equal(62.412077, r.Normalized!.Value, 5);
    }

    [Fact]
    public void Mixed_case_under_each_profile()
    {
        // 5: probationary (ignored with the default 15 rows); 20: before the window (−A_FP);
        // 45 and 47 in the window (only the earlier counts); 50: one row after it, y = 1/9.
        int[] dets = [47, 5, 45, 20, 50];
        var std = NabScore.Score(100, One, dets, NabProfile.Standard);
        Assert.Equal(0.7199994, std.Raw, 6);
        Assert.Equal(85.999969, std.Normalized!.Value, 5);
        Assert.Equal(2, std.FalseDetections);
        Assert.Equal(1, std.WindowsHit);
        var lowFp = NabScore.Score(100, One, dets, NabProfile.RewardLowFalsePositives);
        Assert.Equal(79.010310, lowFp.Normalized!.Value, 5);
        var lowFn = NabScore.Score(100, One, dets, NabProfile.RewardLowFalseNegatives);
        Assert.Equal(90.666646, lowFn.Normalized!.Value, 5);
    }

    [Fact]
    public void File_without_windows_has_no_normalised_score()
    {
        var r = NabScore.Score(100, [], [20, 30], NabProfile.Standard);
        Assert.Null(r.Normalized);
        Assert.Equal(-0.22, r.Raw, 12);
        Assert.Equal(2, r.FalseDetections);
    }

    [Fact]
    public void Probation_is_nabs_fifteen_percent_capped_at_750_rows()
    {
        Assert.Equal(604, NabScore.ProbationLength(4032));
        Assert.Equal(750, NabScore.ProbationLength(10000));
    }

    [Fact]
    public void Overlapping_windows_are_refused() =>
        Assert.Throws<ArgumentException>(() => NabScore.Score(100, [new(10, 20), new(20, 30)], [], NabProfile.Standard));
}
