using System.Globalization;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>Behavioural tests of `gyre detect`, in-process through Cli.Run.</summary>
public sealed class DetectCommandTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// An hourly series: a daily sine with small deterministic noise; from row <paramref name="shiftAt"/> on for 24 rows the
    /// level is raised by <paramref name="shift"/>.
    /// </summary>
    private string Series(string name, int rows, int shiftAt = -1, double shift = 0, string extraColumn = "")
    {
        var sb = new StringBuilder("timestamp,value" + (extraColumn.Length > 0 ? "," + extraColumn : "") + "\n");
        var start = new DateTime(2021, 3, 1);
        for (int t = 0; t < rows; t++)
        {
            double noise = 0.1 * Math.Sin(t * 12.9898) * Math.Cos(t * 4.1414);
            double v = 10 + 3 * Math.Sin(2 * Math.PI * t / 24) + noise + (t >= shiftAt && t < shiftAt + 24 && shiftAt >= 0 ? shift : 0);
            sb.Append(start.AddHours(t).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)).Append(',')
              .Append(v.ToString("F4", CultureInfo.InvariantCulture));
            if (extraColumn.Length > 0) sb.Append(',').Append((Math.Cos(t / 5.0) + noise).ToString("F4", CultureInfo.InvariantCulture));
            sb.Append('\n');
        }
        return _dir.Write(name, sb.ToString());
    }

    private static string Hour(int row) => new DateTime(2021, 3, 1).AddHours(row).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    [Fact]
    public void Bundled_run_finds_the_labelled_window_and_writes_its_outputs()
    {
        string outDir = _dir["out"];
        var r = _dir.Ok("detect", "--out-dir", outDir, "--method", "rolling_z", "--json");
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        var m = root.GetProperty("metrics");
        Assert.Equal(1, m.GetProperty("windows").GetInt32());
        Assert.Equal(1, m.GetProperty("windows_hit").GetInt32());
        Assert.True(root.GetProperty("threshold").GetDouble() > 0);
        Assert.True(root.GetProperty("baselines").TryGetProperty("naive", out _));
        var e = root.GetProperty("events")[0];
        foreach (var key in new[] { "start", "end", "peak", "score" }) Assert.True(e.TryGetProperty(key, out _), key);
        Assert.Equal(["jumpsup-anomalies.png", "jumpsup-events.csv", "jumpsup-scores.csv"],
            Directory.GetFiles(outDir).Select(f => Path.GetFileName(f)).Order().ToArray());
        CliFolder.AssertPng(Path.Combine(outDir, "jumpsup-anomalies.png"));
    }

    [Fact]
    public void Run_flags_a_level_shift_with_labels_and_writes_scores_and_events()
    {
        string data = Series("s.csv", 600, shiftAt: 400, shift: 6);
        string labels = _dir.Write("l.json", $$"""{"anomaly_windows": [["{{Hour(390)}}", "{{Hour(430)}}"]]}""");
        var r = _dir.Ok("detect", "run", "--data", data, "--target", "value", "--method", "rolling_z", "--window", "24",
            "--train-fraction", "0.3", "--labels", labels, "--out", _dir["scores.csv"], "--events", _dir["events.csv"], "--json");
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(1, doc.RootElement.GetProperty("metrics").GetProperty("windows_hit").GetInt32());
        var (header, rows) = CliFolder.ReadCsv(_dir["scores.csv"]);
        Assert.Equal(["time", "value", "score", "threshold", "alarm"], header);
        Assert.Equal(600, rows.Length);
        Assert.All(rows.Take(180), row => Assert.Equal("0", row[4]));           // nothing alarms in the training rows
        var (eh, events) = CliFolder.ReadCsv(_dir["events.csv"]);
        Assert.Equal(["start", "end", "peak", "score"], eh);
        Assert.Contains(events, ev => string.CompareOrdinal(ev[0], Hour(390)) >= 0 && string.CompareOrdinal(ev[0], Hour(430)) <= 0);
    }

    [Fact]
    public void Multivariate_scores_each_channel_and_combines_them()
    {
        string data = Series("m.csv", 400, extraColumn: "load");
        _dir.Ok("detect", "run", "--data", data, "--target", "value,load", "--method", "naive", "--train-fraction", "0.3", "--out", _dir["scores.csv"]);
        var (header, _) = CliFolder.ReadCsv(_dir["scores.csv"]);
        Assert.Equal(["time", "value", "load", "score_value", "score_load", "score", "threshold", "alarm"], header);
    }

    [Fact]
    public void Contamination_threshold_is_the_training_quantile()
    {
        string data = Series("c.csv", 400);
        var r = _dir.Ok("detect", "run", "--data", data, "--method", "naive", "--smooth", "1", "--train-fraction", "0.5",
            "--contamination", "0.1", "--no-phase-profile", "--out", _dir["s.csv"], "--json");
        using var doc = JsonDocument.Parse(r.Out);
        var (_, rows) = CliFolder.ReadCsv(_dir["s.csv"]);
        var train = rows.Skip(1).Take(199).Select(x => double.Parse(x[2], CultureInfo.InvariantCulture)).ToArray();
        double threshold = doc.RootElement.GetProperty("threshold").GetDouble();
        double above = train.Count(s => s > threshold) / (double)train.Length;
        Assert.InRange(above, 0.08, 0.12);
    }

    [Theory]
    [InlineData("forecast")]
    [InlineData("reconstruction")]
    public void Train_then_score_reproduces_the_run(string method)
    {
        string data = Series("s.csv", 400, shiftAt: 300, shift: 6);
        string[] common = ["--method", method, "--window", "12", "--hidden", "8", "--epochs", "3", "--train-fraction", "0.4"];
        _dir.Ok(["detect", "run", "--data", data, .. common, "--out", _dir["run.csv"]]);
        _dir.Ok(["detect", "train", "--data", data, .. common, "--out", _dir["m.gyre"]]);
        var r = _dir.Ok("detect", "score", "--model", _dir["m.gyre"], "--data", data, "--out", _dir["score.csv"], "--json");
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(method, doc.RootElement.GetProperty("method").GetString());
        Assert.Contains("phase-of-day profile", doc.RootElement.GetProperty("threshold_rule").GetString());   // stored in the file
        var run = CliFolder.ReadCsv(_dir["run.csv"]).Rows;
        var score = CliFolder.ReadCsv(_dir["score.csv"]).Rows;
        Assert.Equal(run.Select(x => x[2]), score.Select(x => x[2]));   // same scores, bit for bit
        Assert.Equal(run[0][3], score[0][3]);                           // same threshold
    }

    [Fact]
    public void The_phase_profile_can_be_switched_off()
    {
        string data = Series("s.csv", 400);
        string[] common = ["--method", "naive", "--train-fraction", "0.4", "--out", _dir["scores.csv"], "--json"];
        using var on = JsonDocument.Parse(_dir.Ok(["detect", "run", "--data", data, .. common]).Out);
        using var off = JsonDocument.Parse(_dir.Ok(["detect", "run", "--data", data, "--no-phase-profile", .. common]).Out);
        Assert.Contains("phase-of-day profile", on.RootElement.GetProperty("threshold_rule").GetString());
        Assert.DoesNotContain("profile", off.RootElement.GetProperty("threshold_rule").GetString());
    }

    [Fact]
    public void Score_refuses_a_model_of_another_job()
    {
        string data = Series("s.csv", 200);
        _dir.Write("x.gyre", "not a model");
        _dir.Fails(["detect", "score", "--model", _dir["x.gyre"], "--data", data, "--out", _dir["o.csv"]], "x.gyre");
    }
}
