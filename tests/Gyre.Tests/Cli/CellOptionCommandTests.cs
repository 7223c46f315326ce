using Gyre.Forecasting;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>`gyre forecast` with any registered cell and its options (--cell name(k=v), --heads): the bundled job
/// runs, the cell is saved with the model and loaded back, the help lists the cells, bad cells are one line.</summary>
public sealed class CellOptionCommandTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("slstm")]
    [InlineData("slstm(forget=exp)")]
    [InlineData("mgu")]
    [InlineData("leaky_rnn")]
    [InlineData("leaky_gru")]
    [InlineData("lstm(proj_size=16)")]
    public void Bundled_job_runs_with_the_cell(string cell)
    {
        string outDir = _dir["out"];
        var r = _dir.Ok("forecast", "--cell", cell, "--epochs", "2", "--out-dir", outDir);
        Assert.Contains("MASE", r.Out);
        var f = Forecaster.Load(Path.Combine(outDir, "co2.gyre"));
        Assert.Equal(cell, f.Network.Config.Cell);
        Assert.Equal(cell, f.Network.Encoder.Cell.ToString());
        Assert.Equal(Gyre.Cells.CellRegistry.FromText(cell).States, f.Network.Encoder.StateCount);
    }

    [Fact]
    public void Proj_size_is_saved_with_the_model_and_predict_loads_it()
    {
        string data = _dir.Daily("daily.csv"), model = _dir["m.gyre"];
        _dir.Ok(["forecast", "train", "--data", data, "--lookback", "14", "--horizon", "7", "--hidden", "8", "--epochs", "2",
            "--seed", "3", "--cell", "lstm", "--proj-size", "3", "--decoder", "recurrent", "--out", model]);
        var f = Forecaster.Load(model);
        Assert.Equal("lstm(proj_size=3)", f.Network.Encoder.Cell.ToString());
        Assert.Equal([3, 8], f.Network.Encoder.Parameters().Single(p => p.Name == "weight_hr_l0").Value.Shape);
        Assert.Equal(3, f.Network.Encoder.OutputSize);
        _dir.Ok("forecast", "predict", "--model", model, "--data", data, "--out", _dir["f.csv"]);
        Assert.Contains("--proj-size", _dir.Run("forecast", "train", "--help").Out);
    }

    [Theory]
    [InlineData("gru", "gru(heads=4)")]
    [InlineData("lstm", "lstm(heads=4)")]
    [InlineData("slstm", "slstm(heads=4)")]
    public void Heads_are_saved_with_the_model_and_predict_loads_them(string cell, string expected)
    {
        string data = _dir.Daily("daily.csv"), model = _dir["m.gyre"];
        _dir.Ok(["forecast", "train", "--data", data, "--lookback", "14", "--horizon", "7", "--hidden", "8", "--epochs", "2",
            "--seed", "3", "--cell", cell, "--heads", "4", "--decoder", "recurrent", "--out", model]);
        var f = Forecaster.Load(model);
        Assert.Equal(expected, f.Network.Encoder.Cell.ToString());
        Assert.Equal([4, f.Network.Encoder.Cell.Gates * 2, 2],
            f.Network.Encoder.Parameters().Single(p => p.Name == "weight_hh_l0").Value.Shape);
        _dir.Ok("forecast", "predict", "--model", model, "--data", data, "--out", _dir["f.csv"]);
        Assert.Contains($"{expected}", _dir.Ok("forecast", "inspect", "--model", model).Out);
    }

    [Fact]
    public void Help_lists_the_cells_and_heads()
    {
        var r = _dir.Run("forecast", "train", "--help");
        Assert.Contains("slstm", r.Out);
        Assert.Contains("--heads", r.Out);
    }

    [Fact]
    public void Bad_cells_and_heads_are_one_line()
    {
        string data = _dir.Daily("daily.csv");
        string[] Train(params string[] extra) => ["forecast", "train", "--data", data, "--out", _dir["m.gyre"], .. extra];
        _dir.Fails(Train("--cell", "nope"), "--cell", "unknown cell 'nope'");
        _dir.Fails(Train("--cell", "slstm(forget=relu)"), "--cell", "forget must be sigmoid or exp");
        _dir.Fails(Train("--cell", "gru", "--heads", "3", "--hidden", "8"), "--cell", "hidden size 8 is not a multiple of heads=3");
        _dir.Fails(Train("--cell", "rnn_tanh", "--heads", "2"), "--heads", "has no option 'heads'");
        _dir.Fails(Train("--heads", "0"), "--heads must be at least 1 (got 0)");
        _dir.Fails(Train("--cell", "lstm", "--proj-size", "8", "--hidden", "8"), "proj_size 8 must be smaller than the hidden size 8");
        _dir.Fails(Train("--cell", "gru", "--proj-size", "2"), "--proj-size", "has no option 'proj_size'");
    }

    [Fact]
    public void Export_takes_a_cell_without_a_native_onnx_operator_as_a_scan()
    {
        string data = _dir.Daily("daily.csv"), model = _dir["m.gyre"];
        _dir.Ok(["forecast", "train", "--data", data, "--lookback", "14", "--horizon", "7", "--hidden", "8", "--epochs", "1",
            "--cell", "slstm", "--out", model]);
        _dir.Ok(["export", "--model", model, "--onnx", _dir["m.onnx"]]);
        var graph = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(_dir["m.onnx"])).Graph;
        Assert.Contains(graph.Node, n => n.OpType == "Scan");
    }
}
