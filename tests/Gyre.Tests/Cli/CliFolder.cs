using Xunit;
using System.Globalization;
using System.Text;
using Gyre.Cli;

namespace Gyre.Tests.Cli;

/// <summary>
/// A temp working folder for CLI tests: runs <see cref="Gyre.Cli.Cli.Run"/> with captured writers and
/// absolute paths only (the process's current directory is never touched, so tests may run in parallel).
/// </summary>
public sealed class CliFolder : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "gyre-cli-" + Guid.NewGuid().ToString("N"));

    public CliFolder() => Directory.CreateDirectory(Dir);

    public string this[string name] => Path.Combine(Dir, name);

    public sealed record Result(int Code, string Out, string Err);

    public Result Run(params string[] args)
    {
        var stdout = new StringWriter(CultureInfo.InvariantCulture);
        var stderr = new StringWriter(CultureInfo.InvariantCulture);
        int code = Gyre.Cli.Cli.Run(args, stdout, stderr);
        return new Result(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs and asserts exit code 0, showing stderr when it is not.</summary>
    public Result Ok(params string[] args)
    {
        var r = Run(args);
        Assert.True(r.Code == 0, $"exit {r.Code}: {r.Err}");
        return r;
    }

    /// <summary>
    /// Runs and checks the bad-input contract: exit code 2, ONE line on stderr starting "gyre: " and holding every
    /// expected fragment, no file added or removed. Returns the line.
    /// </summary>
    public string Fails(string[] args, params string[] expected)
    {
        var before = Files();
        var r = Run(args);
        Assert.True(r.Code == 2, $"exit {r.Code}, stderr: {r.Err}, stdout: {r.Out}");
        string err = r.Err.TrimEnd('\r', '\n');
        Assert.False(err.Contains('\n'), $"more than one line on stderr: {r.Err}");
        Assert.StartsWith("gyre: ", err);
        foreach (var e in expected) Assert.Contains(e, err);
        Assert.Equal(before, Files());
        return err;
    }

    /// <summary>Every file below the folder (hidden and temporary files included), as relative paths.</summary>
    public string[] Files() =>
        Directory.EnumerateFiles(Dir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Dir, f)).Order().ToArray();

    public string Write(string name, string content)
    {
        File.WriteAllText(this[name], content);
        return this[name];
    }

    /// <summary>
    /// A daily series "date,y,x": y = 10 + 3·sin(2πt/7) + 0.05t (weekly season and trend), x = cos(2πt/11).
    /// </summary>
    public string Daily(string name, int rows = 120, string? id = null, double offset = 0)
    {
        var sb = new StringBuilder(id is null ? "date,y,x\n" : "id,date,y,x\n");
        var start = new DateTime(2020, 1, 1);
        for (int t = 0; t < rows; t++)
        {
            double y = 10 + offset + 3 * Math.Sin(2 * Math.PI * t / 7) + 0.05 * t, x = Math.Cos(2 * Math.PI * t / 11);
            if (id is not null) sb.Append(id).Append(',');
            sb.Append(start.AddDays(t).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).Append(',')
              .Append(y.ToString("F4", CultureInfo.InvariantCulture)).Append(',')
              .Append(x.ToString("F4", CultureInfo.InvariantCulture)).Append('\n');
        }
        return Write(name, sb.ToString());
    }

    /// <summary>Reads a CSV the CLI wrote: header names and rows of cells.</summary>
    public static (string[] Header, string[][] Rows) ReadCsv(string path)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToArray();
        return (lines[0].Split(','), lines.Skip(1).Select(l => l.Split(',')).ToArray());
    }

    public static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public static void AssertPng(string path)
    {
        Assert.True(File.Exists(path), $"{path} missing");
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000, $"{path}: only {bytes.Length} bytes");
        Assert.Equal(PngSignature, bytes[..8]);
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }
}
