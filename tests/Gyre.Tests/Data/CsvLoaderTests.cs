using Gyre.Data;
using Xunit;

namespace Gyre.Tests.Data;

public sealed class CsvLoaderTests : IDisposable
{
    private readonly TempFiles _tmp = new();
    public void Dispose() => _tmp.Dispose();

    private static GyreDataException Fails(string path, CsvOptions? o = null) =>
        Assert.Throws<GyreDataException>(() => CsvLoader.Load(path, o ?? new CsvOptions()));

    private static void AssertOneLine(GyreDataException e, params string[] parts)
    {
        Assert.DoesNotContain('\n', e.Message);
        foreach (var p in parts) Assert.Contains(p, e.Message);
    }

    [Fact]
    public void Loads_single_series_with_auto_time_and_all_numeric_targets()
    {
        string p = _tmp.Write("w.csv", "date,precipitation,temp,weather\n2012-01-01,0.0,12.8,drizzle\n2012-01-02,10.9,10.6,rain\n2012-01-03,0.8,11.7,rain\n");
        var set = CsvLoader.Load(p, new CsvOptions());
        Assert.Equal("date", set.TimeColumn);
        Assert.Equal(new[] { "precipitation", "temp" }, set.Columns);
        Assert.Equal(2, set.TargetCount);
        var s = Assert.Single(set.Series);
        Assert.Equal(3, s.Length);
        Assert.Equal(new DateTime(2012, 1, 2), s.Times![1]);
        Assert.Equal(new[] { 0.0f, 12.8f, 10.9f, 10.6f, 0.8f, 11.7f }, s.Values);
        Assert.Null(s.Observed);
        Assert.Equal(new[] { 1, 2, 3 }, s.SourceRows);
    }

    [Fact]
    public void Parses_quoted_month_and_datetime_formats()
    {
        string a = _tmp.Write("a.csv", "\"Month\",\"Sunspots\"\n\"1749-01\",58.0\n\"1749-02\",62.6");
        var s = CsvLoader.Load(a, new CsvOptions()).Series[0];
        Assert.Equal(new DateTime(1749, 2, 1), s.Times![1]);
        Assert.Equal(62.6f, s.Values[1]);
        string b = _tmp.Write("b.csv", "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,2\n2014-04-01 00:10:00.000000,3\n");
        var t = CsvLoader.Load(b, new CsvOptions()).Series[0];
        Assert.Equal(new DateTime(2014, 4, 1, 0, 10, 0), t.Times![2]);
    }

    [Fact]
    public void Selects_targets_features_and_future_features_in_that_column_order()
    {
        string p = _tmp.Write("f.csv", "t,a,b,c,d\n2020-01-01,1,2,3,4\n2020-01-02,5,6,7,8\n");
        var set = CsvLoader.Load(p, new CsvOptions { Targets = ["c"], Features = ["a"], FutureFeatures = ["d", "b"] });
        Assert.Equal(new[] { "c", "a", "d", "b" }, set.Columns);
        Assert.Equal((1, 1, 2), (set.TargetCount, set.PastCount, set.FutureCount));
        Assert.Equal(new[] { 3f, 1f, 4f, 2f, 7f, 5f, 8f, 6f }, set.Series[0].Values);
        // "all" excludes the features
        var all = CsvLoader.Load(p, new CsvOptions { Targets = ["all"], Features = ["a"] });
        Assert.Equal(new[] { "b", "c", "d", "a" }, all.Columns);
    }

    [Fact]
    public void Long_format_gives_one_series_per_id_in_order_of_appearance()
    {
        string p = _tmp.Write("l.csv", "id,date,y\nB,2020-01-01,1\nA,2020-01-01,10\nB,2020-01-02,2\nA,2020-01-02,20\nB,2020-01-03,3\n");
        var set = CsvLoader.Load(p, new CsvOptions { IdColumn = "id" });
        Assert.Equal(new[] { "B", "A" }, set.Series.Select(s => s.Id));
        Assert.Equal(new[] { 1f, 2f, 3f }, set.Series[0].Values);
        Assert.Equal(new[] { 10f, 20f }, set.Series[1].Values);
        Assert.Equal(new[] { 2, 4 }, set.Series[1].SourceRows);
        Assert.Equal(new[] { "y" }, set.Columns);
    }

    [Fact]
    public void Without_a_date_column_rows_are_taken_in_order()
    {
        string p = _tmp.Write("n.csv", "step,y\n1,5\n2,6\n");
        var set = CsvLoader.Load(p, new CsvOptions { Targets = ["y"] });
        Assert.Null(set.TimeColumn);
        Assert.Null(set.Series[0].Times);
    }

