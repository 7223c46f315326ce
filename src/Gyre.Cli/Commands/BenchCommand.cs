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
        var cell = new Option<string?>("--cell") { Description = $"{string.Join(" | ", CellRegistry.Names)} or name(k=v,…) (with a shape; without one: that cell's grid rows), or {GmuBenchmark.Name}: the gated memory unit layer (input = D_x, hidden = D_m)" };
        var batch = new Option<int?>("--batch") { Description = "B" };
        var seq = new Option<int?>("--seq") { Description = "T" };
        var input = new Option<int?>("--input") { Description = "I" };
        var hidden = new Option<int?>("--hidden") { Description = "H" };
        var mode = new Option<string>("--mode") { Description = "infer, train or both", DefaultValueFactory = _ => "both" };
        var threads = new Option<int>("--threads") { Description = "worker threads", DefaultValueFactory = _ => Kernels.WorkerTeam.Shared.Size };
        var reps = new Option<int>("--reps") { Description = "timed runs per row (median reported); 0: as many as fill 3 s, 3 to 50 (the peers' rule)", DefaultValueFactory = _ => 0 };
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
                    var result = shape.Cell == GmuBenchmark.Name ? GmuBenchmark.Run(shape, md, n, r) : RecurrentBenchmark.Run(shape, md, n, r);
                    if (asJson) ctx.Out.WriteLine(result.ToJson());
                    results.Add(result);
                }
            if (!asJson) WriteTable(ctx, results);
            return 0;
        });

        var cellsJson = new Option<bool>("--json") { Description = "one JSON object per cell" };
        var cellTexts = new Argument<string[]>("CELL") { Description = "cells as name(k=v,…) to describe besides the registered ones", Arity = ArgumentArity.ZeroOrMore };
        var cells = new Command("cells", "The registered cells: equation, states, recurrent weight, ONNX form") { cellsJson, cellTexts };
        cells.SetAction(parse =>
        {
            List<CellDescription> rows;
            try { rows = [.. CellRegistry.All.Concat((parse.GetValue(cellTexts) ?? []).Select(CellRegistry.FromText)).Select(CellDescription.Of)]; }
            catch (ArgumentException e) { throw new GyreDataException($"gyre bench cells: {e.Message}"); }
            if (parse.GetValue(cellsJson)) foreach (var r in rows) ctx.Out.WriteLine(r.ToJson());
            else
            {
                var table = new Table().AddColumns("cell", "equation", "states", "recurrent weight", "ONNX");
                foreach (var r in rows) table.AddRow(Markup.Escape(r.Cell), Markup.Escape(r.Equation), Markup.Escape(r.States), Markup.Escape(r.Recurrent), Markup.Escape(r.Onnx));
                ctx.Console.Write(table);
            }
            return 0;
        });
        cmd.Subcommands.Add(cells);

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
            var blocking = Kernels.Gemm.Blocking;
            ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"caches: {blocking.Caches}; blocking: tile {Kernels.Gemm.MR}x{Kernels.Gemm.NR}, KC {blocking.KC}, MC {blocking.MC}"));
            ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sgemm {s}x{s}x{s} threads={n}: {rate:F1} GFLOP/s (median)"));
            return 0;
        });
        cmd.Subcommands.Add(sgemm);
        cmd.Subcommands.Add(ScanCommand());
        return cmd;
    }

    /// <summary>
    /// <c>gyre bench scan</c>: the runner's loop against its parallel-in-time forward (Newton for ParaGRU/ParaLSTM, the
    /// linear scan for minGRU/minLSTM, the state scan for GLA/LSSL) over
    /// T = 1k, 4k, 16k at B = 1 and 8, hidden 256, untrained and briefly trained weights.
    /// </summary>
    private static Command ScanCommand()
    {
        var cell = new Option<string?>("--cell") { Description = "a cell with a parallel form, e.g. " + string.Join(", ", ScanBenchmark.Cells) + " (default: these)" };
        var batch = new Option<int?>("--batch") { Description = "B (with --seq: one shape instead of the grid)" };
        var seq = new Option<int?>("--seq") { Description = "T" };
        var input = new Option<int>("--input") { Description = "I", DefaultValueFactory = _ => 32 };
        var hidden = new Option<int>("--hidden") { Description = "H", DefaultValueFactory = _ => 256 };
        var weights = new Option<string>("--weights") { Description = "init, trained or both", DefaultValueFactory = _ => "both" };
        var threads = new Option<int>("--threads") { Description = "worker threads", DefaultValueFactory = _ => Kernels.WorkerTeam.Shared.Size };
        var reps = new Option<int>("--reps") { Description = "timed runs per mode (median reported)", DefaultValueFactory = _ => 3 };
        var json = new Option<bool>("--json") { Description = "one JSON object per row" };
        var model = new Option<string?>("--model") { Description = "a forecaster's model file: time its trained encoder (weights \"forecaster\") instead of --cell" };
        var scan = new Command("scan", "Sequential vs parallel-in-time forward (ParaGRU/ParaLSTM Newton, minGRU/minLSTM scan, GLA/LSSL state scan): ms, speedup, Newton iterations")
        {
            cell, batch, seq, input, hidden, weights, threads, reps, json, model,
        };
        scan.SetAction(parse =>
        {
            try
            {
                if (parse.GetValue(model) is { } path)
                {
                    var encoder = Forecasting.Forecaster.Load(path).Network.Encoder;
                    var rows = (parse.GetValue(batch), parse.GetValue(seq)) is ({ } b1, { } t1) ? [(b1, t1)] : ScanBenchmark.Grid;
                    foreach (var (bb, tt) in rows)
                    {
                        var res = ScanBenchmark.Run(encoder, encoder.Cell.ToString(), "forecaster", bb, tt, parse.GetValue(threads), parse.GetValue(reps));
                        Console.WriteLine(parse.GetValue(json) ? res.ToJson() : string.Create(CultureInfo.InvariantCulture,
                            $"{res.Cell} forecaster B={bb} T={tt} H={res.Hidden}: sequential {res.SequentialMs:F1} ms, parallel {res.ParallelMs:F1} ms, speedup {res.Speedup:F2}, Newton its {res.Iterations}, max |Δy| {res.MaxAbsDiff:G2}"));
                    }
                    return 0;
                }
                string? c = parse.GetValue(cell);
                var cells = c is null ? ScanBenchmark.Cells : [ScanBenchmark.Definition(c).ToString()];
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
        string? name;
        bool gmu = cell?.Trim().ToLowerInvariant() == GmuBenchmark.Name;
        try { name = cell is null ? null : gmu ? GmuBenchmark.Name : CellRegistry.FromText(cell.Trim()).ToString(); }
        catch (ArgumentException e) { throw new GyreDataException($"--cell: {e.Message}"); }
        if (b is null && t is null && i is null && h is null)
            return name is null ? RecurrentBenchmark.StandardGrid : gmu ? GmuBenchmark.Grid : RecurrentBenchmark.GridFor(name);
        if (b is not > 0 || t is not > 0 || i is not > 0 || h is not > 0)
            throw new GyreDataException("a shape needs all of --batch, --seq, --input, --hidden, each positive");
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
