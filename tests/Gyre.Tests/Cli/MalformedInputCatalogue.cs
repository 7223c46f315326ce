using System.Text;
using Gyre.IO;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>
/// A catalogue of malformed inputs — CSV, options, output paths, model files, safetensors, ONNX and Keras
/// files — each run through the CLI with its exact one-line message and exit code, and a check that the
/// folder holds afterwards exactly what it held before (no output, checkpoint or temporary file).
/// <c>{dir}</c> in a message stands for the test's folder.
/// </summary>
public sealed class MalformedInputCatalogue : IClassFixture<MalformedInputCatalogue.Models>, IDisposable
{

    private readonly CliFolder _dir = new();
    private readonly Models _models;

    public MalformedInputCatalogue(Models models) => _models = models;

    public void Dispose() => _dir.Dispose();

    /// <summary>A model, a layer file and their sources, made once for the whole catalogue.</summary>
    public sealed class Models : IDisposable
    {
        private readonly CliFolder _home = new();
        public string Model { get; }
        public string Layer { get; }

        public Models()
        {
            string data = _home.Daily("d.csv");
            Model = _home["m.gyre"];
            _home.Ok("forecast", "train", "--data", data, "--lookback", "14", "--horizon", "7", "--hidden", "4", "--epochs", "1", "--out", Model);
            Layer = _home["layer.safetensors"];
            LayerFile.Save(Layer, new Gyre.Layers.Gru(2, 3, batchFirst: true));
        }

        public void Dispose() => _home.Dispose();
    }

    /// <summary>One malformed input: files to lay out, the command, and what the user must see.</summary>
    private sealed record Case(Action<CliFolder, Models> Setup, Func<CliFolder, string[]> Args, int Code, string Message);

    // The registry grows as cells are added; the message lists whatever it holds.
    private static readonly string KnownCells = string.Join(", ", Gyre.Cells.CellRegistry.Names);

    private static readonly string[] Small = ["--lookback", "14", "--horizon", "7", "--hidden", "4", "--epochs", "1"];

    /// <summary>`forecast train` on d.csv with the small settings, an option in <paramref name="extra"/> replacing its default.</summary>
    private static string[] Train(CliFolder d, params string[] extra)
    {
        var small = new List<string>();
        for (int i = 0; i < Small.Length; i += 2)
            if (!extra.Contains(Small[i])) small.AddRange([Small[i], Small[i + 1]]);
        return ["forecast", "train", "--data", d["d.csv"], .. small, "--out", d["m.gyre"], .. extra];
    }

    private static Action<CliFolder, Models> Csv(string text) => (d, _) => d.Write("d.csv", text);

    private static Action<CliFolder, Models> Daily(Func<string[], string[]>? edit = null) => (d, _) =>
    {
        var lines = File.ReadAllLines(d.Daily("d.csv"));
        if (edit != null) d.Write("d.csv", string.Join('\n', edit(lines)) + "\n");
    };

    private static Action<CliFolder, Models> Bytes(string name, byte[] bytes) => (d, _) => File.WriteAllBytes(d[name], bytes);

    private static Action<CliFolder, Models> Both(params Action<CliFolder, Models>[] steps) => (d, m) => { foreach (var s in steps) s(d, m); };

    private static readonly Action<CliFolder, Models> CopyModel = (d, m) => File.Copy(m.Model, d["m.gyre"]);

    /// <summary>The bundled model rewritten with <paramref name="edit"/> applied to its tensors and metadata.</summary>
    private static Action<CliFolder, Models> EditedModel(Action<Dictionary<string, Tensor>, Dictionary<string, string>> edit) => (d, m) =>
    {
        var file = Safetensors.Read(m.Model);
        var tensors = file.Names.ToDictionary(n => n, n => file.Tensors[n]);
        var meta = new Dictionary<string, string>(file.Metadata);
        edit(tensors, meta);
        Safetensors.Write(d["m.gyre"], tensors, meta);
    };

