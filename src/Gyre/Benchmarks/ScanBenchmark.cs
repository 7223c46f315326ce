using System.Diagnostics;
using System.Globalization;
using Gyre.Kernels;
using Gyre.Layers;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Benchmarks;

/// <summary>One row of <c>gyre bench scan</c>: a layer's forward in sequential and in parallel mode.</summary>
/// <param name="Cell">The cell as the registry writes it (paragru, paralstm, mingru, minlstm, gla(heads=16), lssl).</param>
/// <param name="Batch">B.</param>
/// <param name="Seq">T.</param>
/// <param name="Hidden">H.</param>
/// <param name="Weights">"init" (untrained), "trained" (after <see cref="ScanBenchmark.ShortTraining"/>) or
/// "forecaster" (the encoder of a trained forecaster's model file).</param>
/// <param name="Threads">Worker threads.</param>
/// <param name="SequentialMs">Median ms of the sequential forward.</param>
/// <param name="ParallelMs">Median ms of the parallel forward (Newton; linear scan; state scan).</param>
/// <param name="Iterations">Newton iterations (linear solves) the parallel forward used; 0 for the scans.</param>
/// <param name="MaxAbsDiff">max |y_parallel − y_sequential|.</param>
public sealed record ScanBenchResult(string Cell, int Batch, int Seq, int Hidden, string Weights, int Threads,
    double SequentialMs, double ParallelMs, int Iterations, double MaxAbsDiff)
{
    /// <summary>Sequential time / parallel time: above 1 the parallel mode wins.</summary>
    public double Speedup => SequentialMs / ParallelMs;

    /// <summary>One JSON object on one line.</summary>
    public string ToJson() => string.Create(CultureInfo.InvariantCulture,
        $"{{\"peer\":\"gyre\",\"bench\":\"scan\",\"cell\":\"{Cell}\",\"batch\":{Batch},\"seq\":{Seq},\"hidden\":{Hidden},\"weights\":\"{Weights}\",\"threads\":{Threads},\"sequential_ms\":{Math.Round(SequentialMs, 3)},\"parallel_ms\":{Math.Round(ParallelMs, 3)},\"speedup\":{Math.Round(Speedup, 3)},\"iterations\":{Iterations},\"max_abs_diff\":{MaxAbsDiff:G3}}}");
}

/// <summary>
/// The one sequence runner's loop against its parallel-in-time path for the registered cells that have one (ParaGRU /
/// ParaLSTM by Newton, minGRU / minLSTM by the linear scan, GLA / LSSL by the state scan): medians of wall time after a
/// warm-up, the Newton iterations used, on untrained weights and on weights after a short training run.
/// </summary>
public static class ScanBenchmark
{
    /// <summary>The cells of the grid: every listed cell with a parallel form, in registration order, as its
    /// <see cref="Gyre.Cells.CellDefinition.ScanBenchmarkCell"/> (any registered cell with a parallel form can be named).</summary>
    public static IReadOnlyList<string> Cells =>
        [.. Gyre.Cells.CellRegistry.All.Where(d => d.HasParallelForm).Select(d => d.ScanBenchmarkCell.ToString())];

    /// <summary>The grid: T = 1k, 4k, 16k at B = 1 and 8.</summary>
    public static IReadOnlyList<(int Batch, int Seq)> Grid { get; } = [(1, 1024), (8, 1024), (1, 4096), (8, 4096), (1, 16384), (8, 16384)];

    /// <summary>Rows whose activations would pass this many bytes are skipped (the machine is shared).</summary>
    public const long MemoryLimitBytes = 5L << 29; // 2.5 GiB

    /// <summary>A one-layer <see cref="RecurrentLayer"/> of a registered cell with a parallel form ("gla(heads=16)", "lssl", ...).</summary>
    public static RecurrentLayer Create(string cell, int input, int hidden, ulong seed) =>
        new(Definition(cell), input, hidden, batchFirst: true, seed: seed);

    /// <summary>The registered cell of <paramref name="cell"/> ("gla(heads=16)"); one-line errors when unknown or without a parallel form.</summary>
    public static Gyre.Cells.CellDefinition Definition(string cell)
    {
        Gyre.Cells.CellDefinition def;
        try { def = Gyre.Cells.CellRegistry.FromText(cell); }
        catch (ArgumentException) { throw new ArgumentException($"--cell must be a registered cell with a parallel form (e.g. {string.Join(", ", Cells)}), got '{cell}'"); }
        return def.HasParallelForm ? def : throw new ArgumentException($"--cell '{cell}' has no parallel-in-time form (e.g. {string.Join(", ", Cells)})");
    }

    /// <summary>Bytes of activations a forward of this layer keeps at (B, T) (what the memory guard compares).</summary>
    public static long ForwardBytes(string cell, int batch, int seq, int hidden) =>
        4L * batch * seq * Definition(cell).ParallelForwardFloats(hidden);

