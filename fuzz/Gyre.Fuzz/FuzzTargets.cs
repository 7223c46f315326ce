using Gyre.Data;
using Gyre.Forecasting;
using Gyre.IO;
using Gyre.IO.Onnx;
using Gyre.Layers;
using Gyre.Serve;
using Gyre.Tensors;

namespace Gyre.Fuzz;

/// <summary>
/// One entry point per file reader. Each feeds arbitrary bytes to the reader and lets through only the
/// rejection the reader documents for bad input (<see cref="InvalidDataException"/> for binary formats,
/// <see cref="GyreDataException"/> for CSV and model files, <see cref="ServeException"/> for inference requests): any other exception, a hang or a large
/// allocation is a finding. The regression tests replay fuzz/regressions/ through these same methods.
/// </summary>
public static class FuzzTargets
{
    /// <summary>Target names as given on the command line, with their entry points.</summary>
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>
    {
        ["safetensors"] = Safetensors,
        ["model"] = Model,
        ["onnx"] = Onnx,
        ["keras"] = Keras,
        ["csv"] = Csv,
        ["ts"] = Ts,
        ["serve"] = Serve,
    };

    /// <summary>The safetensors reader: every tensor read back as float32.</summary>
    public static void Safetensors(byte[] bytes)
    {
        try { IO.Safetensors.Read(new MemoryStream(bytes, writable: false), "fuzz.safetensors"); }
        catch (InvalidDataException) { }
    }

    /// <summary>The forecaster model file: load, then one inference on zeros so a loaded model is a usable one.</summary>
    public static void Model(byte[] bytes)
    {
        Forecaster f;
        try { f = Forecaster.Read(new MemoryStream(bytes, writable: false), "fuzz.gyre"); }
        catch (Exception e) when (e is InvalidDataException or GyreDataException) { return; }
        var c = f.Network.Config;
        var x = Tensor.Zeros(1, c.Lookback, c.InputFeatures);
        var future = c.FutureFeatures > 0 ? Tensor.Zeros(1, c.Horizon, c.FutureFeatures) : null;
        f.Network.Training = false;
        f.Network.Forward(x, future);
    }

    /// <summary>The ONNX importer: model proto → recurrent layer.</summary>
    public static void Onnx(byte[] bytes)
    {
        try { OnnxImport.Read(bytes, "fuzz.onnx").ToLayer("fuzz.onnx"); }
        catch (InvalidDataException) { }
    }

    /// <summary>The Keras reader: safetensors of Keras-named weights → recurrent layer.</summary>
    public static void Keras(byte[] bytes)
    {
        try
        {
            var file = IO.Safetensors.Read(new MemoryStream(bytes, writable: false), "fuzz.safetensors");
            var c = KerasWeights.Convert(file.Tensors, "fuzz.safetensors");
            RecurrentLayer.FromSpec(c.Spec, c.StateDict, "fuzz.safetensors");
        }
        catch (InvalidDataException) { }
    }

    private static readonly string Scratch = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
    private static readonly string CsvPath = Path.Combine(Scratch, $"gyre-fuzz-{Environment.ProcessId}.csv");
    private static readonly string TsPath = Path.Combine(Scratch, $"gyre-fuzz-{Environment.ProcessId}.ts");

    /// <summary>The sktime .ts reader of `gyre classify` (a file reader too); the first byte picks fill and labels.</summary>
    public static void Ts(byte[] bytes)
    {
        if (bytes.Length == 0) return;
        File.WriteAllBytes(TsPath, bytes.AsSpan(1).ToArray());
        try { TsLoader.Load(TsPath, (bytes[0] & 1) == 0 ? FillMode.None : FillMode.Linear, requireLabels: (bytes[0] & 2) == 0); }
        catch (GyreDataException) { }
    }

    /// <summary>
    /// The CSV loader (it reads files, so the bytes go through one scratch file per process). The first
    /// byte picks the options: plain, long format with an 'id' column, linear fill, or masked gaps.
    /// </summary>
    public static void Csv(byte[] bytes)
    {
        if (bytes.Length == 0) return;
        var options = (bytes[0] & 3) switch
        {
            0 => new CsvOptions(),
            1 => new CsvOptions { IdColumn = "id" },
            2 => new CsvOptions { Fill = FillMode.Linear },
            _ => new CsvOptions { Fill = FillMode.Mask, Targets = ["all"] },
        };
        File.WriteAllBytes(CsvPath, bytes.AsSpan(1).ToArray());
        try
        {
            var set = CsvLoader.Load(CsvPath, options);
            Calendar.AddFutureFeatures(set, Calendar.Parse("dow,month"));
        }
        catch (GyreDataException) { }
    }

    // Served models of four kinds (fuzz/models/: tiny models trained for one epoch on bundled data) and the server's
    // default limits, made on first use: Gyre.Serve is instrumented, and instrumented code may only run inside the
    // fuzzer's loop (a static initialiser runs before it and crashes the fork server).
    internal static readonly Lazy<(ServeOptions Limits, ServedModel[] Models)> Served = new(() =>
    {
        var limits = new ServeOptions();
        return (limits, [.. new[] { "classify-stepped", "classify-window", "forecast", "detect" }.Select(name =>
            ServedModel.Load(name, Path.Combine(AppContext.BaseDirectory, "Fuzz", "models", name + ".gyre"), limits))]);
    });

    /// <summary>
    /// `gyre serve`'s inference request: the JSON body parsed and checked against the model's metadata, then one step of
    /// a new stream on its input, as the server runs a request without a sequence. The first byte picks the model
    /// (a classifier that steps its recurrent state, one that re-runs its window, a forecaster, a detector); the rest is
    /// the body. A refusal is a <see cref="ServeException"/> (or a data error the server answers with 400).
    /// </summary>
    public static void Serve(byte[] bytes)
    {
        if (bytes.Length == 0) return;
        var (limits, models) = Served.Value;
        var model = models[bytes[0] % models.Length];
        try
        {
            var request = InferRequest.Parse(bytes.AsMemory(1), model, limits);
            var result = model.Step([(model.NewStream(), request.Input)])[0];
            if (result.Error is { } error) throw error;
        }
        catch (Exception e) when (e is ServeException or GyreDataException) { }
    }
}
