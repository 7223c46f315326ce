using System.Globalization;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>Behaviour of `gyre classify` on small synthetic .ts and CSV files (train, eval, predict, inspect, plots).</summary>
public sealed class ClassifyCommandTests : IDisposable
{
    private readonly CliFolder _dir = new();
    public void Dispose() => _dir.Dispose();

    internal static readonly string[] Small = ["--hidden", "8", "--epochs", "15", "--batch", "8", "--lr", "0.01"];

    /// <summary>
    /// Two classes of noisy sine waves that differ in frequency (a: period 8, b: period 16), lengths 20–31
    /// (unequal unless <paramref name="equal"/>), and optionally a numeric target (the period) for regression.
    /// </summary>
    internal static string Ts(CliFolder dir, string name, int cases, int seed, bool equal = false, bool regression = false, string classes = "a b")
    {
        var rng = new Random(seed);
        var sb = new StringBuilder($"# synthetic test data\n@problemName Waves\n@univariate true\n@equalLength {(equal ? "true" : "false")}\n");
        sb.Append(regression ? "@targetLabel true\n" : $"@classLabel true {classes}\n").Append("@data\n");
        for (int i = 0; i < cases; i++)
        {
            bool b = i % 2 == 1;
            int len = equal ? 24 : 20 + rng.Next(12);
            double period = b ? 16 : 8, phase = rng.NextDouble() * 2 * Math.PI;
            var values = Enumerable.Range(0, len).Select(t => (Math.Sin(2 * Math.PI * t / period + phase) + 0.1 * (rng.NextDouble() - 0.5)).ToString("F4", CultureInfo.InvariantCulture));
            sb.Append(string.Join(',', values)).Append(':').Append(regression ? period.ToString(CultureInfo.InvariantCulture) : b ? "b" : "a").Append('\n');
        }
        return dir.Write(name, sb.ToString());
    }

    private static JsonElement Json(string stdout) => JsonDocument.Parse(stdout).RootElement;

    /// <summary>--betas reaches the model's options (and so its trainer) and is kept in the model file.</summary>
    [Fact]
    public void Betas_are_kept_with_the_model()
    {
        string train = Ts(_dir, "train.ts", 12, 1);
        _dir.Ok(["classify", "train", "--data", train, "--out", _dir["b.gyre"], "--hidden", "8", "--epochs", "2", "--batch", "8", "--betas", "0.8,0.99", "--no-baselines"]);
        var o = global::Gyre.Classification.SequenceClassifier.Load(_dir["b.gyre"]).Options;
        Assert.Equal((0.8f, 0.99f), (o.Beta1, o.Beta2));
    }

