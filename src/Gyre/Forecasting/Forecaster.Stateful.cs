using Gyre.Data;
using Gyre.Tensors;

namespace Gyre.Forecasting;

// A stateful forecaster (ForecastOptions.Stateful) reads each series from its start: the forecast at origin t (rows
// t..t+N−1) is the head's from the encoder's top output after row t−1, plus that row's target values with --norm last.
// Its summary of a series is [h_top ‖ level]: W + C values (the level is 0 without --norm last; it is the model view's,
// scaled).
public sealed partial class Forecaster
{
    private (SeriesSet Set, float[][] Tops)? _topsOf;   // the last set TopOutputs ran over for PredictWindows
    private readonly Dictionary<(int Rows, int Steps), StreamStepBuffers> _streamSteps = [];

    /// <summary>Buffers of one batched stream step (<see cref="ForecastStream"/>): x [R, k, F], y [R, k, W], the
    /// gathered states S × [layers, R, W_j] and the rows' lengths [R]; kept per (R, k) so a server's steady batches
    /// allocate nothing.</summary>
    internal sealed class StreamStepBuffers(Layers.RecurrentLayer enc, int rows, int steps, int f)
    {
        public readonly Tensor X = Tensor.Zeros(rows, steps, f);
        public readonly Tensor Y = Tensor.Zeros(rows, steps, enc.OutputSize);
        public readonly Tensor[] States = enc.NewStates(rows);
        public readonly int[] Lengths = new int[rows];
    }

    internal StreamStepBuffers StreamSteps(int rows, int steps)
    {
        if (!_streamSteps.TryGetValue((rows, steps), out var buf))
        {
            // A server's batch sizes vary with its load: beyond a handful of shapes the cache starts over.
            if (_streamSteps.Count >= 16) _streamSteps.Clear();
            _streamSteps[(rows, steps)] = buf = new StreamStepBuffers(Network.Encoder, rows, steps, Network.Config.InputFeatures);
        }
        return buf;
    }

    /// <summary>W + C: the values a stateful forecaster's summary of a series holds (top output, then level).</summary>
    internal int SummaryWidth => Network.Encoder.OutputSize + ModelTargets;

    /// <summary>
    /// The encoder's top-layer outputs [ends[s], W] of every series s of <paramref name="view"/> (a model view) over its
    /// rows [0, ends[s]), from zero states: all series advance side by side as the rows of one batch, in pieces of up
    /// to 256 steps (<see cref="Layers.RecurrentLayer.Advance"/>, the kernels a served stream steps with). Inference only.
    /// </summary>
    internal float[][] TopOutputs(SeriesSet view, IReadOnlyList<int> ends)
    {
        var enc = Network.Encoder;
        enc.Training = false;
        int b = view.Series.Count, k = view.ColumnCount, w = enc.OutputSize, longest = ends.Count == 0 ? 0 : ends.Max();
        var tops = new float[b][];
        for (int s = 0; s < b; s++) tops[s] = new float[ends[s] * w];
        if (b == 0 || longest == 0) return tops;
        int piece = Math.Min(256, longest);
        var states = enc.NewStates(b);
        var x = Tensor.Zeros(b, piece, k);                                  // [B, P, K]
        var y = Tensor.Zeros(b, piece, w);                                  // [B, P, W]
        var lengths = new int[b];
        for (int at = 0; at < longest; at += piece)
        {
            x.Span.Clear();
            for (int s = 0; s < b; s++)
            {
                lengths[s] = Math.Clamp(ends[s] - at, 0, piece);
                for (int i = 0; i < lengths[s]; i++) StepInput(view.Series[s], at + i, x.Span.Slice((s * piece + i) * k, k));
            }
            enc.Advance(x, states, y, lengths);
            for (int s = 0; s < b; s++)
                if (lengths[s] > 0) y.ReadOnlySpan.Slice(s * piece * w, lengths[s] * w).CopyTo(tops[s].AsSpan(at * w));
        }
        return tops;
    }

    /// <summary>The encoder's input at row <paramref name="p"/> of model-view series <paramref name="ts"/> into dst [K]: the
    /// row, its C target values replaced by their change since row p − 1 (0 at row 0) with --norm last.</summary>
    internal void StepInput(TimeSeries ts, int p, Span<float> dst)
    {
        int k = dst.Length;
        ts.Values.AsSpan(p * k, k).CopyTo(dst);
        if (Options.Normalization != "last") return;
        StepInput(dst, ts.Values.AsSpan((p > 0 ? p - 1 : p) * k, ModelTargets), ModelTargets);
    }

    /// <summary>With --norm last: the target values dst[0..C) less the previous row's <paramref name="previous"/> [C].</summary>
    internal static void StepInput(Span<float> dst, ReadOnlySpan<float> previous, int c)
    {
        for (int j = 0; j < c; j++) dst[j] -= previous[j];
    }

