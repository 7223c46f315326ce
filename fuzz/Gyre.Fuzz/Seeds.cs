using System.Text;
using Gyre.Forecasting;
using Gyre.IO;
using Gyre.IO.Onnx;
using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Fuzz;

/// <summary>
/// Writes the seed corpora: for each target a few small valid files and truncations of them (AFL++ wants
/// seeds of at most a few KB). `dotnet Gyre.Fuzz.dll seeds fuzz/corpus` remakes fuzz/corpus/.
/// </summary>
internal static class Seeds
{
    public static void Write(string root)
    {
        string scratch = Directory.CreateTempSubdirectory("gyre-fuzz-seeds").FullName;
        try
        {
            Directory.CreateDirectory(root);
            var st = Dir(root, "safetensors");
            byte[] twoTensors = Image([("a", Ramp(2, 3)), ("b", Ramp(4))], new() { ["format"] = "pt" });
            Save(st, "f32", twoTensors);
            Save(st, "f16", HalfImage());
            Save(st, "empty", Image([], null));
            Truncations(st, "f32", twoTensors);

            var gru = new Gru(2, 3, batchFirst: true, seed: 1);
            var lstm = new Lstm(2, 2, batchFirst: true, seed: 2);
            string onnxPath = Path.Combine(scratch, "gru.onnx");
            var onnx = Dir(root, "onnx");
            OnnxExport.Save(onnxPath, gru);
            Save(onnx, "gru", File.ReadAllBytes(onnxPath));
            Truncations(onnx, "gru", File.ReadAllBytes(onnxPath));
            OnnxExport.Save(onnxPath, lstm, new OnnxExportOptions { InitialStateInputs = true });
            Save(onnx, "lstm", File.ReadAllBytes(onnxPath));

            var keras = Dir(root, "keras");
            byte[] kgru = Image([("gru/gru_cell/kernel", Ramp(2, 9)), ("gru/gru_cell/recurrent_kernel", Ramp(3, 9)), ("gru/gru_cell/bias", Ramp(2, 9))], null);
            Save(keras, "gru", kgru);
            Save(keras, "lstm", Image([("lstm/vars/0", Ramp(2, 8)), ("lstm/vars/1", Ramp(2, 8)), ("lstm/vars/2", Ramp(8))], null));
            Save(keras, "bidirectional", Image([
                ("bidirectional/forward_gru/kernel", Ramp(1, 3)), ("bidirectional/forward_gru/recurrent_kernel", Ramp(1, 3)),
                ("bidirectional/backward_gru/kernel", Ramp(1, 3)), ("bidirectional/backward_gru/recurrent_kernel", Ramp(1, 3))], null));
            Truncations(keras, "gru", kgru);

            var csv = Dir(root, "csv");
            // The first byte picks the loader options (see FuzzTargets.Csv): 0 plain, 1 long format, 2 linear fill, 3 mask.
            string daily = "date,y,x\n2020-01-01,1.5,2\n2020-01-02,2.5,-1e3\n2020-01-03,,4\n2020-01-04,3.25,5\n";
            Save(csv, "plain", Csv(0, "date,y,x\n2020-01-01,1.5,2\n2020-01-02,2.5,-1e3\n2020-01-03,3,4\n"));
            Save(csv, "long", Csv(1, "id,date,y\na,2020-01-01 00:00,1\na,2020-01-01 01:00,2\nb,2020-01-01 00:00,3\nb,2020-01-01 01:00,4\n"));
            Save(csv, "fill", Csv(2, daily));
            Save(csv, "mask", Csv(3, daily));
            Save(csv, "quoted", Csv(0, "\"t\",\"v, w\"\n1,\"2\"\n2,\"3.5\"\n3,NaN\n"));
            Save(csv, "no-time", Csv(0, "a;b\n1;2\n3;4\n"));
            Truncations(csv, "fill", Csv(2, daily));

            var ts = Dir(root, "ts");
            string tsText = "# seeds\n@problemName seed\n@timeStamps false\n@missing true\n@univariate true\n@equalLength false\n@classLabel true a b\n@data\n"
                + "1.0,2.0,3.5:a\n4,5,NaN,?,6:b\n";
            Save(ts, "univariate", [0, .. Encoding.UTF8.GetBytes(tsText)]);
            Save(ts, "multivariate", [0, .. Encoding.UTF8.GetBytes("@problemName m\n@univariate false\n@dimensions 2\n@classLabel true x y\n@data\n1,2,3:4,5,6:x\n7,8:9,10:y\n")]);
            Save(ts, "unlabelled-fill", [3, .. Encoding.UTF8.GetBytes("@problemName u\n@missing true\n@classLabel false\n@data\n1,?,3\n")]);
            Truncations(ts, "univariate", [0, .. Encoding.UTF8.GetBytes(tsText)]);

            var model = Dir(root, "model");
            string data = Path.Combine(scratch, "d.csv");
            var sb = new StringBuilder("date,y\n");
            for (int t = 0; t < 40; t++) sb.Append(new DateTime(2020, 1, 1).AddDays(t).ToString("yyyy-MM-dd")).Append(',').Append(t % 7).Append('\n');
            File.WriteAllText(data, sb.ToString());
            var f = Forecaster.Fit(data, new ForecastOptions { Lookback = 4, Horizon = 2, Hidden = 2, Epochs = 1, Batch = 4, Seed = 1 });
            string modelPath = Path.Combine(scratch, "m.gyre");
            f.Save(modelPath);
            Save(model, "gru", File.ReadAllBytes(modelPath));
            Truncations(model, "gru", File.ReadAllBytes(modelPath));
            f = Forecaster.Fit(data, new ForecastOptions
            {
                Lookback = 4, Horizon = 2, Hidden = 2, Epochs = 1, Batch = 4, Seed = 1, Cell = "lstm", Patch = 2,
                Decoder = "recurrent", Loss = "quantile", Quantiles = [0.1f, 0.9f], Calendar = "dow",
            });
            f.Save(modelPath);
            Save(model, "lstm-patch-quantile", File.ReadAllBytes(modelPath));

            // Inference requests for each served model (the first byte picks it, see FuzzTargets.Serve): a request
            // without a sequence holding enough rows, one that opens a sequence, and cuts of the first.
            var serve = Dir(root, "serve");
            var served = FuzzTargets.Served.Value.Models;
            for (int m = 0; m < served.Length; m++)
            {
                byte[] whole = Request(m, served[m], rows: 48, parameters: "");
                Save(serve, served[m].Name, whole);
                Save(serve, served[m].Name + "-sequence", Request(m, served[m], rows: 2, parameters: ", \"parameters\": {\"sequence_id\": 7, \"sequence_start\": true}"));
                if (m == 0) Truncations(serve, served[m].Name, whole);
            }
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static string Dir(string root, string target) => Directory.CreateDirectory(Path.Combine(root, target)).FullName;

    private static void Save(string dir, string name, byte[] bytes) => File.WriteAllBytes(Path.Combine(dir, name), bytes);

    /// <summary>Cuts inside the length prefix, the header and the data.</summary>
    private static void Truncations(string dir, string name, byte[] bytes)
    {
        foreach (int n in new[] { 5, bytes.Length / 3, bytes.Length - 3 })
            if (n > 0 && n < bytes.Length) Save(dir, $"{name}-cut{n}", bytes[..n]);
    }

    private static byte[] Csv(byte options, string text) => [options, .. Encoding.UTF8.GetBytes(text)];

    /// <summary>An infer request body for <paramref name="model"/> (model byte first): x [rows, W] a ramp, and hourly Unix
    /// times when the model takes them.</summary>
    private static byte[] Request(int index, Serve.ServedModel model, int rows, string parameters)
    {
        int w = model.Width;
        var x = string.Join(", ", Enumerable.Range(0, rows * w).Select(i => (0.5 * (i % 17) - 2).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        string inputs = $"{{\"name\": \"x\", \"shape\": [{rows}, {w}], \"datatype\": \"FP32\", \"data\": [{x}]}}";
        if (model.NeedsTimes)
            inputs += $", {{\"name\": \"time\", \"shape\": [{rows}], \"datatype\": \"INT64\", \"data\": [{string.Join(", ", Enumerable.Range(0, rows).Select(r => 1_700_000_000L + 3600L * r))}]}}";
        return [(byte)index, .. Encoding.UTF8.GetBytes($"{{\"id\": \"seed\", \"inputs\": [{inputs}]{parameters}}}")];
    }

    private static Tensor Ramp(params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        for (int i = 0; i < t.Length; i++) t.Span[i] = 0.25f * i - 1f;
        return t;
    }

    private static byte[] Image((string Name, Tensor Tensor)[] tensors, Dictionary<string, string>? metadata)
    {
        var ms = new MemoryStream();
        IO.Safetensors.Write(ms, tensors.Select(t => KeyValuePair.Create(t.Name, t.Tensor)), metadata);
        return ms.ToArray();
    }

    /// <summary>An F16 tensor by hand (the writer only writes F32).</summary>
    private static byte[] HalfImage()
    {
        byte[] header = Encoding.UTF8.GetBytes("{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}  ");
        var ms = new MemoryStream();
        ms.Write(BitConverter.GetBytes((ulong)header.Length));
        ms.Write(header);
        ms.Write(BitConverter.GetBytes((Half)1.5f));
        ms.Write(BitConverter.GetBytes((Half)(-2f)));
        return ms.ToArray();
    }
}
