using System.Diagnostics;
using System.Globalization;
using Gyre.Cells;
using Gyre.Kernels;
using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Benchmarks;

/// <summary>One benchmark shape: a single-layer, unidirectional, time-major recurrent layer.</summary>
/// <param name="Cell">A registered cell: "name" or "name(k=v,…)" (<see cref="CellRegistry.FromText"/>).</param>
/// <param name="Batch">B.</param>
/// <param name="Seq">T.</param>
/// <param name="Input">I.</param>
/// <param name="Hidden">H.</param>
public readonly record struct RecurrentBenchShape(string Cell, int Batch, int Seq, int Input, int Hidden)
{
    /// <summary>A shape of one of the first cells (<see cref="CellKind"/>).</summary>
    public RecurrentBenchShape(CellKind cell, int batch, int seq, int input, int hidden)
        : this(CellRegistry.Name(cell), batch, seq, input, hidden) { }

    /// <summary>
    /// Multiply-add FLOPs of one forward pass, 2·B·T·G·H·(I + H) (the two matrix products; gate math
    /// not counted). Training (forward + backward) counts three times this.
    /// </summary>
    public double ForwardFlops => 2.0 * Batch * Seq * CellRegistry.FromText(Cell).Gates * Hidden * ((double)Input + Hidden);
}

/// <summary>One measured row, in the JSON-lines schema that the peer benchmarks (ONNX Runtime, libtorch) share.</summary>
/// <param name="Peer">"gyre".</param>
/// <param name="Shape">The layer measured.</param>
/// <param name="Threads">Worker threads (team size).</param>
/// <param name="Mode">"infer" (Training = false forward) or "train" (forward + backward of sum(y)).</param>
/// <param name="Ms">Median wall-clock milliseconds of one run after warm-up.</param>
/// <param name="Gflops">FLOPs (see <see cref="RecurrentBenchShape.ForwardFlops"/>) / median time.</param>
/// <param name="StepsPerS">T / median seconds: time steps per second.</param>
/// <param name="AllocBytes">Managed bytes allocated by the measuring thread per run (median).</param>
/// <param name="PeakRssMb">Peak resident set (VmHWM) of the process after the runs, MiB; 0 where unknown.</param>
/// <param name="Options">The cell's options (heads, proj_size, …; null or empty: none), also part of <see cref="RecurrentBenchShape.Cell"/>'s text.</param>
public sealed record RecurrentBenchResult(string Peer, RecurrentBenchShape Shape, string Mode, int Threads,
    double Ms, double Gflops, double StepsPerS, long AllocBytes, double PeakRssMb, CellOptions? Options = null)
{
    /// <summary>One JSON object on one line: peer, cell, options (an object of the cell's options as strings), mode, batch,
    /// seq, input, hidden, threads, ms, gflops, steps_per_s, alloc_bytes, peak_rss_mb.</summary>
    public string ToJson()
    {
        var c = CultureInfo.InvariantCulture;
        // Option keys and values are the registry's own tokens (letters, digits, '_', '.', '-'): no JSON escaping needed.
        string options = Options is null ? "{}" : "{" + string.Join(",", Options.Keys.Select(k => $"\"{k}\":\"{Options[k]}\"")) + "}";
        return string.Create(c,
            $"{{\"peer\":\"{Peer}\",\"cell\":\"{Shape.Cell}\",\"options\":{options},\"mode\":\"{Mode}\",\"batch\":{Shape.Batch},\"seq\":{Shape.Seq},\"input\":{Shape.Input},\"hidden\":{Shape.Hidden},\"threads\":{Threads},\"ms\":{Math.Round(Ms, 4)},\"gflops\":{Math.Round(Gflops, 3)},\"steps_per_s\":{Math.Round(StepsPerS, 1)},\"alloc_bytes\":{AllocBytes},\"peak_rss_mb\":{Math.Round(PeakRssMb, 1)}}}");
    }
}

/// <summary>
/// The benchmark behind <c>gyre bench</c>: times a recurrent layer's forward (inference) or forward +
/// backward (training, dy = ones, i.e. the gradient of sum(y)) through the allocation-free destination
/// overloads, on a team of a given size, and reports the median.
/// </summary>
/// <remarks>
/// Wall-clock medians on a shared machine are noisy: repeat runs and compare medians. The warm-up runs
/// also let the JIT reach its final tier before timing.
/// </remarks>
public static class RecurrentBenchmark
{
    /// <summary>The grid every peer measures: each registered cell's <see cref="CellDefinition.BenchmarkShapes"/>
    /// (GRU and LSTM at typical forecasting and sequence shapes), in registry order.</summary>
    public static IReadOnlyList<RecurrentBenchShape> StandardGrid =>
        [.. CellRegistry.All.SelectMany(c => c.BenchmarkShapes.Select(s => new RecurrentBenchShape(c.Name, s.Batch, s.Seq, s.Input, s.Hidden)))];

