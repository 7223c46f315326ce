using System.Text.Json;
using Gyre.Data;
using Gyre.Layers;
using Gyre.Models;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Trajectories;

/// <summary>Settings of a trajectory model.</summary>
public sealed record TrajectoryOptions
{
    public int Obs { get; init; } = 8;
    public int Pred { get; init; } = 12;
    public string Cell { get; init; } = Cells.CellRegistry.Default;
    public int Hidden { get; init; } = 64;
    // The encoder's stack lives in the model file's spec (the file's one source for it), not in these options: files
    // written before stacks were offered, and default models now, hold the same options JSON.
    /// <summary>K recurrent layers.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int Layers { get; init; } = 1;
    /// <summary>D = 2: the encoder reads the observed displacements in both directions.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool Bidirectional { get; init; }
    /// <summary>G gated memory units after the recurrent layers (0: none).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int Gmu { get; init; }
    /// <summary>The layer (0-based) the GMUs read as memory m; null: the last.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int? GmuMemory { get; init; }
    public int Epochs { get; init; } = 30;
    public int Batch { get; init; } = 64;
    public float LearningRate { get; init; } = 3e-3f;
    /// <summary>Rotate each training sample by a random angle about the vertical axis (the scene's layout is not learned).</summary>
    public bool Rotate { get; init; } = true;
    /// <summary>
    /// Turn each sample about the vertical axis so that its last observed velocity points along +x (and back after
    /// predicting): the model learns turns and speed changes relative to the walker's heading, not the scene's map.
    /// </summary>
    public bool Canonical { get; init; }
    /// <summary>
    /// Share h of each training scene's time span held out at its end to choose <see cref="TrajectoryPredictor.Correction"/>
    /// (0 &lt; h &lt; 1; see <see cref="TrajectoryPredictor.Split"/>); 0 trusts the network's correction to constant velocity
    /// in full (α = 1).
    /// </summary>
    public double Holdout { get; init; } = 0.2;
    public ulong Seed { get; init; } = 1;
    /// <summary>What a batch with a non-finite loss or gradient does (a property of the run, not of the model: not stored).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public NanPolicy OnNan { get; init; }

    public void Validate()
    {
        if (Obs < 2) throw new ArgumentException($"--obs {Obs}: at least 2 observed positions are needed (one velocity)");
        if (Pred < 1) throw new ArgumentException($"--pred {Pred} must be at least 1");
        if (Hidden < 1) throw new ArgumentException($"--hidden {Hidden} must be at least 1");
        if (Models.EncoderStack.Problem(Layers, Gmu, GmuMemory) is { } stack) throw new ArgumentException(stack);
        if (Epochs < 0) throw new ArgumentException($"--epochs {Epochs} must be ≥ 0");
        if (!(Holdout >= 0 && Holdout < 1)) throw new ArgumentException($"--holdout {Holdout} must be in [0, 1)");
    }
}

/// <summary>
/// A recurrent trajectory forecaster. The input is the Obs − 1 observed displacements (velocities) [Obs − 1, D],
/// divided by one scale s fitted on the training displacements, so the model never sees absolute positions
/// (translation to the last observed position); a <see cref="SequenceModel"/> (recurrent encoder → last step → linear
/// head) outputs for each of the Pred future steps the parameters of a Gaussian over that step's displacement
/// relative to the last observed one, (d_k − d_last)/s (<see cref="BivariateGaussianNll"/>: bivariate in the plane,
/// plus an independent z for 3-D tracks), trained by NLL with the shared <see cref="Trainer"/>. Predicting the change
/// of velocity makes constant velocity the model's starting point: a scene whose walkers are faster or slower than
/// the training scene's shifts the inputs and the answer together, where absolute displacements would pull every
/// walker towards the training scene's typical speed. The mean change is taken <see cref="Correction"/> (α) times, α chosen
/// on held-out later windows. Positions are the last observed position plus the running sum of the displacements (means,
/// or K samples for best-of-K). Dimensions: B batch, D coordinates, P parameters per step.
/// </summary>
public sealed class TrajectoryPredictor : ITrainingTask
{
    private TrajectoryWindows? _train;
    private Rng? _augment;
    private Batch? _batch;

