using Gyre.Data;
using Gyre.Tests.Data;
using Gyre.Trajectories;
using Xunit;

namespace Gyre.Tests.Trajectories;

public sealed class TrajectoryDataTests : IDisposable
{
    private readonly TempFiles _tmp = new();

    public void Dispose() => _tmp.Dispose();

    /// <summary>Agent 1 walks x = 0.5·k at frames 0, 10, …; a gap after frame 60 (next at 80); agent 2 is short.</summary>
    private string Scene()
    {
        var lines = new List<string>();
        foreach (int f in new[] { 0, 10, 20, 30, 40, 50, 60, 80, 90 }) lines.Add($"{f}\t1\t{0.05 * f}\t2.0");
        lines.Add("0 2 1.0 1.0");
        lines.Add("");
        lines.Add("10 2 1.5 1.0");
        return _tmp.Write("scene.txt", string.Join('\n', lines) + "\n");
    }

    [Fact]
    public void Text_layout_reads_tracks_and_windows_stop_at_gaps()
    {
        var set = TrackSet.LoadText(Scene());
        Assert.Equal(10.0, set.FrameStep);
        Assert.Equal(2, set.Tracks.Count);
        var w = TrajectoryWindows.Build(set, obs: 3, pred: 2);
        // Agent 1 runs 0..60 (7 points → 3 windows of 5); 80, 90 is too short; agent 2 has 2 points.
        Assert.Equal(3, w.Count);
        Assert.Equal([0.0, 10.0, 20.0], w.StartFrames);
        Assert.Equal(new float[] { 1.0f, 2f, 1.5f, 2f, 2f, 2f, 2.5f, 2f, 3f, 2f }, w.Sample(2).ToArray());
    }

    [Fact]
    public void Malformed_line_and_single_frame_agent_name_file_and_line()
    {
        var bad = _tmp.Write("bad.txt", "0 1 1.0 2.0\n10 1 1.5 x\n");
        var e = Assert.Throws<GyreDataException>(() => TrackSet.LoadText(bad));
        Assert.Contains("bad.txt: line 2", e.Message);
        var three = _tmp.Write("three.txt", "0 1 1.0 2.0\n10 1 1.5\n");
        Assert.Contains("three.txt: line 2: expected 4 fields", Assert.Throws<GyreDataException>(() => TrackSet.LoadText(three)).Message);
        var single = _tmp.Write("single.txt", "0 1 1.0 2.0\n10 1 1.5 2.0\n10 7 3.0 3.0\n");
        var s = Assert.Throws<GyreDataException>(() => TrackSet.LoadText(single));
        Assert.Contains("single.txt: line 3: agent 7 appears in one frame only", s.Message);
    }

    [Fact]
    public void Csv_with_z_reads_three_dimensional_tracks()
    {
        var csv = _tmp.Write("t.csv", "t,id,px,py,pz\n0.0,a,0,0,0\n0.5,a,1,0,2\n1.0,a,2,0,4\n0.0,b,5,5,5\n0.5,b,5,6,5\n");
        var set = TrackSet.LoadCsv(csv, "t", "id", "px", "py", "pz");
        Assert.Equal(3, set.Dims);
        Assert.Equal(0.5, set.FrameStep);
        var w = TrajectoryWindows.Build(set, 2, 1);
        Assert.Equal(1, w.Count);
        Assert.Equal(new float[] { 0, 0, 0, 1, 0, 2, 2, 0, 4 }, w.Sample(0).ToArray());
        Assert.Contains("no z column 'zz'", Assert.Throws<GyreDataException>(() => TrackSet.LoadCsv(csv, "t", "id", "px", "py", "zz")).Message);
    }

    [Fact]
    public void Baselines_are_exact_on_straight_uniform_motion_and_errors_are_euclidean()
    {
        float[] obs = [0, 0, 1, 2, 2, 4];           // [3, 2], velocity (1, 2)
        var cv = new float[4];
        var lin = new float[4];
        TrajectoryBaselines.ConstantVelocity(obs, 2, cv);
        TrajectoryBaselines.Linear(obs, 2, lin);
        Assert.Equal(new float[] { 3, 6, 4, 8 }, cv);
        Assert.Equal(new float[] { 3, 6, 4, 8 }, lin);
        // A noisy middle point: constant velocity follows the last step, the fit the average slope.
        float[] bent = [0, 0, 2, 0, 2, 0];
        TrajectoryBaselines.ConstantVelocity(bent, 2, cv);
        TrajectoryBaselines.Linear(bent, 2, lin);
        Assert.Equal(new float[] { 2, 0, 2, 0 }, cv);
        Assert.Equal(4f / 3 + 2, lin[0], 5);     // mean 4/3 + slope 1 · (3 − 1)
        var (ade, fde) = TrajectoryMetrics.Errors([3, 4, 0, 0], [0, 0, 0, 1], 2);
        Assert.Equal(3.0, ade, 12);              // (5 + 1) / 2
        Assert.Equal(1.0, fde, 12);
    }
}