    /// <summary>The shape a cell without grid rows of its own is measured at (the grid's first shape).</summary>
    public static (int Batch, int Seq, int Input, int Hidden) DefaultShape => (64, 100, 32, 128);

    /// <summary>The grid rows of <paramref name="cell"/>, or its row at <see cref="DefaultShape"/> when it has none.</summary>
    public static IReadOnlyList<RecurrentBenchShape> GridFor(string cell)
    {
        var def = CellRegistry.FromText(cell);
        var rows = def.BenchmarkShapes.Count > 0 ? def.BenchmarkShapes : [DefaultShape];
        // The canonical text keeps the options: "gla(heads=4)" is measured, and labelled, as itself.
        return [.. rows.Select(s => new RecurrentBenchShape(def.ToString(), s.Batch, s.Seq, s.Input, s.Hidden))];
    }

    /// <summary>
    /// Measures one shape in one mode ("infer" or "train") on a team of <paramref name="threads"/> workers
    /// (installed as <see cref="Gemm.Team"/> for the duration, then restored): <paramref name="warmup"/>
    /// untimed runs, then the median of <paramref name="reps"/> timed runs (0: as many as fill 3 s, 3 to 50, the peers' rule).
    /// </summary>
    public static RecurrentBenchResult Run(RecurrentBenchShape shape, string mode, int threads, int reps, int warmup = 3)
    {
        bool train = Training(mode);
        var (cell, b, t, i, h) = shape;

        var def = CellRegistry.FromText(cell);
        var layer = new RecurrentLayer(def, i, h, seed: 1) { Training = train };
        int ns = layer.StateCount;
        var rng = new Rng(2);
        var x = Tensor.Zeros(t, b, i);
        rng.Uniform(x.Span, -1f, 1f);
        var y = Tensor.Zeros(t, b, layer.OutputSize);
        var finals = new Tensor[ns];
        var inits = new Tensor?[ns];
        var dFinals = new Tensor?[ns];
        var dInits = new Tensor[ns];
        for (int j = 0; j < ns; j++) { finals[j] = Tensor.Zeros(1, b, layer.StateWidth(j)); dInits[j] = Tensor.Zeros(1, b, layer.StateWidth(j)); }
        var dy = Tensor.Zeros(t, b, layer.OutputSize);
        dy.Span.Fill(1f);
        var dx = Tensor.Zeros(t, b, i);

        var (median, alloc) = Time(() =>
        {
            layer.Forward(x, inits, y, finals, default);
            if (train) layer.Backward(dy, dFinals, dx, dInits);
        }, threads, reps, warmup);
        double flops = shape.ForwardFlops * (train ? 3 : 1);
        return new RecurrentBenchResult("gyre", shape, mode, threads, median,
            flops / (median * 1e-3) / 1e9, t / (median * 1e-3), alloc, PeakRssMb(), def.Options);
    }

    /// <summary>Whether a bench mode is "train" (true) or "infer" (false); anything else is an ArgumentException.</summary>
    internal static bool Training(string mode) => mode switch
    {
        "infer" => false,
        "train" => true,
        _ => throw new ArgumentException($"bench mode must be 'infer' or 'train', got '{mode}'"),
    };

    /// <summary>Timed runs when none are asked for: as many as fill <see cref="AutoBudgetMs"/>, within [3, 50].</summary>
    public const int AutoMinReps = 3, AutoMaxReps = 50;

    /// <summary>Milliseconds of timed runs <see cref="AutoRepsFor"/> aims at.</summary>
    public const double AutoBudgetMs = 3000;

    /// <summary>
    /// Timed runs for a case whose last warm-up run took <paramref name="warmMs"/>: the peers' rule
    /// (bench/Peers/Common/PeerBench.cs), so that Gyre and ONNX Runtime / libtorch are timed alike. With a fixed
    /// 3 + 7 runs Gyre's median fell while .NET was still tiering its code up (GRU 64·100·128·256 training at two
    /// threads: 67–71 ms at 7 runs, 51 ms at 15, 2026-12-02), while the peers took up to 50.
    /// </summary>
    public static int AutoRepsFor(double warmMs) => Math.Clamp((int)Math.Ceiling(AutoBudgetMs / Math.Max(warmMs, 1e-3)), AutoMinReps, AutoMaxReps);

    /// <summary>Untimed runs before timing at least this many (and <see cref="WarmupMinMs"/>), unless one run is long.</summary>
    public const int WarmupMinRuns = 40;

    /// <summary>Milliseconds of untimed runs at least (with <see cref="WarmupMinRuns"/>).</summary>
    public const double WarmupMinMs = 600;