    public TrajectoryOptions Options { get; }
    public int Dims { get; }
    /// <summary>s: the standard deviation of the training displacements' coordinates (metres per frame step).</summary>
    public float Scale { get; private set; }
    /// <summary>
    /// α ∈ [0, 1]: the share of the network's mean change of velocity added to constant velocity,
    /// v̂_k = v_last + α·s·μ_k (samples keep their full spread around that mean). Chosen on the held-out end of the
    /// training scenes (1 without a holdout): the network learns whatever its training scene does, walkers that slow
    /// down or weave included, and α keeps only as much of that as still pays on later windows of the same scenes —
    /// a correction that does not hold up there has no reason to hold up on another scene. α = 0 is constant velocity.
    /// </summary>
    public double Correction { get; private set; } = 1;
    public SequenceModel Network { get; }
    public List<EpochRecord> History { get; } = [];

    private TrajectoryPredictor(TrajectoryOptions options, int dims, float scale, SequenceModel network, double correction = 1)
    {
        Options = options; Dims = dims; Scale = scale; Network = network; Correction = correction;
    }

    private static SequenceModel Build(TrajectoryOptions o, int dims) => new(new ModelSpec
    {
        InputSize = dims, Cell = o.Cell, Hidden = o.Hidden, Layers = o.Layers, Bidirectional = o.Bidirectional, Gmu = o.Gmu, GmuMemory = o.GmuMemory, Pool = "last", Head = "linear",
        Outputs = o.Pred * BivariateGaussianNll.Parameters(dims), Seed = o.Seed,
    });

    /// <summary>
    /// Fits on every window of <paramref name="train"/> (built with the same Obs and Pred), α = 1. With a split
    /// (<see cref="TrajectoryWindows.SplitEnd"/>: head windows and later, held-out ones), a first network is trained on
    /// the head windows and α chosen on the held-out ones; the returned network is then trained the same way on all of
    /// <paramref name="train"/> and keeps that α.
    /// </summary>
    public static TrajectoryPredictor Fit(TrajectoryWindows train, TrajectoryOptions o, IProgress<TrainingProgress>? progress = null,
        DataParallel? parallel = null, (TrajectoryWindows Head, TrajectoryWindows Held)? split = null)
    {
        double alpha = 1;
        if (split is var (head, held))
        {
            if (held.Count == 0) throw new ArgumentException("no held-out windows");
            alpha = FitAll(head, o, progress, parallel).ChooseCorrection(held).Alpha;
        }
        var model = FitAll(train, o, progress, parallel);
        model.Correction = alpha;
        return model;
    }

    /// <summary>
    /// The scenes split in time for choosing α: head windows before the last share h of each scene's time, held-out
    /// windows inside it, windows across the cut in neither (<see cref="TrajectoryWindows.SplitEnd"/>). Null when
    /// <see cref="TrajectoryOptions.Holdout"/> is 0, or when the scenes are too short for it (a scene without head
    /// windows, or no held-out window in any scene): α is then 1.
    /// </summary>
    public static (TrajectoryWindows Head, TrajectoryWindows Held)? Split(IReadOnlyList<TrackSet> scenes, TrajectoryOptions o)
    {
        o.Validate();
        if (o.Holdout == 0) return null;
        var parts = scenes.Select(s => TrajectoryWindows.SplitEnd(s, o.Obs, o.Pred, o.Holdout)).ToList();
        if (parts.Any(p => p.Head.Count == 0) || parts.All(p => p.Tail.Count == 0)) return null;
        return (TrajectoryWindows.Concat([.. parts.Select(p => p.Head)]), TrajectoryWindows.Concat([.. parts.Where(p => p.Tail.Count > 0).Select(p => p.Tail)]));
    }

