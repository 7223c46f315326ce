using Xunit;
using Gyre.Forecasting;
using Gyre.IO;

namespace Gyre.Tests.Cli;

/// <summary>
/// Bad input: exit code 2, ONE line on stderr naming the file (and row/column where relevant), nothing on
/// disk that was not there before (no model, checkpoint, CSV, PNG or temporary file).
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly string[] Small = ["--lookback", "14", "--horizon", "7", "--hidden", "8", "--epochs", "1"];

    private string Fails(string[] args, params string[] expected) => _dir.Fails(args, expected);

    private string[] Train(string data, params string[] extra) =>
        ["forecast", "train", "--data", data, .. Small, "--out", _dir["model.gyre"], .. extra];

    private string Lines(string name, Func<string[], string[]> edit) =>
        _dir.Write(name, string.Join('\n', edit(File.ReadAllLines(_dir.Daily(name)))) + "\n");

    [Fact]
    public void Missing_file() =>
        Fails(Train(_dir["nope.csv"]), "nope.csv", "file not found");

    [Fact]
    public void Missing_file_for_predict_and_eval()
    {
        _dir.Daily("d.csv");
        Fails(["forecast", "predict", "--model", _dir["nope.gyre"], "--data", _dir["d.csv"], "--out", _dir["f.csv"]], "nope.gyre", "not found");
        Fails(["forecast", "eval", "--model", _dir["nope.gyre"], "--data", _dir["d.csv"]], "nope.gyre", "not found");
    }

    [Fact]
    public void Empty_file() =>
        Fails(Train(_dir.Write("empty.csv", "")), "empty.csv", "empty file");

    [Fact]
    public void Header_only() =>
        Fails(Train(_dir.Write("header.csv", "date,y,x\n")), "header.csv", "header only");

    [Theory]
    [InlineData("--target", "target")]
    [InlineData("--features", "feature")]
    [InlineData("--future-features", "future feature")]
    [InlineData("--time-col", "time")]
    [InlineData("--id-col", "id")]
    public void Unknown_column(string option, string role) =>
        Fails(Train(_dir.Daily("d.csv"), option, "nope"), "d.csv", "column 'nope'", $"unknown {role} column 'nope'", "columns: date, y, x");

    [Fact]
    public void Non_numeric_cell_in_a_named_target() =>
        Fails(Train(Lines("t.csv", l => { l[10] = "2020-01-10,abc,0.5"; return l; }), "--target", "y"),
            "t.csv", "data row 10 (line 11)", "column 'y'", "non-numeric value 'abc'");

    [Fact]
    public void Non_numeric_cell_in_a_detected_target() =>
        Fails(Train(Lines("t.csv", l => { l[10] = "2020-01-10,12.5,oops"; return l; })),
            "t.csv", "data row 10 (line 11)", "column 'x'", "non-numeric value 'oops'");

    [Fact]
    public void Ragged_row() =>
        Fails(Train(Lines("r.csv", l => { l[5] += ",7"; return l; })), "r.csv", "data row 5 (line 6)", "ragged row");

    [Theory]
    [InlineData("NaN")]
    [InlineData("inf")]
    [InlineData("-Infinity")]
    [InlineData("")]
    public void Missing_or_non_finite_without_fill(string cell) =>
        Fails(Train(Lines("n.csv", l => { l[20] = $"2020-01-20,{cell},0.5"; return l; })),
            "n.csv", "data row 20 (line 21)", "column 'y'", "fill mode");

    [Fact]
    public void Missing_value_is_accepted_with_fill()
    {
        string data = Lines("n.csv", l => { l[20] = "2020-01-20,NaN,0.5"; return l; });
        _dir.Ok(Train(data, "--fill", "linear"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("date")]
    public void Unparsable_date(string? timeCol) =>
        Fails(Train(Lines("b.csv", l => { l[30] = "2020-13-45" + l[30][10..]; return l; }), timeCol is null ? [] : ["--time-col", timeCol]),
            "b.csv", "data row 30 (line 31)", "column 'date'", "cannot parse date '2020-13-45'");

    [Fact]
    public void Unsorted_timestamps() =>
        Fails(Train(Lines("u.csv", l => { l[30] = "2020-01-02" + l[30][10..]; return l; })),
            "u.csv", "data row 30 (line 31)", "column 'date'", "unsorted timestamps");

    [Fact]
    public void Duplicate_timestamp() =>
        Fails(Train(Lines("u.csv", l => { l[30] = l[29][..10] + l[30][10..]; return l; })),
            "u.csv", "data row 30 (line 31)", "column 'date'", "duplicate timestamp");

    [Fact]
    public void Duplicate_timestamp_within_one_series_of_long_data()
    {
        string a = File.ReadAllText(_dir.Daily("a.csv", 60, id: "A"));
        var b = File.ReadAllLines(_dir.Daily("b.csv", 60, id: "B")).Skip(1).ToArray();
        b[40] = b[39];
        string data = _dir.Write("long.csv", a + string.Join('\n', b) + "\n");
        Fails(Train(data, "--id-col", "id"), "long.csv", "column 'date'", "duplicate timestamp in series 'B'");
    }

    [Fact]
    public void Series_shorter_than_lookback_plus_horizon() =>
        Fails(Train(_dir.Daily("s.csv", 25)), "s.csv", "lookback 14", "horizon 7");

    [Theory]
    [InlineData("--horizon", "0", "--horizon must be between 1 and 1000000 (got 0)")]
    [InlineData("--lookback", "0", "--lookback must be between 1 and 1000000 (got 0)")]
    [InlineData("--horizon", "-3", "--horizon must be between 1 and 1000000 (got -3)")]
    [InlineData("--lookback", "-1", "--lookback must be between 1 and 1000000 (got -1)")]
    public void Non_positive_window(string option, string value, string message) =>
        Fails(["forecast", "train", "--data", _dir.Daily("d.csv"), "--epochs", "1", option, value, "--out", _dir["model.gyre"]], message);

    [Fact]
    public void Non_positive_window_in_the_bundled_job() =>
        Fails(["forecast", "--horizon", "0", "--out-dir", _dir["out"]], "--horizon must be between 1 and 1000000 (got 0)");

    [Fact]
    public void Unknown_option_is_usage_error() =>
        Fails(["forecast", "train", "--data", _dir.Daily("d.csv"), "--bogus"], "--bogus");

    [Theory]
    [InlineData("inspect")]
    [InlineData("eval")]
    [InlineData("predict")]
    public void Corrupt_model_file(string command)
    {
        _dir.Daily("d.csv");
        var bytes = new byte[300];
        new Random(1).NextBytes(bytes);
        File.WriteAllBytes(_dir["bad.gyre"], bytes);
        File.WriteAllBytes(_dir["short.gyre"], [1, 2, 3]);
        File.WriteAllText(_dir["text.gyre"], "{\"format\": \"gyre.forecaster\"}");
        foreach (var model in new[] { "bad.gyre", "short.gyre", "text.gyre" })
            Fails(ModelCommand(command, _dir[model]), model);
    }

    [Theory]
    [InlineData("inspect")]
    [InlineData("eval")]
    [InlineData("predict")]
    public void Truncated_model_file(string command)
    {
        string data = _dir.Daily("d.csv");
        var f = Forecaster.Fit(data, new ForecastOptions { Lookback = 14, Horizon = 7, Hidden = 4, Epochs = 1 });
        f.Save(_dir["good.gyre"]);
        var bytes = File.ReadAllBytes(_dir["good.gyre"]);
        File.WriteAllBytes(_dir["cut.gyre"], bytes[..(bytes.Length - 40)]);
        File.Delete(_dir["good.gyre"]);
        Fails(ModelCommand(command, _dir["cut.gyre"]), "cut.gyre");
    }

    [Theory]
    [InlineData("inspect")]
    [InlineData("eval")]
    [InlineData("predict")]
    public void Wrong_version_model_file(string command)
    {
        string data = _dir.Daily("d.csv");
        var f = Forecaster.Fit(data, new ForecastOptions { Lookback = 14, Horizon = 7, Hidden = 4, Epochs = 1 });
        f.Save(_dir["good.gyre"]);
        var file = Safetensors.Read(_dir["good.gyre"]);
        var meta = file.Metadata.ToDictionary();
        meta["version"] = "99";
        Safetensors.Write(_dir["v99.gyre"], file.Names.Select(n => KeyValuePair.Create(n, file.Get(n))), meta);
        File.Delete(_dir["good.gyre"]);
        Fails(ModelCommand(command, _dir["v99.gyre"]), "v99.gyre", "version 99 is not supported");
    }

    [Fact]
    public void Data_that_does_not_match_the_model()
    {
        string data = _dir.Daily("d.csv");
        Forecaster.Fit(data, new ForecastOptions { Lookback = 14, Horizon = 7, Hidden = 4, Epochs = 1, Targets = ["y"], Features = ["x"] }).Save(_dir["m.gyre"]);
        string other = _dir.Write("other.csv", File.ReadAllText(data).Replace("date,y,x", "date,y,z"));
        Fails(["forecast", "predict", "--model", _dir["m.gyre"], "--data", other, "--out", _dir["f.csv"]], "other.csv", "column 'x'");
    }

    private string[] ModelCommand(string command, string model) => command switch
    {
        "inspect" => ["forecast", "inspect", "--model", model],
        "eval" => ["forecast", "eval", "--model", model, "--data", _dir["d.csv"]],
        _ => ["forecast", "predict", "--model", model, "--data", _dir["d.csv"], "--out", _dir["f.csv"], "--plot", _dir["f.png"]],
    };

    [Fact]
    public void Constant_series_trains_with_finite_forecasts()
    {
        var lines = Enumerable.Range(0, 120).Select(t => $"{new DateTime(2020, 1, 1).AddDays(t):yyyy-MM-dd},5");
        string data = _dir.Write("c.csv", "date,y\n" + string.Join('\n', lines) + "\n");
        foreach (var scaler in new[] { "standard", "robust", "minmax" })
        {
            _dir.Ok(["forecast", "train", "--data", data, .. Small, "--scaler", scaler, "--out", _dir["c.gyre"]]);
            var f = Forecaster.Load(_dir["c.gyre"]);
            Assert.All(f.Scaler.Scale, s => Assert.Equal(1f, s));       // a zero spread would divide by zero
            _dir.Ok("forecast", "predict", "--model", _dir["c.gyre"], "--data", data, "--out", _dir["cf.csv"]);
            var (_, rows) = CliFolder.ReadCsv(_dir["cf.csv"]);
            Assert.Equal(7, rows.Length);
            Assert.All(rows, r => Assert.InRange(float.Parse(r[3], System.Globalization.CultureInfo.InvariantCulture), 3f, 7f));
        }
        _dir.Ok(["forecast", "train", "--data", data, .. Small, "--instance-norm", "--out", _dir["c.gyre"]]);
        _dir.Ok("forecast", "predict", "--model", _dir["c.gyre"], "--data", data, "--out", _dir["cf.csv"]);
        Assert.All(CliFolder.ReadCsv(_dir["cf.csv"]).Rows, r => Assert.InRange(float.Parse(r[3], System.Globalization.CultureInfo.InvariantCulture), 3f, 7f));
    }
}
