using System.CommandLine;
using Gyre.Data;

namespace Gyre.Cli.Commands;

/// <summary>
/// How `eval` and `predict` read a file whose dialect differs from the training file's: separator, decimal
/// mark and time format override what the model stored; the columns stay the model's.
/// </summary>
internal sealed class ReadingOptions
{
    public readonly Option<string?> Sep = new("--sep") { Description = "Field separator: , ; tab | (default: the model's, else detected)" };
    public readonly Option<string?> Decimal = new("--decimal") { Description = "Decimal mark . or , (default: the model's, else detected)" };
    public readonly Option<string?> TimeFormat = new("--time-format") { Description = "Time format, e.g. \"dd/MM/yyyy HH:mm\", epoch-s, epoch-ms (default: the model's, else detected)" };

    public void AddTo(Command command)
    {
        command.Options.Add(Sep); command.Options.Add(Decimal); command.Options.Add(TimeFormat);
    }

    /// <summary>The overrides the user gave, or null when none.</summary>
    public Func<CsvOptions, CsvOptions>? Adjust(ParseResult p)
    {
        string? sep = p.GetValue(Sep), mark = p.GetValue(Decimal), format = p.GetValue(TimeFormat);
        if (sep is null && mark is null && format is null) return null;
        char? separator = CsvOptions.ParseSeparator(sep), decimalMark = CsvOptions.ParseDecimal(mark);
        return o => o with
        {
            Separator = sep is null ? o.Separator : separator,
            Decimal = mark is null ? o.Decimal : decimalMark,
            TimeFormat = format ?? o.TimeFormat,
        };
    }
}
