using Gyre.Classification;
using Xunit;

namespace Gyre.Tests.Classification;

public sealed class ClassificationMetricsTests
{
    // actual  0 0 0 1 1 2, predicted 0 0 1 1 2 2 → confusion rows [2 1 0] [0 1 1] [0 0 1]
    private static readonly int[] Actual = [0, 0, 0, 1, 1, 2], Predicted = [0, 0, 1, 1, 2, 2];

    [Fact]
    public void Hand_computed_three_class_metrics()
    {
        var m = ClassificationMetrics.Confusion(Actual, Predicted, 3);
        Assert.Equal(new[,] { { 2, 1, 0 }, { 0, 1, 1 }, { 0, 0, 1 } }, m);
        Assert.Equal(4.0 / 6, ClassificationMetrics.Accuracy(Actual, Predicted), 12);
        Assert.Equal((2.0 / 3 + 1.0 / 2 + 1.0) / 3, ClassificationMetrics.BalancedAccuracy(m), 12);
        Assert.Equal(1.0, ClassificationMetrics.Precision(m, 0));
        Assert.Equal(0.5, ClassificationMetrics.Precision(m, 2));
        Assert.Equal(0.5, ClassificationMetrics.Recall(m, 1));
        // F1: 2·2/(4+0+1) = 0.8, 2/(2+1+1) = 0.5, 2/(2+1+0) = 2/3
        Assert.Equal((0.8 + 0.5 + 2.0 / 3) / 3, ClassificationMetrics.MacroF1(m), 12);
    }

    [Fact]
    public void Classes_absent_from_the_test_split_are_left_out_of_the_means()
    {
        var m = ClassificationMetrics.Confusion([0, 0, 1], [0, 1, 1], 3);    // class 2 neither actual nor predicted
        Assert.True(double.IsNaN(ClassificationMetrics.Recall(m, 2)));
        Assert.Equal((0.5 + 1.0) / 2, ClassificationMetrics.BalancedAccuracy(m), 12);
        Assert.Equal((2.0 / 3 + 2.0 / 3) / 2, ClassificationMetrics.MacroF1(m), 12);
        // A class predicted but never actual counts with F1 = 0 in the macro mean.
        var p = ClassificationMetrics.Confusion([0, 0], [0, 2], 3);
        Assert.Equal((2.0 / 3 + 0) / 2, ClassificationMetrics.MacroF1(p), 12);
    }

    [Fact]
    public void Log_loss_and_clipping()
    {
        float[] probs = [0.5f, 0.5f, 0.2f, 0.8f, 1f, 0f];
        Assert.Equal(-(Math.Log(0.5) + Math.Log(0.8f) + Math.Log(1e-15)) / 3, ClassificationMetrics.LogLoss([0, 1, 1], probs, 2), 6);
    }

    [Fact]
    public void Roc_auc_counts_ties_as_half()
    {
        // positives 0.9, 0.4; negatives 0.1, 0.4 → pairs 1 + 1 + 1 + ½ of 4
        Assert.Equal(3.5 / 4, ClassificationMetrics.RocAuc([true, false, true, false], [0.9f, 0.1f, 0.4f, 0.4f]), 12);
        Assert.Equal(0.0, ClassificationMetrics.RocAuc([false, true], [0.9f, 0.1f]));
        Assert.True(double.IsNaN(ClassificationMetrics.RocAuc([true, true], [0.9f, 0.1f])));
    }
}