    private static TrajectoryPredictor FitAll(TrajectoryWindows train, TrajectoryOptions o, IProgress<TrainingProgress>? progress, DataParallel? parallel)
    {
        o.Validate();
        if (train.Obs != o.Obs || train.Pred != o.Pred) throw new ArgumentException($"windows of {train.Obs}+{train.Pred} for a model of {o.Obs}+{o.Pred}");
        if (train.Count == 0) throw new ArgumentException($"no agent in the training data is present at {o.Obs + o.Pred} consecutive frames");
        int d = train.Dims, len = train.Length;
        double sq = 0;
        long count = 0;
        for (int s = 0; s < train.Count; s++)
        {
            var p = train.Sample(s);
            for (int k = 1; k < len; k++)
                for (int j = 0; j < d; j++) { double v = p[k * d + j] - p[(k - 1) * d + j]; sq += v * v; count++; }
        }
        float scale = (float)Math.Max(Math.Sqrt(sq / count), 1e-6);
        var model = new TrajectoryPredictor(o, d, scale, Build(o, d)) { _train = train, _augment = new Rng(o.Seed ^ 0x7A3C_19E5_0BD2_4461UL) };
        var trainerOptions = new TrainerOptions { Epochs = o.Epochs, Batch = o.Batch, LearningRate = o.LearningRate, Seed = o.Seed, Patience = 0, OnNan = o.OnNan };
        var trainer = new Trainer(parallel?.Apply(trainerOptions) ?? trainerOptions)
        {
            Progress = progress, GradientSync = parallel?.Sync,
        };
        trainer.Fit(model, model.History);
        model._train = null;
        return model;
    }

    /// <summary>
    /// Rotates points [N, D] in place about the origin (x, y only) by −θ, θ the heading of the last observed step
    /// (points Obs − 2 → Obs − 1); returns (cos θ, sin θ) so predictions can be turned back. A standing walker keeps θ = 0.
    /// </summary>
    private static (double Cos, double Sin) Canonicalise(Span<float> points, int obs, int d)
    {
        double vx = points[(obs - 1) * d] - points[(obs - 2) * d], vy = points[(obs - 1) * d + 1] - points[(obs - 2) * d + 1];
        double norm = Math.Sqrt(vx * vx + vy * vy);
        if (norm < 1e-9) return (1, 0);
        double c = vx / norm, s = vy / norm;
        Turn(points, points.Length / d, d, c, -s);
        return (c, s);
    }

    /// <summary>Rotates points [N, D] in place about the origin in the x–y plane by the angle with cosine c and sine s.</summary>
    private static void Turn(Span<float> points, int n, int d, double c, double s)
    {
        for (int k = 0; k < n; k++)
        {
            double px = points[k * d], py = points[k * d + 1];
            points[k * d] = (float)(c * px - s * py);
            points[k * d + 1] = (float)(s * px + c * py);
        }
    }

    /// <summary>Observed positions [Obs, D] → scaled displacements [Obs − 1, D] into dst.</summary>
    private void Displacements(ReadOnlySpan<float> observed, Span<float> dst)
    {
        int d = Dims;
        for (int k = 1; k < Options.Obs; k++)
            for (int j = 0; j < d; j++) dst[(k - 1) * d + j] = (observed[k * d + j] - observed[(k - 1) * d + j]) / Scale;
    }

    // ITrainingTask: example i is window i of the training set.
    public Module Model => Network;
    public int TrainCount => _train!.Count;

    public double TrainBatch(ReadOnlySpan<int> indices)
    {
        var w = _train!;
        int b = indices.Length, d = Dims, o = Options.Obs, pr = Options.Pred;
        if (_batch is null || _batch.B != b) _batch = new Batch(b, o - 1, d, pr, BivariateGaussianNll.Parameters(d));
        var x = _batch.X.Span;
        var y = _batch.Targets.AsSpan();
        var sample = new float[(o + pr) * d];   // [Obs + Pred, D] one augmented sample
        for (int i = 0; i < b; i++)
        {
            w.Sample(indices[i]).CopyTo(sample);
            if (Options.Canonical) Canonicalise(sample, o, d);
            else if (Options.Rotate)
            {
                double a = 2 * Math.PI * _augment!.NextDouble(), c = Math.Cos(a), s = Math.Sin(a);
                for (int k = 0; k < o + pr; k++)
                {
                    float px = sample[k * d], py = sample[k * d + 1];
                    sample[k * d] = (float)(c * px - s * py);
                    sample[k * d + 1] = (float)(s * px + c * py);
                }
            }
            Displacements(sample, x.Slice(i * (o - 1) * d, (o - 1) * d));
            for (int k = 0; k < pr; k++)
                for (int j = 0; j < d; j++)
                {
                    float last = sample[(o - 1) * d + j] - sample[(o - 2) * d + j];
                    y[(i * pr + k) * d + j] = (sample[(o + k) * d + j] - sample[(o + k - 1) * d + j] - last) / Scale;
                }
        }
        Network.Training = true;
        var outp = Network.Forward(_batch.X, null);
        double loss = BivariateGaussianNll.Loss(outp.ReadOnlySpan, _batch.Targets, d, _batch.DOut.Span);
        Network.Backward(_batch.DOut);
        return loss;
    }

