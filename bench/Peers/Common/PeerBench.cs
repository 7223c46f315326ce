// Shared by the peer benchmarks (OrtPeer, TorchPeer): the standard grid, the command line, the timing
// loop and the JSON line each row prints. Gyre's own `gyre bench --json` prints the same line with
// "peer":"gyre", so bench/compare can join the three by (cell, mode, shape, threads).
//
// Dimension letters: B batch, T sequence length, I input size, H hidden size, G gates (3 GRU, 4 LSTM).
using System.Diagnostics;
using System.Globalization;

namespace Gyre.Bench.Peers;

/// <summary>One benchmark shape: a single-layer, unidirectional <c>Cell</c> over [B, T, I] -> [B, T, H].</summary>
public sealed record Shape(string Cell, int Batch, int Seq, int Input, int Hidden)
{
    /// <summary>Gates per cell: G = 3 for GRU, 4 for LSTM.</summary>
    public int Gates => Cell == "gru" ? 3 : 4;

    /// <summary>Forward FLOPs = 2·B·T·G·H·(I+H) (the two matrix products; gate math is ignored).
    /// Training (forward + backward of input and weight gradients) counts 3× that.</summary>
    public double Flops(string mode) =>
        (mode == "train" ? 3.0 : 1.0) * 2.0 * Batch * Seq * Gates * (double)Hidden * (Input + Hidden);

    /// <summary>The standard grid shared with <c>gyre bench</c>.</summary>
    public static readonly IReadOnlyList<Shape> Grid =
    [
        new("gru", 64, 100, 32, 128),
        new("gru", 64, 100, 128, 256),
        new("gru", 1, 1000, 32, 128),
        new("gru", 256, 50, 64, 64),
        new("gru", 16, 1024, 768, 768),
        new("lstm", 64, 100, 32, 128),
        new("lstm", 1, 1000, 32, 128),
        new("lstm", 16, 256, 256, 256),
    ];
}

/// <summary>Command line: <c>--cell gru|lstm --batch B --seq T --input I --hidden H --mode infer|train
/// --threads N --reps R</c>. No shape means the whole grid; no mode means every mode the peer supports;
/// no reps means "enough for about 3 s of timing, between 3 and 50".</summary>
public sealed class PeerOptions
{
    public string? Cell;
    public int? Batch, Seq, Input, Hidden;
    public string? Mode;
    public int Threads = 1;
    public int Reps; // 0 = automatic
    public int Warmup = 3;

    public static PeerOptions Parse(string[] args)
    {
        var o = new PeerOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"option {a} needs a value");
            int NextInt()
            {
                string v = Next();
                return int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0
                    ? n : throw new ArgumentException($"option {a}: '{v}' is not a positive integer");
            }
            switch (a)
            {
                case "--cell": o.Cell = Next().ToLowerInvariant(); break;
                case "--batch": o.Batch = NextInt(); break;
                case "--seq": o.Seq = NextInt(); break;
                case "--input": o.Input = NextInt(); break;
                case "--hidden": o.Hidden = NextInt(); break;
                case "--mode": o.Mode = Next().ToLowerInvariant(); break;
                case "--threads": o.Threads = NextInt(); break;
                case "--reps": o.Reps = NextInt(); break;
                case "--warmup": o.Warmup = NextInt(); break;
                default: throw new ArgumentException($"unknown option '{a}' (expected --cell --batch --seq --input --hidden --mode --threads --reps --warmup)");
            }
        }
        if (o.Cell is not null and not ("gru" or "lstm")) throw new ArgumentException($"--cell '{o.Cell}': expected gru or lstm");
        if (o.Mode is not null and not ("infer" or "train")) throw new ArgumentException($"--mode '{o.Mode}': expected infer or train");
        return o;
    }

    /// <summary>The shapes to run: the one given on the command line (all four sizes and the cell needed),
    /// or the grid filtered by whatever was given.</summary>
    public IReadOnlyList<Shape> Shapes()
    {
        if (Cell is not null && Batch is int b && Seq is int t && Input is int i && Hidden is int h)
            return [new Shape(Cell, b, t, i, h)];
        return Shape.Grid.Where(s => (Cell is null || s.Cell == Cell) && (Batch is null || s.Batch == Batch)
            && (Seq is null || s.Seq == Seq) && (Input is null || s.Input == Input) && (Hidden is null || s.Hidden == Hidden)).ToList();
    }
}

/// <summary>One prepared benchmark case: everything allocated up front, <see cref="Run"/> is the timed work.</summary>
public interface IPeerCase : IDisposable
{
    /// <summary>One forward (infer) or forward + backward (train) over the whole [B, T, I] batch.</summary>
    void Run();
}

