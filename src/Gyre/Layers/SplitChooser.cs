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
/// Policy: calls of at least <see cref="MinTimedSteps"/> steps are timed. Until each arm has
/// <see cref="Trials"/> timings the arms alternate (split first); then the faster arm runs and the other is retried
/// every <see cref="RetryEvery"/>th timed call, so a change of load is followed at a cost of a few per cent at most.
/// An arm's time is the smaller of its last two per-step times (a call slowed by a descheduled core does not
/// condemn an arm). Shorter calls (streaming) take the arm preferred so far, the split before any timing.
/// A new shape (batch, hidden) starts over.
/// </remarks>
internal sealed class SplitChooser
{
    /// <summary>Steps from which a call is timed: below, the fixed costs of a call (packing, the team's dispatch)
    /// would dominate the per-step time.</summary>
    public const int MinTimedSteps = 64;

    /// <summary>Timings of each arm before the faster one is trusted.</summary>
    public const int Trials = 2;

    /// <summary>Every this many timed calls, the slower arm runs once more.</summary>
    public const int RetryEvery = 32;

    private int _batch = -1, _hidden = -1;
    private readonly double[] _split = new double[Trials], _alone = new double[Trials];   // last per-step ticks, newest at [0]
    private int _splitCount, _aloneCount, _timedCalls;

    /// <summary>Timed calls that ran split / on one thread since the shape last changed (tests, diagnostics).</summary>
    public int SplitCalls => _splitCount;
    public int AloneCalls => _aloneCount;

    /// <summary>Whether the next call of <paramref name="steps"/> steps at this shape should split.</summary>
    public bool ShouldSplit(int batch, int hidden, int steps)
    {
        if (batch != _batch || hidden != _hidden)
        {
            _batch = batch; _hidden = hidden;
            _splitCount = _aloneCount = _timedCalls = 0;
        }
        bool splitFaster = Estimate(_split, _splitCount) <= Estimate(_alone, _aloneCount);
        if (steps < MinTimedSteps) return _aloneCount < Trials || splitFaster;
        if (_splitCount < Trials || _aloneCount < Trials) return _splitCount <= _aloneCount;
        bool retry = (_timedCalls + 1) % RetryEvery == 0;
        return splitFaster != retry;
    }

    /// <summary>Records a call: <paramref name="ticks"/> of wall time for <paramref name="steps"/> steps, split or not.
    /// Calls shorter than <see cref="MinTimedSteps"/> are ignored.</summary>
    public void Record(bool split, int steps, long ticks)
    {
        if (steps < MinTimedSteps) return;
        double perStep = (double)Math.Max(1, ticks) / steps;
        _timedCalls++;
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
