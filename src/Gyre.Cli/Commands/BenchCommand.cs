using System.CommandLine;
using System.Globalization;
using Gyre.Benchmarks;
using Gyre.Cells;
using Spectre.Console;

namespace Gyre.Cli.Commands;

/// <summary>
/// <c>gyre bench</c>: times recurrent layers (median of R runs after warm-up) over the standard grid or
/// one shape, as a table or as JSON lines in the schema the ONNX Runtime and libtorch peers share;
/// <c>gyre bench sgemm</c>: GFLOP/s of the matrix multiply at 2048³.
/// </summary>
public static class BenchCommand
{
    public static Command Create(CliContext ctx)
    {
        var cell = new Option<string?>("--cell") { Description = $"{string.Join(" | ", CellRegistry.Names)} (with a shape; without one: that cell's grid rows)" };
        var batch = new Option<int?>("--batch") { Description = "B" };
        var seq = new Option<int?>("--seq") { Description = "T" };
        var input = new Option<int?>("--input") { Description = "I" };
        var hidden = new Option<int?>("--hidden") { Description = "H" };
        var mode = new Option<string>("--mode") { Description = "infer, train or both", DefaultValueFactory = _ => "both" };
        var threads = new Option<int>("--threads") { Description = "worker threads", DefaultValueFactory = _ => Kernels.WorkerTeam.Shared.Size };
        var reps = new Option<int>("--reps") { Description = "timed runs per row (median reported)", DefaultValueFactory = _ => 7 };
        var json = new Option<bool>("--json") { Description = "one JSON object per row and mode" };

        var cmd = new Command("bench", "Time recurrent layers of the registered cells (ms, GFLOP/s, steps/s, allocations, peak RSS)")
        {
            cell, batch, seq, input, hidden, mode, threads, reps, json,
        };
        cmd.SetAction(parse =>
        {
            try
            {
                var shapes = Shapes(parse.GetValue(cell), parse.GetValue(batch), parse.GetValue(seq), parse.GetValue(input), parse.GetValue(hidden));
                string m = parse.GetValue(mode) ?? "both";
                string[] modes = m == "both" ? ["infer", "train"] : m is "infer" or "train" ? [m]
                    : throw new ArgumentException($"--mode must be infer, train or both, got '{m}'");
                int n = parse.GetValue(threads), r = parse.GetValue(reps);
                bool asJson = parse.GetValue(json);
                var results = new List<RecurrentBenchResult>();
                foreach (var shape in shapes)
                    foreach (var md in modes)
                    {
                        var result = RecurrentBenchmark.Run(shape, md, n, r);
                        if (asJson) ctx.Out.WriteLine(result.ToJson());
                        results.Add(result);
                    }
                if (!asJson) WriteTable(ctx, results);
                return 0;
            }
            catch (ArgumentException e)
            {
                ctx.Err.WriteLine($"gyre bench: {e.Message}");
                return 2;
            }
        });

        var size = new Option<int>("--size") { Description = "matrix size N (N³ multiply)", DefaultValueFactory = _ => 2048 };
        var sgemmThreads = new Option<int>("--threads") { Description = "worker threads", DefaultValueFactory = _ => Kernels.WorkerTeam.Shared.Size };
        var sgemmReps = new Option<int>("--reps") { Description = "timed runs (median reported)", DefaultValueFactory = _ => 5 };
        var sgemm = new Command("sgemm", "GFLOP/s of the SGEMM kernel at size³ (default 2048)") { size, sgemmThreads, sgemmReps };
        sgemm.SetAction(parse =>
        {
            int s = parse.GetValue(size), n = parse.GetValue(sgemmThreads);
            double rate = RecurrentBenchmark.Sgemm(s, n, parse.GetValue(sgemmReps));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sgemm {s}x{s}x{s} threads={n}: {rate:F1} GFLOP/s (median)"));
            return 0;
        });
        cmd.Subcommands.Add(sgemm);
        cmd.Subcommands.Add(ScanCommand());
        return cmd;
    }

