using Gyre.Data;

namespace Gyre.Classification;

/// <summary>
/// Test metrics of a classifier beside its baselines on the same cases. Classification: accuracy, balanced
/// accuracy, macro F1, log loss, ROC-AUC (two classes only), per-class precision and recall, confusion matrix;
/// baselines majority class, 1-NN Euclidean, 1-NN DTW. Regression: MSE, MAE, RMSE; baselines training mean,
/// 1-NN Euclidean, 1-NN DTW (the neighbour's target).
/// </summary>
public sealed class SequenceReport
{
    public required LabelKind Task { get; init; }
    public required string Data { get; init; }
    public required int Cases { get; init; }
    /// <summary>The model's metrics by name, in print order.</summary>
    public required IReadOnlyList<(string Name, double Value)> Metrics { get; init; }
    /// <summary>Baseline name → its metrics (same names as <see cref="Metrics"/> where they apply); empty without training data.</summary>
    public required IReadOnlyList<(string Name, IReadOnlyList<(string Metric, double Value)> Metrics)> Baselines { get; init; }
    public string[] Classes { get; init; } = [];
    /// <summary>[K, K]: row = actual, column = predicted (classification).</summary>
    public int[,]? Confusion { get; init; }
    public double[] Precision { get; init; } = [];
    public double[] Recall { get; init; } = [];
    public int[] Support { get; init; } = [];

    /// <summary>The headline metric: accuracy (classification) or MSE (regression).</summary>
    public string Headline => Task == LabelKind.Regression ? "mse" : "accuracy";

    public double Metric(string name) => Metrics.First(m => m.Name == name).Value;

    public static SequenceReport Build(SequenceClassifier f, SequenceSet test, SequencePredictions p, SequenceSet? train)
    {
        if (f.IsRegression)
        {
            var actual = test.Cases.Select(c => c.Target).ToArray();
            var baselines = new List<(string, IReadOnlyList<(string, double)>)>();
            if (train is not null)
            {
                var b = Gyre.Classification.Baselines.Compute(train.Cases, test.Cases, test.Channels, null, 0, f.Options.Threads);
                baselines.Add(("mean", Regression(actual, actual.Select(_ => b.Mean).ToArray())));
                baselines.Add(("nn_euclidean", Regression(actual, b.NearestEuclidean.Select(i => train.Cases[i].Target).ToArray())));
                baselines.Add(("nn_dtw", Regression(actual, b.NearestDtw.Select(i => train.Cases[i].Target).ToArray())));
            }
            return new SequenceReport
            {
                Task = LabelKind.Regression, Data = test.Path, Cases = actual.Length,
                Metrics = Regression(actual, p.Values), Baselines = baselines,
            };
        }
        int K = f.Classes.Length;
        var y = SequenceClassifier.ClassIndex(test, f.Classes, "training");
        var confusion = ClassificationMetrics.Confusion(y, p.Classes, K);
        var metrics = Classification(y, p.Classes, K).ToList();
        metrics.Add(("log_loss", ClassificationMetrics.LogLoss(y, p.Probabilities, K)));
        if (K == 2)
        {
            var positive = y.Select(k => k == 1).ToArray();
            var score = Enumerable.Range(0, y.Length).Select(i => p.Probabilities[i * 2 + 1]).ToArray();
            metrics.Add(("roc_auc", ClassificationMetrics.RocAuc(positive, score)));
        }
        var bl = new List<(string, IReadOnlyList<(string, double)>)>();
        if (train is not null)
        {
            var ty = SequenceClassifier.ClassIndex(train, f.Classes, "training");
            var b = Gyre.Classification.Baselines.Compute(train.Cases, test.Cases, test.Channels, ty, K, f.Options.Threads);
            bl.Add(("majority", Classification(y, y.Select(_ => b.Majority).ToArray(), K)));
            bl.Add(("nn_euclidean", Classification(y, b.NearestEuclidean.Select(i => ty[i]).ToArray(), K)));
            bl.Add(("nn_dtw", Classification(y, b.NearestDtw.Select(i => ty[i]).ToArray(), K)));
        }
        return new SequenceReport
        {
            Task = LabelKind.Classification, Data = test.Path, Cases = y.Length, Metrics = metrics, Baselines = bl,
            Classes = f.Classes, Confusion = confusion,
            Precision = Enumerable.Range(0, K).Select(k => ClassificationMetrics.Precision(confusion, k)).ToArray(),
            Recall = Enumerable.Range(0, K).Select(k => ClassificationMetrics.Recall(confusion, k)).ToArray(),
            Support = Enumerable.Range(0, K).Select(k => y.Count(v => v == k)).ToArray(),
        };
    }

    private static IReadOnlyList<(string, double)> Classification(int[] actual, int[] predicted, int classes)
    {
        var m = ClassificationMetrics.Confusion(actual, predicted, classes);
        return [("accuracy", ClassificationMetrics.Accuracy(actual, predicted)), ("balanced_accuracy", ClassificationMetrics.BalancedAccuracy(m)),
            ("macro_f1", ClassificationMetrics.MacroF1(m))];
    }

    /// <summary>MSE = mean (ŷ − y)², MAE = mean |ŷ − y|, RMSE = √MSE.</summary>
    public static IReadOnlyList<(string, double)> Regression(double[] actual, double[] predicted)
    {
        double mse = 0, mae = 0;
        for (int i = 0; i < actual.Length; i++) { double d = predicted[i] - actual[i]; mse += d * d; mae += Math.Abs(d); }
        mse /= actual.Length; mae /= actual.Length;
        return [("mse", mse), ("mae", mae), ("rmse", Math.Sqrt(mse))];
    }
}
