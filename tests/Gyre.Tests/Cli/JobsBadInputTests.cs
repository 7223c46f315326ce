using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>Bad input to `gyre detect` and `gyre trajectory`: one line naming file and line, exit 2, nothing written.</summary>
public sealed class JobsBadInputTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Rows(string name, int rows) =>
        _dir.Write(name, "timestamp,value\n" + string.Concat(Enumerable.Range(0, rows).Select(t =>
            $"2021-03-01 {t / 60:00}:{t % 60:00}:00,{Math.Sin(t / 3.0):F4}\n")));

    private string[] Detect(string data, params string[] extra) =>
        ["detect", "run", "--data", data, "--method", "naive", "--out", _dir["scores.csv"], "--events", _dir["events.csv"], "--plot", _dir["p.png"], .. extra];

    [Fact]
    public void Series_shorter_than_the_probation_period() =>
        _dir.Fails(Detect(Rows("short.csv", 100)), "short.csv", "100 rows give 15 training rows", "needs at least");

    [Fact]
    public void Labels_outside_the_data_range()
    {
        string labels = _dir.Write("late.json", """{"anomaly_windows": [["2021-03-01 05:00:00", "2021-03-01 06:00:00"]]}""");
        _dir.Fails(Detect(Rows("d.csv", 300), "--labels", labels), "late.json", "window 1", "outside the data");
    }

    [Fact]
    public void Malformed_labels_json() =>
        _dir.Fails(Detect(Rows("d.csv", 300), "--labels", _dir.Write("bad.json", "{\"anomaly_windows\": [[\"2021-03-01\"")), "bad.json", "not valid JSON");

    [Fact]
    public void Malformed_csv_row() =>
        _dir.Fails(Detect(_dir.Write("m.csv", File.ReadAllText(Rows("ok.csv", 300)).Replace(",0.8415\n", ",zz\n"))), "m.csv", "non-numeric value 'zz'");

    [Fact]
    public void Missing_output_folder() =>
        _dir.Fails(["detect", "run", "--data", Rows("d.csv", 300), "--out", _dir["nope/s.csv"]], "--out: folder", "does not exist");

    [Fact]
    public void Unknown_method() =>
        _dir.Fails(["detect", "run", "--data", Rows("d.csv", 300), "--method", "magic", "--out", _dir["s.csv"]], "--method 'magic'");

    [Fact]
    public void Risk_out_of_range() =>
        _dir.Fails(Detect(Rows("d.csv", 300), "--risk", "2"), "--risk 2");
}
