using Gyre.Cells;
using Gyre.Kernels;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>
/// The backward loop in row groups (SequenceRunner.RowGroups.cs): each group's loop and weight gradients on one worker,
/// the later groups' gradients added in group order at the end. Held to finite differences, to the shared loop's values,
/// and to the same bits on any team.
/// </summary>
public class RowGroupBackwardTests
{
    static readonly WorkerTeam One = new(1), Two = new(2), Three = new(3);

    [Fact]
    public void GroupsFollowTheBatchAlone()
    {
        Assert.Equal(1, SequenceRunner<GruCellMath>.BackwardGroups(63, 32, 8));
        Assert.Equal(2, SequenceRunner<GruCellMath>.BackwardGroups(64, 32, 8));
        Assert.Equal(8, SequenceRunner<LstmCellMath>.BackwardGroups(256, 32, 8));
        Assert.Equal(2, SequenceRunner<LstmCellMath>.BackwardGroups(256, 32, 2));
        Assert.Equal(8, SequenceRunner<LstmCellMath>.BackwardGroups(4096, 32, 8));
        Assert.Equal(1, SequenceRunner<GruCellMath>.BackwardGroups(4096, 0, 8));
        // The machine's processors, never the team.
        Assert.Equal(Math.Clamp(Environment.ProcessorCount, 1, 8), SequenceRunner<GruCellMath>.MaxBackwardGroups);
        // Cells whose weight gradients read saved rows or have extra parameters keep the shared loop.
        Assert.Equal(1, SequenceRunner<GruResetBeforeCellMath>.BackwardGroups(256, 32, 8));
    }

    [Theory]
    [InlineData("gru", false, false, false)]
    [InlineData("gru", true, true, false)]
    [InlineData("lstm", false, true, true)]
    [InlineData("lstm", true, false, true)]
    public void GroupedBackwardMatchesFiniteDifferences(string kind, bool bidirectional, bool lengths, bool twoLayers)
    {
        // Batch 7 in groups of 2 rows (3 groups: 2, 2, 3 rows), T = 9 in chunks of 4 steps (4, 4, 1 in processing order).
        var rng = new Rng(44);
        var layer = new RecurrentLayer(CellRegistry.Parse(kind), 3, 4, twoLayers ? 2 : 1, true, false, 0f, bidirectional, seed: 7)
        {
            Execution = new ExecutionOptions { BackwardGroupRows = 2, BackwardMaxGroups = 3, BackwardChunkSteps = 4, Team = Two },
        };
        foreach (var p in layer.Parameters()) rng.Uniform(p.Value.Span, -0.8f, 0.8f);
        // With lengths, padded rows: their steps past the length must pass ∂L/∂h through and add nothing to the weights.
        GradientCheckTests.CheckLayer(layer, rng, kind, 7, 9, lengths ? [9, 3, 9, 1, 6, 9, 2] : null);
    }

    [Theory]
    [InlineData("gru", false, 0)]
    [InlineData("gru", true, 3)]
    [InlineData("lstm", false, 5)]
    [InlineData("lstm", true, 0)]
    public void GroupsGiveTheSameBitsOnAnyTeamAndTheSharedLoopsValues(string kind, bool bidirectional, int chunk)
    {
        // Batch 70 in groups of 32 (two groups, 35 rows each), T = 23.
        const int t = 23, b = 70, i = 6, h = 16;
        var rng = new Rng(5);
        int d = bidirectional ? 2 : 1;
        var x = GradientCheckTests.Random(rng, [t, b, i]);
        var dy = GradientCheckTests.Random(rng, [t, b, d * h]);
        var dhN = GradientCheckTests.Random(rng, [d, b, h]);
        float[][] Run(WorkerTeam team, int groupRows)
        {
            var layer = new RecurrentLayer(CellRegistry.Parse(kind), i, h, bidirectional: bidirectional, seed: 4)
            {
                Execution = new ExecutionOptions { Team = team, BackwardChunkSteps = chunk, BackwardGroupRows = groupRows, BackwardMaxGroups = 8 },
            };
            layer.Forward(x);
            var g = layer.Backward(dy, dhN);
            var all = new List<float[]> { g.Input.ReadOnlySpan.ToArray(), g.Hidden.ReadOnlySpan.ToArray() };
            foreach (var p in layer.Parameters()) all.Add(p.Grad.ReadOnlySpan.ToArray());
            return all.ToArray();
        }
        var one = Run(One, 32);
        foreach (var team in new[] { Two, Three })
        {
            var other = Run(team, 32);
            for (int a = 0; a < one.Length; a++) Assert.True(one[a].AsSpan().SequenceEqual(other[a]), $"team {team.Size}, array {a}");
        }
        // The weight-gradient products a few gathered steps at a time (here two or three) continue each other's chains:
        // the bits of one product over the chunk.
        long savedGather = SequenceRunner<GruCellMath>.GatherBytes;
        try
        {
            SequenceRunner<GruCellMath>.GatherBytes = SequenceRunner<LstmCellMath>.GatherBytes = 35 * (h + i) * sizeof(float) * 2;
            var parts = Run(Two, 32);
            for (int a = 0; a < one.Length; a++) Assert.True(one[a].AsSpan().SequenceEqual(parts[a]), $"gathered in parts, array {a}");
        }
        finally { SequenceRunner<GruCellMath>.GatherBytes = SequenceRunner<LstmCellMath>.GatherBytes = savedGather; }
        // The shared loop sums in another order: the same values to float rounding.
        var shared = Run(Two, 0);
        for (int a = 0; a < one.Length; a++)
            for (int j = 0; j < one[a].Length; j++)
                Assert.True(Math.Abs(one[a][j] - shared[a][j]) <= 1e-5f * (1 + Math.Abs(shared[a][j])),
                    $"array {a}, element {j}: grouped {one[a][j]:R}, shared loop {shared[a][j]:R}");
        // And the groups really changed the order somewhere (else this test compares the shared loop with itself).
        Assert.Contains(Enumerable.Range(0, one.Length), a => !one[a].AsSpan().SequenceEqual(shared[a]));
    }
}
