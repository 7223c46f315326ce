using System.Globalization;
using System.Text.RegularExpressions;

namespace Gyre.Data;

/// <summary>
/// A time column read as dates: <see cref="Times"/> [T] in file order, how they were read
/// (<see cref="Format"/>), and the UTC offset written after each time in outputs (<see cref="OffsetSuffix"/>,
/// "" when the input had none).
/// </summary>
public sealed record TimeColumn(DateTime[] Times, string Format, string OffsetSuffix, string? Note);

/// <summary>
/// Reads a column of time stamps in the dialects users' files come in, deciding the dialect once for the
/// whole column (never per cell, so 01/07 and 13/07 cannot be read in different orders):
/// ISO 8601 (yyyy-MM-dd, yyyy-MM, with time, 'T', fractional seconds, '/' separators, a UTC offset or Z);
/// day/month/year with '/', '.' or '-' (dd/MM/yyyy or MM/dd/yyyy [HH:mm[:ss]]); Unix epoch seconds or
/// milliseconds; or a .NET custom format string given by the user.
/// Day/month order comes from the values: a first field above 12 means day first, a second field above 12
/// means month first; when neither occurs, the order giving the more regular time step wins, and a tie is
/// read day first with a note saying so and how to override it.
/// Offsets: one constant offset is kept (local clock times, the offset written back in outputs); offsets
/// that vary (daylight saving) are converted to UTC, with a note.
/// </summary>
public static partial class TimeParsing
{
    /// <summary>Epoch values at or above this are milliseconds (1e11 s would be the year 5138).</summary>
    private const double EpochMillisecondsFrom = 1e11;
    /// <summary>Automatic epoch detection needs values from 1973 on (1e8 s), so step indices 1, 2, 3 are not dates.</summary>
    private const double EpochAutoMinimum = 1e8;

