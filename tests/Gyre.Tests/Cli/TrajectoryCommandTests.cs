using System.Globalization;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>Behavioural tests of `gyre trajectory`, in-process through Cli.Run.</summary>
public sealed class TrajectoryCommandTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A small scene in the ETH/UCY layout: agents on gently curving paths, frames every 10.</summary>
    private string Scene(string name, int agents = 12, int frames = 26)
    {
        var sb = new StringBuilder();
        for (int f = 0; f < frames; f++)
            for (int a = 0; a < agents; a++)
            {
                double h = a * 0.5 + 0.01 * f * (a % 3 - 1), x = a + 0.04 * f * Math.Cos(a * 0.5), y = 0.04 * f * Math.Sin(h);
                sb.Append(CultureInfo.InvariantCulture, $"{10 * f}\t{a + 1}\t{x:F4}\t{y:F4}\n");
            }
        return _dir.Write(name, sb.ToString());
    }

    private static readonly string[] Small = ["--hidden", "8", "--epochs", "2"];

    [Fact]
    public void Train_eval_predict_round_trip_with_baselines_and_plot()
    {
        string a = Scene("a.txt"), b = Scene("b.txt", agents: 6);
        _dir.Ok(["trajectory", "train", "--data", a, "--data", b, .. Small, "--out", _dir["m.gyre"]]);
        var r = _dir.Ok("trajectory", "eval", "--model", _dir["m.gyre"], "--data", b, "--samples", "4", "--json");
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.Equal(6 * (26 - 20 + 1), root.GetProperty("windows").GetInt32());
        Assert.True(root.GetProperty("metrics").GetProperty("ade").GetDouble() > 0);
        Assert.True(root.GetProperty("metrics").TryGetProperty("best_of_k_fde", out _));
        foreach (var baseline in new[] { "constant_velocity", "linear" })
            Assert.True(root.GetProperty("baselines").GetProperty(baseline).GetProperty("fde").GetDouble() >= 0);
        _dir.Ok("trajectory", "predict", "--model", _dir["m.gyre"], "--data", b, "--out", _dir["p.csv"], "--plot", _dir["p.png"], "--samples", "2");
        var (header, rows) = CliFolder.ReadCsv(_dir["p.csv"]);
        Assert.Equal(["window", "agent", "step", "true_x", "true_y", "pred_x", "pred_y", "sample_1_x", "sample_1_y", "sample_2_x", "sample_2_y"], header);
        Assert.Equal(42 * 12, rows.Length);
        CliFolder.AssertPng(_dir["p.png"]);
    }

    [Fact]
    public void Bundled_run_writes_model_predictions_and_plot()
    {
        string outDir = _dir["out"];
        var r = _dir.Ok("trajectory", "--epochs", "1", "--hidden", "8", "--samples", "2", "--out-dir", outDir, "--json");
        using var doc = JsonDocument.Parse(r.Out);
        Assert.True(doc.RootElement.GetProperty("windows").GetInt32() > 1000);   // crowds_zara01's windows
        Assert.Equal(["trajectory.gyre", "zara01-paths.png", "zara01-predictions.csv"], Directory.GetFiles(outDir).Select(f => Path.GetFileName(f)).Order().ToArray());
        CliFolder.AssertPng(Path.Combine(outDir, "zara01-paths.png"));
    }

    [Fact]
    public void Three_dimensional_csv_tracks()
    {
        var sb = new StringBuilder("t,id,px,py,pz\n");
        for (int f = 0; f < 24; f++)
            for (int a = 0; a < 5; a++)
                sb.Append(CultureInfo.InvariantCulture, $"{0.5 * f},{a},{a + 0.1 * f},{0.05 * f * a},{0.2 * f}\n");
        string csv = _dir.Write("t.csv", sb.ToString());
        string[] cols = ["--time-col", "t", "--id-col", "id", "--x", "px", "--y", "py", "--z", "pz"];
        _dir.Ok(["trajectory", "train", "--data", csv, .. cols, .. Small, "--out", _dir["m3.gyre"]]);
        var r = _dir.Ok(["trajectory", "eval", "--model", _dir["m3.gyre"], "--data", csv, .. cols, "--json"]);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(5 * 5, doc.RootElement.GetProperty("windows").GetInt32());
    }

    [Fact]
    public void Malformed_line_is_bad_input_and_nothing_is_written()
    {
        string bad = _dir.Write("bad.txt", File.ReadAllText(Scene("ok.txt")).Replace("\n10\t3\t", "\n10\t3\tfoo\t"));
        _dir.Fails(["trajectory", "train", "--data", bad, .. Small, "--out", _dir["m.gyre"]], "bad.txt: line", "expected 4 fields");
    }

    [Fact]
    public void Agent_with_one_frame_is_bad_input()
    {
        string one = _dir.Write("one.txt", File.ReadAllText(Scene("ok.txt")) + "250\t99\t1.0\t1.0\n");
        _dir.Fails(["trajectory", "train", "--data", one, .. Small, "--out", _dir["m.gyre"]], "one.txt: line 313", "agent 99 appears in one frame only");
    }

    [Fact]
    public void Scene_without_a_long_enough_track_is_bad_input() =>
        _dir.Fails(["trajectory", "train", "--data", Scene("short.txt", frames: 12), .. Small, "--out", _dir["m.gyre"]], "short.txt", "20 consecutive frames");

    [Fact]
    public void Training_holds_out_the_end_of_long_scenes_and_says_what_it_kept()
    {
        var r = _dir.Ok(["trajectory", "train", "--data", Scene("long.txt", agents: 4, frames: 120), .. Small, "--out", _dir["m.gyre"]]);
        Assert.Contains("choosing the correction to constant velocity: training on 308 earlier windows, scoring 20 later ones", r.Out);
        Assert.Matches(@"correction to constant velocity kept: [01](\.[0-9]+)? of the network's \(lowest held-out ADE\)", r.Out);
        var s = _dir.Ok(["trajectory", "train", "--data", Scene("short.txt"), .. Small, "--out", _dir["s.gyre"]]);
        Assert.Contains("too short to hold out their last 20 % (--holdout 0.2)", s.Out);
        Assert.Contains("correction to constant velocity kept: 1 of the network's (no holdout)", s.Out);
        _dir.Fails(["trajectory", "train", "--data", Scene("ok.txt"), .. Small, "--holdout", "1", "--out", _dir["h.gyre"]], "--holdout 1 must be in [0, 1)");
        _dir.Fails(["trajectory", "train", "--data", Scene("ok.txt"), .. Small, "--obs", "1", "--out", _dir["h.gyre"]], "--obs 1: at least 2 observed positions");
    }

    [Fact]
    public void Eval_says_when_the_test_scene_adapts_the_correction_and_prints_the_fixed_one_beside_it()
    {
        string a = Scene("a.txt", agents: 6, frames: 60);
        _dir.Ok(["trajectory", "train", "--data", a, .. Small, "--out", _dir["m.gyre"]]);
        var online = _dir.Ok("trajectory", "eval", "--model", _dir["m.gyre"], "--data", a, "--samples", "0");
        Assert.Contains("--adapt online: the test scene's own past is used causally", online.Out);
        Assert.Contains("gyre (mean, adapted online)", online.Out);
        Assert.Contains("fixed)", online.Out);
        Assert.Contains("constant velocity", online.Out);
        using var on = JsonDocument.Parse(_dir.Ok("trajectory", "eval", "--model", _dir["m.gyre"], "--data", a, "--samples", "0", "--json").Out);
        using var off = JsonDocument.Parse(_dir.Ok("trajectory", "eval", "--model", _dir["m.gyre"], "--data", a, "--samples", "0", "--adapt", "none", "--json").Out);
        Assert.Equal("online", on.RootElement.GetProperty("adapt").GetString());
        Assert.Equal("none", off.RootElement.GetProperty("adapt").GetString());
        // The fixed-α scores printed beside the adapted ones are those of --adapt none.
        Assert.Equal(off.RootElement.GetProperty("metrics").GetProperty("ade").GetDouble(), on.RootElement.GetProperty("fixed_correction").GetProperty("ade").GetDouble());
        Assert.Equal(off.RootElement.GetProperty("metrics").GetProperty("ade").GetDouble(), off.RootElement.GetProperty("fixed_correction").GetProperty("ade").GetDouble());
        var c = on.RootElement.GetProperty("correction");
        Assert.InRange(c.GetProperty("min").GetDouble(), 0, c.GetProperty("max").GetDouble());
        _dir.Fails(["trajectory", "eval", "--model", _dir["m.gyre"], "--data", a, "--adapt", "sometimes"], "--adapt 'sometimes' is not online or none");
        _dir.Fails(["trajectory", "predict", "--model", _dir["m.gyre"], "--data", a, "--adapt", "sometimes", "--out", _dir["p.csv"]], "--adapt 'sometimes'");
    }
}
