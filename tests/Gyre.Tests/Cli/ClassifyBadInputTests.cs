using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>
/// Bad input to `gyre classify`: exit code 2, one line naming the file, case (line) and dimension where they
/// apply, and nothing written.
/// </summary>
public sealed class ClassifyBadInputTests : IDisposable
{
    private readonly CliFolder _dir = new();
    public void Dispose() => _dir.Dispose();

    private void Fails(string[] args, params string[] expected)
    {
        var before = _dir.Files();
        var r = _dir.Run(args);
        Assert.True(r.Code == 2, $"exit {r.Code}, stderr: {r.Err}, stdout: {r.Out}");
        string err = r.Err.TrimEnd('\r', '\n');
        Assert.False(err.Contains('\n'), $"more than one line on stderr: {r.Err}");
        Assert.StartsWith("gyre: ", err);
        foreach (var e in expected) Assert.Contains(e, err);
        Assert.Equal(before, _dir.Files());
    }

    private string[] Train(string data, params string[] extra) =>
        ["classify", "train", "--data", data, .. ClassifyCommandTests.Small, "--out", _dir["m.gyre"], "--plot-history", _dir["h.png"], .. extra];

    [Fact]
    public void Malformed_header() =>
        Fails(Train(_dir.Write("h.ts", "@problemName X\n@univariate perhaps\n@classLabel true a b\n@data\n1,2:a\n")),
            "h.ts", "line 2", "malformed header @univariate");

    [Fact]
    public void Mixed_dimensions() =>
        Fails(Train(_dir.Write("d.ts", "@classLabel true a b\n@data\n1,2:3,4:a\n5,6:b\n")),
            "d.ts: case 2 (line 4): mixed dimensions: 1 dimension, expected 2");

    [Fact]
    public void Missing_value_without_fill_then_with_it()
    {
        string p = _dir.Write("q.ts", "@univariate true\n@classLabel true a b\n@data\n1,2,3,4:a\n1,?,3,4:b\n2,3,4,5:a\n5,4,3,2:b\n");
        Fails(Train(p), "q.ts: case 2 (line 5), dimension 1: missing value '?' at step 2", "--fill");
        _dir.Ok(Train(p, "--fill", "linear"));
    }

    [Fact]
    public void Label_not_seen_in_training()
    {
        string train = ClassifyCommandTests.Ts(_dir, "train.ts", 12, 1);
        string test = _dir.Write("test.ts", "@univariate true\n@classLabel true a b c\n@data\n1,2,3:a\n3,2,1:c\n");
        Fails(Train(train, "--test", test), "test.ts", "case 2 (line 5)", "class label 'c' was not seen in training (classes: a b)");
        _dir.Ok(Train(train));
        Fails(["classify", "eval", "--model", _dir["m.gyre"], "--data", test], "test.ts", "case 2 (line 5)", "not seen in training");
    }

    [Fact]
    public void Empty_class() =>
        Fails(Train(ClassifyCommandTests.Ts(_dir, "e.ts", 12, 1, classes: "a b c")), "e.ts", "class 'c' has no training cases");

    [Fact]
    public void Bad_options_and_missing_files()
    {
        string train = ClassifyCommandTests.Ts(_dir, "train.ts", 12, 1);
        Fails(Train(train, "--normalize", "robust"), "--normalize", "unknown mode 'robust'");
        Fails(Train(train, "--pool", "median"), "unknown pooling 'median'");
        Fails(Train(train, "--input", "cnn"), "--input", "unknown input transform 'cnn'");
        Fails(Train(train, "--input", "conv", "--conv", "8,x"), "--conv", "'x' is not a kernel width");
        Fails(Train(train, "--conv", "3"), "--conv", "--input none");
        Fails(Train(train, "--input", "conv", "--conv", "0"), "--conv", "1..64");
        Fails(Train(train, "--conv-branch", "8,65"), "--conv-branch", "1..64");
        Fails(Train(train, "--label-smoothing", "1"), "--label-smoothing", "[0, 1)");
        Fails(Train(train, "--head", "svm", "--label-smoothing", "0.1"), "--label-smoothing", "softmax");
        Fails(Train(train, "--warmup", "-0.1"), "--warmup");
        Fails(Train(train, "--betas", "0.9"), "--betas", "'0.9'");
        Fails(Train(train, "--betas", "1,0.999"), "--betas", "[0, 1)");
        Fails(Train(train, "--task", "regression"), "train.ts", "classification labels but the task is regression");
        Fails(Train(_dir["nope.ts"]), "nope.ts", "file not found");
        Fails(["classify", "train", "--data", train, .. ClassifyCommandTests.Small, "--out", _dir["no/such/m.gyre"]], "folder does not exist");
        Fails(["classify", "eval", "--model", _dir["nope.gyre"], "--data", train], "nope.gyre", "not found");
        Fails(Train(_dir.Write("x.csv", "id,t,x,label\n1,1,2,a\n")), "x.csv", "--id-col");
        Fails(["classify", "--dataset", "Coffee"], "unknown bundled dataset 'Coffee'");
    }
}