    /// <summary>
    /// Times one layer at one shape: <paramref name="warmup"/> untimed runs of each mode, then
    /// <paramref name="reps"/> interleaved sequential / parallel runs (so machine noise hits both alike), medians.
    /// Returns null when the row passes <see cref="MemoryLimitBytes"/>.
    /// </summary>
    public static ScanBenchResult? Run(string cell, int batch, int seq, int input, int hidden, bool trained, int threads, int reps, int warmup = 1)
    {
        if (batch < 1 || seq < 1 || input < 1 || hidden < 1) throw new ArgumentException("batch, seq, input and hidden must be positive");
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), $"threads must be positive, got {threads}");
        if (reps < 1) throw new ArgumentOutOfRangeException(nameof(reps), $"reps must be positive, got {reps}");
        if (ForwardBytes(cell, batch, seq, hidden) > MemoryLimitBytes) return null;
        var module = Create(cell, input, hidden, seed: 1);
        if (trained) ShortTraining(module);
        return Run(module, cell, trained ? "trained" : "init", batch, seq, threads, reps, warmup);
    }

    /// <summary>
    /// Times a given layer (e.g. the encoder of a trained forecaster, <paramref name="weights"/> naming where its
    /// weights come from) on random inputs in [−1, 1]: interleaved sequential / parallel forwards, medians.
    /// </summary>
    public static ScanBenchResult Run(Module module, string cell, string weights, int batch, int seq, int threads, int reps, int warmup = 1)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), $"threads must be positive, got {threads}");
        if (reps < 1) throw new ArgumentOutOfRangeException(nameof(reps), $"reps must be positive, got {reps}");
        using var team = new WorkerTeam(threads);
        var layer = Subject.For(module);
        layer.SetTeam(team);
        layer.Layer.Training = false;
        int input = layer.Input, hidden = layer.Hidden;
        var x = Tensor.Zeros(batch, seq, input);
        new Rng(2).Uniform(x.Span, -1f, 1f);

        // The layers take the team explicitly (their GEMMs too): the process-wide Gemm.Team is left alone, since
        // other code may be using it while this runs.
        var seqMs = new double[reps];
        var parMs = new double[reps];
        Tensor? ySeq = null, yPar = null;
        for (int r = -warmup; r < reps; r++)
        {
            layer.SetScan(ScanMode.Sequential);
            long t0 = Stopwatch.GetTimestamp();
            ySeq = layer.Forward(x);
            double s = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            layer.SetScan(ScanMode.Parallel);
            t0 = Stopwatch.GetTimestamp();
            yPar = layer.Forward(x);
            double p = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            if (r >= 0) { seqMs[r] = s; parMs[r] = p; }
        }
        double diff = 0;
        for (int i = 0; i < ySeq!.Length; i++) diff = Math.Max(diff, Math.Abs(ySeq.ReadOnlySpan[i] - yPar!.ReadOnlySpan[i]));
        return new ScanBenchResult(cell, batch, seq, hidden, weights, threads, Median(seqMs), Median(parMs), layer.Iterations(), diff);
    }

    /// <summary>
    /// 40 AdamW steps (lr 3e-3) of one-step-ahead prediction on a noisy sum of sines (B = 8, T = 128), read out
    /// by a fixed random projection of the outputs: enough to move the weights off their initialisation the way
    /// training does (larger recurrent weights, stiffer gates), which is what changes Newton's iteration count.
    /// </summary>
    public static void ShortTraining(Module module, int steps = 40)
    {
        var layer = Subject.For(module);
        int b = 8, t = 128, i = layer.Input, h = layer.Hidden;
        var rng = new Rng(9);
        var readout = new float[h];
        rng.Uniform(readout, -1f / MathF.Sqrt(h), 1f / MathF.Sqrt(h));
        var opt = new AdamW(module.Parameters(), lr: 3e-3f);
        module.Training = true;
        var x = Tensor.Zeros(b, t, i);
        var dy = Tensor.Zeros(b, t, h);
        for (int step = 0; step < steps; step++)
        {
            // Series s(τ) = sin(0.11τ + φ) + 0.5 sin(0.031τ) + noise; every input channel sees s, the target is s(τ + 1).
            var series = new float[b, t + 1];
            for (int e = 0; e < b; e++)
            {
                float phase = rng.NextFloat() * 6.283f;
                int start = rng.NextInt(1000);
                for (int s = 0; s <= t; s++)
                    series[e, s] = MathF.Sin(0.11f * (start + s) + phase) + 0.5f * MathF.Sin(0.031f * (start + s)) + 0.05f * rng.NextGaussian();
            }
            for (int e = 0; e < b; e++)
                for (int s = 0; s < t; s++)
                    for (int c = 0; c < i; c++) x[e, s, c] = series[e, s];
            var y = layer.Forward(x);
            opt.ZeroGrad();
            for (int e = 0; e < b; e++)
                for (int s = 0; s < t; s++)
                {
                    float pred = 0f;
                    for (int j = 0; j < h; j++) pred += readout[j] * y[e, s, j];
                    float err = 2f * (pred - series[e, s + 1]) / (b * t);
                    for (int j = 0; j < h; j++) dy[e, s, j] = err * readout[j];
                }
            layer.Backward(dy);
            opt.Step();
        }
    }

    /// <summary>The few things the benchmark does with a layer, whatever its type.</summary>
    private sealed record Subject(Module Layer, int Input, int Hidden, Action<ScanMode> SetScan, Action<WorkerTeam> SetTeam,
        Func<Tensor, Tensor> Forward, Action<Tensor> Backward, Func<int> Iterations)
    {
        public static Subject For(Module m) => m switch
        {
            RecurrentLayer r => new(r, r.InputSize, r.HiddenSize, s => r.Execution = r.Execution with { Scan = s },
                t => r.Execution = r.Execution with { Team = t }, x => r.Forward(x).Output, dy => r.Backward(dy), () => r.LastNewtonIterations.Max()),
            _ => throw new ArgumentException($"the scan benchmark cannot drive a {m.GetType().Name}"),
        };
    }

    private static double Median(double[] v)
    {
        Array.Sort(v);
        return v.Length % 2 == 1 ? v[v.Length / 2] : 0.5 * (v[v.Length / 2 - 1] + v[v.Length / 2]);
    }
}