    // The held-out windows are not scored per epoch: picking the epoch on them as well (tried) kept early epochs
    // from a few hundred windows and lost more than α gained; they choose α once, for the final weights.
    public ValidationResult? Validate() => null;
    public string[] SaveRngState() => [.. Network.SaveRngState(), _augment?.SaveState() ?? new Rng(0).SaveState()];

    public void RestoreRngState(string[] states)
    {
        Network.RestoreRngState(states[..^1]);
        _augment?.Restore(states[^1]);
    }

    public IReadOnlyDictionary<string, string> CheckpointMetadata() => Network.Metadata("trajectory", Extra());

    /// <summary>
    /// Predictions for every window: means [S, Pred, D] and, with k &gt; 0 samples, samples [S, K, Pred, D], each the
    /// last observed position plus the running sum of displacements (drawn with a seeded generator), with α per window
    /// from <see cref="Corrections"/>.
    /// </summary>
    public (float[] Mean, float[]? Samples) Predict(TrajectoryWindows windows, int k = 0, ulong seed = 1, CorrectionAdaptation adapt = CorrectionAdaptation.None)
    {
        var f = Forward(windows);
        var alphas = CorrectionsOf(windows, f, adapt);
        int n = windows.Count, d = Dims, pr = Options.Pred, p = BivariateGaussianNll.Parameters(d);
        var mean = new float[n * pr * d];
        var samples = k > 0 ? new float[n * k * pr * d] : null;
        var rng = new Rng(seed);
        for (int s = 0; s < n; s++)
        {
            var g = f.Heads.AsSpan(s * pr * p, pr * p);
            var last = f.LastTwo.AsSpan(s * 2 * d, 2 * d);
            var m = mean.AsSpan(s * pr * d, pr * d);
            Integrate(g, last, m, null, alphas[s]);
            Turn(m, pr, d, f.Turns[s].Cos, f.Turns[s].Sin);
            for (int j = 0; j < k; j++)
            {
                var one = samples.AsSpan(((s * k) + j) * pr * d, pr * d);
                Integrate(g, last, one, rng, alphas[s]);
                Turn(one, pr, d, f.Turns[s].Cos, f.Turns[s].Sin);
            }
        }
        return (mean, samples);
    }

    /// <summary>
    /// α for every window [S]: <see cref="Correction"/> for each with <see cref="CorrectionAdaptation.None"/>; with
    /// <see cref="CorrectionAdaptation.Online"/>, chosen per window from the windows of the same scene whose truth is
    /// already known when that window's observation ends (see <see cref="CorrectionAdaptation.Online"/>).
    /// </summary>
    public double[] Corrections(TrajectoryWindows windows, CorrectionAdaptation adapt) => CorrectionsOf(windows, Forward(windows), adapt);

    private double[] CorrectionsOf(TrajectoryWindows windows, Outputs f, CorrectionAdaptation adapt)
    {
        int n = windows.Count;
        var alphas = new double[n];
        if (adapt == CorrectionAdaptation.None) { Array.Fill(alphas, Correction); return alphas; }
        double step = windows.FrameStep;
        if (!double.IsFinite(step)) throw new ArgumentException("online adaptation of α needs the windows of one scene (one clock of frames)");
        return OnlineCorrections(windows.StartFrames, step, Options.Pred, AdeByCorrection(windows, f), Correction);
    }

