using System.Globalization;

namespace Gyre.Data;

/// <summary>What to do with whole missing steps in a regular time index (a 10-hour hole in hourly data).</summary>
public enum GapMode
{
    /// <summary>Refuse, naming the first gap.</summary>
    Error,
    /// <summary>Insert the missing steps as missing rows and fill them with the <see cref="FillMode"/>.</summary>
    Fill,
    /// <summary>Keep the rows consecutive: the model sees the rows before and after a gap as neighbours.</summary>
    Keep,
}

/// <summary>
/// How a CSV file was read: the dialect (separator, decimal mark), the time column and its format, the
/// detected frequency and the gaps found — everything the loader decided on the user's behalf, so it can
/// be said in one line (<see cref="Describe"/>).
/// </summary>
public sealed record CsvReadInfo
{
    public char Separator { get; init; } = ',';
    public bool SeparatorDetected { get; init; }
    public char Decimal { get; init; } = '.';
    public bool DecimalDetected { get; init; }
    /// <summary>A cell that decided a detected decimal comma, e.g. "30,53".</summary>
    public string? DecimalEvidence { get; init; }
    public string? TimeColumn { get; init; }
    /// <summary>How the times were read: "ISO 8601", "dd/MM/yyyy HH:mm", "Unix epoch seconds" or the user's format.</summary>
    public string? TimeFormat { get; init; }
    /// <summary>Day/month order, offsets kept or converted.</summary>
    public string? TimeNote { get; init; }
    /// <summary>UTC offset written after each time in outputs ("" = none, "Z", "+02:00").</summary>
    public string OffsetSuffix { get; init; } = "";
    /// <summary>Why there is no time column (null when there is one).</summary>
    public string? NoTimeReason { get; init; }
    public TimeStep? Step { get; init; }
    public int SeriesCount { get; init; }
    public int Rows { get; init; }
    public int BlankLinesSkipped { get; init; }
    /// <summary>Holes of whole steps in the time index, over all series.</summary>
    public int Gaps { get; init; }
    public long MissingSteps { get; init; }
    /// <summary>The first hole, e.g. "10 steps missing between 2016-07-01 05:00:00 and 2016-07-01 16:00:00 (data row 6)".</summary>
    public string? FirstGap { get; init; }
    public GapMode GapMode { get; init; }
    /// <summary>Steps that are not a whole number of the detected step (irregular sampling).</summary>
    public int IrregularSteps { get; init; }

    /// <summary>One line for the user: dialect, time column and frequency (or why none), gaps.</summary>
    public string Describe(string file)
    {
        var parts = new List<string>();
        var dialect = new List<string>();
        if (Separator != ',') dialect.Add($"separator {Name(Separator)}{(SeparatorDetected ? " (detected)" : "")}");
        if (Decimal != '.') dialect.Add(DecimalDetected ? $"decimal comma (from '{DecimalEvidence}'; --decimal . to override)" : "decimal comma");
        if (BlankLinesSkipped > 0) dialect.Add($"{BlankLinesSkipped} trailing blank line(s) skipped");
        if (TimeColumn is not null)
        {
            string t = $"time column '{TimeColumn}' ({TimeFormat}{(TimeNote is null ? "" : "; " + TimeNote)})";
            if (Step is { } s) t += $", {s.Describe()}";
            parts.Add(t);
        }
        else parts.Add($"no time column ({NoTimeReason}); rows are taken as consecutive steps");
        parts.Add(SeriesCount == 1 ? $"{Rows} rows" : $"{SeriesCount} series, {Rows} rows");
        if (Gaps > 0)
        {
            string g = $"{Gaps} gap(s), {MissingSteps} missing step(s), first: {FirstGap}";
            parts.Add(GapMode == GapMode.Fill ? g + " — filled (--fill-gaps)" : g + " — rows kept consecutive (--allow-gaps)");
        }
        if (IrregularSteps > 0) parts.Add($"{IrregularSteps} step(s) not a whole multiple of the detected step (irregular, kept as rows)");
        string head = $"{Path.GetFileName(file)}: ";
        return head + (dialect.Count > 0 ? string.Join(", ", dialect) + "; " : "") + string.Join("; ", parts);
    }

    private static string Name(char c) => c switch { '\t' => "tab", ';' => "';'", ',' => "','", '|' => "'|'", ' ' => "space", _ => $"'{c}'" };

    internal static string FormatTime(DateTime t) =>
        t.ToString(t.TimeOfDay == TimeSpan.Zero ? "yyyy-MM-dd" : "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}