    /// <summary>
    /// Whether the warm-up may stop after run <paramref name="runs"/> (the last took <paramref name="lastMs"/>, all
    /// <paramref name="totalMs"/>): at least <paramref name="minRuns"/> runs, then either a run over half a second (its
    /// loops were compiled on the stack within it and the first calls' costs are small next to it, as the peers rule),
    /// or both <see cref="WarmupMinRuns"/> runs and <see cref="WarmupMinMs"/>, or 4 s in all.
    /// </summary>
    /// <remarks>
    /// Why so many: the runtime compiles a method's optimised code after 30 calls, once 100 ms have passed without new
    /// unoptimised code, and in the background; until then the layer's own loops and calls run partly unoptimised. Three
    /// warm-up runs and five timed ones gave a GRU batch-1 layer (T = 1000, H = 128) 3.2 ms against 1.83 ms with tiered
    /// compilation off, and fifty timed runs still 2.16 ms (2026-12-02): a timing of the JIT, not of the kernels. The
    /// peers (bench/Peers/Common/PeerBench.cs) warm up by the same rule.
    /// </remarks>
    public static bool WarmedUp(int runs, int minRuns, double lastMs, double totalMs) =>
        runs >= Math.Max(1, minRuns) && (lastMs > 500 || (runs >= WarmupMinRuns && totalMs >= WarmupMinMs) || totalMs >= 4000);

    /// <summary>
    /// Runs <paramref name="run"/> on a team of <paramref name="threads"/> workers (installed as <see cref="Gemm.Team"/>
    /// for the duration, then restored): untimed runs until <see cref="WarmedUp"/> (at least <paramref name="warmup"/>),
    /// then <paramref name="reps"/> timed ones (0: <see cref="AutoRepsFor"/> the last warm-up).
    /// Returns the median milliseconds and the median bytes the calling thread allocated per run.
    /// </summary>
    internal static (double Ms, long AllocBytes) Time(Action run, int threads, int reps, int warmup)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), $"threads must be positive, got {threads}");
        if (reps < 0) throw new ArgumentOutOfRangeException(nameof(reps), $"reps must be positive (or 0: automatic), got {reps}");
        var previous = Gemm.Team;
        using var team = new WorkerTeam(threads);
        Gemm.Team = team;
        try
        {
            double warmMs = 0;
            long warmStart = Stopwatch.GetTimestamp();
            for (int w = 1; ; w++)
            {
                long w0 = Stopwatch.GetTimestamp();
                run();
                warmMs = Stopwatch.GetElapsedTime(w0).TotalMilliseconds;
                if (WarmedUp(w, warmup, warmMs, Stopwatch.GetElapsedTime(warmStart).TotalMilliseconds)) break;
            }
            if (reps == 0) reps = AutoRepsFor(warmMs);
            var ms = new double[reps];
            var allocs = new long[reps];
            for (int r = 0; r < reps; r++)
            {
                long a0 = GC.GetAllocatedBytesForCurrentThread();
                long t0 = Stopwatch.GetTimestamp();
                run();
                double elapsed = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                long a1 = GC.GetAllocatedBytesForCurrentThread();
                ms[r] = elapsed; allocs[r] = a1 - a0;
            }
            Array.Sort(ms);
            Array.Sort(allocs);
            return (reps % 2 == 1 ? ms[reps / 2] : 0.5 * (ms[reps / 2 - 1] + ms[reps / 2]), allocs[reps / 2]);
        }
        finally { Gemm.Team = previous; }
    }

    /// <summary>Median GFLOP/s of <see cref="Gemm.Multiply(bool, bool, int, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, Span{float}, int, bool, WorkerTeam?)"/> at size³ on a team of <paramref name="threads"/>.</summary>
    public static double Sgemm(int size, int threads, int reps, int warmup = 2)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), $"size must be positive, got {size}");
        if (reps < 1) throw new ArgumentOutOfRangeException(nameof(reps), $"reps must be positive, got {reps}");
        var rng = new Rng(3);
        var a = new float[size * size]; var bm = new float[size * size]; var c = new float[size * size];
        rng.Uniform(a, -0.5f, 0.5f); rng.Uniform(bm, -0.5f, 0.5f);
        using var team = new WorkerTeam(threads);
        var rates = new double[reps];
        double flops = 2.0 * size * size * size;
        for (int r = -warmup; r < reps; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Gemm.Multiply(false, false, size, size, size, a, size, bm, size, c, size, false, team);
            double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (r >= 0) rates[r] = flops / s / 1e9;
        }
        Array.Sort(rates);
        return rates[reps / 2];
    }

    /// <summary>VmHWM from /proc/self/status in MiB, or 0 where that file does not exist.</summary>
    public static double PeakRssMb()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return double.Parse(parts[1], CultureInfo.InvariantCulture) / 1024.0;
                }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }
}
