using Gyre.Tests.Data;
using Gyre.Trajectories;
using Xunit;

namespace Gyre.Tests.Trajectories;

public sealed class TrajectoryPredictorTests : IDisposable
{
    private readonly TempFiles _tmp = new();

    public void Dispose() => _tmp.Dispose();

    /// <summary>Walkers on straight lines at constant speeds with a slight, agent-specific curvature.</summary>
    private static TrackSet Walkers(int agents)
    {
        var tracks = new List<Track>();
        for (int a = 0; a < agents; a++)
        {
            int n = 30;
            double heading = a * 0.7, speed = 0.3 + 0.05 * (a % 5), turn = 0.02 * ((a % 3) - 1);
            var pos = new float[n * 2];
            double x = a, y = -a, h = heading;
            for (int k = 0; k < n; k++)
            {
                pos[2 * k] = (float)x; pos[2 * k + 1] = (float)y;
                x += speed * Math.Cos(h); y += speed * Math.Sin(h); h += turn;
            }
            tracks.Add(new Track(a.ToString(), Enumerable.Range(0, n).Select(k => 10.0 * k).ToArray(), pos, new int[n]));
        }
        return new TrackSet("walkers", 2, tracks);
    }

    [Fact]
    public void Learns_smooth_walking_and_round_trips_through_its_file()
    {
        var w = TrajectoryWindows.Build(Walkers(24), 8, 12);
        var o = new TrajectoryOptions { Hidden = 16, Epochs = 15, Batch = 32, Seed = 2 };
        var model = TrajectoryPredictor.Fit(w, o);
        var s = model.Evaluate(w, k: 5);
        var lin = TrajectoryMetrics.Evaluate(w, TrajectoryBaselines.Linear);
        Assert.True(s.Ade < 0.5 * lin.Ade + 0.05, $"model ADE {s.Ade:F3} vs linear {lin.Ade:F3}");
        Assert.NotNull(s.BestOfKAde);
        Assert.True(s.BestOfKAde <= s.Ade + 0.2);
        string path = Path.Combine(_tmp.Dir, "t.gyre");
        model.Save(path);
        var back = TrajectoryPredictor.Load(path);
        Assert.Equal(model.Predict(w).Mean, back.Predict(w).Mean);
        var again = TrajectoryPredictor.Fit(w, o);
        Assert.Equal(model.Predict(w, 3, 7).Samples, again.Predict(w, 3, 7).Samples);
    }

    [Fact]
    public void Canonical_frame_makes_predictions_turn_with_the_scene()
    {
        var set = Walkers(10);
        var w = TrajectoryWindows.Build(set, 8, 12);
        var model = TrajectoryPredictor.Fit(w, new TrajectoryOptions { Hidden = 8, Epochs = 2, Seed = 4, Canonical = true });
        // The same scene turned by 90°: (x, y) → (−y, x).
        var turned = new TrackSet("turned", 2, [.. set.Tracks.Select(t =>
        {
            var p = (float[])t.Positions.Clone();
            for (int k = 0; k < t.Length; k++) (p[2 * k], p[2 * k + 1]) = (-t.Positions[2 * k + 1], t.Positions[2 * k]);
            return new Track(t.Agent, t.Frames, p, t.Lines);
        })]);
        var a = model.Predict(w).Mean;
        var b = model.Predict(TrajectoryWindows.Build(turned, 8, 12)).Mean;
        for (int i = 0; i < a.Length; i += 2)
        {
            Assert.Equal(-a[i + 1], b[i], 3);
            Assert.Equal(a[i], b[i + 1], 3);
        }
    }
}