public static class PeerBench
{
    /// <summary>Runs every (shape, mode) the options select and prints one JSON line each to stdout.
    /// <paramref name="create"/> returns null for a mode the peer cannot do (it is then skipped with a note).</summary>
    public static int Run(string peer, string[] args, string[] modes, Func<Shape, string, int, IPeerCase?> create)
    {
        PeerOptions o;
        try { o = PeerOptions.Parse(args); }
        catch (ArgumentException e) { Console.Error.WriteLine($"{peer}: {e.Message}"); return 2; }

        var shapes = o.Shapes();
        if (shapes.Count == 0) { Console.Error.WriteLine($"{peer}: no grid row matches the given options"); return 2; }
        foreach (var shape in shapes)
            foreach (var mode in o.Mode is null ? modes : [o.Mode])
            {
                if (!modes.Contains(mode)) { Console.Error.WriteLine($"{peer}: mode '{mode}' not supported, skipped"); continue; }
                using var c = create(shape, mode, o.Threads);
                if (c is null) { Console.Error.WriteLine($"{peer}: {shape.Cell} {mode} not supported, skipped"); continue; }
                Console.WriteLine(Measure(peer, shape, mode, o, c));
            }
        return 0;
    }

    static string Measure(string peer, Shape s, string mode, PeerOptions o, IPeerCase c)
    {
        // Warm-up: native libraries pick kernels and grow their pools on the first calls; .NET tiers up (its optimised
        // code comes after 30 calls and 100 ms without new unoptimised code). The rule of Gyre's own benchmark
        // (RecurrentBenchmark.WarmedUp): at least --warmup runs, then a run over half a second (its first-call costs are
        // small next to it, and the grid's largest rows would otherwise take minutes), or 40 runs and 600 ms, or 4 s.
        double warmMs = 0;
        long warmStart = Stopwatch.GetTimestamp();
        for (int i = 1; ; i++)
        {
            long w0 = Stopwatch.GetTimestamp();
            c.Run();
            warmMs = Stopwatch.GetElapsedTime(w0).TotalMilliseconds;
            double totalMs = Stopwatch.GetElapsedTime(warmStart).TotalMilliseconds;
            if (i >= Math.Max(1, o.Warmup) && (warmMs > 500 || (i >= 40 && totalMs >= 600) || totalMs >= 4000)) break;
        }
        int reps = o.Reps > 0 ? o.Reps : Math.Clamp((int)Math.Ceiling(3000.0 / Math.Max(warmMs, 1e-3)), 3, 50);

        var times = new double[reps];
        long allocated = 0;
        for (int r = 0; r < reps; r++)
        {
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            long t0 = Stopwatch.GetTimestamp();
            c.Run();
            long t1 = Stopwatch.GetTimestamp();
            allocated += GC.GetAllocatedBytesForCurrentThread() - a0;
            times[r] = (t1 - t0) * 1000.0 / Stopwatch.Frequency;
        }
        Array.Sort(times);
        double ms = reps % 2 == 1 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
        var ci = CultureInfo.InvariantCulture;
        string json = string.Create(ci,
            $"{{\"peer\":\"{peer}\",\"cell\":\"{s.Cell}\",\"mode\":\"{mode}\",\"batch\":{s.Batch},\"seq\":{s.Seq},\"input\":{s.Input},\"hidden\":{s.Hidden},\"threads\":{o.Threads},"
            + $"\"ms\":{ms:0.####},\"gflops\":{s.Flops(mode) / (ms * 1e6):0.###},\"steps_per_s\":{s.Seq / (ms / 1000.0):0.#},"
            + $"\"alloc_bytes\":{allocated / reps},\"peak_rss_mb\":{PeakRssMb():0.#}}}");
        Console.Error.WriteLine($"{peer}: {s.Cell} {mode} B={s.Batch} T={s.Seq} I={s.Input} H={s.Hidden} threads={o.Threads}: median of {reps} runs (min {times[0]:0.###} ms, max {times[^1]:0.###} ms)");
        return json;
    }

    /// <summary>Peak resident set size (VmHWM) of this process in MiB, or -1 where /proc is missing.</summary>
    public static double PeakRssMb()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return -1;
    }

    /// <summary>Deterministic uniform values in [-scale, scale) (same seed, same data in every peer).</summary>
    public static float[] Uniform(int count, float scale, int seed)
    {
        var rng = new Random(seed);
        var v = new float[count];
        for (int i = 0; i < v.Length; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return v;
    }
}
