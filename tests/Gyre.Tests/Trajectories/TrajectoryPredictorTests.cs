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

    [Fact]
    public void Online_adaptation_learns_the_scene_from_its_completed_windows_and_never_from_its_future()
    {
        // A network trained where every walker slows down (α = 1, no holdout) predicts walkers who keep their speed.
        var o = new TrajectoryOptions { Hidden = 16, Epochs = 40, Batch = 16, Seed = 3, Holdout = 0 };
        var model = TrajectoryPredictor.Fit(TrajectoryWindows.Build(OneWindowWalkers(150, _ => true), 8, 12), o);
        Assert.Equal(1, model.Correction);
        var steady = TrajectoryWindows.Build(OneWindowWalkers(150, _ => false), 8, 12);
        var alphas = model.Corrections(steady, CorrectionAdaptation.Online);
        // Nothing is known before the first window's truth ends: the trained α. Then the steady walkers pull it down.
        Assert.Equal(1, alphas[0]);
        Assert.True(alphas[^1] < 0.5, $"last α {alphas[^1]}");
        Assert.All(alphas, a => Assert.InRange(a, 0, 1));
        Assert.True(model.Evaluate(steady, adapt: CorrectionAdaptation.Online).Ade < model.Evaluate(steady).Ade);
        Assert.All(model.Corrections(steady, CorrectionAdaptation.None), a => Assert.Equal(1, a));

        // The same scene with another future: from frame 10000 on the walkers slow down, and one more walker comes.
        // Window a's observation ends at 200·a + 70, so the windows of agents 0 … 49 end their observation before it.
        var changed = OneWindowWalkers(151, start => start >= 10000);
        var w = TrajectoryWindows.Build(changed, 8, 12);
        var alphasChanged = model.Corrections(w, CorrectionAdaptation.Online);
        var (a1, s1) = model.Predict(steady, 3, 9, CorrectionAdaptation.Online);
        var (a2, s2) = model.Predict(w, 3, 9, CorrectionAdaptation.Online);
        int step = 12 * 2;
        for (int s = 0; s < 50; s++)
        {
            Assert.Equal(steady.StartFrames[s], w.StartFrames[s]);
            Assert.Equal(alphas[s], alphasChanged[s]);
            Assert.Equal(a1.AsSpan(s * step, step).ToArray(), a2.AsSpan(s * step, step).ToArray());
        }
        Assert.Equal(s1.AsSpan(0, 50 * 3 * step).ToArray(), s2!.AsSpan(0, 50 * 3 * step).ToArray());
        // The changed future does reach the later windows, so the check above could fail.
        Assert.True(alphasChanged[149] > alphas[149] + 0.2, $"α {alphasChanged[149]} after the change, {alphas[149]} before");

        // Windows joined from several scenes have no common clock.
        var joined = TrajectoryWindows.Concat([steady, w]);
        Assert.Throws<ArgumentException>(() => model.Corrections(joined, CorrectionAdaptation.Online));
    }

    [Fact]
    public void Online_correction_uses_exactly_the_windows_whose_truth_ended_by_the_end_of_the_observation()
    {
        // Frame step 10, Pred 2: window j is known to window s when start_j ≤ start_s − 20. α ∈ {0, ½, 1}, trained α 0.4.
        double[] starts = [0, 20, 30, 10, 20];
        double[] ade =
        [
            1, 0, 2,          // window 0 alone favours ½
            100, 100, 0,      // windows 1, 2 and 4 are never known to anyone here: all they say is α = 1
            100, 100, 0,
            0, 5, 5,          // windows 0 and 3 together favour 0
            100, 100, 0,
        ];
        var alphas = TrajectoryPredictor.OnlineCorrections(starts, 10, 2, ade, 0.4);
        double n0 = TrajectoryPredictor.OnlinePriorWindows;
        Assert.Equal(0.4, alphas[0]);                                // nothing known yet
        Assert.Equal(0.4, alphas[3]);                                // window 0's truth ends 10 frames after window 3's observation
        Assert.Equal((n0 * 0.4 + 0.5) / (n0 + 1), alphas[1]);        // window 0
        Assert.Equal((n0 * 0.4 + 0.5) / (n0 + 1), alphas[4]);
        Assert.Equal(n0 * 0.4 / (n0 + 2), alphas[2]);                // windows 0 and 3
    }
}
