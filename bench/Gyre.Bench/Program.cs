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
        return Sgemm(args.Length > 1 ? int.Parse(args[1]) : 2048,
                     args.Length > 2 ? int.Parse(args[2]) : WorkerTeam.Shared.Size);
    default:
        Console.Error.WriteLine($"unknown benchmark '{args[0]}' (known: sgemm)");
        return 2;
}

static int Sgemm(int size, int threads)
{
    int n = size;
    var rng = new Random(1);
    var a = new float[n * n]; var b = new float[n * n]; var c = new float[n * n];
    for (int i = 0; i < a.Length; i++) { a[i] = (float)rng.NextDouble() - 0.5f; b[i] = (float)rng.NextDouble() - 0.5f; }
    using var team = new WorkerTeam(threads);
    double flops = 2.0 * n * n * n;
    int warm = 3, runs = n >= 1024 ? 9 : 51;
    var rates = new double[runs];
    for (int r = -warm; r < runs; r++)
    {
        long t0 = Stopwatch.GetTimestamp();
        Gemm.Multiply(false, false, n, n, n, a, n, b, n, c, n, false, team);
        double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        if (r >= 0) rates[r] = flops / s / 1e9;
    }
    Array.Sort(rates);
    Console.WriteLine($"sgemm {n}x{n}x{n} threads={threads}: median {rates[runs / 2]:F1} GFLOP/s (min {rates[0]:F1}, max {rates[^1]:F1}, {runs} runs)");
    return 0;
}