    [Fact]
    public void Fill_modes_ffill_linear_and_mask()
    {
        string p = _tmp.Write("m.csv", "date,y,x\n2020-01-01,,1\n2020-01-02,2,NaN\n2020-01-03,NA,3\n2020-01-04,,4\n2020-01-05,8,5\n");
        var ff = CsvLoader.Load(p, new CsvOptions { Fill = FillMode.Ffill }).Series[0];
        Assert.Equal(new[] { 2f, 1f, 2f, 1f, 2f, 3f, 2f, 4f, 8f, 5f }, ff.Values);
        Assert.Null(ff.Observed);
        var lin = CsvLoader.Load(p, new CsvOptions { Fill = FillMode.Linear }).Series[0];
        Assert.Equal(new[] { 2f, 1f, 2f, 2f, 4f, 3f, 6f, 4f, 8f, 5f }, lin.Values);
        var mask = CsvLoader.Load(p, new CsvOptions { Fill = FillMode.Mask }).Series[0];
        Assert.Equal(ff.Values, mask.Values);
        // [T, C] with both columns as targets: y observed at rows 2 and 5, x everywhere but row 2.
        Assert.Equal(new[] { false, true, true, false, false, true, false, true, true, true }, mask.Observed);
        var maskY = CsvLoader.Load(p, new CsvOptions { Targets = ["y"], Features = ["x"], Fill = FillMode.Mask }).Series[0];
        Assert.Equal(new[] { false, true, false, false, true }, maskY.Observed);
    }

    [Fact]
    public void Missing_file() => AssertOneLine(Fails(Path.Combine(_tmp.Dir, "nope.csv")), "nope.csv", "file not found");

    [Fact]
    public void Empty_file() => AssertOneLine(Fails(_tmp.Write("e.csv", "")), "e.csv", "empty file");

    [Fact]
    public void Header_only() => AssertOneLine(Fails(_tmp.Write("h.csv", "date,y\n")), "h.csv", "header only");

    [Theory]
    [InlineData("target")]
    [InlineData("feature")]
    [InlineData("future feature")]
    [InlineData("time")]
    [InlineData("id")]
    public void Unknown_column_lists_the_available_ones(string role)
    {
        string p = _tmp.Write("u.csv", "date,y\n2020-01-01,1\n");
        var o = role switch
        {
            "target" => new CsvOptions { Targets = ["zz"] },
            "feature" => new CsvOptions { Features = ["zz"] },
            "future feature" => new CsvOptions { FutureFeatures = ["zz"] },
            "time" => new CsvOptions { TimeColumn = "zz" },
            _ => new CsvOptions { IdColumn = "zz" },
        };
        AssertOneLine(Fails(p, o), "u.csv", $"unknown {role} column 'zz'", "columns: date, y");
    }

    [Fact]
    public void Non_numeric_cell_names_row_line_and_column()
    {
        string p = _tmp.Write("x.csv", "date,y,w\n2020-01-01,1,sun\n2020-01-02,abc,rain\n");
        AssertOneLine(Fails(p, new CsvOptions { Targets = ["y"] }), "x.csv", "data row 2 (line 3)", "column 'y'", "'abc'");
        AssertOneLine(Fails(p, new CsvOptions { Targets = ["w"] }), "x.csv", "data row 1 (line 2)", "column 'w'", "'sun'");
    }

    [Fact]
    public void Ragged_row()
    {
        string p = _tmp.Write("r.csv", "date,y\n2020-01-01,1\n2020-01-02,2,9\n");
        AssertOneLine(Fails(p), "r.csv", "data row 2 (line 3)", "ragged row: 3 fields, header has 2");
    }

    [Theory]
    [InlineData("", "empty cell")]
    [InlineData("NaN", "'NaN'")]
    [InlineData("Infinity", "'Infinity'")]
    [InlineData("-inf", "'-inf'")]
    public void Missing_or_non_finite_without_fill(string cell, string what)
    {
        string p = _tmp.Write("n.csv", $"date,y\n2020-01-01,1\n2020-01-02,2\n2020-01-03,{cell}\n");
        AssertOneLine(Fails(p), "n.csv", "data row 3 (line 4)", "column 'y'", what, "fill mode");
    }

    [Fact]
    public void Unparsable_date_in_explicit_time_column()
    {
        string p = _tmp.Write("d.csv", "date,y\n2020-01-01,1\n2020-13-45,2\n");
        AssertOneLine(Fails(p, new CsvOptions { TimeColumn = "date" }), "d.csv", "data row 2 (line 3)", "column 'date'", "cannot parse date '2020-13-45'");
    }

    [Fact]
    public void Unsorted_and_duplicate_timestamps()
    {
        string u = _tmp.Write("u.csv", "date,y\n2020-01-02,1\n2020-01-01,2\n");
        AssertOneLine(Fails(u), "u.csv", "data row 2 (line 3)", "column 'date'", "unsorted timestamps");
        string d = _tmp.Write("d.csv", "id,date,y\na,2020-01-01,1\nb,2020-01-01,1\na,2020-01-01,2\n");
        AssertOneLine(Fails(d, new CsvOptions { IdColumn = "id" }), "d.csv", "data row 3 (line 4)", "duplicate timestamp in series 'a'");
    }

