namespace Gyre.Cli.Output;

/// <summary>
/// Output files are checked before any work (their folder must exist) and written to a hidden temporary name
/// beside the target, renamed at the end: a failed run leaves nothing half-written.
/// </summary>
internal static class AtomicOutput
{
    /// <summary>Throws the one-line bad-input error when the folder of <paramref name="path"/> does not exist.</summary>
    public static void CheckFolder(string? path, string option)
    {
        if (path is null) return;
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{option} {path}: folder does not exist");
    }

    /// <summary>Calls <paramref name="write"/> with a temporary path, then moves it onto <paramref name="path"/>.</summary>
    public static void Write(string path, Action<string> write)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{path}: folder does not exist");
        string tmp = Path.Combine(dir, $".{Path.GetFileNameWithoutExtension(full)}.{Guid.NewGuid():N}{Path.GetExtension(full)}");
        try
        {
            write(tmp);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>Writes several outputs so that either all appear or none: each to a temporary name first, then all renamed.</summary>
    public static void WriteAll(IReadOnlyList<(string Path, Action<string> Write)> outputs)
    {
        var temps = new List<(string Tmp, string Full)>();
        try
        {
            foreach (var (path, write) in outputs)
            {
                string full = Path.GetFullPath(path);
                string dir = Path.GetDirectoryName(full)!;
                if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{path}: folder does not exist");
                string tmp = Path.Combine(dir, $".{Path.GetFileNameWithoutExtension(full)}.{Guid.NewGuid():N}{Path.GetExtension(full)}");
                temps.Add((tmp, full));
                write(tmp);
            }
            foreach (var (tmp, full) in temps) File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            foreach (var (tmp, _) in temps) if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
