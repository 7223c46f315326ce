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

    /// <summary>
    /// One window's worth of track (Obs + Pred = 20 points) per agent, agents one after another in time: each walks
    /// straight at its own speed and heading for 8 points and then, if <paramref name="slows"/> says so for its start
    /// frame, at half that speed.
    /// </summary>
    private static TrackSet OneWindowWalkers(int agents, Func<double, bool> slows)
    {
        var tracks = new List<Track>();
        for (int a = 0; a < agents; a++)
        {
            double start = 200.0 * a, heading = a * 2.4, speed = 0.2 + 0.1 * (a % 4);
            bool slow = slows(start);
            var pos = new float[20 * 2];
            double x = 0, y = 0;
            for (int k = 0; k < 20; k++)
            {
                pos[2 * k] = (float)x; pos[2 * k + 1] = (float)y;
                double v = slow && k >= 7 ? speed / 2 : speed;
                x += v * Math.Cos(heading); y += v * Math.Sin(heading);
            }
            tracks.Add(new Track(a.ToString(), Enumerable.Range(0, 20).Select(k => start + 10.0 * k).ToArray(), pos, new int[20]));
        }
        return new TrackSet("walkers", 2, tracks);
    }

    [Fact]
    public void Split_holds_out_the_windows_of_the_last_share_of_time_and_drops_those_across_the_cut()
    {
        var track = new Track("a", Enumerable.Range(0, 100).Select(k => (double)k).ToArray(), new float[200], new int[100]);
        var (head, tail) = TrajectoryWindows.SplitEnd(new TrackSet("t", 2, [track]), 2, 1, 0.2);
        // Frames 0..99, cut at 99 − 0.2·99 = 79.2: windows of 3 frames ending before it start at 0..77, held-out ones at 80..97.
        Assert.Equal(Enumerable.Range(0, 78).Select(k => (double)k), head.StartFrames);
        Assert.Equal(Enumerable.Range(80, 18).Select(k => (double)k), tail.StartFrames);
        Assert.Throws<ArgumentException>(() => TrajectoryWindows.SplitEnd(new TrackSet("t", 2, [track]), 2, 1, 1));
    }

    [Fact]
    public void Held_out_windows_choose_how_much_of_the_correction_to_keep()
    {
        var o = new TrajectoryOptions { Hidden = 16, Epochs = 40, Batch = 16, Seed = 3 };
        const int Agents = 150;
        double cut = 0.8 * (200.0 * (Agents - 1) + 190);   // the split's cut: frames 0 … 200·(Agents − 1) + 190

        // Every walker slows down: the learned slowing holds on the later windows and is kept.
        var steady = OneWindowWalkers(Agents, _ => true);
        var kept = TrajectoryPredictor.Fit(TrajectoryWindows.Build(steady, 8, 12), o, split: TrajectoryPredictor.Split([steady], o));
        Assert.True(kept.Correction >= 0.75, $"α {kept.Correction}");

        // Walkers slow down in the first 80 % of the scene only: the later ones keep their speed, so the slowing the
        // network learned is dropped and the predictions are constant velocity.
        var changing = OneWindowWalkers(Agents, start => start < cut);
        var all = TrajectoryWindows.Build(changing, 8, 12);
        var dropped = TrajectoryPredictor.Fit(all, o, split: TrajectoryPredictor.Split([changing], o));
        Assert.True(dropped.Correction <= 0.25, $"α {dropped.Correction}");
        var (_, held) = TrajectoryPredictor.Split([changing], o)!.Value;
        var full = TrajectoryPredictor.Fit(all, o);
        Assert.Equal(1, full.Correction);
        var cv = TrajectoryMetrics.Evaluate(held, TrajectoryBaselines.ConstantVelocity);
        Assert.True(dropped.Evaluate(held).Ade < full.Evaluate(held).Ade, "the kept share should do better than the full correction where the scene changed");
        Assert.True(dropped.Evaluate(held).Ade <= cv.Ade + 0.25 * (full.Evaluate(held).Ade - cv.Ade));

        // α travels with the model file.
        string path = Path.Combine(_tmp.Dir, "alpha.gyre");
        dropped.Save(path);
        var back = TrajectoryPredictor.Load(path);
        Assert.Equal(dropped.Correction, back.Correction);
        Assert.Equal(dropped.Predict(held).Mean, back.Predict(held).Mean);
    }

    [Fact]
    public void Scenes_too_short_to_hold_out_keep_the_full_correction()
    {
        var o = new TrajectoryOptions();
        Assert.Null(TrajectoryPredictor.Split([OneWindowWalkers(3, _ => false)], o));
        Assert.Null(TrajectoryPredictor.Split([OneWindowWalkers(40, _ => false)], o with { Holdout = 0 }));
        Assert.NotNull(TrajectoryPredictor.Split([OneWindowWalkers(40, _ => false)], o));
    }

    [Fact]
    public void A_model_file_without_a_correction_loads_with_the_full_one()
    {
        var w = TrajectoryWindows.Build(Walkers(6), 8, 12);
        var model = TrajectoryPredictor.Fit(w, new TrajectoryOptions { Hidden = 4, Epochs = 1, Seed = 5 });
        string path = Path.Combine(_tmp.Dir, "old.gyre");
        model.Save(path);
        var (network, _, history, meta) = Gyre.Models.SequenceModel.Load(path);
        var state = System.Text.Json.Nodes.JsonNode.Parse(meta["trajectory"])!.AsObject();
        Assert.True(state.Remove("Correction"));
        network.Save(path, "trajectory", history, new Dictionary<string, string> { ["trajectory"] = state.ToJsonString() });
        var back = TrajectoryPredictor.Load(path);
        Assert.Equal(1, back.Correction);
        Assert.Equal(model.Predict(w).Mean, back.Predict(w).Mean);
    }
}