    /// <summary>The summaries [W + C] of each series of <paramref name="view"/> after all its rows (a series of no rows:
    /// zero states, zero level).</summary>
    internal float[][] StatefulSummaries(SeriesSet view)
    {
        int w = Network.Encoder.OutputSize, c = ModelTargets, k = view.ColumnCount;
        var tops = TopOutputs(view, [.. view.Series.Select(s => s.Length)]);
        var summaries = new float[view.Series.Count][];
        for (int s = 0; s < summaries.Length; s++)
        {
            var ts = view.Series[s];
            var sum = summaries[s] = new float[w + c];
            if (ts.Length == 0) continue;
            tops[s].AsSpan((ts.Length - 1) * w, w).CopyTo(sum);
            ts.Values.AsSpan((ts.Length - 1) * k, c).CopyTo(sum.AsSpan(w));
        }
        return summaries;
    }

    /// <summary>Forecasts for windows <paramref name="indices"/> of <paramref name="windows"/> by a stateful forecaster:
    /// each from the top output after the window's last input row, the series run once from its start (kept for the
    /// next call on the same set).</summary>
    private void PredictStatefulWindows(WindowSet windows, ReadOnlySpan<int> indices, Span<float> pred)
    {
        var set = windows.Set;
        if (_topsOf is not { } cached || cached.Set != set)
            _topsOf = cached = (set, TopOutputs(set, [.. set.Series.Select(s => s.Length)]));
        int b = indices.Length, w = Network.Encoder.OutputSize, c = ModelTargets, k = set.ColumnCount, width = w + c;
        int n = Options.Horizon, ff = Network.Config.FutureFeatures;
        var summaries = new float[b * width];                               // [B, W + C]
        var future = new float[b * n * ff];                                 // [B, N·Ff]
        for (int i = 0; i < b; i++)
        {
            var (series, origin) = windows[indices[i]];
            cached.Tops[series].AsSpan((origin - 1) * w, w).CopyTo(summaries.AsSpan(i * width));
            set.Series[series].Values.AsSpan((origin - 1) * k, c).CopyTo(summaries.AsSpan(i * width + w));
            FutureRows(set.Series[series], origin - 1, k, n, ff, future.AsSpan(i * n * ff, n * ff));
        }
        RunStatefulHead(summaries, future, pred, b);
    }

    /// <summary>ŷ [B, N, C, Q] = head([h_top ‖ future]) (+ level with --norm last) from summaries [B, W + C] and the
    /// known-future features over each horizon, future [B, N·Ff] (empty when Ff = 0).</summary>
    private void RunStatefulHead(ReadOnlySpan<float> summaries, ReadOnlySpan<float> future, Span<float> pred, int b)
    {
        int w = Network.Encoder.OutputSize, c = ModelTargets, n = Options.Horizon, q = Network.Config.QuantileCount, width = w + c;
        int nf = n * Network.Config.FutureFeatures;
        if (summaries.Length != b * width) throw new ArgumentException($"a stateful forecaster's summaries are [{b}, {width}], got {summaries.Length} values");
        if (future.Length != b * nf) throw new ArgumentException($"a stateful forecaster's future features are [{b}, {nf}], got {future.Length} values");
        Network.Training = false;
        Network.Head.Training = false;
        var headIn = new float[b * (w + nf)];                               // [B, W + N·Ff]
        for (int i = 0; i < b; i++)
        {
            summaries.Slice(i * width, w).CopyTo(headIn.AsSpan(i * (w + nf)));
            future.Slice(i * nf, nf).CopyTo(headIn.AsSpan(i * (w + nf) + w));
        }
        Network.Head.Forward(headIn, pred, b);
        if (Options.Normalization == "last") AddLevel(pred, summaries[w..], width, b, n, c, q);
    }

    /// <summary>The known-future features [N, Ff] of rows p+1..p+N of model-view series <paramref name="ts"/> (its last
    /// Ff of K columns) into dst; 0 past the series' end (such a step's forecast counts nothing).</summary>
    internal static void FutureRows(TimeSeries ts, int p, int k, int n, int ff, Span<float> dst)
    {
        for (int h = 0; h < n; h++)
        {
            int r = p + 1 + h;
            var row = dst.Slice(h * ff, ff);
            if (r < ts.Length) ts.Values.AsSpan(r * k + k - ff, ff).CopyTo(row);
            else row.Clear();
        }
    }

    /// <summary>The head's input rows [R, W + N·Ff] from top outputs [R, W] and future features [R, N·Ff].</summary>
    internal static void HeadInput(ReadOnlySpan<float> top, ReadOnlySpan<float> future, Span<float> headIn, int rows, int w, int nf)
    {
        for (int r = 0; r < rows; r++)
        {
            top.Slice(r * w, w).CopyTo(headIn.Slice(r * (w + nf)));
            future.Slice(r * nf, nf).CopyTo(headIn.Slice(r * (w + nf) + w));
        }
    }

    /// <summary>ŷ[r, h, j, ·] += rows[r·stride + j]: a forecast relative to the last observation (--norm last) made absolute
    /// (rows [R, stride], the level in its first C values).</summary>
    internal static void AddLevel(Span<float> pred, ReadOnlySpan<float> rows, int stride, int count, int n, int c, int q)
    {
        for (int r = 0; r < count; r++)
            for (int h = 0; h < n; h++)
                for (int j = 0; j < c; j++)
                {
                    float level = rows[r * stride + j];
                    var v = pred.Slice(((r * n + h) * c + j) * q, q);
                    for (int i = 0; i < q; i++) v[i] += level;
                }
    }
}
