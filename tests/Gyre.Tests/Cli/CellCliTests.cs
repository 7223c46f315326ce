using System.Text.Json;
using Gyre.Cells;
using Gyre.Forecasting;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>Every registered cell is reachable from the CLI: listed by --cell, trained by `gyre forecast --cell X`,
/// measured by `gyre bench --cell X` (one JSON row with the peer schema).</summary>
public sealed class CellCliTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> RegisteredCells() => [.. CellRegistry.Names];

    [Theory]
    [MemberData(nameof(RegisteredCells))]
    public void ForecastTrainsAndPredictsWithEveryCell(string cell)
    {
        string data = _dir.Daily("daily.csv");
        _dir.Ok("forecast", "train", "--data", data, "--lookback", "14", "--horizon", "7", "--hidden", "8", "--epochs", "1",
            "--seed", "3", "--target", "y", "--cell", cell, "--out", _dir["m.gyre"]);
        Assert.Equal(cell, Forecaster.Load(_dir["m.gyre"]).Options.Cell);
        _dir.Ok("forecast", "predict", "--model", _dir["m.gyre"], "--data", data, "--out", _dir["f.csv"]);
        Assert.Equal(7, CliFolder.ReadCsv(_dir["f.csv"]).Rows.Length);
    }

    [Theory]
    [MemberData(nameof(RegisteredCells))]
    public void BenchGivesARowForEveryCell(string cell)
    {
        var r = _dir.Ok("bench", "--cell", cell, "--batch", "2", "--seq", "3", "--input", "4", "--hidden", "5",
            "--mode", "train", "--threads", "1", "--reps", "1", "--json");
        using var doc = JsonDocument.Parse(r.Out.Trim());
        Assert.Equal(cell, doc.RootElement.GetProperty("cell").GetString());
        Assert.Equal(0, doc.RootElement.GetProperty("alloc_bytes").GetInt64());
        Assert.NotEmpty(Gyre.Benchmarks.RecurrentBenchmark.GridFor(cell));
    }

    /// <summary>Without a shape the cell's grid rows are measured with its options, and each row records them.</summary>
    [Fact]
    public void BenchWithoutAShapeKeepsTheCellOptions()
    {
        var r = _dir.Ok("bench", "--cell", "gla(heads=4)", "--mode", "infer", "--threads", "1", "--reps", "1", "--json");
        var rows = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(rows);
        foreach (var row in rows)
        {
            using var doc = JsonDocument.Parse(row);
            Assert.Equal("gla(heads=4)", doc.RootElement.GetProperty("cell").GetString());
            Assert.Equal("4", doc.RootElement.GetProperty("options").GetProperty("heads").GetString());
        }
        Assert.Contains("gla(heads=4)", _dir.Ok("bench", "--cell", "gla(heads=4)", "--mode", "infer", "--threads", "1", "--reps", "1").Out);
        using var plain = JsonDocument.Parse(_dir.Ok("bench", "--cell", "gru", "--batch", "2", "--seq", "3", "--input", "4", "--hidden", "5",
            "--mode", "infer", "--threads", "1", "--reps", "1", "--json").Out.Trim());
        Assert.Empty(plain.RootElement.GetProperty("options").EnumerateObject());
    }

    /// <summary>`gyre bench --cell gmu`: the gated memory unit layer in the cells' JSON schema, allocation-free in training;
    /// without a shape, its two grid rows in each mode.</summary>
    [Fact]
    public void BenchGivesRowsForTheGatedMemoryUnit()
    {
        var r = _dir.Ok("bench", "--cell", "gmu", "--batch", "2", "--seq", "3", "--input", "4", "--hidden", "5",
            "--mode", "train", "--threads", "1", "--reps", "1", "--json");
        using var doc = JsonDocument.Parse(r.Out.Trim());
        var row = doc.RootElement;
        Assert.Equal("gmu", row.GetProperty("cell").GetString());
        Assert.Equal((2, 3, 4, 5), (row.GetProperty("batch").GetInt32(), row.GetProperty("seq").GetInt32(), row.GetProperty("input").GetInt32(), row.GetProperty("hidden").GetInt32()));
        Assert.Equal(0, row.GetProperty("alloc_bytes").GetInt64());
        Assert.True(row.GetProperty("ms").GetDouble() > 0);
        using var gru = JsonDocument.Parse(_dir.Ok("bench", "--cell", "gru", "--batch", "2", "--seq", "3", "--input", "4", "--hidden", "5",
            "--mode", "train", "--threads", "1", "--reps", "1", "--json").Out.Trim());
        Assert.Equal(gru.RootElement.EnumerateObject().Select(p => p.Name), row.EnumerateObject().Select(p => p.Name));   // the same fields
        var grid = _dir.Ok("bench", "--cell", "gmu", "--threads", "1", "--reps", "1", "--json").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2 * Gyre.Benchmarks.GmuBenchmark.Grid.Count, grid.Length);
    }

    [Fact]
    public void CellOptionsPassThroughByName()
    {
        string data = _dir.Daily("daily.csv");
        _dir.Ok("forecast", "train", "--data", data, "--lookback", "14", "--horizon", "7", "--hidden", "8", "--epochs", "1",
            "--seed", "3", "--target", "y", "--cell", "rnn(nonlinearity=relu)", "--out", _dir["m.gyre"]);
        var f = Forecaster.Load(_dir["m.gyre"]);
        Assert.Equal("rnn_relu", f.Network.Encoder.Cell.Name);
        var bad = _dir.Run("forecast", "train", "--data", data, "--lookback", "14", "--horizon", "7", "--epochs", "1",
            "--cell", "rnn(squash=1)", "--out", _dir["m2.gyre"]);
        Assert.Equal(2, bad.Code);
        Assert.Contains("squash", bad.Err);
        Assert.False(File.Exists(_dir["m2.gyre"]));
    }

    [Fact]
    public void HelpListsTheRegisteredCells()
    {
        var help = _dir.Ok("forecast", "train", "--help").Out;
        foreach (var name in CellRegistry.Names) Assert.Contains(name, help);
    }
}
