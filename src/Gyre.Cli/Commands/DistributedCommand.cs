using Gyre.Data;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Gyre.Mpi;

namespace Gyre.Cli.Commands;

/// <summary>
/// <c>gyre distributed check</c>, run under mpirun: checks that every collective Gyre's data-parallel
/// training uses gives the right numbers on this installation, and measures the all-reduce time of a
/// gradient-sized buffer (the figure docs/distributed.md uses to predict scaling).
/// </summary>
public static class DistributedCommand
{
    public static Command Create(CliContext context)
    {
        var floats = new Option<int>("--floats") { Description = "all-reduce buffer size in floats (a model's parameter count)", DefaultValueFactory = _ => 1 << 20 };
        var reps = new Option<int>("--reps") { Description = "timed all-reduces (median reported)", DefaultValueFactory = _ => 20 };
        var check = new Command("check", "Under mpirun: verify broadcast / all-reduce / all-gather and time an all-reduce") { floats, reps };
        check.SetAction(parse =>
        {
            int n = parse.GetValue(floats), r = parse.GetValue(reps);
            if (n <= 0) throw new GyreDataException($"--floats must be positive, got {n}");
            if (r <= 0) throw new GyreDataException($"--reps must be positive, got {r}");
            using var world = MpiWorld.Start();
            return Run(world, n, r, context.Out);
        });
        return new Command("distributed", "Data-parallel training over MPI (start jobs with mpirun … --distributed)") { check };
    }

    internal static int Run(MpiWorld world, int n, int reps, TextWriter output)
    {
        int rank = world.Rank, size = world.Size;
        var errors = new List<string>();

        // All-reduce: rank r contributes r + 1 + i·2⁻¹⁰ at element i, so the sum is known exactly.
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = rank + 1 + (i % 1024) / 1024f;
        world.AllReduceSum(data);
        float rankSum = size * (size + 1) / 2f;
        for (int i = 0; i < n; i++)
            if (data[i] != rankSum + size * ((i % 1024) / 1024f)) { errors.Add($"all-reduce: element {i} is {data[i]}"); break; }

        // Broadcast from the last rank.
        var b = new float[Math.Min(n, 4096)];
        if (rank == size - 1) for (int i = 0; i < b.Length; i++) b[i] = i * 0.5f;
        world.Broadcast(b, root: size - 1);
        for (int i = 0; i < b.Length; i++)
            if (b[i] != i * 0.5f) { errors.Add($"broadcast: element {i} is {b[i]}"); break; }

        // All-gather of one float per rank.
        var all = new float[size];
        world.AllGather([rank * 10f], all);
        for (int i = 0; i < size; i++)
            if (all[i] != i * 10f) { errors.Add($"all-gather: slot {i} is {all[i]}"); break; }

        // Timing: median over reps of one in-place all-reduce of n floats.
        var times = new double[reps];
        world.Barrier();
        for (int k = 0; k < reps; k++)
        {
            long t0 = Stopwatch.GetTimestamp();
            world.AllReduceSum(data);
            times[k] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Array.Sort(times);
        double median = world.AllReduceMax(times[reps / 2]);
        double failures = errors.Count;
        Span<double> counts = [failures];
        world.AllReduceSum(counts);

        if (errors.Count > 0) foreach (var e in errors) Console.Error.WriteLine($"gyre: rank {rank}: {e}");
        if (rank == 0)
        {
            double bytes = 4.0 * n;
            // Bus bandwidth as NCCL/OSU report it: a ring all-reduce moves 2(p−1)/p of the buffer per rank.
            double bus = size > 1 ? bytes * 2 * (size - 1) / size / median : 0;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ranks {size} · collectives {(counts[0] == 0 ? "ok" : $"FAILED on {counts[0]} rank(s)")} · all-reduce of {n} floats ({bytes / 1e6:F1} MB): median {median * 1e3:F3} ms, bus bandwidth {bus / 1e9:F2} GB/s"));
        }
        return counts[0] == 0 ? 0 : 1;
    }
}
