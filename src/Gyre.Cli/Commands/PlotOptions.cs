using System.CommandLine;
using Gyre.Cli.Output;
using Gyre.Data;

namespace Gyre.Cli.Commands;

/// <summary>`--plot FILE` with the panel selection `--plot-series` and `--plot-targets`.</summary>
internal sealed class PlotOptions(string description)
{
    public readonly Option<string?> Path = new("--plot") { Description = description };
    public readonly Option<string?> Series = new("--plot-series") { Description = $"Series ids to plot, A,B,… (default: all, up to {ForecastPlot.MaxPanels} panels)" };
    public readonly Option<string?> Targets = new("--plot-targets") { Description = "Targets to plot, COL,… (default: all)" };

    public void AddTo(Command command)
    {
        command.Options.Add(Path); command.Options.Add(Series); command.Options.Add(Targets);
    }

    public PlotSelection Selection(ParseResult p) =>
        new(p.GetValue(Series) is { } s ? CsvOptions.ParseColumnList(s) : null, p.GetValue(Targets) is { } t ? CsvOptions.ParseColumnList(t) : null);
}