    [Fact]
    public void Gaps_in_a_regular_grid_are_kept_by_default_and_refused_on_request()
    {
        string p = _tmp.Write("g.csv", "date,y\n1958-03-01,1\n1958-04-01,2\n1958-05-01,3\n1958-07-01,4\n");
        AssertOneLine(Fails(p, new CsvOptions { Gaps = GapMode.Error }), "g.csv", "data row 4 (line 5)", "column 'date'", "1 monthly step(s) missing between 1958-05-01 and 1958-07-01", "--fill-gaps", "--allow-gaps");
        var set = CsvLoader.Load(p, new CsvOptions());
        var s = set.Series[0];
        Assert.Equal(4, s.Length);
        Assert.Equal(1, TimeStep.Infer(s.Times!).Months);
        Assert.Equal((1, 1L), (set.ReadInfo!.Gaps, set.ReadInfo.MissingSteps));
    }

    [Fact]
    public void Constant_series_loads_and_scales_without_nan()
    {
        string p = _tmp.Write("c.csv", "date,y\n" + string.Concat(Enumerable.Range(1, 20).Select(i => $"2020-01-{i:00},5\n")));
        var set = CsvLoader.Load(p, new CsvOptions());
        var splits = SplitSpec.Default.For(set);
        foreach (var kind in new[] { ScalerKind.Standard, ScalerKind.Robust, ScalerKind.MinMax })
        {
            var sc = Scaler.Fit(kind, set, splits);
            Assert.Equal(1f, sc.Scale[0]);
            Assert.All(sc.Transform(set).Series[0].Values, v => Assert.True(float.IsFinite(v)));
        }
    }

    [Theory]
    [InlineData("co2-concentration.csv", "Date", 741, new[] { "CO2", "adjusted CO2" }, 12)]
    [InlineData("AirPassengers.csv", "Month", 144, new[] { "#Passengers" }, 12)]
    [InlineData("monthly-sunspots.csv", "Month", 2820, new[] { "Sunspots" }, 12)]
    [InlineData("seattle-weather.csv", "date", 1461, new[] { "precipitation", "temp_max", "temp_min", "wind" }, 1)]   // daily wind: no weekly or annual cycle
    public void Bundled_datasets_load(string file, string time, int rows, string[] targets, int minSeason)
    {
        var set = CsvLoader.Load(TempFiles.Bundled(file), new CsvOptions());
        Assert.Equal(time, set.TimeColumn);
        Assert.Equal(targets, set.Columns);
        var s = Assert.Single(set.Series);
        Assert.Equal(rows, s.Length);
        Assert.All(s.Values, v => Assert.True(float.IsFinite(v)));
        int m = Seasonality.Detect(s, set.ColumnCount, set.ColumnCount - 1, SplitSpec.Default.For(s.Length).TrainEnd);
        Assert.True(m >= minSeason, $"season {m}");
    }

    [Fact]
    public void Bundled_seattle_weather_text_column_is_an_error_only_when_selected()
    {
        var e = Fails(TempFiles.Bundled("seattle-weather.csv"), new CsvOptions { Targets = ["weather"] });
        AssertOneLine(e, "seattle-weather.csv", "data row 1 (line 2)", "column 'weather'", "'drizzle'");
    }
}

public sealed class CsvLoaderEdgeTests : IDisposable
{
    private readonly TempFiles _tmp = new();
    public void Dispose() => _tmp.Dispose();

    [Fact]
    public void Crlf_bom_and_trailing_newline_are_accepted()
    {
        string p = Path.Combine(_tmp.Dir, "crlf.csv");
        File.WriteAllText(p, "date,y\r\n2020-01-01,1.5\r\n2020-01-02,2.5\r\n", new System.Text.UTF8Encoding(true));
        var s = CsvLoader.Load(p, new CsvOptions()).Series[0];
        Assert.Equal(new[] { 1.5f, 2.5f }, s.Values);
    }

    [Fact]
    public void Blank_line_in_the_middle_is_a_ragged_row()
    {
        string p = _tmp.Write("b.csv", "date,y\n2020-01-01,1\n\n2020-01-03,3\n");
        var e = Assert.Throws<GyreDataException>(() => CsvLoader.Load(p, new CsvOptions()));
        Assert.Contains("b.csv: data row 2 (line 3)", e.Message);
    }

    [Fact]
    public void Quoted_numbers_and_fields_with_commas()
    {
        string p = _tmp.Write("q.csv", "date,note,y\n2020-01-01,\"a, b\",\"1e3\"\n2020-01-02,\"c\",-2\n");
        var set = CsvLoader.Load(p, new CsvOptions());
        Assert.Equal(new[] { "y" }, set.Columns);
        Assert.Equal(new[] { 1000f, -2f }, set.Series[0].Values);
    }

    [Fact]
    public void Semicolon_separated_file_with_decimal_commas_is_detected()
    {
        string p = _tmp.Write("c.csv", "date;y\n2020-01-01;1,5\n2020-01-02;2,25\n");
        var set = CsvLoader.Load(p, new CsvOptions());
        Assert.Equal(new[] { 1.5f, 2.25f }, set.Series[0].Values);
        Assert.Equal((';', ','), (set.ReadInfo!.Separator, set.ReadInfo.Decimal));
    }
}
