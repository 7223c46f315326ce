using System.Globalization;
using Gyre.Forecasting;
using nietras.SeparatedValues;

namespace Gyre.Cli.Output;

/// <summary>Writes a <see cref="ForecastTable"/> as CSV (Sep): time or step, series, each target, each target's quantiles.</summary>
internal static class ForecastCsv
{
    public static void Write(string path, ForecastTable table)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{path}: folder does not exist");
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var writer = Sep.New(',').Writer().ToFile(tmp))
            {
                foreach (var row in table.Rows)
                {
                    using var w = writer.NewRow();
                    if (row.Time is { } t) w["time"].Set(t.ToString(t.TimeOfDay == TimeSpan.Zero ? "yyyy-MM-dd" : "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
                    w["step"].Format(row.Step);
                    w["series"].Set(row.SeriesId);
                    for (int c = 0; c < table.Targets.Length; c++)
                    {
                        w[table.Targets[c]].Set(row.Values[c].ToString("R", CultureInfo.InvariantCulture));
                        for (int q = 0; q < table.QuantileLevels.Length; q++)
                            w[$"{table.Targets[c]}_q{table.QuantileLevels[q].ToString("0.###", CultureInfo.InvariantCulture)}"]
                                .Set(row.Quantiles[c][q].ToString("R", CultureInfo.InvariantCulture));
                    }
                }
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
