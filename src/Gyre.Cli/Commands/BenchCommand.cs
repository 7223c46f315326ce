using System.CommandLine;
using Gyre.Data;
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
            var shapes = Shapes(parse.GetValue(cell), parse.GetValue(batch), parse.GetValue(seq), parse.GetValue(input), parse.GetValue(hidden));
            string m = parse.GetValue(mode) ?? "both";
            string[] modes = m == "both" ? ["infer", "train"] : m is "infer" or "train" ? [m]
                : throw new GyreDataException($"--mode must be infer, train or both, got '{m}'");
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
        return cmd;
    }

    /// <summary>The standard grid (optionally only one cell kind), or the single shape the options give.</summary>
    internal static IReadOnlyList<RecurrentBenchShape> Shapes(string? cell, int? b, int? t, int? i, int? h)
    {
        string? name;
        try { name = cell is null ? null : CellRegistry.Get(cell).Name; }
        catch (ArgumentException e) { throw new GyreDataException($"--cell: {e.Message}"); }
        if (b is null && t is null && i is null && h is null)
            return name is null ? RecurrentBenchmark.StandardGrid : RecurrentBenchmark.GridFor(name);
        if (b is not > 0 || t is not > 0 || i is not > 0 || h is not > 0)
            throw new GyreDataException("a shape needs all of --batch, --seq, --input, --hidden, each positive");
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
