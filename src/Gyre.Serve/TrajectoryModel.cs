using Gyre.Trajectories;

namespace Gyre.Serve;

/// <summary>
/// A trajectory predictor (job "trajectory") served over streams: a stream is one agent's positions, one row per
/// frame. Input x [rows, D] (D = 2 or 3, metres). Output "positions" [Pred, D]: the mean prediction of the next
/// Pred positions.
/// <para>
/// Stream state: the last Obs positions, re-run per request (the model reads exactly the Obs − 1 displacements of
/// its window from zero states); each answer equals `gyre trajectory predict` on a window ending with them.
/// </para>
/// </summary>
public sealed class TrajectoryModel : WindowModel
{
    private readonly TrajectoryPredictor _p;

    public TrajectoryModel(string name, string path) : base(name, path, "trajectory")
    {
        _p = TrajectoryPredictor.Load(path);
        _p.Network.Encoder.Layer.WeightsFrozen = true;      // served weights never change: pack them once
        Outputs = [new("positions", "FP32", [_p.Options.Pred, _p.Dims])];
    }

    public override int Width => _p.Dims;
    public override IReadOnlyList<TensorSpec> Outputs { get; }
    protected override int Capacity => _p.Options.Obs;
    protected override int MinRows => _p.Options.Obs;

    public override string StreamDescription =>
        $"the last {_p.Options.Obs} positions (the observed window), re-run per request; each answer equals `gyre trajectory predict` on a window ending with them";

    /// <summary>Every stream's window in one prediction: the windows are independent rows of one network call.</summary>
    protected override StepResult[] AnswerAll(RowWindow[] windows)
    {
        int obs = _p.Options.Obs, pred = _p.Options.Pred, d = _p.Dims;
        // One track of Obs + Pred frames per stream, whose future part the prediction never reads (it holds the last
        // position); every track has the same frames, so each yields exactly one window, in the streams' order.
        var frames = Enumerable.Range(0, obs + pred).Select(i => (double)i).ToArray();
        var tracks = new Track[windows.Length];
        for (int w = 0; w < windows.Length; w++)
        {
            var positions = new float[(obs + pred) * d];
            windows[w].Values.CopyTo(positions, 0);
            for (int s = obs; s < obs + pred; s++) Array.Copy(positions, (obs - 1) * d, positions, s * d, d);
            tracks[w] = new Track($"stream{w}", frames, positions, new int[obs + pred]);
        }
        var (mean, _) = _p.Predict(TrajectoryWindows.Build(new TrackSet(Name, d, tracks), obs, pred));
        var results = new StepResult[windows.Length];
        for (int w = 0; w < windows.Length; w++)
            results[w] = new StepResult([new OutputTensor("positions", "FP32", [pred, d], mean[(w * pred * d)..((w + 1) * pred * d)])]);
        return results;
    }
}