    /// <summary>
    /// The online α of every window (<see cref="CorrectionAdaptation.Online"/>) from the windows' start frames [S], the
    /// frame step, Pred, each window's ADE [S, A] at α = 0, 1/(A − 1), …, 1 and the trained α.
    /// </summary>
    internal static double[] OnlineCorrections(double[] startFrames, double step, int pred, double[] ade, double trained)
    {
        int n = startFrames.Length, a = ade.Length / Math.Max(n, 1);
        var alphas = new double[n];
        // Windows in order of the frame their truth ends at (start + (Obs + Pred − 1)·step), ties by index, so the
        // windows known at any frame are a prefix; summing in that order makes each prefix's sum depend on those
        // windows alone, not on what comes later in the scene.
        var order = Enumerable.Range(0, n).OrderBy(s => startFrames[s]).ThenBy(s => s).ToArray();
        var starts = order.Select(s => startFrames[s]).ToArray();
        var known = new double[(n + 1) * a];   // [S + 1, A] summed ADE of the first r windows in that order
        for (int r = 0; r < n; r++)
            for (int i = 0; i < a; i++) known[(r + 1) * a + i] = known[r * a + i] + ade[order[r] * a + i];
        double tol = 1e-6 * Math.Max(1, Math.Abs(step));
        for (int s = 0; s < n; s++)
        {
            // Window j's truth ends at start_j + (Obs + Pred − 1)·step, window s's observation at start_s + (Obs − 1)·step:
            // j is known when start_j ≤ start_s − Pred·step.
            int c = UpperBound(starts, startFrames[s] - pred * step + tol);
            int best = 0;
            for (int i = 1; i < a; i++)
                if (known[c * a + i] < known[c * a + best]) best = i;
            alphas[s] = (OnlinePriorWindows * trained + c * (best / (double)(a - 1))) / (OnlinePriorWindows + c);
        }
        return alphas;
    }

