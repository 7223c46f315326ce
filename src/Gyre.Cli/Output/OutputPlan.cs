using Gyre.Data;

namespace Gyre.Cli.Output;

/// <summary>
/// Every file a command writes, checked before any work starts and published together at the end:
/// all or nothing. Use:
/// <code>
/// using var plan = new OutputPlan();
/// var csv = plan.Add("--out", outPath);  var png = plan.Add("--plot", plotPath);
/// plan.Input("--data", dataPath);        // an output may not overwrite an input
/// plan.Check();                           // folders exist and take a file, no two outputs share a path
/// ... write csv.Temp and png.Temp ...
/// plan.Commit();                          // renames every temporary over its target
/// </code>
/// Dispose removes the temporaries of a plan that was not committed (an error or an interruption midway),
/// so a failed command leaves the folder as it found it.
/// </summary>
public sealed class OutputPlan : IDisposable
{
    private readonly List<PlannedOutput> _outputs = [];
    private readonly List<(string Option, string Full)> _inputs = [];
    private bool _checked, _committed;

    /// <summary>One output: where it goes and the temporary name (same folder) it is written under first.</summary>
    public sealed class PlannedOutput(string option, string path, string full)
    {
        public string Option { get; } = option;
        /// <summary>The path as the user gave it (for messages).</summary>
        public string Path { get; } = path;
        public string Full { get; } = full;
        /// <summary>Write here; <see cref="OutputPlan.Commit"/> renames it to <see cref="Full"/>.</summary>
        public string Temp { get; } = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full)!,
            $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp{System.IO.Path.GetExtension(full)}");
    }

    /// <summary>Adds an output named by <paramref name="option"/> (for messages), e.g. "--out".</summary>
    public PlannedOutput Add(string option, string path)
    {
        if (_checked) throw new InvalidOperationException("outputs must be added before Check");
        if (string.IsNullOrWhiteSpace(path)) throw new GyreDataException($"{option}: empty path");
        string full;
        try { full = System.IO.Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new GyreDataException($"{option}: '{path}' is not a valid path");
        }
        var o = new PlannedOutput(option, path, full);
        _outputs.Add(o);
        return o;
    }

    /// <summary>The temporary to write for the output added with <paramref name="path"/>.</summary>
    public string TempFor(string path) => _outputs.Single(o => o.Path == path).Temp;

    /// <summary>
    /// Writes one file outside a plan: <paramref name="write"/> gets a temporary path in the target's folder,
    /// which is renamed over <paramref name="path"/> once written (and removed if writing fails).
    /// </summary>
    public static void WriteOne(string path, Action<string> write)
    {
        string full = System.IO.Path.GetFullPath(path);
        string dir = System.IO.Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new GyreDataException($"folder does not exist: '{dir}'", path);
        // The extension stays last: some writers (PNG) choose the format by it.
        string tmp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp{System.IO.Path.GetExtension(full)}");
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

    /// <summary>Declares an input file: no output may land on it.</summary>
    public void Input(string option, string path) => _inputs.Add((option, System.IO.Path.GetFullPath(path)));

    /// <summary>
    /// Checks every output: its folder exists and accepts a new file (probed by creating and removing the
    /// temporary), the path is not a folder, and no output shares a path with another output or an input.
    /// </summary>
    public void Check()
    {
        _checked = true;
        var seen = new Dictionary<string, PlannedOutput>(PathComparer);
        foreach (var o in _outputs)
        {
            if (seen.TryGetValue(o.Full, out var other))
                throw new GyreDataException($"{other.Option} and {o.Option} both name '{o.Path}': give each output its own file");
            seen[o.Full] = o;
            foreach (var (option, full) in _inputs)
                if (PathComparer.Equals(full, o.Full))
                    throw new GyreDataException($"{o.Option} '{o.Path}' is the {option} file: writing it would destroy the input");
        }
        foreach (var o in _outputs)
        {
            string dir = System.IO.Path.GetDirectoryName(o.Full)!;
            if (File.Exists(dir)) throw new GyreDataException($"{o.Option}: '{dir}' is a file, not a folder");
            if (!Directory.Exists(dir)) throw new GyreDataException($"{o.Option}: folder does not exist for '{o.Path}'");
            if (Directory.Exists(o.Full)) throw new GyreDataException($"{o.Option}: '{o.Path}' is a folder; name a file");
            try
            {
                // Probe with the temporary itself, then remove it: a run killed before it writes leaves nothing.
                using (new FileStream(o.Temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new GyreDataException($"{o.Option}: cannot write to folder '{dir}' ({Reason(e)})");
            }
        }
    }

    /// <summary>Drops a planned output that turned out to have nothing to show (e.g. a confusion matrix of a regression).</summary>
    public void Discard(PlannedOutput output)
    {
        _outputs.Remove(output);
        try { File.Delete(output.Temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Renames every temporary over its target; call once every output is complete.</summary>
    public void Commit()
    {
        if (!_checked) throw new InvalidOperationException("Check must run before Commit");
        foreach (var o in _outputs)
            if (!File.Exists(o.Temp) || new FileInfo(o.Temp).Length == 0)
                throw new InvalidOperationException($"{o.Option}: nothing was written to the temporary of '{o.Path}'");
        foreach (var o in _outputs)
        {
            try { File.Move(o.Temp, o.Full, overwrite: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new GyreDataException($"{o.Option}: cannot write '{o.Path}' ({Reason(e)})");
            }
        }
        _committed = true;
    }

    /// <summary>
    /// Removes temporaries that a killed run left beside <paramref name="path"/> (".NAME.&lt;32 hex&gt;.tmp", the
    /// pattern of this class and of the safetensors writer); returns how many.
    /// </summary>
    public static int RemoveStaleTemporaries(string path)
    {
        string full = System.IO.Path.GetFullPath(path), dir = System.IO.Path.GetDirectoryName(full)!, name = System.IO.Path.GetFileName(full);
        if (!Directory.Exists(dir)) return 0;
        int removed = 0;
        foreach (var f in Directory.EnumerateFiles(dir, $".{name}.*.tmp"))
        {
            string middle = System.IO.Path.GetFileName(f)[(name.Length + 2)..^4];
            if (middle.Length != 32 || !middle.All(char.IsAsciiHexDigitLower)) continue;
            try { File.Delete(f); removed++; } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        return removed;
    }

    public void Dispose()
    {
        if (_committed) return;
        foreach (var o in _outputs)
            try { File.Delete(o.Temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    // The operating system's words without the temporary's name, which means nothing to the user.
    private static string Reason(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        DirectoryNotFoundException => "folder not found",
        _ => e.HResult switch
        {
            28 or unchecked((int)0x80070070) => "no space left on the device",
            30 => "read-only file system",
            _ => "I/O error",
        },
    };

    private static readonly StringComparer PathComparer =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;
}
