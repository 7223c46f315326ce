using Gyre.Cells;
using System.Text.Json;
using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.IO;

/// <summary>
/// A recurrent layer in one safetensors file: its PyTorch-named state dict as tensors and its
/// <see cref="RecurrentSpec"/> in the metadata ("format": "gyre.layer", "version": "1", "spec": JSON).
/// Any PyTorch tool reads the tensors; Gyre also gets the architecture back.
/// </summary>
public static class LayerFile
{
    public const string Format = "gyre.layer";
    public const int Version = 1;

    public static void Save(string path, RecurrentLayer layer)
    {
        var meta = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["version"] = Version.ToString(),
            ["spec"] = JsonSerializer.Serialize(layer.ToSpec()),
        };
        Safetensors.Write(path, layer.StateDict(), meta);
    }

    public static RecurrentLayer Load(string path)
    {
        var file = Safetensors.Read(path);
        if (!file.Metadata.TryGetValue("format", out var format) || format != Format)
            throw new InvalidDataException($"{path}: not a Gyre layer file (format '{format ?? "missing"}'); for a plain PyTorch state dict use InferSpec");
        if (file.Metadata.GetValueOrDefault("version") != Version.ToString())
            throw new InvalidDataException($"{path}: layer file version {file.Metadata.GetValueOrDefault("version") ?? "missing"} is not supported (this Gyre reads version {Version})");
        RecurrentSpec spec;
        try { spec = JsonSerializer.Deserialize<RecurrentSpec>(file.Metadata["spec"]) ?? throw new JsonException("empty spec"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: corrupt spec: {e.Message}"); }
        return RecurrentLayer.FromSpec(spec, file.Tensors, path);
    }

    /// <summary>
    /// The spec of a PyTorch nn.GRU / nn.LSTM state dict, read from its tensor names and shapes:
    /// layers from weight_ih_l{k}, directions from _reverse, sizes from weight_ih_l0 [G·H, I] and
    /// weight_hh_l0 [G·H, H], bias from bias_ih_l0. A module prefix ("rnn.") is allowed.
    /// </summary>
    public static RecurrentSpec InferSpec(IReadOnlyDictionary<string, Tensor> stateDict, RecurrentKind kind, bool batchFirst, string source) =>
        InferSpec(stateDict, SpecCells.Of(new RecurrentSpec(kind, 1, 1)), batchFirst, source);

    /// <summary>As <see cref="InferSpec(IReadOnlyDictionary{string, Tensor}, RecurrentKind, bool, string)"/> for a dense-weight cell.</summary>
    public static RecurrentSpec InferSpec(IReadOnlyDictionary<string, Tensor> stateDict, CellDefinition cell, bool batchFirst, string source)
    {
        var dict = StateDict.StripPrefix(stateDict, ["weight_ih_l0", "weight_hh_l0"], source: source);
        var whh = dict["weight_hh_l0"];
        int gates = cell.Gates;
        if (whh.Rank != 2 || whh.Dim(0) != gates * whh.Dim(1))
            throw new InvalidDataException($"{source}: tensor 'weight_hh_l0' has shape {Tensor.ShapeString(whh.Shape)}, not [{gates}·H, H] as cell '{cell.Name}'{(cell.Onnx is { } o ? $" ({o.OpType})" : "")} needs");
        int layers = 0;
        while (dict.ContainsKey($"weight_ih_l{layers}")) layers++;
        return SpecCells.For(cell, dict["weight_ih_l0"].Dim(1), whh.Dim(1), layers,
            bidirectional: dict.ContainsKey("weight_ih_l0_reverse"), bias: dict.ContainsKey("bias_ih_l0"), batchFirst: batchFirst);
    }
}
