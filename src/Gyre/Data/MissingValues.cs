namespace Gyre.Data;

/// <summary>Fills NaN gaps of one column of a row-major [T, K] matrix in place.</summary>
public static class MissingValues
{
    /// <summary>x[t] = last observed x before t; a leading gap takes the first observed value. No-op when all missing.</summary>
    public static void ForwardFill(Span<float> values, int columnCount, int column)
    {
        int T = values.Length / columnCount;
        float last = float.NaN;
        for (int t = 0; t < T; t++)
        {
            ref float x = ref values[t * columnCount + column];
            if (float.IsNaN(x)) x = last; else last = x;
        }
        int first = 0;
        while (first < T && float.IsNaN(values[first * columnCount + column])) first++;
        if (first == T) return;
        float v = values[first * columnCount + column];
        for (int t = 0; t < first; t++) values[t * columnCount + column] = v;
    }

    /// <summary>
    /// x[t] = x[a] + (x[b] - x[a])·(t - a)/(b - a) between the observed neighbours a &lt; t &lt; b (in steps, not
    /// time); gaps at either end take the nearest observed value.
    /// </summary>
    public static void Linear(Span<float> values, int columnCount, int column)
    {
        int T = values.Length / columnCount;
        int prev = -1;
        for (int t = 0; t < T; t++)
        {
            float x = values[t * columnCount + column];
            if (float.IsNaN(x)) continue;
            if (prev < 0) { for (int u = 0; u < t; u++) values[u * columnCount + column] = x; }
            else if (t - prev > 1)
            {
                double a = values[prev * columnCount + column], b = x;
                for (int u = prev + 1; u < t; u++) values[u * columnCount + column] = (float)(a + (b - a) * (u - prev) / (t - prev));
            }
            prev = t;
        }
        if (prev < 0) return;
        float lastValue = values[prev * columnCount + column];
        for (int u = prev + 1; u < T; u++) values[u * columnCount + column] = lastValue;
    }
}
