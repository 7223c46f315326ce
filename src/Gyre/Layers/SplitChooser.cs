namespace Gyre.Layers;

/// <summary>
/// Chooses, for one runner, whether a fused sequence splits its hidden units over the team
/// (<see cref="FusedSequenceJob{TCell}"/>) or runs on one thread, by timing both on the runner's own calls.
/// </summary>
/// <remarks>
/// Why measure instead of deciding from the shape: the split pays half a step's work against one exchange of the
/// state between cores per step, and that exchange differs by a factor of ten between machines. A cache-line
/// round trip between the two vCPUs took about 0.2 µs on one Zen 5 host and 1.5 µs on another
/// (2026-12-02), where the GRU batch-1 split (H = 128, T = 1000) became slower than one thread (2.9 vs 2.4 ms)
/// while LSTM's, with a third more work per step, still won (2.9 vs 3.7 ms). Which wins also depends on the cell,
/// H, the batch and the load on the machine, so the runner keeps the per-step time of each arm and takes the faster.
/// <para>
/// Both arms compute every element with the same chain of operations (the split's bit-identity to one thread is
/// tested), so this choice changes only the time, never a result: the determinism across thread counts holds.
/// </para>
/// Policy: the arms are timed in trials of at least <see cref="TrialSteps"/> steps, one long call or several short
/// consecutive calls on the same arm (a one-step call is too short and too noisy to time alone). Until each arm has
/// <see cref="Trials"/> trials the arms alternate (split first); then the faster arm runs and the other gets one trial
/// every <see cref="RetryEvery"/> trials, so a change of load is followed at a cost of a few per cent at most. An
/// arm's time is the smaller of the per-step times of its last two trials (a trial slowed by a descheduled core
/// does not condemn an arm). A new shape (batch, hidden) starts over.
/// <para>
/// The runner keeps one chooser per class of call length (<see cref="Bucket"/>): a served stream advanced one step
/// per call pays the team's dispatch and an exchange for a 1.5 µs step, so its best arm need not be a long
/// sequence's (GRU, H = 128, one step per call: one thread 7.4 µs, split 10.7 µs, 2026-12-02).
/// </para>
/// </remarks>
internal sealed class SplitChooser
{
    /// <summary>Steps a trial of one arm covers at least: below, the fixed costs of a call (the team's dispatch)
    /// and the clock's resolution would dominate its per-step time.</summary>
    public const int TrialSteps = 64;

    /// <summary>Classes of call length: 1, 2–3, 4–7, …, 32–63, and 64 steps or more.</summary>
    public const int Buckets = 7;

    /// <summary>The class of a call of <paramref name="steps"/> steps: ⌊log₂ steps⌋, at most <see cref="Buckets"/> − 1.</summary>
    public static int Bucket(int steps) => Math.Min(Buckets - 1, System.Numerics.BitOperations.Log2((uint)Math.Max(1, steps)));

    /// <summary>
    /// FLOPs of a step's recurrent product from which the split is taken without timing: half of a step that large is
    /// over 5 µs on one core, several times the dearest exchange between cores measured (a 1.5 µs round trip), while
    /// the trials themselves would cost whole calls of the slower arm (a GRU 16·1024·768·768 layer: two calls of half a
    /// second each, 2026-12-02).
    /// </summary>
    public const long ClearSplitFlops = 1L << 20;

    /// <summary>Whether a step of <paramref name="rows"/> rows, <paramref name="gates"/> gates and <paramref name="hidden"/>
    /// units splits without timing (<see cref="ClearSplitFlops"/>).</summary>
    public static bool SplitClearlyPays(int rows, int gates, int hidden) => 2L * rows * gates * hidden * hidden >= ClearSplitFlops;

    /// <summary>Trials of each arm before the faster one is trusted.</summary>
    public const int Trials = 2;

    /// <summary>Every this many trials, the slower arm gets one.</summary>
    public const int RetryEvery = 32;

    private int _batch = -1, _hidden = -1;
    private readonly double[] _split = new double[Trials], _alone = new double[Trials];   // last per-step ticks, newest at [0]
    private int _splitCount, _aloneCount, _trials;
    private bool _trialSplit;            // the arm of the trial in progress
    private long _trialTicks;            // its wall time so far
    private int _trialSteps;             // its steps so far (0: no trial in progress)

    /// <summary>Finished trials of each arm since the shape last changed (tests, diagnostics).</summary>
    public int SplitCalls => _splitCount;
    public int AloneCalls => _aloneCount;

    /// <summary>Whether the next call at this shape should split.</summary>
    public bool ShouldSplit(int batch, int hidden, int steps)
    {
        if (batch != _batch || hidden != _hidden)
        {
            _batch = batch; _hidden = hidden;
            _splitCount = _aloneCount = _trials = _trialSteps = 0;
        }
        if (_trialSteps > 0) return _trialSplit;             // finish the trial in progress on its arm
        if (_splitCount < Trials || _aloneCount < Trials) return _splitCount <= _aloneCount;
        bool splitFaster = Estimate(_split, _splitCount) <= Estimate(_alone, _aloneCount);
        bool retry = (_trials + 1) % RetryEvery == 0;
        return splitFaster != retry;
    }

    /// <summary>Records a call: <paramref name="ticks"/> of wall time for <paramref name="steps"/> steps, split or not.
    /// It joins the trial in progress (a call on the other arm abandons that trial); a trial of
    /// <see cref="TrialSteps"/> steps or more is scored.</summary>
    public void Record(bool split, int steps, long ticks)
    {
        if (steps <= 0) return;
        if (_trialSteps > 0 && split != _trialSplit) _trialSteps = 0;
        if (_trialSteps == 0) { _trialSplit = split; _trialTicks = 0; }
        _trialTicks += Math.Max(1, ticks);
        _trialSteps += steps;
        if (_trialSteps < TrialSteps) return;
        double perStep = (double)_trialTicks / _trialSteps;
        _trialSteps = 0;
        _trials++;
        if (split) Push(_split, ref _splitCount, perStep);
        else Push(_alone, ref _aloneCount, perStep);
    }

    private static void Push(double[] times, ref int count, double perStep)
    {
        for (int i = times.Length - 1; i > 0; i--) times[i] = times[i - 1];
        times[0] = perStep;
        count++;
    }

    // The smaller of the last two timings; an arm never timed counts as infinitely slow.
    private static double Estimate(double[] times, int count)
    {
        if (count == 0) return double.PositiveInfinity;
        double best = times[0];
        for (int i = 1; i < Math.Min(count, times.Length); i++) best = Math.Min(best, times[i]);
        return best;
    }
}
