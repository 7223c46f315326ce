using System.Globalization;
using System.Text;
using Gyre.Data;
using Xunit;

namespace Gyre.Tests.Data;

/// <summary>Files as they come from elsewhere: other separators, decimal commas, non-ISO dates, epochs, offsets, gaps.</summary>
public sealed class CsvDialectTests : IDisposable
{
    private readonly TempFiles _tmp = new();
    public void Dispose() => _tmp.Dispose();

    private static GyreDataException Fails(string path, CsvOptions? o = null) =>
        Assert.Throws<GyreDataException>(() => CsvLoader.Load(path, o ?? new CsvOptions()));

    /// <summary>Hourly rows from 2016-07-01 00:00, each time written by <paramref name="format"/>, y = hour of day.</summary>
    private string Hourly(string name, int hours, Func<DateTime, string> format, string sep = ",", Func<double, string>? number = null, int skipFrom = -1, int skipCount = 0)
    {
        number ??= v => v.ToString("0.00", CultureInfo.InvariantCulture);
        var sb = new StringBuilder($"date{sep}y\n");
        var start = new DateTime(2016, 7, 1);
        for (int t = 0; t < hours; t++)
        {
            if (t >= skipFrom && t < skipFrom + skipCount) continue;
            var time = start.AddHours(t);
            sb.Append(format(time)).Append(sep).Append(number(time.Hour + 0.5)).Append('\n');
        }
        return _tmp.Write(name, sb.ToString());
    }