    private static string[] Inspect(CliFolder d) => ["forecast", "inspect", "--model", d["m.gyre"]];

    private static string[] ImportTorch(CliFolder d) => ["import", "--torch", d["t.safetensors"], "--kind", "gru", "--out", d["l.safetensors"]];

    /// <summary>A safetensors image with a hand-written header (8-byte length prefix, header, data).</summary>
    private static byte[] Image(string header, int dataBytes)
    {
        var h = Encoding.UTF8.GetBytes(header);
        return [.. BitConverter.GetBytes((ulong)h.Length), .. h, .. new byte[dataBytes]];
    }

    private static byte[] KerasImage(params (string Name, int[] Shape)[] tensors)
    {
        var ms = new MemoryStream();
        Safetensors.Write(ms, tensors.Select(t => KeyValuePair.Create(t.Name, Tensor.Zeros(t.Shape))));
        return ms.ToArray();
    }

    private static byte[] Random(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>A daily series whose values come near float's largest (3.4·10³⁸): unscaled, its gradients overflow.</summary>
    private static readonly string Huge = "date,y\n" + string.Concat(Enumerable.Range(0, 120).Select(t =>
        $"{new DateTime(2020, 1, 1).AddDays(t):yyyy-MM-dd},{(2e38 * (1 + 0.5 * Math.Sin(t / 3.0))).ToString("G6", System.Globalization.CultureInfo.InvariantCulture)}\n"));

    private static readonly Dictionary<string, Case> Cases = new()
    {
        // ------------------------------------------------------------------ CSV
        ["csv: missing file"] = new((_, _) => { }, d => Train(d), 2, "d.csv: file not found"),
        ["csv: empty file"] = new(Csv(""), d => Train(d), 2, "d.csv: empty file (a header row is required)"),
        ["csv: header only"] = new(Csv("date,y,x\n"), d => Train(d), 2, "d.csv: header only, no data rows"),
        ["csv: empty header field"] = new(Csv("date,,x\n2020-01-01,1,2\n"), d => Train(d), 2, "d.csv: line 1: header field 2 is empty"),
        ["csv: duplicate header"] = new(Csv("date,y,y\n2020-01-01,1,2\n"), d => Train(d), 2, "d.csv: cannot read CSV: Col name 'y' found 2 times at 1:'y' 2:'y' in header row 'date,y,y'"),
        ["csv: ragged row"] = new(Daily(l => { l[5] += ",7"; return l; }), d => Train(d), 2, "d.csv: data row 5 (line 6): ragged row: 4 fields, header has 3"),
        ["csv: non-numeric cell"] = new(Daily(l => { l[10] = "2020-01-10,abc,0.5"; return l; }), d => Train(d, "--target", "y"), 2,
            "d.csv: data row 10 (line 11), column 'y': non-numeric value 'abc' in target column"),
        ["csv: missing value without --fill"] = new(Daily(l => { l[10] = "2020-01-10,,0.5"; return l; }), d => Train(d), 2,
            "d.csv: data row 10 (line 11), column 'y': empty cell (choose a fill mode: ffill, linear or mask)"),
        ["csv: NaN without --fill"] = new(Daily(l => { l[3] = "2020-01-03,NaN,0.5"; return l; }), d => Train(d), 2,
            "d.csv: data row 3 (line 4), column 'y': missing or non-finite value 'NaN' (choose a fill mode: ffill, linear or mask)"),
        ["csv: overflowing number"] = new(Daily(l => { l[3] = "2020-01-03,1e39,0.5"; return l; }), d => Train(d), 2,
            "d.csv: data row 3 (line 4), column 'y': missing or non-finite value '1e39' (choose a fill mode: ffill, linear or mask)"),
        ["csv: unparsable date"] = new(Daily(l => { l[7] = "2020-13-45,1,0.5"; return l; }), d => Train(d, "--time-col", "date"), 2,
            "d.csv: data row 7 (line 8), column 'date': cannot parse date '2020-13-45': not an ISO date like the rows before (expected e.g. 2016-07-01 or 2016-07-01 00:00:00); give the format with --time-format, e.g. \"dd.MM.yyyy HH:mm\""),
        ["csv: unsorted dates"] = new(Daily(l => { (l[4], l[5]) = (l[5], l[4]); return l; }), d => Train(d), 2,
            "d.csv: data row 5 (line 6), column 'date': unsorted timestamps: 2020-01-04 follows 2020-01-05 (data row 4)"),
        ["csv: duplicate timestamp"] = new(Daily(l => { l[5] = l[4]; return l; }), d => Train(d), 2,
            "d.csv: data row 5 (line 6), column 'date': duplicate timestamp: 2020-01-04 follows 2020-01-04 (data row 4)"),
        ["csv: series too short"] = new((d, _) => d.Daily("d.csv", rows: 15), d => Train(d), 2,
            "d.csv: series 'd' has 15 rows, shorter than lookback 14 + horizon 7"),
        ["csv: unknown target"] = new(Daily(), d => Train(d, "--target", "nope"), 2, "d.csv: column 'nope': unknown target column 'nope' (columns: date, y, x)"),
        ["csv: unknown time column"] = new(Daily(), d => Train(d, "--time-col", "nope"), 2, "d.csv: column 'nope': unknown time column 'nope' (columns: date, y, x)"),
        ["csv: unknown feature"] = new(Daily(), d => Train(d, "--features", "nope"), 2, "d.csv: column 'nope': unknown feature column 'nope' (columns: date, y, x)"),
        ["csv: unknown id column"] = new(Daily(), d => Train(d, "--id-col", "nope"), 2, "d.csv: column 'nope': unknown id column 'nope' (columns: date, y, x)"),
        ["csv: binary bytes"] = new(Bytes("d.csv", Random(200, 3)), d => Train(d), 2, "d.csv: not a CSV file (it holds binary data: a model or safetensors file?)"),
        ["csv: a model file as --data"] = new((d, m) => File.Copy(m.Model, d["d.csv"]), d => Train(d), 2, "d.csv: not a CSV file (it holds binary data: a model or safetensors file?)"),
        ["csv: --data is a folder"] = new((d, _) => Directory.CreateDirectory(d["d.csv"]), d => Train(d), 2, "--data: '{dir}/d.csv' is a folder, not a file"),
        ["csv: predict on data with other columns"] = new(Both(CopyModel, Csv("date,z\n2020-01-01,1\n2020-01-02,2\n")),
            d => ["forecast", "predict", "--model", d["m.gyre"], "--data", d["d.csv"], "--out", d["f.csv"]], 2, "d.csv: columns [z] differ from the model's [y, x]"),

        // ------------------------------------------------------------------ options
        ["option: --lookback abc"] = new(Daily(), d => Train(d, "--lookback", "abc"), 2, "--lookback: 'abc' is not a whole number"),
        ["option: --lookback 0"] = new(Daily(), d => Train(d, "--lookback", "0"), 2, "--lookback must be between 1 and 1000000 (got 0)"),
        ["option: --horizon -1"] = new(Daily(), d => Train(d, "--horizon", "-1"), 2, "--horizon must be between 1 and 1000000 (got -1)"),
        ["option: --horizon 2.5"] = new(Daily(), d => Train(d, "--horizon", "2.5"), 2, "--horizon: '2.5' is not a whole number"),
        ["option: --season -3"] = new(Daily(), d => Train(d, "--season", "-3"), 2, "--season must be between 1 and 1000000 (got -3); leave it out to detect it"),
        ["option: --epochs 0"] = new(Daily(), d => Train(d, "--epochs", "0"), 2, "--epochs must be between 1 and 1000000 (got 0); 0 epochs would write an untrained model"),
        ["option: --hidden 0"] = new(Daily(), d => Train(d, "--hidden", "0"), 2, "--hidden must be between 1 and 16384 (got 0)"),
        ["option: --hidden 100000"] = new(Daily(), d => Train(d, "--hidden", "100000"), 2, "--hidden must be between 1 and 16384 (got 100000)"),
        ["option: --layers 0"] = new(Daily(), d => Train(d, "--layers", "0"), 2, "--layers must be between 1 and 64 (got 0)"),
        ["option: --batch 0"] = new(Daily(), d => Train(d, "--batch", "0"), 2, "--batch must be between 1 and 1000000 (got 0)"),
        ["option: --lr 0"] = new(Daily(), d => Train(d, "--lr", "0"), 2, "--lr must be > 0 and ≤ 10 (got 0)"),
        ["option: --lr abc"] = new(Daily(), d => Train(d, "--lr", "abc"), 2, "--lr: 'abc' is not a finite number"),
        ["option: --lr NaN"] = new(Daily(), d => Train(d, "--lr", "NaN"), 2, "--lr: 'NaN' is not a finite number"),
        ["option: --dropout 1"] = new(Daily(), d => Train(d, "--dropout", "1"), 2, "--dropout must be ≥ 0 and < 1 (got 1)"),
        ["option: --weight-decay -1"] = new(Daily(), d => Train(d, "--weight-decay", "-1"), 2, "--weight-decay must be ≥ 0 and ≤ 1 (got -1)"),
        ["option: --clip -1"] = new(Daily(), d => Train(d, "--clip", "-1"), 2, "--clip must be ≥ 0 and ≤ 3.40282E+38 (got -1)"),
        ["option: --patience -1"] = new(Daily(), d => Train(d, "--patience", "-1"), 2, "--patience must be at least 0 (got -1)"),
        ["option: --seed -1"] = new(Daily(), d => Train(d, "--seed", "-1"), 2, "--seed: '-1' is not a whole number from 0 to 18446744073709551615"),
        ["option: --patch longer than --lookback"] = new(Daily(), d => Train(d, "--patch", "30"), 2, "--patch 30 is longer than --lookback 14"),
        ["option: --cell transformer"] = new(Daily(), d => Train(d, "--cell", "transformer"), 2, $"--cell: unknown cell 'transformer' (known: {KnownCells})"),
        ["option: --decoder bogus"] = new(Daily(), d => Train(d, "--decoder", "bogus"), 2, "decoder must be direct, recurrent or pmf (got 'bogus')"),
        ["option: --shared-decoder without pmf"] = new(Daily(), d => Train(d, "--shared-decoder"), 2, "--shared-decoder needs --decoder pmf with --cell gru, --layers 1, --patch, an even --hidden, no future features and no --gmu"),
        ["option: --loss bogus"] = new(Daily(), d => Train(d, "--loss", "bogus"), 2, "unknown loss 'bogus' (known: mse, mae, huber, quantile, gaussian, studentt, negbinomial)"),
        ["option: --quantiles without quantile loss"] = new(Daily(), d => Train(d, "--quantiles", "0.5"), 2, "--quantiles needs --loss quantile"),
        ["option: --quantiles decreasing"] = new(Daily(), d => Train(d, "--loss", "quantile", "--quantiles", "0.9,0.1"), 2, "quantiles must be strictly increasing"),
        ["option: --quantiles 1.5"] = new(Daily(), d => Train(d, "--loss", "quantile", "--quantiles", "1.5"), 2, "quantiles must lie in (0, 1) (got 1.5)"),
        ["option: --quantiles abc"] = new(Daily(), d => Train(d, "--loss", "quantile", "--quantiles", "abc"), 2, "--quantiles: 'abc' is not a number"),
        ["option: --scaler bogus"] = new(Daily(), d => Train(d, "--scaler", "bogus"), 2, "unknown scaler 'bogus' (expected standard, robust, minmax or none)"),
        ["option: --schedule bogus"] = new(Daily(), d => Train(d, "--schedule", "bogus"), 2, "unknown schedule 'bogus' (known: constant, cosine, plateau, exponential)"),
        ["option: --schedule with an option of another kind"] = new(Daily(), d => Train(d, "--schedule", "cosine(gamma=0.8)"), 2,
            "schedule 'cosine(gamma=0.8)': unknown option 'gamma' for cosine (every schedule takes warmup and start; exponential also gamma and hold; plateau also factor and patience)"),
        ["option: --fill bogus"] = new(Daily(), d => Train(d, "--fill", "bogus"), 2, "unknown fill mode 'bogus' (expected ffill, linear, mask or none)"),
        ["option: --calendar bogus"] = new(Daily(), d => Train(d, "--calendar", "bogus"), 2, "unknown calendar feature 'bogus' (expected hour, dow, dom, month, doy)"),
        ["option: --on-nan bogus"] = new(Daily(), d => Train(d, "--on-nan", "bogus"), 2, "--on-nan: 'bogus' is not one of stop, skip"),
        ["option: classify --on-nan bogus"] = new(Daily(), d => ["classify", "train", "--data", d["d.csv"], "--on-nan", "bogus"], 2, "--on-nan: 'bogus' is not one of stop, skip"),
        ["option: trajectory --on-nan bogus"] = new(Daily(), d => ["trajectory", "train", "--data", d["d.csv"], "--out", d["m.gyre"], "--on-nan", "bogus"], 2, "--on-nan: 'bogus' is not one of stop, skip"),
        ["option: detect --on-nan bogus"] = new(Daily(), d => ["detect", "train", "--data", d["d.csv"], "--out", d["m.gyre"], "--on-nan", "bogus"], 2, "--on-nan: 'bogus' is not one of stop, skip"),
        ["training: diverges (unscaled values near float's largest)"] = new(Csv(Huge), d => Train(d, "--scaler", "none"), 2,
            "training diverged at epoch 1, batch 1 of 2 (loss 8.173E+75, gradient norm NaN); nothing was written: try a lower --lr, or --on-nan skip to skip such batches"),
        ["training: --on-nan skip, every batch diverges"] = new(Csv(Huge), d => Train(d, "--scaler", "none", "--on-nan", "skip"), 2,
            "training diverged at epoch 1, batch 2 of 2 (loss 8.521E+75, gradient norm NaN); 2 of this epoch's 2 batches skipped, more than --on-nan skip allows (10 %); nothing was written: try a lower --lr"),
        ["option: --split over 1"] = new(Daily(), d => Train(d, "--split", "0.5,0.6,0.2"), 2, "split '0.5,0.6,0.2': fractions must sum to at most 1 (or give whole row counts)"),
        ["option: --backtest 0"] = new(Both(CopyModel, Daily()), d => ["forecast", "eval", "--model", d["m.gyre"], "--data", d["d.csv"], "--backtest", "0"], 2,
            "--backtest must be at least 1 (got 0)"),
        ["option: --opset 13"] = new(CopyModel, d => ["export", "--model", d["m.gyre"], "--onnx", d["m.onnx"], "--opset", "13"], 2, "--opset must be 14 or 22 (got 13)"),
        ["option: export --model and --layer"] = new(CopyModel, d => ["export", "--model", d["m.gyre"], "--layer", d["m.gyre"], "--onnx", d["m.onnx"]], 2,
            "give exactly one of --model or --layer"),
        ["option: import --torch without --kind"] = new(Bytes("t.safetensors", KerasImage(("weight_ih_l0", [3, 2]))), d => ["import", "--torch", d["t.safetensors"], "--out", d["l.safetensors"]], 2,
            "--torch needs --kind (the cell)"),
        ["option: import --kind transformer"] = new(Bytes("t.safetensors", KerasImage(("weight_ih_l0", [3, 2]))), d => ["import", "--torch", d["t.safetensors"], "--kind", "transformer", "--out", d["l.safetensors"]], 2,
            $"--kind: unknown cell 'transformer' (known: {KnownCells})"),
        ["option: unknown option"] = new(Daily(), d => Train(d, "--bogus"), 2, "Unrecognized command or argument '--bogus'."),

        // ------------------------------------------------------------------ output paths
        ["output: train --out in a missing folder"] = new(Daily(), d => ["forecast", "train", "--data", d["d.csv"], .. Small, "--out", d["missing/m.gyre"]], 2,
            "--out: folder does not exist for '{dir}/missing/m.gyre'"),
        ["output: train --out under a file"] = new(Daily(), d => ["forecast", "train", "--data", d["d.csv"], .. Small, "--out", d["d.csv"] + "/m.gyre"], 2,
            "--out: '{dir}/d.csv' is a file, not a folder"),
        ["output: train --out is a folder"] = new(Both(Daily(), (d, _) => Directory.CreateDirectory(d["m.gyre"])), d => Train(d), 2,
            "--out: '{dir}/m.gyre' is a folder; name a file"),
        ["output: train --out is the --data file"] = new(Daily(), d => ["forecast", "train", "--data", d["d.csv"], .. Small, "--out", d["d.csv"]], 2,
            "--out '{dir}/d.csv' is the --data file: writing it would destroy the input"),
        ["output: checkpoint of an unfinished run"] = new(Both(Daily(), (d, _) => d.Write("m.gyre.ckpt", "x")), d => Train(d), 2,
            "'{dir}/m.gyre.ckpt' holds the checkpoint of an unfinished run: add --resume to continue it, or delete it to start over"),
        ["output: predict --plot in a missing folder"] = new(Both(CopyModel, Daily()),
            d => ["forecast", "predict", "--model", d["m.gyre"], "--data", d["d.csv"], "--out", d["f.csv"], "--plot", d["missing/f.png"]], 2,
            "--plot: folder does not exist for '{dir}/missing/f.png'"),
        ["output: predict --out and --plot on one file"] = new(Both(CopyModel, Daily()),
            d => ["forecast", "predict", "--model", d["m.gyre"], "--data", d["d.csv"], "--out", d["f.csv"], "--plot", d["f.csv"]], 2,
            "--out and --plot both name '{dir}/f.csv': give each output its own file"),
        ["output: predict --out over the model"] = new(Both(CopyModel, Daily()),
            d => ["forecast", "predict", "--model", d["m.gyre"], "--data", d["d.csv"], "--out", d["m.gyre"]], 2,
            "--out '{dir}/m.gyre' is the --model file: writing it would destroy the input"),
        ["output: bundled --out-dir is a file"] = new((d, _) => d.Write("out", "x"), d => ["forecast", "--epochs", "1", "--out-dir", d["out"]], 2,
            "--out-dir: '{dir}/out' is a file, not a folder"),
        ["output: export --onnx in a missing folder"] = new(CopyModel, d => ["export", "--model", d["m.gyre"], "--onnx", d["missing/m.onnx"]], 2,
            "--onnx: folder does not exist for '{dir}/missing/m.onnx'"),
        ["output: import --out in a missing folder"] = new((d, m) => File.Copy(m.Layer, d["l.safetensors"]), d => ["import", "--keras", d["l.safetensors"], "--out", d["missing/l.safetensors"]], 2,
            "--out: folder does not exist for '{dir}/missing/l.safetensors'"),

        // ------------------------------------------------------------------ model files
        ["model: CSV as --model"] = new(Daily(), d => ["forecast", "inspect", "--model", d["d.csv"]], 2, "d.csv: not a Gyre model file (it looks like text/CSV)"),
        ["model: missing"] = new((_, _) => { }, Inspect, 2, "m.gyre: file not found"),
        ["model: empty file"] = new(Bytes("m.gyre", []), Inspect, 2, "{dir}/m.gyre: file is 0 bytes, shorter than the 8-byte header length"),
        ["model: random bytes"] = new(Bytes("m.gyre", Random(300, 1)), Inspect, 2, "{dir}/m.gyre: header length 11809730426195857478 exceeds the 100000000-byte limit"),
        ["model: truncated"] = new((d, m) => File.WriteAllBytes(d["m.gyre"], File.ReadAllBytes(m.Model)[..^10]), Inspect, 2, "{dir}/m.gyre: tensor 'head.bias': data_offsets [448, 476] end beyond the 466-byte data buffer"),
        ["model: a layer file"] = new((d, m) => File.Copy(m.Layer, d["m.gyre"]), Inspect, 2, "m.gyre: not a Gyre model (format 'gyre.layer')"),
        ["model: a folder"] = new((d, _) => Directory.CreateDirectory(d["m.gyre"]), Inspect, 2, "--model: '{dir}/m.gyre' is a folder, not a file"),
        ["model: newer version"] = new(EditedModel((_, meta) => meta["version"] = "99"), Inspect, 2,
            "m.gyre: model format version 99 is not supported (this Gyre reads version 1)"),
        ["model: corrupt options"] = new(EditedModel((_, meta) => meta["options"] = "{\"Lookback\":"), Inspect, 2, "m.gyre: corrupt model file: Expected depth to be zero at the end of the JSON payload. There is an open JSON object or array that should be closed. Path: $.Lookback | LineNumber: 0 | BytePositionInLine: 12."),
        ["model: network config missing"] = new(EditedModel((_, meta) => meta.Remove("network")), Inspect, 2, "m.gyre: corrupt model file: metadata 'network' missing"),
        ["model: tensor missing"] = new(EditedModel((t, _) => t.Remove("head.bias")), Inspect, 2, "m.gyre: corrupt model file: missing 1 of 6 expected tensors with or without a module prefix: head.bias; names found (5): encoder.bias_hh_l0, encoder.bias_ih_l0, encoder.weight_hh_l0, encoder.weight_ih_l0, head.weight"),
        ["model: unexpected tensor"] = new(EditedModel((t, _) => t["encoder.running_mean"] = Tensor.Zeros(4)), Inspect, 2, "m.gyre: corrupt model file: unexpected tensor 'encoder.running_mean' (the layer has no such parameter)"),
        ["model: misshapen tensor"] = new(EditedModel((t, _) => t["head.bias"] = Tensor.Zeros(3)), Inspect, 2, "m.gyre: corrupt model file: tensor 'head.bias' has shape [3], the layer needs [7]"),
        ["model: hidden size beyond the tensors"] = new(EditedModel((_, meta) => meta["network"] = meta["network"].Replace("\"Hidden\":4", "\"Hidden\":20000")), Inspect, 2, "m.gyre: corrupt model file: its network config needs about 1.2E+09 parameters but the file holds 119"),

        // ------------------------------------------------------------------ safetensors (gyre import --torch)
        ["safetensors: header length past the end"] = new(Bytes("t.safetensors", [.. BitConverter.GetBytes(1000UL), .. "{}"u8]),
            ImportTorch, 2,
            "{dir}/t.safetensors: header length 1000 exceeds the 2 bytes after the length prefix"),
        ["safetensors: header not JSON"] = new(Bytes("t.safetensors", Image("{nope", 0)),
            ImportTorch, 2,
            "{dir}/t.safetensors: header is not valid JSON: 'n' is an invalid start of a property name. Expected a '\"'. LineNumber: 0 | BytePositionInLine: 1."),
        ["safetensors: lone surrogate escape"] = new(Bytes("t.safetensors", Image("{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4)),
            ImportTorch, 2,
            "{dir}/t.safetensors: header holds a string with an unpaired UTF-16 surrogate escape"),
        ["safetensors: integer dtype"] = new(Bytes("t.safetensors", Image("{\"w\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8)),
            ImportTorch, 2,
            "{dir}/t.safetensors: tensor 'w': dtype I64 is not supported (Gyre reads F32, F16, BF16, F64 as float32)"),
        ["safetensors: overlapping tensors"] = new(Bytes("t.safetensors", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8)),
            ImportTorch, 2,
            "{dir}/t.safetensors: tensor 'b': data_offsets [4, 8] overlap the previous tensor, which ends at 8"),
        ["safetensors: offsets disagree with shape"] = new(Bytes("t.safetensors", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8)),
            ImportTorch, 2,
            "{dir}/t.safetensors: tensor 'a': data_offsets [0, 8] span 8 bytes but F32 [3] needs 12"),
        ["safetensors: no recurrent weights"] = new(Bytes("t.safetensors", KerasImage(("dense.weight", [3, 2]))),
            ImportTorch, 2,
            "{dir}/t.safetensors: missing 2 of 2 expected tensors with or without a module prefix: weight_ih_l0, weight_hh_l0; names found (1): dense.weight"),

        // ------------------------------------------------------------------ ONNX
        ["onnx: random bytes"] = new(Bytes("m.onnx", Random(100, 2)), d => ["import", "--onnx", d["m.onnx"], "--out", d["l.safetensors"]], 2, "{dir}/m.onnx: not an ONNX model or truncated (Protocol message contained a tag with an invalid wire type.)"),
        ["onnx: a safetensors file"] = new((d, m) => File.Copy(m.Layer, d["m.onnx"]), d => ["import", "--onnx", d["m.onnx"], "--out", d["l.safetensors"]], 2, "{dir}/m.onnx: not an ONNX model or truncated (Protocol message contained an invalid tag (zero).)"),
        ["onnx: empty file"] = new(Bytes("m.onnx", []), d => ["import", "--onnx", d["m.onnx"], "--out", d["l.safetensors"]], 2,
            "{dir}/m.onnx: not an ONNX model or truncated (no graph, nodes or IR version)"),

        // ------------------------------------------------------------------ Keras
        ["keras: no recurrent weights"] = new(Bytes("k.safetensors", KerasImage(("dense/kernel", [3, 2]))), d => ["import", "--keras", d["k.safetensors"], "--out", d["l.safetensors"]], 2,
            "{dir}/k.safetensors: no Keras GRU/LSTM weights found (expected names like 'gru/gru_cell/recurrent_kernel')"),
        ["keras: kernel of the wrong width"] = new(Bytes("k.safetensors", KerasImage(("gru/kernel", [2, 8]), ("gru/recurrent_kernel", [3, 9]))),
            d => ["import", "--keras", d["k.safetensors"], "--out", d["l.safetensors"]], 2, "{dir}/k.safetensors: gru: kernel has shape [2, 8], expected [input, 9]"),
        ["keras: backward half alone"] = new(Bytes("k.safetensors", KerasImage(("bi/backward_gru/kernel", [2, 9]), ("bi/backward_gru/recurrent_kernel", [3, 9]))),
            d => ["import", "--keras", d["k.safetensors"], "--out", d["l.safetensors"]], 2, "{dir}/k.safetensors: layer 'bi/*' has a backward_ half but no forward_ half"),
        ["keras: recurrent kernel without kernel"] = new(Bytes("k.safetensors", KerasImage(("gru/recurrent_kernel", [3, 9]))),
            d => ["import", "--keras", d["k.safetensors"], "--out", d["l.safetensors"]], 2, "{dir}/k.safetensors: 'gru/recurrent_kernel' has no matching kernel tensor under 'gru'"),
    };

    public static TheoryData<string> Names => [.. Cases.Keys];

    [Fact]
    public void Catalogue_is_large() => Assert.True(Cases.Count >= 60, $"{Cases.Count} cases");

    [Theory]
    [MemberData(nameof(Names))]
    public void Malformed_input_gets_one_line_its_exit_code_and_writes_nothing(string name)
    {
        var c = Cases[name];
        c.Setup(_dir, _models);
        var before = _dir.Files();
        var r = _dir.Run(c.Args(_dir));
        Assert.Equal("gyre: " + c.Message.Replace("{dir}", _dir.Dir), r.Err.TrimEnd('\r', '\n'));
        Assert.Equal(c.Code, r.Code);
        Assert.Equal(before, _dir.Files());
        Assert.False(Directory.Exists(_dir["missing"]));
    }
}
