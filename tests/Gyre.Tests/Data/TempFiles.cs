namespace Gyre.Tests.Data;

/// <summary>A temp folder per test class instance; files are written by the tests themselves.</summary>
public sealed class TempFiles : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "gyre-data-" + Guid.NewGuid().ToString("N"));

    public TempFiles() => Directory.CreateDirectory(Dir);

    public string Write(string name, string content)
    {
        string path = Path.Combine(Dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }

    public static string Bundled(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "Data", name);
}
