using System.Globalization;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>The CLI on files as they come from elsewhere: what it says it detected, gaps, offsets, future covariates, JSON.</summary>
public sealed class DataDialectCommandTests : IDisposable
{
    private readonly CliFolder _dir = new();
    public void Dispose() => _dir.Dispose();

    private static readonly string[] Small = ["--lookback", "24", "--horizon", "6", "--hidden", "8", "--epochs", "1", "--seed", "3"];

    /// <summary>
    /// Hourly "date{sep}load{sep}temp" from 2016-07-01 00:00 for <paramref name="hours"/> hours (a daily cycle);
    /// times by <paramref name="time"/>, numbers by <paramref name="number"/>; hours in [skipFrom, skipFrom + skip) left out.
    /// </summary>
    private string Hourly(string name, int hours, Func<DateTime, string> time, string sep = ",", Func<double, string>? number = null, int skipFrom = -1, int skip = 0)
    {
        number ??= v => v.ToString("0.000", CultureInfo.InvariantCulture);
        var sb = new StringBuilder($"date{sep}load{sep}temp\n");
        for (int t = 0; t < hours; t++)
        {
            if (t >= skipFrom && t < skipFrom + skip) continue;
            var when = new DateTime(2016, 7, 1).AddHours(t);
            double load = 30 + 5 * Math.Sin(2 * Math.PI * t / 24), temp = 20 + 3 * Math.Cos(2 * Math.PI * t / 24);
            sb.Append(time(when)).Append(sep).Append(number(load)).Append(sep).Append(number(temp)).Append('\n');
        }
        return _dir.Write(name, sb.ToString());
    }