    /// <summary>
    /// <c>gyre bench scan</c>: sequential loop against parallel-in-time forward (Newton for ParaGRU/ParaLSTM, the
    /// chunkwise form of gated linear attention, the chunked scan of the state-space layer) over
    /// T = 1k, 4k, 16k at B = 1 and 8, hidden 256, untrained and briefly trained weights.
    /// </summary>
    private static Command ScanCommand()
    {
        var cell = new Option<string?>("--cell") { Description = "one of " + string.Join(", ", ScanBenchmark.Cells) + " (default: all)" };
        var batch = new Option<int?>("--batch") { Description = "B (with --seq: one shape instead of the grid)" };
        var seq = new Option<int?>("--seq") { Description = "T" };
        var input = new Option<int>("--input") { Description = "I", DefaultValueFactory = _ => 32 };
        var hidden = new Option<int>("--hidden") { Description = "H", DefaultValueFactory = _ => 256 };
        var weights = new Option<string>("--weights") { Description = "init, trained or both", DefaultValueFactory = _ => "both" };
        var threads = new Option<int>("--threads") { Description = "worker threads", DefaultValueFactory = _ => Kernels.WorkerTeam.Shared.Size };
        var reps = new Option<int>("--reps") { Description = "timed runs per mode (median reported)", DefaultValueFactory = _ => 3 };
        var json = new Option<bool>("--json") { Description = "one JSON object per row" };
        var scan = new Command("scan", "Sequential vs parallel-in-time forward (ParaGRU/ParaLSTM Newton, GLA chunkwise, LSSL scan): ms, speedup, Newton iterations")
        {
            cell, batch, seq, input, hidden, weights, threads, reps, json,
        };
        scan.SetAction(parse =>
        {
            try
            {
                string? c = parse.GetValue(cell);
                var cells = c is null ? ScanBenchmark.Cells : ScanBenchmark.Cells.Contains(c) ? [c]
                    : throw new ArgumentException($"--cell must be one of {string.Join(", ", ScanBenchmark.Cells)}, got '{c}'");
                int? b = parse.GetValue(batch), t = parse.GetValue(seq);
                if ((b is null) != (t is null) || b is <= 0 || t is <= 0) throw new ArgumentException("--batch and --seq go together, each positive");
                var grid = b is null ? ScanBenchmark.Grid : [(b.Value, t!.Value)];
                string w = parse.GetValue(weights) ?? "both";
                bool[] trained = w switch
                {
                    "both" => [false, true], "init" => [false], "trained" => [true],
                    _ => throw new ArgumentException($"--weights must be init, trained or both, got '{w}'"),
                };
                int i = parse.GetValue(input), h = parse.GetValue(hidden), n = parse.GetValue(threads), r = parse.GetValue(reps);
                if (i <= 0 || h <= 0 || n <= 0 || r <= 0) throw new ArgumentException("--input, --hidden, --threads and --reps must be positive");
                bool asJson = parse.GetValue(json);
                var table = new Table().AddColumns("cell", "weights", "B", "T", "H", "threads", "sequential ms", "parallel ms", "speedup", "Newton its", "max |Δy|");
                foreach (string name in cells)
                    foreach (bool tr in trained)
                        foreach (var (bb, tt) in grid)
                        {
                            var res = ScanBenchmark.Run(name, bb, tt, i, h, tr, n, r);
                            var ci = CultureInfo.InvariantCulture;
                            if (res is null)
                            {
                                string why = $"{name} B={bb} T={tt}: skipped, needs {ScanBenchmark.ForwardBytes(name, bb, tt, h) / (1 << 20)} MiB of activations";
                                if (asJson) Console.Error.WriteLine(why);
                                else table.AddRow(name, tr ? "trained" : "init", bb.ToString(ci), tt.ToString(ci), h.ToString(ci), n.ToString(ci), "skipped", "-", "-", "-", "-");
                                continue;
                            }
                            if (asJson) { Console.WriteLine(res.ToJson()); continue; }
                            table.AddRow(res.Cell, res.Weights, bb.ToString(ci), tt.ToString(ci), h.ToString(ci), n.ToString(ci),
                                res.SequentialMs.ToString("F1", ci), res.ParallelMs.ToString("F1", ci), res.Speedup.ToString("F2", ci),
                                res.Iterations.ToString(ci), res.MaxAbsDiff.ToString("G2", ci));
                        }
                if (!asJson) AnsiConsole.Write(table);
                return 0;
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"gyre bench scan: {e.Message}");
                return 2;
            }
        });
        return scan;
    }

    /// <summary>The standard grid (optionally only one cell kind), or the single shape the options give.</summary>
    internal static IReadOnlyList<RecurrentBenchShape> Shapes(string? cell, int? b, int? t, int? i, int? h)
    {
        string? name = cell is null ? null : CellRegistry.Get(cell).Name;
        if (b is null && t is null && i is null && h is null)
            return name is null ? RecurrentBenchmark.StandardGrid : RecurrentBenchmark.GridFor(name);
        if (b is not > 0 || t is not > 0 || i is not > 0 || h is not > 0)
            throw new ArgumentException("a shape needs all of --batch, --seq, --input, --hidden, each positive");
        return [new RecurrentBenchShape(name ?? CellRegistry.Names[0], b.Value, t.Value, i.Value, h.Value)];
    }

    private static void WriteTable(CliContext ctx, List<RecurrentBenchResult> results)
    {
        var table = new Table().AddColumns("cell", "mode", "B", "T", "I", "H", "threads", "ms", "GFLOP/s", "steps/s", "alloc B", "peak RSS MiB");
        foreach (var r in results)
        {
            var c = CultureInfo.InvariantCulture;
            table.AddRow(r.Shape.Cell, r.Mode, r.Shape.Batch.ToString(c), r.Shape.Seq.ToString(c),
                r.Shape.Input.ToString(c), r.Shape.Hidden.ToString(c), r.Threads.ToString(c), r.Ms.ToString("F3", c),
                r.Gflops.ToString("F1", c), r.StepsPerS.ToString("F0", c), r.AllocBytes.ToString(c), r.PeakRssMb.ToString("F1", c));
        }
        ctx.Console.Write(table);
    }
}
