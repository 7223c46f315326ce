using System.Globalization;
using System.Text;
using Gyre.Forecasting;
using Xunit;

namespace Gyre.Tests.Forecasting;

/// <summary>Channel-independent forecasts keep the series id when a target column's name holds a '/'.</summary>
public sealed class ChannelIndependentIdTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gyre-ci-id").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_slash_in_a_column_name_does_not_cut_the_series_id()
    {
        var sb = new StringBuilder("date,km/h,temp\n");
        for (int t = 0; t < 80; t++)
            sb.Append(new DateTime(2020, 1, 1).AddDays(t).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).Append(',')
              .Append((10 + Math.Sin(t / 3.0)).ToString("F3", CultureInfo.InvariantCulture)).Append(',')
              .Append((5 + Math.Cos(t / 5.0)).ToString("F3", CultureInfo.InvariantCulture)).Append('\n');
        string path = Path.Combine(_dir, "speed.csv");
        File.WriteAllText(path, sb.ToString());
        var options = new ForecastOptions { Lookback = 8, Horizon = 3, Hidden = 4, Epochs = 1, Seed = 1, ChannelIndependent = true };
        var f = Forecaster.Fit(path, options);
        var set = f.LoadData(path);
        var table = f.Predict(set);
        string id = set.Series[0].Id;
        Assert.All(table.Rows, r => Assert.Equal(id, r.SeriesId));
        Assert.Equal(3, table.Rows.Count);
    }
}