    [GeneratedRegex(@"^(\d{4})[-/](\d{1,2})(?:[-/](\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,7}))?)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Iso();

    [GeneratedRegex(@"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,7}))?)?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex DayMonth();

    /// <summary>Names that mark an integer column as epoch time stamps when no --time-format says so.</summary>
    private static readonly string[] TimeLikeNames =
        ["time", "timestamp", "date", "datetime", "ts", "epoch", "unix", "unixtime", "unix_time", "time_stamp", "created", "created_at"];

    /// <summary>True for a header name that suggests time stamps (case-insensitive).</summary>
    public static bool IsTimeLikeName(string name) =>
        TimeLikeNames.Contains(name.Trim().ToLowerInvariant()) || name.EndsWith("_time", StringComparison.OrdinalIgnoreCase)
        || name.EndsWith("_ts", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Cheap per-cell filter while reading: could this cell be a time stamp in a supported dialect? A digit first,
    /// then a date separator ('-' without an exponent, '/', two '.', ':'), so plain numbers like 315.70 or 1.5e-3
    /// are not kept as time candidates. <paramref name="allowNumbers"/> also admits numbers (epoch candidates).
    /// </summary>
    public static bool CouldBeTime(ReadOnlySpan<char> s, bool allowNumbers)
    {
        s = s.Trim();
        if (s.Length == 0 || !char.IsAsciiDigit(s[0])) return false;
        if (allowNumbers && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _)) return true;
        if (s.Length < 6) return false;
        if (s.Contains('/') || s.Contains(':')) return true;
        if (s.Contains('-') && s.IndexOfAny('e', 'E') < 0) return true;
        return s.Count('.') >= 2;
    }

    /// <summary>
    /// Reads <paramref name="raw"/> as time stamps. <paramref name="format"/>: null = detect; "epoch", "epoch-s",
    /// "epoch-ms"; else a .NET custom format (e.g. "dd.MM.yyyy HH:mm"). <paramref name="epochAllowed"/> lets
    /// detection read plain numbers as epoch time stamps. On failure returns null with the first bad data
    /// row (0-based) and a reason.
    /// </summary>
    public static TimeColumn? TryRead(IReadOnlyList<string> raw, string? format, bool epochAllowed, out int badRow, out string reason)
    {
        badRow = -1; reason = "";
        if (raw.Count == 0) { reason = "no values"; return null; }
        if (format is not null)
        {
            string f = format.Trim();
            if (f.Equals("epoch", StringComparison.OrdinalIgnoreCase) || f.Equals("unix", StringComparison.OrdinalIgnoreCase))
                return Epoch(raw, null, 0, out badRow, out reason);
            if (f.Equals("epoch-s", StringComparison.OrdinalIgnoreCase)) return Epoch(raw, false, 0, out badRow, out reason);
            if (f.Equals("epoch-ms", StringComparison.OrdinalIgnoreCase)) return Epoch(raw, true, 0, out badRow, out reason);
            return Custom(raw, f, out badRow, out reason);
        }
        string first = raw[0].Trim();
        if (Iso().IsMatch(first)) return IsoColumn(raw, out badRow, out reason);
        if (DayMonth().IsMatch(first)) return DayMonthColumn(raw, out badRow, out reason);
        if (epochAllowed && double.TryParse(first, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            return Epoch(raw, null, EpochAutoMinimum, out badRow, out reason);
        badRow = 0;
        reason = "not a date in a known form (ISO yyyy-MM-dd[ HH:mm[:ss]], dd/MM/yyyy, MM/dd/yyyy, Unix epoch)";
        return null;
    }

    private static TimeColumn? IsoColumn(IReadOnlyList<string> raw, out int badRow, out string reason)
    {
        badRow = -1; reason = "";
        var times = new DateTime[raw.Count];
        TimeSpan[]? offsets = null;
        string? firstSuffix = null;
        for (int i = 0; i < raw.Count; i++)
        {
            var m = Iso().Match(raw[i].Trim());
            if (!m.Success || !TryBuild(m.Groups[1], m.Groups[2], m.Groups[3], m.Groups[4], m.Groups[5], m.Groups[6], m.Groups[7], out times[i]))
            {
                badRow = i; reason = "not an ISO date like the rows before (expected e.g. 2016-07-01 or 2016-07-01 00:00:00)";
                return null;
            }
            bool zoned = m.Groups[8].Success;
            if (i == 0 && zoned) { offsets = new TimeSpan[raw.Count]; firstSuffix = m.Groups[8].Value; }
            if (zoned != (offsets is not null))
            {
                badRow = i; reason = "some time stamps carry a UTC offset and others do not";
                return null;
            }
            if (offsets is not null) offsets[i] = ParseOffset(m.Groups[8].Value);
        }
        if (offsets is null) return new TimeColumn(times, "ISO 8601", "", null);
        if (offsets.All(o => o == offsets[0]))
            return new TimeColumn(times, "ISO 8601", firstSuffix == "Z" ? "Z" : FormatOffset(offsets[0]),
                $"UTC offset {(firstSuffix == "Z" ? "Z" : FormatOffset(offsets[0]))} kept as given");
        // Daylight-saving changes: local clock times repeat or jump, so only UTC is a regular index.
        var distinct = offsets.Distinct().Select(FormatOffset);
        for (int i = 0; i < times.Length; i++) times[i] -= offsets[i];
        return new TimeColumn(times, "ISO 8601", "Z", $"UTC offsets vary ({string.Join(", ", distinct)}): converted to UTC");
    }

    private static TimeColumn? DayMonthColumn(IReadOnlyList<string> raw, out int badRow, out string reason)
    {
        badRow = -1; reason = "";
        var matches = new Match[raw.Count];
        bool firstAbove12 = false, secondAbove12 = false;
        int firstAbove12Row = -1, secondAbove12Row = -1;
        bool seconds = false, clock = false;
        for (int i = 0; i < raw.Count; i++)
        {
            var m = DayMonth().Match(raw[i].Trim());
            if (!m.Success || (i > 0 && m.Groups[2].Value != matches[0].Groups[2].Value))
            {
                badRow = i; reason = $"not a date like the rows before (expected e.g. {raw[0].Trim()})";
                return null;
            }
            matches[i] = m;
            if (int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture) > 12 && !firstAbove12) { firstAbove12 = true; firstAbove12Row = i; }
            if (int.Parse(m.Groups[3].ValueSpan, CultureInfo.InvariantCulture) > 12 && !secondAbove12) { secondAbove12 = true; secondAbove12Row = i; }
            clock |= m.Groups[5].Success;
            seconds |= m.Groups[7].Success;
        }
        if (firstAbove12 && secondAbove12)
        {
            badRow = Math.Max(firstAbove12Row, secondAbove12Row);
            reason = $"day/month order is inconsistent: '{raw[firstAbove12Row].Trim()}' needs day first, '{raw[secondAbove12Row].Trim()}' month first";
            return null;
        }
        char sep = matches[0].Groups[2].Value[0];
        string Pattern(bool dayFirst) =>
            (dayFirst ? $"dd{sep}MM{sep}yyyy" : $"MM{sep}dd{sep}yyyy") + (clock ? (seconds ? " HH:mm:ss" : " HH:mm") : "");
        DateTime[]? dayFirstTimes = firstAbove12 || !secondAbove12 ? Build(matches, true, out _) : null;
        DateTime[]? monthFirstTimes = secondAbove12 || !firstAbove12 ? Build(matches, false, out _) : null;
        if (firstAbove12)
        {
            if (dayFirstTimes is null) { badRow = BadOf(matches, true); reason = "not a valid day first date"; return null; }
            return new TimeColumn(dayFirstTimes, Pattern(true), "", $"day first: '{raw[firstAbove12Row].Trim()}' has a first field above 12");
        }
        if (secondAbove12)
        {
            if (monthFirstTimes is null) { badRow = BadOf(matches, false); reason = "not a valid month first date"; return null; }
            return new TimeColumn(monthFirstTimes, Pattern(false), "", $"month first: '{raw[secondAbove12Row].Trim()}' has a second field above 12");
        }
        // No field above 12 anywhere: both orders give valid dates. Prefer the one whose steps are regular.
        if (dayFirstTimes is null && monthFirstTimes is null) { badRow = BadOf(matches, true); reason = "not a valid date"; return null; }
        if (monthFirstTimes is null) return new TimeColumn(dayFirstTimes!, Pattern(true), "", "day first");
        if (dayFirstTimes is null) return new TimeColumn(monthFirstTimes, Pattern(false), "", "month first");
        int scoreDay = Regularity(dayFirstTimes), scoreMonth = Regularity(monthFirstTimes);
        if (scoreDay > scoreMonth)
            return new TimeColumn(dayFirstTimes, Pattern(true), "", $"day first: no field above 12, but only day first gives a regular step (override with --time-format \"{Pattern(false)}\")");
        if (scoreMonth > scoreDay)
            return new TimeColumn(monthFirstTimes, Pattern(false), "", $"month first: no field above 12, but only month first gives a regular step (override with --time-format \"{Pattern(true)}\")");
        return new TimeColumn(dayFirstTimes, Pattern(true), "",
            $"ASSUMED day first: no field above 12 decides it; pass --time-format \"{Pattern(false)}\" if months come first");
    }

    private static int BadOf(Match[] matches, bool dayFirst)
    {
        for (int i = 0; i < matches.Length; i++)
            if (!BuildOne(matches[i], dayFirst, out _)) return i;
        return 0;
    }

    private static DateTime[]? Build(Match[] matches, bool dayFirst, out int bad)
    {
        var times = new DateTime[matches.Length];
        for (int i = 0; i < matches.Length; i++)
            if (!BuildOne(matches[i], dayFirst, out times[i])) { bad = i; return null; }
        bad = -1;
        return times;
    }

    private static bool BuildOne(Match m, bool dayFirst, out DateTime t)
    {
        var g = m.Groups;
        return dayFirst ? TryBuild(g[4], g[3], g[1], g[5], g[6], g[7], g[8], out t) : TryBuild(g[4], g[1], g[3], g[5], g[6], g[7], g[8], out t);
    }

    /// <summary>How many consecutive steps equal the most common positive step, minus the number of steps backwards.</summary>
    private static int Regularity(DateTime[] times)
    {
        var counts = new Dictionary<long, int>();
        int backwards = 0;
        for (int i = 1; i < times.Length; i++)
        {
            long d = (times[i] - times[i - 1]).Ticks;
            if (d <= 0) { backwards++; continue; }
            counts[d] = counts.GetValueOrDefault(d) + 1;
        }
        return (counts.Count == 0 ? 0 : counts.Values.Max()) - backwards;
    }

    private static bool TryBuild(Group year, Group month, Group day, Group hour, Group minute, Group second, Group fraction, out DateTime t)
    {
        t = default;
        int y = int.Parse(year.ValueSpan, CultureInfo.InvariantCulture), mo = int.Parse(month.ValueSpan, CultureInfo.InvariantCulture);
        int d = day.Success ? int.Parse(day.ValueSpan, CultureInfo.InvariantCulture) : 1;
        int h = hour.Success ? int.Parse(hour.ValueSpan, CultureInfo.InvariantCulture) : 0;
        int mi = minute.Success ? int.Parse(minute.ValueSpan, CultureInfo.InvariantCulture) : 0;
        int s = second.Success ? int.Parse(second.ValueSpan, CultureInfo.InvariantCulture) : 0;
        if (y < 1 || mo is < 1 or > 12 || d < 1 || d > DateTime.DaysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) return false;
        long ticks = 0;
        if (fraction.Success)
        {
            var f = fraction.Value.PadRight(7, '0');
            ticks = long.Parse(f, CultureInfo.InvariantCulture);
        }
        t = new DateTime(y, mo, d, h, mi, s).AddTicks(ticks);
        return true;
    }

    private static TimeSpan ParseOffset(string suffix)
    {
        if (suffix == "Z") return TimeSpan.Zero;
        int sign = suffix[0] == '-' ? -1 : 1;
        var digits = suffix[1..].Replace(":", "");
        int h = int.Parse(digits[..2], CultureInfo.InvariantCulture), m = digits.Length >= 4 ? int.Parse(digits[2..4], CultureInfo.InvariantCulture) : 0;
        return sign * new TimeSpan(h, m, 0);
    }

    private static string FormatOffset(TimeSpan o) => (o < TimeSpan.Zero ? "-" : "+") + o.Duration().ToString(@"hh\:mm", CultureInfo.InvariantCulture);

    private static TimeColumn? Epoch(IReadOnlyList<string> raw, bool? milliseconds, double minimum, out int badRow, out string reason)
    {
        badRow = -1; reason = "";
        var values = new double[raw.Count];
        for (int i = 0; i < raw.Count; i++)
        {
            if (!double.TryParse(raw[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !double.IsFinite(values[i]))
            {
                badRow = i; reason = "not a Unix epoch time stamp (a number of seconds or milliseconds since 1970-01-01)";
                return null;
            }
        }
        bool ms = milliseconds ?? Math.Abs(values[0]) >= EpochMillisecondsFrom;
        double perSecond = ms ? 1000 : 1;
        var times = new DateTime[raw.Count];
        for (int i = 0; i < raw.Count; i++)
        {
            double seconds = values[i] / perSecond;
            if (seconds < minimum || seconds > 253402300799 || seconds < -62135596800)
            {
                badRow = i;
                reason = minimum > 0 ? "numbers too small to be Unix epoch time stamps (pass --time-format epoch-s or epoch-ms to force it)" : "outside the dates .NET can represent";
                return null;
            }
            times[i] = DateTime.UnixEpoch.AddTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond)).ToUniversalTime();
            times[i] = DateTime.SpecifyKind(times[i], DateTimeKind.Unspecified);
        }
        return new TimeColumn(times, ms ? "Unix epoch milliseconds" : "Unix epoch seconds", "Z", "epoch time stamps are UTC");
    }

    private static TimeColumn? Custom(IReadOnlyList<string> raw, string format, out int badRow, out string reason)
    {
        badRow = -1; reason = "";
        var times = new DateTime[raw.Count];
        bool zoned = format.Contains('z') || format.Contains('K');
        TimeSpan[]? offsets = zoned ? new TimeSpan[raw.Count] : null;
        for (int i = 0; i < raw.Count; i++)
        {
            string s = raw[i].Trim();
            bool ok;
            try
            {
                if (zoned)
                {
                    ok = DateTimeOffset.TryParseExact(s, format, CultureInfo.InvariantCulture, DateTimeStyles.AllowWhiteSpaces, out var dto);
                    if (ok) { times[i] = dto.DateTime; offsets![i] = dto.Offset; }
                }
                else ok = DateTime.TryParseExact(s, format, CultureInfo.InvariantCulture, DateTimeStyles.AllowWhiteSpaces, out times[i]);
            }
            catch (FormatException e) { badRow = 0; reason = $"--time-format '{format}' is not a valid .NET date format: {e.Message}"; return null; }
            if (!ok)
            {
                badRow = i; reason = $"does not match --time-format '{format}'";
                return null;
            }
        }
        if (offsets is null) return new TimeColumn(times, format, "", null);
        if (offsets.All(o => o == offsets[0])) return new TimeColumn(times, format, FormatOffset(offsets[0]), $"UTC offset {FormatOffset(offsets[0])} kept as given");
        for (int i = 0; i < times.Length; i++) times[i] -= offsets[i];
        return new TimeColumn(times, format, "Z", $"UTC offsets vary ({string.Join(", ", offsets.Distinct().Select(FormatOffset))}): converted to UTC");
    }

    /// <summary>
    /// One text format for a whole column of times (never date-only for some rows and date-time for others):
    /// "yyyy-MM-dd" when every time is midnight, else "yyyy-MM-dd HH:mm:ss" (with fractions when any has them).
    /// </summary>
    public static string ColumnFormat(IEnumerable<DateTime> times)
    {
        bool clock = false, fraction = false;
        foreach (var t in times)
        {
            if (t.TimeOfDay != TimeSpan.Zero) clock = true;
            if (t.Ticks % TimeSpan.TicksPerSecond != 0) fraction = true;
        }
        return fraction ? "yyyy-MM-dd HH:mm:ss.FFFFFFF" : clock ? "yyyy-MM-dd HH:mm:ss" : "yyyy-MM-dd";
    }

    /// <summary>
    /// A time in <paramref name="format"/>; with the data's offset suffix (see <see cref="TimeColumn.OffsetSuffix"/>)
    /// the ISO form yyyy-MM-ddTHH:mm:ss plus the suffix, since an offset needs a clock time.
    /// </summary>
    public static string Format(DateTime t, string format, string offsetSuffix) =>
        offsetSuffix.Length == 0 ? t.ToString(format, CultureInfo.InvariantCulture)
        : t.ToString(format.EndsWith("FFFFFFF", StringComparison.Ordinal) ? "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF" : "yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + offsetSuffix;
}