    [Fact]
    public void Semicolons_decimal_commas_and_a_trailing_blank_line()
    {
        string p = Hourly("s.csv", 72, t => t.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture), ";", v => v.ToString("0.00", CultureInfo.InvariantCulture).Replace('.', ','));
        File.AppendAllText(p, "\n\n");
        var set = CsvLoader.Load(p, new CsvOptions());
        var s = set.Series[0];
        Assert.Equal(72, s.Length);
        Assert.Equal(1.5f, s.Values[1]);
        var info = set.ReadInfo!;
        Assert.Equal((';', true, ',', "0,50"), (info.Separator, info.SeparatorDetected, info.Decimal, info.DecimalEvidence));
        Assert.Equal(2, info.BlankLinesSkipped);
        string line = info.Describe(p);
        Assert.Contains("separator ';' (detected)", line);
        Assert.Contains("decimal comma (from '0,50'", line);
        Assert.Contains("time column 'date' (ISO 8601), hourly", line);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public void Tab_separated_and_quoted_decimal_commas()
    {
        string tab = Hourly("t.tsv", 30, t => t.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), "\t");
        Assert.Equal('\t', CsvLoader.Load(tab, new CsvOptions()).ReadInfo!.Separator);
        string quoted = _tmp.Write("q.csv", "date,y\n2020-01-01,\"30,53\"\n2020-01-02,\"31,5\"\n");
        Assert.Equal(new[] { 30.53f, 31.5f }, CsvLoader.Load(quoted, new CsvOptions()).Series[0].Values);
        // Forcing the decimal point makes "30,53" a text cell, named.
        var e = Fails(quoted, new CsvOptions { Decimal = '.', Targets = ["y"] });
        Assert.Contains("'30,53'", e.Message);
        // An explicit separator wins over detection: the whole line is then one field.
        Assert.Contains("pass --sep", Fails(tab, new CsvOptions { Separator = ',' }).Message);
    }

    [Fact]
    public void Day_first_dates_give_hourly_data_its_time_column_and_season_24()
    {
        string p = Hourly("d.csv", 24 * 20, t => t.ToString("dd/MM/yyyy HH:mm", CultureInfo.InvariantCulture));
        var set = CsvLoader.Load(p, new CsvOptions());
        Assert.Equal("date", set.TimeColumn);
        var s = set.Series[0];
        Assert.Equal(new DateTime(2016, 7, 13, 5, 0, 0), s.Times![12 * 24 + 5]);
        Assert.Equal(24, Seasonality.Detect(s, 1, 0, s.Length));
        Assert.Equal("dd/MM/yyyy HH:mm", set.ReadInfo!.TimeFormat);
        Assert.Contains("day first: '13/07/2016 00:00' has a first field above 12", set.ReadInfo.Describe(p));
    }

    [Fact]
    public void Month_first_dates_are_detected_from_a_second_field_above_12()
    {
        string p = Hourly("m.csv", 24 * 14, t => t.ToString("MM/dd/yyyy HH:mm", CultureInfo.InvariantCulture));
        var set = CsvLoader.Load(p, new CsvOptions());
        Assert.Equal(new DateTime(2016, 7, 13), set.Series[0].Times![12 * 24]);
        Assert.Equal("MM/dd/yyyy HH:mm", set.ReadInfo!.TimeFormat);
    }

    [Fact]
    public void Without_a_field_above_12_the_regular_order_wins_and_a_tie_is_said_to_be_assumed()
    {
        // 1 July to 3 July hourly: day first steps by one hour throughout; month first would jump a month at midnight.
        var set = CsvLoader.Load(Hourly("r.csv", 60, t => t.ToString("dd.MM.yyyy HH:mm", CultureInfo.InvariantCulture)), new CsvOptions());
        Assert.Equal(new DateTime(2016, 7, 2, 1, 0, 0), set.Series[0].Times![25]);
        Assert.Contains("only day first gives a regular step", set.ReadInfo!.TimeNote);
        // One day only: both orders are regular. Day first is assumed, and the note says how to override it.
        string tie = Hourly("tie.csv", 24, t => t.ToString("dd/MM/yyyy HH:mm", CultureInfo.InvariantCulture));
        var tied = CsvLoader.Load(tie, new CsvOptions());
        Assert.Contains("ASSUMED day first", tied.ReadInfo!.Describe(tie));
        Assert.Contains("--time-format \"MM/dd/yyyy HH:mm\"", tied.ReadInfo.Describe(tie));
        var overridden = CsvLoader.Load(tie, new CsvOptions { TimeFormat = "MM/dd/yyyy HH:mm" });
        Assert.Equal(new DateTime(2016, 1, 7, 3, 0, 0), overridden.Series[0].Times![3]);
    }

    [Fact]
    public void Inconsistent_day_month_order_is_an_error()
    {
        string p = _tmp.Write("x.csv", "date,y\n13/01/2020,1\n01/14/2020,2\n");
        var e = Fails(p);
        Assert.Contains("day/month order is inconsistent", e.Message);
        Assert.Contains("column 'date'", e.Message);
    }

    [Theory]
    [InlineData("timestamp", 1467331200L, 1)]
    [InlineData("ts", 1467331200000L, 1000)]
    public void Epoch_seconds_and_milliseconds(string name, long start, int unit)
    {
        var sb = new StringBuilder($"{name},y\n");
        for (int t = 0; t < 48; t++) sb.Append(start + t * 3600L * unit).Append(',').Append(t % 24).Append('\n');
        string p = _tmp.Write("e.csv", sb.ToString());
        var set = CsvLoader.Load(p, new CsvOptions());
        Assert.Equal(name, set.TimeColumn);
        Assert.Equal(new[] { "y" }, set.Columns);
        Assert.Equal(new DateTime(2016, 7, 1, 1, 0, 0), set.Series[0].Times![1]);
        Assert.Equal(unit == 1 ? "Unix epoch seconds" : "Unix epoch milliseconds", set.ReadInfo!.TimeFormat);
        Assert.Equal(TimeSpan.FromHours(1), set.ReadInfo.Step!.Value.Span);
    }

    [Fact]
    public void Numbers_in_a_column_not_named_like_time_stay_a_target_and_the_line_says_why()
    {
        string p = _tmp.Write("n.csv", "step,y\n1467331200,1\n1467334800,2\n");
        var set = CsvLoader.Load(p, new CsvOptions());
        Assert.Null(set.TimeColumn);
        Assert.Contains("every column is numeric", set.ReadInfo!.Describe(p));
        var named = CsvLoader.Load(p, new CsvOptions { TimeColumn = "step" });
        Assert.Equal(new DateTime(2016, 7, 1, 1, 0, 0), named.Series[0].Times![1]);
    }

    [Fact]
    public void A_constant_offset_is_kept_and_varying_offsets_are_converted_to_utc_with_a_note()
    {
        string kept = _tmp.Write("k.csv", "date,y\n2018-06-27T00:00:00+02:00,1\n2018-06-27T01:00:00+02:00,2\n2018-06-27T02:00:00+02:00,3\n");
        var set = CsvLoader.Load(kept, new CsvOptions());
        Assert.Equal(new DateTime(2018, 6, 27, 1, 0, 0), set.Series[0].Times![1]);
        Assert.Equal("+02:00", set.ReadInfo!.OffsetSuffix);
        Assert.Contains("UTC offset +02:00 kept as given", set.ReadInfo.Describe(kept));
        Assert.Equal("2018-06-27T01:00:00+02:00", TimeParsing.Format(set.Series[0].Times![1], "yyyy-MM-dd HH:mm:ss", "+02:00"));
        // Daylight saving ends: 02:00+02:00 then 02:00+01:00 — local clock repeats, UTC is regular.
        string dst = _tmp.Write("dst.csv", "date,y\n2018-10-28T01:00:00+02:00,1\n2018-10-28T02:00:00+02:00,2\n2018-10-28T02:00:00+01:00,3\n2018-10-28T03:00:00+01:00,4\n");
        var utc = CsvLoader.Load(dst, new CsvOptions());
        Assert.Equal(new DateTime(2018, 10, 28, 1, 0, 0), utc.Series[0].Times![2]);
        Assert.Equal("Z", utc.ReadInfo!.OffsetSuffix);
        Assert.Contains("converted to UTC", utc.ReadInfo.TimeNote);
    }

    [Fact]
    public void A_ten_hour_hole_is_refused_filled_or_kept()
    {
        string p = Hourly("g.csv", 48, t => t.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), skipFrom: 6, skipCount: 10);
        var e = Fails(p, new CsvOptions { Gaps = GapMode.Error, Fill = FillMode.Linear });
        Assert.Contains("g.csv: data row 7 (line 8), column 'date': gap in the time index: 10 hourly step(s) missing between 2016-07-01 05:00:00 and 2016-07-01 16:00:00", e.Message);
        Assert.Contains("needs a fill method", Fails(p, new CsvOptions { Gaps = GapMode.Fill }).Message);

        var filled = CsvLoader.Load(p, new CsvOptions { Gaps = GapMode.Fill, Fill = FillMode.Linear });
        var s = filled.Series[0];
        Assert.Equal(48, s.Length);
        Assert.Equal(new DateTime(2016, 7, 1, 6, 0, 0), s.Times![6]);
        // Linear between 5.5 (05:00) and 16.5 (16:00): 06:00 is 6.5.
        Assert.Equal(6.5f, s.Values[6], 4);
        Assert.Equal(6, s.SourceRows[6]);                      // an inserted step reports the row before it
        Assert.Contains("1 gap(s), 10 missing step(s)", filled.ReadInfo!.Describe(p));
        Assert.Contains("filled (--fill-gaps)", filled.ReadInfo.Describe(p));

        var masked = CsvLoader.Load(p, new CsvOptions { Gaps = GapMode.Fill, Fill = FillMode.Mask });
        Assert.False(masked.Series[0].Observed![6]);
        Assert.True(masked.Series[0].Observed![5]);

        var kept = CsvLoader.Load(p, new CsvOptions());
        Assert.Equal(38, kept.Series[0].Length);
        Assert.Contains("rows kept consecutive", kept.ReadInfo!.Describe(p));
    }

    [Fact]
    public void Monthly_data_on_month_ends_is_regular()
    {
        string p = _tmp.Write("me.csv", "date,y\n2020-01-31,1\n2020-02-29,2\n2020-03-31,3\n2020-04-30,4\n");
        var set = CsvLoader.Load(p, new CsvOptions { Gaps = GapMode.Error });
        Assert.Equal(0, set.ReadInfo!.Gaps);
        Assert.Equal(0, set.ReadInfo.IrregularSteps);
    }

    [Fact]
    public void Timestamps_that_start_over_suggest_the_id_column()
    {
        string p = _tmp.Write("long.csv", "store,date,y\na,2010-10-09,1\na,2010-10-10,2\nb,1990-01-01,3\nb,1990-01-02,4\n");
        var e = Fails(p);
        Assert.Contains("unsorted timestamps: 1990-01-01 follows 2010-10-10", e.Message);
        Assert.Contains("--id-col store", e.Message);
        Assert.Equal(2, CsvLoader.Load(p, new CsvOptions { IdColumn = "store" }).Series.Count);
    }

    [Fact]
    public void A_custom_time_format()
    {
        string p = _tmp.Write("c.csv", "when,y\n01 Jul 2016,1\n02 Jul 2016,2\n");
        Assert.Null(CsvLoader.Load(p, new CsvOptions()).TimeColumn);
        var set = CsvLoader.Load(p, new CsvOptions { TimeFormat = "dd MMM yyyy" });
        Assert.Equal("when", set.TimeColumn);
        Assert.Equal(new DateTime(2016, 7, 2), set.Series[0].Times![1]);
        var e = Fails(p, new CsvOptions { TimeFormat = "yyyy-MM-dd", TimeColumn = "when" });
        Assert.Contains("does not match --time-format 'yyyy-MM-dd'", e.Message);
    }

    [Fact]
    public void One_time_format_per_column()
    {
        var midnight = new DateTime(2018, 6, 27);
        Assert.Equal("yyyy-MM-dd", TimeParsing.ColumnFormat([midnight, midnight.AddDays(1)]));
        Assert.Equal("yyyy-MM-dd HH:mm:ss", TimeParsing.ColumnFormat([midnight, midnight.AddHours(1)]));
    }
}