    /// <summary>The number of sorted values ≤ x.</summary>
    private static int UpperBound(double[] sorted, double x)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] <= x) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    /// <summary>
    /// Weight n₀ of the trained α in online adaptation, in windows: α_s = (n₀·α_train + c·α̂_c) / (n₀ + c). A walker
    /// gives one window per frame it stays, and its windows overlap, so 100 windows are the evidence of a handful of
    /// walkers: enough that the first few completed windows do not swing α, few enough that a scene's own walkers
    /// decide within its first minutes.
    /// </summary>
    public const double OnlinePriorWindows = 100;

    /// <summary>The network's outputs for every window, with what integrating them needs.</summary>
    /// <param name="Heads">[S, Pred·P] per-step Gaussian parameters.</param>
    /// <param name="LastTwo">[S, 2, D] the last two observed positions in the model's frame.</param>
    /// <param name="Turns">[S] the rotation from the model's frame back to the world.</param>
    private sealed record Outputs(float[] Heads, float[] LastTwo, (double Cos, double Sin)[] Turns);

    private Outputs Forward(TrajectoryWindows windows)
    {
        if (windows.Obs != Options.Obs || windows.Pred != Options.Pred || windows.Dims != Dims)
            throw new ArgumentException($"windows of {windows.Obs}+{windows.Pred} steps in {windows.Dims}-D for a model of {Options.Obs}+{Options.Pred} in {Dims}-D");
        int n = windows.Count, d = Dims, o = Options.Obs, pr = Options.Pred, p = BivariateGaussianNll.Parameters(d);
        var heads = new float[n * pr * p];
        var lastTwo = new float[n * 2 * d];
        var turns = new (double Cos, double Sin)[n];
        var one = new float[o * d];   // [Obs, D] one window's observed positions in the model's frame
        Network.Training = false;
        const int Chunk = 512;
        for (int s0 = 0; s0 < n; s0 += Chunk)
        {
            int b = Math.Min(Chunk, n - s0);
            var x = Tensor.Zeros(b, o - 1, d);   // [B, Obs − 1, D]
            for (int i = 0; i < b; i++)
            {
                int s = s0 + i;
                windows.Sample(s)[..(o * d)].CopyTo(one);
                turns[s] = Options.Canonical ? Canonicalise(one, o, d) : (1, 0);
                Displacements(one, x.Span.Slice(i * (o - 1) * d, (o - 1) * d));
                one.AsSpan((o - 2) * d, 2 * d).CopyTo(lastTwo.AsSpan(s * 2 * d, 2 * d));
            }
            Network.Forward(x, null).ReadOnlySpan.CopyTo(heads.AsSpan(s0 * pr * p, b * pr * p));
        }
        return new Outputs(heads, lastTwo, turns);
    }

    /// <summary>
    /// Per-step Gaussian parameters [Pred, P] and the last two observed positions [2, D] → positions [Pred, D]:
    /// means, or one draw when rng is given, with the network's mean change of velocity taken α times.
    /// </summary>
    private void Integrate(ReadOnlySpan<float> g, ReadOnlySpan<float> lastTwo, Span<float> dst, Rng? rng, double alpha)
    {
        int d = Dims, p = BivariateGaussianNll.Parameters(d);
        Span<double> pos = stackalloc double[d];
        Span<double> velocity = stackalloc double[d];
        for (int j = 0; j < d; j++) { pos[j] = lastTwo[d + j]; velocity[j] = lastTwo[d + j] - lastTwo[j]; }
        for (int k = 0; k < Options.Pred; k++)
        {
            var q = g.Slice(k * p, p);
            double dx = alpha * q[0], dy = alpha * q[1], dz = d == 3 ? alpha * q[5] : 0;
            if (rng != null)
            {
                double sx = Math.Exp(Math.Clamp(q[2], BivariateGaussianNll.LogSigmaMin, BivariateGaussianNll.LogSigmaMax));
                double sy = Math.Exp(Math.Clamp(q[3], BivariateGaussianNll.LogSigmaMin, BivariateGaussianNll.LogSigmaMax));
                double rho = BivariateGaussianNll.Rho(q[4]), e1 = rng.NextGaussianDouble(), e2 = rng.NextGaussianDouble();
                dx += sx * e1;
                dy += sy * (rho * e1 + Math.Sqrt(1 - rho * rho) * e2);
                if (d == 3) dz += Math.Exp(Math.Clamp(q[6], BivariateGaussianNll.LogSigmaMin, BivariateGaussianNll.LogSigmaMax)) * rng.NextGaussianDouble();
            }
            pos[0] += velocity[0] + dx * Scale; pos[1] += velocity[1] + dy * Scale;
            if (d == 3) pos[2] += velocity[2] + dz * Scale;
            for (int j = 0; j < d; j++) dst[k * d + j] = (float)pos[j];
        }
    }

    /// <summary>
    /// The share α ∈ {0, 1/20, …, 1} of the network's mean correction with the lowest ADE on the held-out windows
    /// (ties to the smaller α, i.e. towards constant velocity), and that ADE.
    /// </summary>
    private (double Alpha, double Ade) ChooseCorrection(TrajectoryWindows held)
    {
        var ade = AdeByCorrection(held, Forward(held));
        int n = held.Count, a = CorrectionSteps + 1;
        var best = (Alpha: 0.0, Ade: double.PositiveInfinity);
        for (int i = 0; i < a; i++)
        {
            double sum = 0;
            for (int s = 0; s < n; s++) sum += ade[s * a + i];
            if (sum / n < best.Ade) best = (i / (double)CorrectionSteps, sum / n);
        }
        return best;
    }

    /// <summary>Each window's ADE [S, A] at α = 0, 1/20, …, 1 (A = 21).</summary>
    private double[] AdeByCorrection(TrajectoryWindows windows, Outputs f)
    {
        int n = windows.Count, d = Dims, o = Options.Obs, pr = Options.Pred, p = BivariateGaussianNll.Parameters(d), a = CorrectionSteps + 1;
        var ade = new double[n * a];   // [S, A]
        var path = new float[pr * d];   // [Pred, D]
        for (int s = 0; s < n; s++)
            for (int i = 0; i < a; i++)
            {
                Integrate(f.Heads.AsSpan(s * pr * p, pr * p), f.LastTwo.AsSpan(s * 2 * d, 2 * d), path, null, i / (double)CorrectionSteps);
                Turn(path, pr, d, f.Turns[s].Cos, f.Turns[s].Sin);
                ade[s * a + i] = TrajectoryMetrics.Errors(path, windows.Sample(s)[(o * d)..], d).Ade;
            }
        return ade;
    }

    private const int CorrectionSteps = 20;

    /// <summary>Mean ADE/FDE of the mean prediction, and with k &gt; 0 of the best of k samples (lowest ADE per window).</summary>
    public TrajectoryScores Evaluate(TrajectoryWindows windows, int k = 0, ulong seed = 1, CorrectionAdaptation adapt = CorrectionAdaptation.None)
    {
        var (mean, samples) = Predict(windows, k, seed, adapt);
        int n = windows.Count, d = Dims, o = Options.Obs, pr = Options.Pred, step = pr * d;
        if (n == 0) throw new ArgumentException("no windows to evaluate");
        double ade = 0, fde = 0, bAde = 0, bFde = 0;
        for (int s = 0; s < n; s++)
        {
            var truth = windows.Sample(s)[(o * d)..];
            var (a, f) = TrajectoryMetrics.Errors(mean.AsSpan(s * step, step), truth, d);
            ade += a; fde += f;
            if (samples is null) continue;
            double best = double.PositiveInfinity, bestF = 0;
            for (int j = 0; j < k; j++)
            {
                var (sa, sf) = TrajectoryMetrics.Errors(samples.AsSpan((s * k + j) * step, step), truth, d);
                if (sa < best) { best = sa; bestF = sf; }
            }
            bAde += best; bFde += bestF;
        }
        return new TrajectoryScores(ade / n, fde / n, samples is null ? null : bAde / n, samples is null ? null : bFde / n, n);
    }

    private Dictionary<string, string> Extra() => new()
    {
        ["trajectory"] = JsonSerializer.Serialize(new FileState(Options, Dims, Scale, Correction)),
    };

    /// <summary>Writes the model file (job "trajectory"): weights, spec, options, scale and history.</summary>
    public void Save(string path) => Network.Save(path, "trajectory", History, Extra());

    public static TrajectoryPredictor Load(string path)
    {
        var (network, job, history, meta) = SequenceModel.Load(path);
        if (job != "trajectory") throw new GyreDataException($"a {job} model, not a trajectory model", path);
        if (!meta.TryGetValue("trajectory", out var json)) throw new GyreDataException("the model file holds no trajectory settings", path);
        FileState state;
        try
        {
            state = JsonSerializer.Deserialize<FileState>(json) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new GyreDataException($"corrupt trajectory settings: {e.Message}", path);
        }
        if (!(state.Correction >= 0 && state.Correction <= 1)) throw new GyreDataException($"corrupt trajectory settings: correction {state.Correction} outside [0, 1]", path);
        var spec = network.Spec;
        var p = new TrajectoryPredictor(state.Options with { Layers = spec.Layers, Bidirectional = spec.Bidirectional, Gmu = spec.Gmu, GmuMemory = spec.GmuMemory }, state.Dims, state.Scale, network, state.Correction);
        p.History.AddRange(history);
        return p;
    }

    /// <summary>What the model file holds beside the weights; files written before α existed load with α = 1.</summary>
    private sealed record FileState(TrajectoryOptions Options, int Dims, float Scale, double Correction = 1);

    private sealed class Batch(int b, int t, int d, int pred, int p)
    {
        public readonly int B = b;
        public readonly Tensor X = Tensor.Zeros(b, t, d);                // [B, Obs − 1, D]
        public readonly float[] Targets = new float[b * pred * d];       // [B, Pred, D]
        public readonly Tensor DOut = Tensor.Zeros(b, pred * p);         // [B, Pred·P]
    }
}

/// <summary>How the share α of the network's correction is set for the windows being predicted.</summary>
public enum CorrectionAdaptation
{
    /// <summary>The trained α (<see cref="TrajectoryPredictor.Correction"/>) for every window.</summary>
    None,
    /// <summary>
    /// Causal adaptation on the scene being predicted, as a deployed tracker can do it: when window s's observation
    /// ends at frame f, every window of the same scene whose predicted frames ended at or before f has a known truth.
    /// α̂_c is the α ∈ {0, 1/20, …, 1} with the lowest summed ADE over those c windows (ties to the smaller α), and
    /// window s uses α_s = (n₀·α_train + c·α̂_c) / (n₀ + c), n₀ = <see cref="TrajectoryPredictor.OnlinePriorWindows"/>:
    /// the trained α until the scene has shown enough of its own walkers. Nothing after frame f enters window s's
    /// prediction.
    /// </summary>
    Online,
}

/// <summary>Mean ADE and FDE (metres) over the windows; best-of-K ones when samples were drawn.</summary>
public sealed record TrajectoryScores(double Ade, double Fde, double? BestOfKAde, double? BestOfKFde, int Windows);
