namespace Gyre.Data;

/// <summary>
/// Bad input data: a one-line message naming the file and, where known, the row and column.
/// The CLI maps it to exit code 2. <see cref="Row"/> is the 1-based data row (header not counted);
/// <see cref="Line"/> is the 1-based line in the file (header is line 1).
/// </summary>
public class GyreDataException : Exception
{
    public string? File { get; }
    public int? Row { get; }
    public int? Line { get; }
    public string? Column { get; }

    public GyreDataException(string message, string? file = null, int? row = null, int? line = null, string? column = null)
        : base(Compose(message, file, row, line, column))
    {
        File = file;
        Row = row;
        Line = line;
        Column = column;
    }

    private static string Compose(string message, string? file, int? row, int? line, string? column)
    {
        // "air.csv: data row 3 (line 4), column 'x': message" — one line whatever the inputs hold.
        var where = new List<string>();
        if (row is int r) where.Add(line is int l ? $"data row {r} (line {l})" : $"data row {r}");
        else if (line is int l2) where.Add($"line {l2}");
        if (column is not null) where.Add($"column '{column}'");
        string head = file is null ? "" : Path.GetFileName(file);
        if (where.Count > 0) head = head.Length > 0 ? $"{head}: {string.Join(", ", where)}" : string.Join(", ", where);
        string text = head.Length > 0 ? $"{head}: {message}" : message;
        return text.Replace('\r', ' ').Replace('\n', ' ');
    }
}