    [Fact]
    public void Train_with_test_reports_metrics_baselines_and_confusion_as_json()
    {
        string train = Ts(_dir, "train.ts", 40, 1), test = Ts(_dir, "test.ts", 30, 2);
        var r = _dir.Ok(["classify", "train", "--data", train, "--test", test, "--out", _dir["m.gyre"], .. Small, "--json"]);
        var j = Json(r.Out);
        double acc = j.GetProperty("metrics").GetProperty("accuracy").GetDouble();
        Assert.True(acc >= 0.9, $"accuracy {acc} on an easy split");
        foreach (var m in new[] { "balanced_accuracy", "macro_f1", "log_loss", "roc_auc" }) Assert.True(j.GetProperty("metrics").TryGetProperty(m, out _), m);
        foreach (var b in new[] { "majority", "nn_euclidean", "nn_dtw" }) Assert.InRange(j.GetProperty("baselines").GetProperty(b).GetDouble(), 0, 1);
        Assert.Equal(0.5, j.GetProperty("baselines").GetProperty("majority").GetDouble());
        Assert.Equal(["a", "b"], j.GetProperty("classes").EnumerateArray().Select(e => e.GetString()!));
        var confusion = j.GetProperty("confusion").EnumerateArray().Select(row => row.EnumerateArray().Select(c => c.GetInt32()).ToArray()).ToArray();
        Assert.Equal(30, confusion.Sum(row => row.Sum()));
        Assert.Equal(15, confusion[0].Sum());
        Assert.True(File.Exists(_dir["m.gyre"]));
        Assert.Contains("normalize: ", r.Err);                 // the chosen normalisation is stated (logs on stderr under --json)

        // eval reproduces the numbers from the saved model; predict writes labels and probabilities.
        var e = Json(_dir.Ok("classify", "eval", "--model", _dir["m.gyre"], "--data", test, "--json").Out);
        Assert.Equal(acc, e.GetProperty("metrics").GetProperty("accuracy").GetDouble());
        Assert.Equal(j.GetProperty("baselines").GetProperty("nn_dtw").GetDouble(), e.GetProperty("baselines").GetProperty("nn_dtw").GetDouble());
        _dir.Ok("classify", "predict", "--model", _dir["m.gyre"], "--data", test, "--out", _dir["labels.csv"]);
        var (header, rows) = CliFolder.ReadCsv(_dir["labels.csv"]);
        Assert.Equal(["case", "label", "p_a", "p_b"], header);
        Assert.Equal(30, rows.Length);
        foreach (var row in rows)
        {
            Assert.Contains(row[1], new[] { "a", "b" });
            double pa = double.Parse(row[2], CultureInfo.InvariantCulture), pb = double.Parse(row[3], CultureInfo.InvariantCulture);
            Assert.Equal(1.0, pa + pb, 4);
            Assert.Equal(pa >= pb ? "a" : "b", row[1]);
        }
        var inspect = _dir.Ok("classify", "inspect", "--model", _dir["m.gyre"]).Out;
        Assert.Contains("classification, 2 classes: a b", inspect);
        var ij = Json(_dir.Ok("classify", "inspect", "--model", _dir["m.gyre"], "--json").Out);
        Assert.Equal("classify", ij.GetProperty("job").GetString());
        Assert.Equal(15, ij.GetProperty("history").GetArrayLength());
    }

    [Fact]
    public void A_model_file_from_before_the_warmup_option_reads_as_trained_without_one()
    {
        string train = Ts(_dir, "train.ts", 24, 3);
        _dir.Ok(["classify", "train", "--data", train, "--out", _dir["m.gyre"], .. Small, "--warmup", "0.2"]);
        double Warmup(string path) => Json(_dir.Ok("classify", "inspect", "--model", path, "--json").Out)
            .GetProperty("options").GetProperty("Warmup").GetDouble();
        Assert.Equal(0.2, Warmup(_dir["m.gyre"]));

        // The same file as an older Gyre wrote it: no Warmup among the stored options.
        var file = Gyre.IO.Safetensors.Read(_dir["m.gyre"]);
        var meta = new Dictionary<string, string>(file.Metadata);
        var options = System.Text.Json.Nodes.JsonNode.Parse(meta["options"])!.AsObject();
        Assert.True(options.Remove("Warmup"));
        meta["options"] = options.ToJsonString();
        Gyre.IO.Safetensors.Write(_dir["old.gyre"], file.Names.Select(n => KeyValuePair.Create(n, file.Get(n))), meta);
        Assert.Equal(0.0, Warmup(_dir["old.gyre"]));
    }

    [Fact]
    public void Same_seed_same_model_bytes_and_plots_are_written()
    {
        string train = Ts(_dir, "train.ts", 24, 3);
        _dir.Ok(["classify", "train", "--data", train, "--out", _dir["a.gyre"], .. Small, "--plot-history", _dir["h.png"]]);
        _dir.Ok(["classify", "train", "--data", train, "--out", _dir["b.gyre"], .. Small, "--threads", "1"]);
        Assert.Equal(File.ReadAllBytes(_dir["a.gyre"]), File.ReadAllBytes(_dir["b.gyre"]));
        CliFolder.AssertPng(_dir["h.png"]);
        _dir.Ok("classify", "eval", "--model", _dir["a.gyre"], "--data", train, "--plot", _dir["c.png"]);
        CliFolder.AssertPng(_dir["c.png"]);
    }

