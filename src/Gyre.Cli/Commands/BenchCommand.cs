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
        var sizeArgument = new Argument<int?>("N") { Description = "matrix size, as `gyre bench sgemm 512` (same as --size)", Arity = ArgumentArity.ZeroOrOne };
        var sgemmThreads = new Option<int>("--threads") { Description = "worker threads", DefaultValueFactory = _ => Kernels.WorkerTeam.Shared.Size };
        var sgemmReps = new Option<int>("--reps") { Description = "timed runs (median reported)", DefaultValueFactory = _ => 5 };
        var sgemm = new Command("sgemm", "GFLOP/s of the SGEMM kernel at size³ (default 2048)") { sizeArgument, size, sgemmThreads, sgemmReps };
        sgemm.SetAction(parse =>
        {
            int? positional = parse.GetValue(sizeArgument);
            var sizeResult = parse.GetResult(size);
            if (positional is { } p && sizeResult is { Implicit: false } && parse.GetValue(size) != p)
            {
                ctx.Err.WriteLine($"gyre bench sgemm: size given twice ({p} and --size {parse.GetValue(size)})");
                return 2;
            }
            int s = positional ?? parse.GetValue(size), n = parse.GetValue(sgemmThreads);
            if (s <= 0)
            {
                ctx.Err.WriteLine($"gyre bench sgemm: size must be positive, got {s}");
                return 2;
            }
            double rate = RecurrentBenchmark.Sgemm(s, n, parse.GetValue(sgemmReps));
            ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sgemm {s}x{s}x{s} threads={n}: {rate:F1} GFLOP/s (median)"));
            return 0;
        });
        cmd.Subcommands.Add(sgemm);
        return cmd;
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

    /// <summary>
    /// The results as a table that fits 80 columns: the shape in one column (BxTxIxH), threads in the caption
    /// when they are all the same, allocations and RSS in compact units.
    /// </summary>
    internal static Table BuildTable(IReadOnlyList<RecurrentBenchResult> results)
    {
        var c = CultureInfo.InvariantCulture;
        bool oneThreadCount = results.Select(r => r.Threads).Distinct().Count() <= 1;
        // No borders and two spaces between columns: the widest row (a 16×1024×768×768 shape) then takes 72 columns.
        var table = new Table().Border(TableBorder.None).ShowHeaders();
        if (oneThreadCount && results.Count > 0) table.Caption($"{results[0].Threads} thread(s); shape BxTxIxH; medians");
        TableColumn Column(string header, bool right = false) => (right ? new TableColumn(header).RightAligned() : new TableColumn(header)).NoWrap().Padding(0, 0, 2, 0);
        table.AddColumn(Column("cell")).AddColumn(Column("mode")).AddColumn(Column("shape"));
        if (!oneThreadCount) table.AddColumn(Column("thr", true));
        foreach (var h in new[] { "ms", "GFLOP/s", "steps/s", "alloc", "RSS MiB" }) table.AddColumn(Column(h, true));
        foreach (var r in results)
        {
            var s = r.Shape;
            var row = new List<string> { s.Cell, r.Mode, $"{s.Batch}x{s.Seq}x{s.Input}x{s.Hidden}" };
            if (!oneThreadCount) row.Add(r.Threads.ToString(c));
            row.AddRange([r.Ms.ToString(r.Ms < 100 ? "F2" : "F0", c), r.Gflops.ToString("F0", c), Compact(r.StepsPerS), Bytes(r.AllocBytes), r.PeakRssMb.ToString("F0", c)]);
            table.AddRow(row.Select(Markup.Escape).ToArray());
        }
        return table;
    }

    private static string Compact(double v) =>
        v >= 1e6 ? (v / 1e6).ToString("0.0", CultureInfo.InvariantCulture) + "M" : v >= 1e4 ? (v / 1e3).ToString("0", CultureInfo.InvariantCulture) + "k" : v.ToString("0", CultureInfo.InvariantCulture);

    private static string Bytes(long b) =>
        b >= 1 << 20 ? (b / (double)(1 << 20)).ToString("0.0", CultureInfo.InvariantCulture) + "M" : b >= 1 << 10 ? (b / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + "k" : b.ToString(CultureInfo.InvariantCulture);

    private static void WriteTable(CliContext ctx, List<RecurrentBenchResult> results) => ctx.Console.Write(BuildTable(results));
}
