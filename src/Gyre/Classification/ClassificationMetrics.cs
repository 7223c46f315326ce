namespace Gyre.Classification;

/// <summary>
/// Classification metrics as plain functions of class indices 0…K−1 (actual, predicted) and, for the
/// probabilistic ones, probabilities [N, K] row-major.
/// </summary>
public static class ClassificationMetrics
{
    /// <summary>Counts [K, K]: row = actual class, column = predicted class.</summary>
    public static int[,] Confusion(ReadOnlySpan<int> actual, ReadOnlySpan<int> predicted, int classes)
    {
        Same(actual, predicted);
        var m = new int[classes, classes];
        for (int i = 0; i < actual.Length; i++) m[actual[i], predicted[i]]++;
        return m;
    }

    /// <summary>Accuracy = (1/N) Σ [ŷᵢ = yᵢ].</summary>
    public static double Accuracy(ReadOnlySpan<int> actual, ReadOnlySpan<int> predicted)
    {
        Same(actual, predicted);
        if (actual.Length == 0) return double.NaN;
        int hits = 0;
        for (int i = 0; i < actual.Length; i++) if (actual[i] == predicted[i]) hits++;
        return (double)hits / actual.Length;
    }

    /// <summary>Recall of class k = TP / (TP + FN); NaN when class k has no actual cases.</summary>
    public static double Recall(int[,] confusion, int k)
    {
        int support = 0;
        for (int j = 0; j < confusion.GetLength(1); j++) support += confusion[k, j];
        return support == 0 ? double.NaN : (double)confusion[k, k] / support;
    }

    /// <summary>Precision of class k = TP / (TP + FP); NaN when nothing was predicted as k.</summary>
    public static double Precision(int[,] confusion, int k)
    {
        int predicted = 0;
        for (int i = 0; i < confusion.GetLength(0); i++) predicted += confusion[i, k];
        return predicted == 0 ? double.NaN : (double)confusion[k, k] / predicted;
    }

    /// <summary>F1 of class k = 2·TP / (2·TP + FP + FN); NaN when the class is neither actual nor predicted.</summary>
    public static double F1(int[,] confusion, int k)
    {
        int K = confusion.GetLength(0), tp = confusion[k, k], fp = 0, fn = 0;
        for (int j = 0; j < K; j++)
            if (j != k) { fp += confusion[j, k]; fn += confusion[k, j]; }
        return 2 * tp + fp + fn == 0 ? double.NaN : 2.0 * tp / (2 * tp + fp + fn);
    }

    /// <summary>Balanced accuracy = mean recall over the classes that have actual cases.</summary>
    public static double BalancedAccuracy(int[,] confusion) => MeanDefined(confusion, Recall);

    /// <summary>Macro F1 = mean F1 over the classes that occur as actual or predicted.</summary>
    public static double MacroF1(int[,] confusion) => MeanDefined(confusion, F1);

    /// <summary>
    /// Log loss = −(1/N) Σ log p(yᵢ), each probability clipped to [1e−15, 1] so a confident miss costs
    /// about 34.5 instead of infinity.
    /// </summary>
    public static double LogLoss(ReadOnlySpan<int> actual, ReadOnlySpan<float> probabilities, int classes)
    {
        if (probabilities.Length != actual.Length * classes) throw new ArgumentException($"probabilities: {probabilities.Length} values for [{actual.Length}, {classes}]");
        if (actual.Length == 0) return double.NaN;
        double sum = 0;
        for (int i = 0; i < actual.Length; i++)
            sum -= Math.Log(Math.Clamp((double)probabilities[i * classes + actual[i]], 1e-15, 1.0));
        return sum / actual.Length;
    }

    /// <summary>
    /// ROC-AUC for two classes = P(score of a random positive > score of a random negative), ties counting ½
    /// (the Mann–Whitney U statistic over the midranks). NaN when either class is absent.
    /// </summary>
    public static double RocAuc(ReadOnlySpan<bool> positive, ReadOnlySpan<float> score)
    {
        if (positive.Length != score.Length) throw new ArgumentException("positive and score differ in length");
        int n = score.Length;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var s = score.ToArray();
        Array.Sort(order, (a, b) => s[a].CompareTo(s[b]));
        double rankSumPos = 0;
        long pos = 0;
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j + 1 < n && s[order[j + 1]] == s[order[i]]) j++;
            double midRank = (i + j) / 2.0 + 1;   // 1-based average rank of the tied run
            for (int k = i; k <= j; k++) if (positive[order[k]]) { rankSumPos += midRank; pos++; }
            i = j + 1;
        }
        long neg = n - pos;
        if (pos == 0 || neg == 0) return double.NaN;
        return (rankSumPos - pos * (pos + 1) / 2.0) / ((double)pos * neg);
    }

    private static double MeanDefined(int[,] confusion, Func<int[,], int, double> metric)
    {
        double sum = 0;
        int count = 0;
        for (int k = 0; k < confusion.GetLength(0); k++)
        {
            double v = metric(confusion, k);
            if (double.IsNaN(v)) continue;
            sum += v;
            count++;
        }
        return count == 0 ? double.NaN : sum / count;
    }

    private static void Same(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"actual has {a.Length} labels, predicted {b.Length}");
    }
}