    [Fact]
    public void Convolutional_models_train_save_and_evaluate_the_same()
    {
        string train = Ts(_dir, "train.ts", 40, 1), test = Ts(_dir, "test.ts", 30, 2);
        foreach (var extra in new[] { new[] { "--input", "conv", "--conv", "5,3" }, ["--conv-branch", "5,3", "--label-smoothing", "0.1", "--warmup", "0.2"] })
        {
            var j = Json(_dir.Ok(["classify", "train", "--data", train, "--test", test, "--out", _dir["m.gyre"], .. Small, .. extra, "--json", "--no-baselines"]).Out);
            double acc = j.GetProperty("metrics").GetProperty("accuracy").GetDouble();
            Assert.True(acc >= 0.9, $"accuracy {acc} on an easy split with {string.Join(' ', extra)}");
            var e = Json(_dir.Ok("classify", "eval", "--model", _dir["m.gyre"], "--data", test, "--json").Out);
            Assert.Equal(acc, e.GetProperty("metrics").GetProperty("accuracy").GetDouble());
        }
        var help = _dir.Ok("classify", "train", "--help").Out;
        foreach (var option in new[] { "--input", "--conv", "--conv-branch", "--label-smoothing", "--warmup" }) Assert.Contains(option, help);
    }

    [Fact]
    public void Regression_reports_mse_and_mae_beside_the_mean_predictor()
    {
        string train = Ts(_dir, "train.ts", 40, 4, regression: true), test = Ts(_dir, "test.ts", 20, 5, regression: true);
        var j = Json(_dir.Ok(["classify", "train", "--task", "regression", "--data", train, "--test", test, "--out", _dir["r.gyre"], .. Small, "--json"]).Out);
        Assert.Equal("regression", j.GetProperty("task").GetString());
        double mse = j.GetProperty("metrics").GetProperty("mse").GetDouble();
        Assert.True(j.GetProperty("metrics").TryGetProperty("mae", out _));
        // targets are 8 and 16 half and half: the training mean 12 misses each by 4
        Assert.Equal(16.0, j.GetProperty("baselines").GetProperty("mean").GetDouble(), 6);
        Assert.True(mse < 16.0, $"mse {mse} not below the mean predictor's");
        _dir.Ok("classify", "predict", "--model", _dir["r.gyre"], "--data", test, "--out", _dir["p.csv"]);
        Assert.Equal(["case", "prediction"], CliFolder.ReadCsv(_dir["p.csv"]).Header);
    }

    [Fact]
    public void Long_format_csv_with_id_time_and_label_columns()
    {
        var sb = new StringBuilder("id,step,x,kind\n");
        for (int c = 0; c < 24; c++)
            for (int t = 0; t < 16; t++)   // steps written in reverse: --time-col must order them
            {
                int step = 15 - t;
                double v = Math.Sin(2 * Math.PI * step / (c % 2 == 0 ? 4 : 8) + c);
                sb.Append($"case{c},{step},{v.ToString("F4", CultureInfo.InvariantCulture)},{(c % 2 == 0 ? "fast" : "slow")}\n");
            }
        string csv = _dir.Write("long.csv", sb.ToString());
        string[] cols = ["--id-col", "id", "--time-col", "step", "--label-col", "kind"];
        var j = Json(_dir.Ok(["classify", "train", "--data", csv, .. cols, "--test", csv, "--out", _dir["c.gyre"], .. Small, "--json"]).Out);
        Assert.Equal(["fast", "slow"], j.GetProperty("classes").EnumerateArray().Select(e => e.GetString()!));
        Assert.Equal(1.0, j.GetProperty("baselines").GetProperty("nn_euclidean").GetDouble());   // the test cases are the training cases
        // predict keeps the CSV columns from the model and does not need the label column
        string unlabelled = _dir.Write("new.csv", string.Join('\n', File.ReadAllLines(csv).Select(l => l[..l.LastIndexOf(',')])) + "\n");
        _dir.Ok("classify", "predict", "--model", _dir["c.gyre"], "--data", unlabelled, "--out", _dir["l.csv"]);
        Assert.Equal(24, CliFolder.ReadCsv(_dir["l.csv"]).Rows.Length);
    }
}
