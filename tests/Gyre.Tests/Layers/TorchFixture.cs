using System.Buffers.Binary;
using System.Text.Json;
using Gyre.Tensors;

namespace Gyre.Tests.Layers;

/// <summary>A libtorch reference file from Fixtures/Torch (see the README there).</summary>
public sealed class TorchFixture
{
    public required string Name { get; init; }
    public required IReadOnlyDictionary<string, string> Meta { get; init; }
    public required IReadOnlyDictionary<string, Tensor> Tensors { get; init; }

    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Fixtures", "Torch");

    public static IEnumerable<object[]> All() =>
        Directory.GetFiles(Folder, "*.safetensors").Order().Select(f => new object[] { Path.GetFileName(f) });

    public Tensor this[string name] => Tensors.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"{Name}: no tensor '{name}'");

    public int Int(string key) => int.Parse(Meta[key]);
    public bool Bool(string key) => Meta[key] is "true" or "True" or "1";

    // Temporary F32-only reader until Gyre.IO.Safetensors lands.
    public static TorchFixture Load(string fileName)
    {
        var bytes = File.ReadAllBytes(Path.Combine(Folder, fileName));
        long n = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        var meta = new Dictionary<string, string>();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__") { foreach (var m in p.Value.EnumerateObject()) meta[m.Name] = m.Value.GetString()!; continue; }
            var shape = p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var off = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var data = new float[(off[1] - off[0]) / 4];
            Buffer.BlockCopy(bytes, (int)(8 + n + off[0]), data, 0, data.Length * 4);
            tensors[p.Name] = new Tensor(data, shape);
        }
        return new TorchFixture { Name = fileName, Meta = meta, Tensors = tensors };
    }
}
