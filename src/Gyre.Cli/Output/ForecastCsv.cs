using System.Globalization;
using Gyre.Data;
using Gyre.Forecasting;
using nietras.SeparatedValues;

namespace Gyre.Cli.Output;

/// <summary>
/// Writes a <see cref="ForecastTable"/> as CSV (Sep): time or step, series, each target, each target's quantiles.
/// Times use one format for the whole column (date-only only when every time is midnight) and carry the
/// input's UTC offset when it had one.
/// </summary>
internal static class ForecastCsv
{
    public static void Write(string path, ForecastTable table, string offsetSuffix = "")
    {
        string timeFormat = TimeParsing.ColumnFormat(table.Rows.Where(r => r.Time is not null).Select(r => r.Time!.Value));
        OutputPlan.WriteOne(path, tmp =>
        {
            using var writer = Sep.New(',').Writer().ToFile(tmp);
            foreach (var row in table.Rows)
            {
                using var w = writer.NewRow();
                if (row.Time is { } t) w["time"].Set(TimeParsing.Format(t, timeFormat, offsetSuffix));
                w["step"].Format(row.Step);
                w["series"].Set(row.SeriesId);
                for (int c = 0; c < table.Targets.Length; c++)
                {
                    w[table.Targets[c]].Set(row.Values[c].ToString("R", CultureInfo.InvariantCulture));
                    for (int q = 0; q < table.QuantileLevels.Length; q++)
                        w[QuantileColumn(table, c, q)].Set(row.Quantiles[c][q].ToString("R", CultureInfo.InvariantCulture));
                }
                // Sample paths after every target's point and quantiles: {target}_path{k}, path k continuing over the steps.
                if (row.Paths is { } paths)
                    for (int c = 0; c < table.Targets.Length; c++)
                        for (int k = 0; k < paths[c].Length; k++)
                            w[$"{table.Targets[c]}_path{k + 1}"].Set(paths[c][k].ToString("R", CultureInfo.InvariantCulture));
            }
        });
    }

    public static string QuantileColumn(ForecastTable table, int target, int q) =>
        $"{table.Targets[target]}_q{table.QuantileLevels[q].ToString("0.###", CultureInfo.InvariantCulture)}";
}