    private static string Iso(DateTime t) => t.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    [Fact]
    public void Semicolon_decimal_comma_day_first_file_trains_with_season_24_and_says_what_it_detected()
    {
        string data = Hourly("export.csv", 24 * 14, t => t.ToString("dd/MM/yyyy HH:mm", CultureInfo.InvariantCulture), ";",
            v => v.ToString("0.000", CultureInfo.InvariantCulture).Replace('.', ','));
        File.AppendAllText(data, "\n");                                  // a trailing blank line
        var r = _dir.Ok(["forecast", "train", "--data", data, "--target", "load", .. Small, "--out", _dir["m.gyre"], "--json"]);
        Assert.Contains("read export.csv: separator ';' (detected), decimal comma (from '30,000'; --decimal . to override), 1 trailing blank line(s) skipped; time column 'date' (dd/MM/yyyy HH:mm; day first: '13/07/2016 00:00' has a first field above 12), hourly; 336 rows", r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(24, doc.RootElement.GetProperty("season").GetInt32());
        // predict reads the file the way the model was trained and continues the hourly step.
        _dir.Ok("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--out", _dir["f.csv"]);
        var (_, rows) = CliFolder.ReadCsv(_dir["f.csv"]);
        Assert.Equal("2016-07-15 00:00:00", rows[0][0]);
    }

    [Fact]
    public void A_file_without_a_time_column_gets_a_line_saying_why()
    {
        string data = _dir.Write("plain.csv", "when,y\n" + string.Concat(Enumerable.Range(0, 80).Select(i => $"t{i},{Math.Sin(i / 3.0).ToString(CultureInfo.InvariantCulture)}\n")));
        var r = _dir.Ok(["forecast", "train", "--data", data, "--target", "y", .. Small, "--out", _dir["m.gyre"]]);
        Assert.Contains("read plain.csv: no time column (no column reads as dates: 'when' hold text; name one with --time-col and --time-format); rows are taken as consecutive steps; 80 rows", r.Out);
    }

    [Fact]
    public void Forecast_times_use_one_format_per_column_from_midnight_on()
    {
        // The history ends at 23:00, so the forecast starts at midnight: every row still carries its clock time.
        string data = Hourly("h.csv", 24 * 6, Iso);
        _dir.Ok(["forecast", "train", "--data", data, .. Small, "--out", _dir["m.gyre"]]);
        _dir.Ok("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--out", _dir["f.csv"]);
        var (_, rows) = CliFolder.ReadCsv(_dir["f.csv"]);
        Assert.Equal(["2016-07-07 00:00:00", "2016-07-07 01:00:00"], rows.Take(2).Select(r => r[0]));
    }

    [Fact]
    public void A_utc_offset_in_the_input_is_kept_in_the_forecast()
    {
        string data = Hourly("tz.csv", 24 * 6, t => t.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + "+02:00");
        var r = _dir.Ok(["forecast", "train", "--data", data, .. Small, "--out", _dir["m.gyre"]]);
        Assert.Contains("UTC offset +02:00 kept as given", r.Out);
        _dir.Ok("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--out", _dir["f.csv"]);
        Assert.Equal("2016-07-07T00:00:00+02:00", CliFolder.ReadCsv(_dir["f.csv"]).Rows[0][0]);
    }

    [Fact]
    public void A_ten_hour_hole_is_refused_then_filled_with_fill_gaps()
    {
        string data = Hourly("gap.csv", 24 * 6, Iso, skipFrom: 30, skip: 10);
        var r = _dir.Run(["forecast", "train", "--data", data, "--fill", "linear", "--calendar", "hour", .. Small, "--out", _dir["m.gyre"]]);
        Assert.Equal(2, r.Code);
        Assert.Equal("gyre: gap.csv: data row 31 (line 32), column 'date': gap in the time index: 10 hourly step(s) missing between 2016-07-02 05:00:00 and 2016-07-02 16:00:00 (data row 31); pass --fill-gaps to insert and fill them with --fill, or --allow-gaps to keep the rows consecutive",
            r.Err.Trim());
        Assert.DoesNotContain(_dir.Files(), f => f.Contains("m.gyre"));
        var ok = _dir.Ok(["forecast", "train", "--data", data, "--fill", "linear", "--calendar", "hour", "--fill-gaps", .. Small, "--out", _dir["m.gyre"]]);
        Assert.Contains("1 gap(s), 10 missing step(s)", ok.Out);
        Assert.Contains("filled (--fill-gaps)", ok.Out);
        var kept = _dir.Ok(["forecast", "train", "--data", data, "--allow-gaps", .. Small, "--out", _dir["k.gyre"]]);
        Assert.Contains("rows kept consecutive (--allow-gaps)", kept.Out);
    }

    [Fact]
    public void Long_format_without_id_col_suggests_it()
    {
        string a = File.ReadAllText(_dir.Daily("a.csv", 60, id: "A"));
        string b = File.ReadAllText(_dir.Daily("b.csv", 60, id: "B"));
        string data = _dir.Write("long.csv", a + string.Join('\n', b.Split('\n').Skip(1)));
        var r = _dir.Run(["forecast", "train", "--data", data, .. Small, "--out", _dir["m.gyre"]]);
        Assert.Equal(2, r.Code);
        Assert.Contains("unsorted timestamps: 2020-01-01 follows 2020-02-29", r.Err);
        Assert.Contains("name the series column with --id-col (e.g. --id-col id)", r.Err);
    }

    [Fact]
    public void Predict_takes_known_future_covariates_from_future_data()
    {
        string data = Hourly("h.csv", 24 * 6, Iso);
        _dir.Ok(["forecast", "train", "--data", data, "--target", "load", "--future-features", "temp", .. Small, "--out", _dir["m.gyre"]]);
        var refused = _dir.Run("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--out", _dir["f.csv"]);
        Assert.Equal(2, refused.Code);
        Assert.Contains("--future-data", refused.Err);

        string Future(string name, double temp, int from = 144) => _dir.Write(name, "date,temp\n" + string.Concat(Enumerable.Range(from, 6).Select(t =>
            $"{Iso(new DateTime(2016, 7, 1).AddHours(t))},{temp.ToString(CultureInfo.InvariantCulture)}\n")));
        _dir.Ok("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--future-data", Future("cold.csv", 0), "--out", _dir["cold.out.csv"]);
        _dir.Ok("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--future-data", Future("hot.csv", 60), "--out", _dir["hot.out.csv"]);
        var cold = CliFolder.ReadCsv(_dir["cold.out.csv"]).Rows;
        var hot = CliFolder.ReadCsv(_dir["hot.out.csv"]).Rows;
        Assert.Equal(6, cold.Length);
        Assert.Equal("2016-07-07 00:00:00", cold[0][0]);
        Assert.NotEqual(cold.Select(r => r[3]), hot.Select(r => r[3]));  // the covariate's future values reach the forecast
        // Future rows that do not continue the history's step are refused with the step named.
        var late = _dir.Run("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--future-data", Future("late.csv", 0, 146), "--out", _dir["x.csv"]);
        Assert.Equal(2, late.Code);
        Assert.Contains("horizon's step 1 is 2016-07-07 00:00:00", late.Err);
    }

    [Fact]
    public void Predict_json_prints_the_rows()
    {
        string data = Hourly("h.csv", 24 * 6, Iso);
        _dir.Ok(["forecast", "train", "--data", data, "--loss", "quantile", .. Small, "--out", _dir["m.gyre"]]);
        var r = _dir.Ok("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--out", _dir["f.csv"], "--json");
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.Equal(["load", "temp"], root.GetProperty("targets").EnumerateArray().Select(e => e.GetString()));
        var rows = root.GetProperty("rows");
        Assert.Equal(6, rows.GetArrayLength());
        Assert.Equal("2016-07-07 00:00:00", rows[0].GetProperty("time").GetString());
        double q1 = rows[0].GetProperty("quantiles").GetProperty("load").GetProperty("0.1").GetDouble();
        double q9 = rows[0].GetProperty("quantiles").GetProperty("load").GetProperty("0.9").GetDouble();
        Assert.True(double.IsFinite(rows[0].GetProperty("values").GetProperty("load").GetDouble()));
        Assert.True(q1 <= q9);
        Assert.Equal(_dir["f.csv"], root.GetProperty("forecast_csv").GetString());
        Assert.Contains("read h.csv", r.Err);                          // logs on stderr
    }
}
