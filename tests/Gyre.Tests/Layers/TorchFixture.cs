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

    public static TorchFixture Load(string fileName)
    {
        var file = Gyre.IO.Safetensors.Read(Path.Combine(Folder, fileName));
        return new TorchFixture { Name = fileName, Meta = file.Metadata, Tensors = file.Tensors };
    }
}
