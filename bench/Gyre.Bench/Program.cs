using System.Diagnostics;
using Gyre.Kernels;

// Gyre micro-benchmarks. `sgemm [size] [threads]`: median GFLOP/s of C = A·B at size³ (default 2048,
// threads default GYRE_NUM_THREADS / processor count), after warm-up. Numbers on a shared machine are
// noisy: repeat and compare medians.
if (args.Length == 0)
{
    Console.WriteLine("Gyre micro-benchmarks: see bench/README.md");
    Console.WriteLine("usage: sgemm [size] [threads]");
    return 0;
}
switch (args[0])
{
    case "sgemm":
        {
            int size = args.Length > 1 ? int.Parse(args[1]) : 2048;
            return Sgemm(size, size, size, args.Length > 2 ? int.Parse(args[2]) : WorkerTeam.Shared.Size);
        }
    case "sgemm-shape": // sgemm-shape m n k [threads]
        return Sgemm(int.Parse(args[1]), int.Parse(args[2]), int.Parse(args[3]),
                     args.Length > 4 ? int.Parse(args[4]) : WorkerTeam.Shared.Size);
    default:
        Console.Error.WriteLine($"unknown benchmark '{args[0]}' (known: sgemm)");
        return 2;
}

static int Sgemm(int m, int n, int k, int threads)
{
    var rng = new Random(1);
    var a = new float[m * k]; var b = new float[k * n]; var c = new float[m * n];
    for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f;
    for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble() - 0.5f;
    using var team = new WorkerTeam(threads);
    double flops = 2.0 * m * n * k;
    int warm = 3, runs = flops >= 1e9 ? 9 : 51;
    var rates = new double[runs];
    var cpuRates = new double[runs];
    using var process = Process.GetCurrentProcess();
    for (int r = -warm; r < runs; r++)
    {
        process.Refresh();
        TimeSpan cpu0 = process.TotalProcessorTime;
        long t0 = Stopwatch.GetTimestamp();
        Gemm.Multiply(false, false, m, n, k, a, k, b, n, c, n, false, team);
        double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        process.Refresh();
        double cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
        if (r >= 0) { rates[r] = flops / s / 1e9; cpuRates[r] = flops / Math.Max(cpu, 1e-6) / 1e9; }
    }
    Array.Sort(rates);
    Array.Sort(cpuRates);
    Console.WriteLine($"sgemm m={m} n={n} k={k} threads={threads}: median {rates[runs / 2]:F1} GFLOP/s (min {rates[0]:F1}, max {rates[^1]:F1}, {runs} runs); per CPU-second: median {cpuRates[runs / 2]:F1} GFLOP");
    return 0;
}
