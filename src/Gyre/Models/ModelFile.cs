using Gyre.Data;
using Gyre.IO;
using Gyre.Tensors;

namespace Gyre.Models;

/// <summary>
/// The one model-file format of every job: safetensors whose metadata holds "format": "gyre.model", "version",
/// "job" (forecast, classify, …) and the job's own JSON entries; weights are the tensors under their state-dict
/// names. Forecast files of the earlier "gyre.forecaster" format (version 1) read as job "forecast".
/// </summary>
public static class ModelFile
{
    public const string Format = "gyre.model";
    public const int Version = 1;
    /// <summary>The forecast-only format that preceded this one (still read).</summary>
    public const string LegacyForecastFormat = "gyre.forecaster";

    /// <summary>How every job serialises its metadata entries (NaN and ±Infinity allowed, e.g. an untrained best loss).</summary>
    internal static readonly System.Text.Json.JsonSerializerOptions Json = new()
    {
        WriteIndented = false,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>format, version and job followed by <paramref name="entries"/>.</summary>
    public static Dictionary<string, string> Metadata(string job, IEnumerable<KeyValuePair<string, string>>? entries = null)
    {
        var meta = new Dictionary<string, string> { ["format"] = Format, ["version"] = Version.ToString(), ["job"] = job };
        if (entries != null)
            foreach (var (k, v) in entries) meta[k] = v;
        return meta;
    }

    /// <summary>Writes atomically (temporary name, then rename).</summary>
    public static void Write(string path, string job, IEnumerable<KeyValuePair<string, Tensor>> tensors, IEnumerable<KeyValuePair<string, string>>? entries = null) =>
        Safetensors.Write(path, tensors, Metadata(job, entries));

    /// <summary>Reads a model file and checks its format and version; returns the job and the file.</summary>
    public static (string Job, SafetensorsFile File) Read(string path)
    {
        if (!File.Exists(path)) throw new GyreDataException("model file not found", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        var file = ReadImage(stream, path);
        return (JobOf(file, path), file);
    }

    /// <summary>
    /// Reads the safetensors image of a model file from <paramref name="stream"/>. A text file passed as a
    /// model (a CSV given to --model is the likeliest mistake) is named as such instead of being reported
    /// as a nonsense header length.
    /// </summary>
    public static SafetensorsFile ReadImage(Stream stream, string source)
    {
        if (stream.CanSeek)
        {
            Span<byte> head = stackalloc byte[8];
            int n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            stream.Seek(-n, SeekOrigin.Current);
            if (Safetensors.LooksLikeText(head[..n]))
                throw new GyreDataException("not a Gyre model file (it looks like text/CSV)", source);
        }
        return Safetensors.Read(stream, source);
    }

    /// <summary>The job of a read file; one clear line when it is not a Gyre model of a supported version.</summary>
    public static string JobOf(SafetensorsFile file, string path)
    {
        var meta = file.Metadata;
        meta.TryGetValue("format", out var format);
        meta.TryGetValue("version", out var version);
        if (format == LegacyForecastFormat)
        {
            if (version != "1") throw new GyreDataException($"model format version {version ?? "missing"} is not supported (this Gyre reads version 1)", path);
            return "forecast";
        }
        if (format != Format) throw new GyreDataException($"not a Gyre model (format '{format ?? "missing"}')", path);
        if (version != Version.ToString())
            throw new GyreDataException($"model format version {version ?? "missing"} is not supported (this Gyre reads version {Version})", path);
        if (!meta.TryGetValue("job", out var job) || string.IsNullOrEmpty(job)) throw new GyreDataException("model file names no job", path);
        return job;
    }
}
