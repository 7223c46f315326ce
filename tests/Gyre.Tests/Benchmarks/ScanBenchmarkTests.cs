using System.Text.Json;
using Gyre.Benchmarks;
using Xunit;

namespace Gyre.Tests.Benchmarks;

public class ScanBenchmarkTests
{
    [Theory]
    [InlineData("paragru", false)]
    [InlineData("paralstm", true)]
    [InlineData("gla", true)]
    [InlineData("lssl", false)]
    [InlineData("mingru", true)]
    [InlineData("minlstm", false)]
    [InlineData("gla(heads=2)", false)]
    public void OneTinyRow_TimesBothModes_AndTheyAgree(string cell, bool trained)
    {
        var r = ScanBenchmark.Run(cell, batch: 2, seq: 50, input: 3, hidden: 8, trained, threads: 2, reps: 1)!;
        Assert.True(r.SequentialMs > 0 && r.ParallelMs > 0);
        Assert.InRange(r.Iterations, cell.StartsWith("para") ? 1 : 0, cell.StartsWith("para") ? 99 : 0);
        Assert.True(r.MaxAbsDiff <= 1e-5, $"max |Δy| = {r.MaxAbsDiff}");
        using var doc = JsonDocument.Parse(r.ToJson());
        var o = doc.RootElement;
        Assert.Equal(cell, o.GetProperty("cell").GetString());
        Assert.Equal(trained ? "trained" : "init", o.GetProperty("weights").GetString());
        Assert.Equal(r.Iterations, o.GetProperty("iterations").GetInt32());
        Assert.Equal(r.SequentialMs / r.ParallelMs, o.GetProperty("speedup").GetDouble(), 0.01);
    }

    [Fact]
    public void AGivenLayerIsTimedWithItsOwnWeights()
    {
        var layer = new Gyre.Layers.RecurrentLayer(Gyre.Cells.CellRegistry.Get("paragru"), 3, 8, numLayers: 2, batchFirst: true, seed: 4);
        var r = ScanBenchmark.Run(layer, "paragru", "forecaster", batch: 2, seq: 40, threads: 2, reps: 1);
        Assert.Equal("forecaster", r.Weights);
        Assert.InRange(r.Iterations, 1, 99);
        Assert.True(r.MaxAbsDiff <= 1e-5, $"max |Δy| = {r.MaxAbsDiff}");
    }

    [Fact]
    public void TheGridIsTheThreeLengthsAtTwoBatchSizes()
    {
        Assert.Equal(6, ScanBenchmark.Grid.Count);
        Assert.Equal(new[] { 1024, 4096, 16384 }, ScanBenchmark.Grid.Select(g => g.Seq).Distinct().ToArray());
        Assert.Equal(new[] { 1, 8 }, ScanBenchmark.Grid.Select(g => g.Batch).Distinct().ToArray());
    }

    [Fact]
    public void ShortTraining_MovesTheWeights()
    {
        var layer = ScanBenchmark.Create("paragru", 2, 6, seed: 1);
        var before = layer.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()).ToArray();
        ScanBenchmark.ShortTraining(layer, steps: 3);
        var after = layer.Parameters().SelectMany(p => p.Value.ReadOnlySpan.ToArray()).ToArray();
        Assert.NotEqual(before, after);
        Assert.All(after, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void RowsPastTheMemoryLimitAreSkipped()
    {
        Assert.True(ScanBenchmark.ForwardBytes("lssl", 8, 16384, 256) > ScanBenchmark.MemoryLimitBytes);
        Assert.Null(ScanBenchmark.Run("lssl", 8, 16384, 32, 256, trained: false, threads: 1, reps: 1));
        Assert.True(ScanBenchmark.ForwardBytes("paragru", 8, 16384, 256) <= ScanBenchmark.MemoryLimitBytes);
    }

    [Fact]
    public void TheDefaultCellsAreTheRegisteredCellsWithAParallelForm()
    {
        // Test cells registered at run time may have a parallel form too: the built-in ones come first, in registration order.
        Assert.Equal(new[] { "paragru", "paralstm", "mingru", "minlstm", "gla(heads=16)", "lssl" }, ScanBenchmark.Cells.Take(6).ToArray());
        Assert.All(ScanBenchmark.Cells, c => Assert.True(ScanBenchmark.Definition(c).HasParallelForm));
        Assert.DoesNotContain("gru", ScanBenchmark.Cells);
    }

    [Theory]
    [InlineData("paragru", 24576)]         // 12 floats per (row, unit)
    [InlineData("paralstm", 38912)]        // 19
    [InlineData("mingru", 16384)]          // 8
    [InlineData("minlstm", 22528)]         // 11
    [InlineData("gla(heads=16)", 1585152)] // the state scan: 3·H²/16 + (G + 2)·H per row
    [InlineData("lssl", 104448)]
    public void ActivationSizeIsWhatEachParallelPathKeeps(string cell, long mib) =>
        Assert.Equal(mib, ScanBenchmark.ForwardBytes(cell, 8, 16384, 4096) >> 20);

    [Fact]
    public void UnknownCellIsRejectedInOneLine()
    {
        var e = Assert.Throws<ArgumentException>(() => ScanBenchmark.Create("gru2", 1, 1, 0));
        Assert.Contains("'gru2'", e.Message);
        Assert.Contains("no parallel-in-time form", Assert.Throws<ArgumentException>(() => ScanBenchmark.Create("gru", 1, 1, 0)).Message);
    }
}
