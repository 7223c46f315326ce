using System.Text.Json;
using Gyre.Benchmarks;
using Gyre.Cells;
using Xunit;

namespace Gyre.Tests.Benchmarks;

public class RecurrentBenchmarkTests
{
    [Theory]
    [InlineData("gru", "infer")]
    [InlineData("lstm", "train")]
    public void OneTinyRowIsOneJsonLineWithThePeerSchema(string cell, string mode)
    {
        var shape = new RecurrentBenchShape(CellRegistry.Parse(cell), 2, 3, 4, 5);
        var result = RecurrentBenchmark.Run(shape, mode, threads: 1, reps: 3, warmup: 1);
        string line = result.ToJson();
        Assert.DoesNotContain('\n', line);
        using var doc = JsonDocument.Parse(line);
        var o = doc.RootElement;
        Assert.Equal(new[] { "peer", "cell", "options", "mode", "batch", "seq", "input", "hidden", "threads", "ms", "gflops", "steps_per_s", "alloc_bytes", "peak_rss_mb" },
            o.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("gyre", o.GetProperty("peer").GetString());
        Assert.Equal(cell, o.GetProperty("cell").GetString());
        Assert.Empty(o.GetProperty("options").EnumerateObject());   // the peers' cells take no options
        Assert.Equal(mode, o.GetProperty("mode").GetString());
        Assert.Equal(2, o.GetProperty("batch").GetInt32());
        Assert.Equal(3, o.GetProperty("seq").GetInt32());
        Assert.Equal(4, o.GetProperty("input").GetInt32());
        Assert.Equal(5, o.GetProperty("hidden").GetInt32());
        Assert.Equal(1, o.GetProperty("threads").GetInt32());
        double ms = o.GetProperty("ms").GetDouble();
        Assert.True(ms > 0, $"ms = {ms}");
        // FLOPs 2·B·T·G·H·(I + H), ×3 in training; steps/s = T / seconds (rounded in the JSON).
        int g = cell == "gru" ? 3 : 4;
        double flops = 2.0 * 2 * 3 * g * 5 * (4 + 5) * (mode == "train" ? 3 : 1);
        Assert.Equal(flops / (result.Ms * 1e-3) / 1e9, o.GetProperty("gflops").GetDouble(), 0.01);
        Assert.Equal(3 / (result.Ms * 1e-3), o.GetProperty("steps_per_s").GetDouble(), 1.0);
        Assert.Equal(0, o.GetProperty("alloc_bytes").GetInt64());
        if (OperatingSystem.IsLinux()) Assert.True(o.GetProperty("peak_rss_mb").GetDouble() > 1);
    }

    [Fact]
    public void TheStandardGridHasTheEightPeerRows()
    {
        Assert.Equal(8, RecurrentBenchmark.StandardGrid.Count);
        Assert.Contains(new RecurrentBenchShape(CellKind.Gru, 16, 1024, 768, 768), RecurrentBenchmark.StandardGrid);
        Assert.Contains(new RecurrentBenchShape(CellKind.Lstm, 1, 1000, 32, 128), RecurrentBenchmark.StandardGrid);
    }

    [Fact]
    public void UnknownModeIsRejectedInOneLine()
    {
        var e = Assert.Throws<ArgumentException>(() => RecurrentBenchmark.Run(new RecurrentBenchShape(CellKind.Gru, 1, 1, 1, 1), "fast", 1, 1));
        Assert.Contains("'fast'", e.Message);
    }
}
