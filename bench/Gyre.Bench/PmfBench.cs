using System.Diagnostics;
using Gyre.Forecasting;
using Gyre.Tensors;

namespace Gyre.Bench;

/// <summary>
/// `pmf-step N [rounds] [B]`: milliseconds per training step (forward + backward) of the SegRNN-shaped forecasting
/// network (lookback 96, patch 24, hidden 512, GRU, pmf decoder, 7 channel embeddings, B channel-windows, default 256)
/// at horizon N, the shared-state decoder step against the decoder layer over all B·M rows, interleaved round by
/// round in one process so a shared machine's load falls on both alike; medians and their ratio.
/// </summary>
public static class PmfBench
{
    public static int Run(string[] args)
    {
        int horizon = int.Parse(args[0]), rounds = args.Length > 1 ? int.Parse(args[1]) : 7, b = args.Length > 2 ? int.Parse(args[2]) : 256;
        var config = new ForecastNetworkConfig
        {
            Cell = "gru", Decoder = "pmf", Patch = 24, InputFeatures = 1, Hidden = 512, Layers = 1, Lookback = 96,
            Horizon = horizon, Outputs = 1, Channels = 7, Dropout = 0.5f, Seed = 1,
        };
        var rng = new Rng(2);
        var x = Tensor.Zeros(b, 96, 1); rng.Normal(x.Span, 0f, 1f);
        var up = Tensor.Zeros(b, horizon, 1, 1); rng.Normal(up.Span, 0f, 1f);
        int[] channel = [.. Enumerable.Range(0, b).Select(i => i % 7)];
        var shared = new ForecastNetwork(config);
        var layer = new ForecastNetwork(config) { LayerDecoderStep = true };
        double Step(ForecastNetwork net)
        {
            var sw = Stopwatch.StartNew();
            net.Forward(x, null, channel);
            net.Backward(up);
            return sw.Elapsed.TotalMilliseconds;
        }
        Step(shared); Step(layer);                       // warm-up: buffers, JIT
        var ts = new List<double>(); var tl = new List<double>();
        for (int r = 0; r < rounds; r++) { ts.Add(Step(shared)); tl.Add(Step(layer)); }
        double ms = Median(ts), ml = Median(tl);
        Console.WriteLine($"pmf-step N={horizon} M={config.Segments} B={b} H=512: layer step {ml:F1} ms, shared step {ms:F1} ms, {ml / ms:F2}x (medians of {rounds})");
        return 0;
    }

    private static double Median(List<double> v)
    {
        v.Sort();
        return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }
}
