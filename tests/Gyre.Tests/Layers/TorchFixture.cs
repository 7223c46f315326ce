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

    /// <summary>The fixture's parameters alone (what torch's state_dict() holds), without inputs, outputs and gradients.</summary>
    public Dictionary<string, Tensor> StateDict() =>
        Tensors.Where(kv => kv.Key.StartsWith("weight_", StringComparison.Ordinal) || kv.Key.StartsWith("bias_", StringComparison.Ordinal)).ToDictionary();

    /// <summary>Writes the fixture's state dict into <paramref name="folder"/> as a torch user's save_file would; returns the path.</summary>
    public static string WriteStateDict(string fileName, string folder)
    {
        string path = Path.Combine(folder, fileName);
        Gyre.IO.Safetensors.Write(path, Load(fileName).StateDict());
        return path;
    }

    public static TorchFixture Load(string fileName)
    {
        var file = Gyre.IO.Safetensors.Read(Path.Combine(Folder, fileName));
        return new TorchFixture { Name = fileName, Meta = file.Metadata, Tensors = file.Tensors };
    }
}
