using System.Buffers.Binary;
using System.Text.Json;
using Gyre.Tensors;

namespace Gyre.Tests.IO;

/// <summary>
/// Minimal safetensors reader for the fixtures (F32 only): 8-byte little-endian header length, JSON header
/// {name: {dtype, shape, data_offsets}, "__metadata__": {..}}, then the data block. Kept private to the
/// tests until Gyre.IO.Safetensors lands.
/// </summary>
internal static class TestSafetensors
{
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        long n = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        var tensors = new Dictionary<string, Tensor>();
        var meta = new Dictionary<string, string>();
        int dataStart = 8 + (int)n;
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                foreach (var m in p.Value.EnumerateObject()) meta[m.Name] = m.Value.GetString()!;
                continue;
            }
            if (p.Value.GetProperty("dtype").GetString() != "F32") throw new InvalidDataException($"{path}: {p.Name} is not F32");
            int[] shape = p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var offs = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var t = Tensor.Zeros(shape);
            var src = bytes.AsSpan(dataStart + (int)offs[0], (int)(offs[1] - offs[0]));
            if (src.Length != t.Length * 4) throw new InvalidDataException($"{path}: {p.Name} size mismatch");
            for (int i = 0; i < t.Length; i++) t.Span[i] = BinaryPrimitives.ReadSingleLittleEndian(src.Slice(4 * i));
            tensors[p.Name] = t;
        }
        return (tensors, meta);
    }

    public static string FixturePath(string file) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "Torch", file);
}
