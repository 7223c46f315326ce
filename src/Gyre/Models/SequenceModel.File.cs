using System.Text.Json;
using Gyre.Data;
using Gyre.IO;
using Gyre.Training;

namespace Gyre.Models;

// The model file of a SequenceModel: ModelFile metadata with "spec" (the ModelSpec JSON) and "history".
public sealed partial class SequenceModel
{
    internal static JsonSerializerOptions Json => ModelFile.Json;

    /// <summary>Model-file metadata: format, version, <paramref name="job"/>, "spec", then <paramref name="extra"/>.</summary>
    public Dictionary<string, string> Metadata(string job, IReadOnlyDictionary<string, string>? extra = null)
    {
        var meta = ModelFile.Metadata(job, [new("spec", JsonSerializer.Serialize(Spec, Json))]);
        if (extra != null)
            foreach (var (k, v) in extra) meta[k] = v;
        return meta;
    }

    /// <summary>
    /// Writes the weights, spec and training history (epoch timings zeroed: same seed, same bytes) as a
    /// <paramref name="job"/> model file, atomically.
    /// </summary>
    public void Save(string path, string job, IEnumerable<EpochRecord>? history = null, IReadOnlyDictionary<string, string>? extra = null)
    {
        var meta = Metadata(job, extra);
        if (history != null) meta["history"] = JsonSerializer.Serialize(history.Select(e => e with { Seconds = 0 }), Json);
        Safetensors.Write(path, StateDict(), meta);
    }

    /// <summary>Reads a model file written by <see cref="Save"/>: the model, its job, history and every metadata entry.</summary>
    public static (SequenceModel Model, string Job, List<EpochRecord> History, IReadOnlyDictionary<string, string> Metadata) Load(string path)
    {
        var (job, file) = ModelFile.Read(path);
        if (!file.Metadata.TryGetValue("spec", out var specJson)) throw new GyreDataException($"the {job} model file holds no sequence-model spec", path);
        try
        {
            var spec = JsonSerializer.Deserialize<ModelSpec>(specJson, Json) ?? throw new JsonException("empty spec");
            var model = new SequenceModel(spec) { Training = false };
            model.LoadStateDict(file.Tensors, source: path);
            var history = file.Metadata.TryGetValue("history", out var h) ? JsonSerializer.Deserialize<List<EpochRecord>>(h, Json) ?? [] : [];
            return (model, job, history, file.Metadata);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidDataException)
        {
            throw new GyreDataException($"corrupt model file: {e.Message.ReplaceLineEndings(" ")}", path);
        }
    }
}
