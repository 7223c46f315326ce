using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Gyre.Layers;

/// <summary>
/// The state after the last S steps of a diagonal linear recurrence h_t = a_t ⊙ h_{t−1} + b_t started from h = 0,
/// kept while the window slides one step at a time, in amortised O(H) per step instead of re-running S steps.
/// <para>
/// A step is the affine map (a, b); two maps compose as (a₂, b₂) ∘ (a₁, b₁) = (a₂ ⊙ a₁, a₂ ⊙ b₁ + b₂), which is
/// associative but has no inverse worth trusting (a can underflow to 0), so the oldest step cannot be subtracted out.
/// Two-stack sliding aggregation keeps the window as a front (older steps, stored as their suffix compositions: row i
/// is steps i … end of the front applied to 0, its b part) and a back (newer steps, stored as they came, with their
/// running composition). Dropping the oldest step advances the front; when the front is empty the back is folded
/// into suffix compositions once (S compositions for S drops). The window's state is the back's composition applied
/// to the oldest front row.
/// </para>
/// <para>
/// Rounding: while the front is empty the state is the recurrence's own arithmetic bit for bit (b part of the running
/// composition, a·h then + b); otherwise the products are grouped differently from the sequential loop, so results
/// agree to float rounding (a few ulps times the window length), not bits.
/// </para>
/// Memory: 3·S·H + 3·H floats. Allocation-free after construction.
/// </summary>
public sealed class SlidingLinearWindow
{
    private readonly float[] _backA, _backB;    // [S, H] steps pushed since the last fold, oldest first
    private readonly float[] _aggA, _aggB;      // [H] their composition (identity: a = 1, b = 0)
    private readonly float[] _front;            // [S, H] b part of the suffix compositions of the folded steps
    private readonly float[] _foldA;            // [H] a part of the suffix composition while folding
    private int _back, _frontStart, _frontEnd;

    /// <summary>A window of <paramref name="steps"/> (S) steps of <paramref name="width"/> (H) channels, empty.</summary>
    public SlidingLinearWindow(int steps, int width)
    {
        if (steps <= 0) throw new ArgumentOutOfRangeException(nameof(steps), $"window steps must be positive, got {steps}");
        if (width <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"width must be positive, got {width}");
        Steps = steps; Width = width;
        _backA = new float[steps * width]; _backB = new float[steps * width];
        _front = new float[steps * width];
        _aggA = new float[width]; _aggB = new float[width]; _foldA = new float[width];
        _aggA.AsSpan().Fill(1f);
    }

    /// <summary>S: steps the window holds.</summary>
    public int Steps { get; }

    /// <summary>H: channels of the state.</summary>
    public int Width { get; }

    /// <summary>Steps in the window now (at most S).</summary>
    public int Count => _back + _frontEnd - _frontStart;

    /// <summary>Appends step (a, b) [H] each, dropping the oldest step when the window already holds S.</summary>
    public void Push(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int h = Width;
        if (a.Length != h || b.Length != h) throw new ArgumentException($"a step has {h} coefficients a and b, got {a.Length} and {b.Length}");
        if (Count == Steps)
        {
            if (_frontStart == _frontEnd) Fold();
            _frontStart++;
        }
        a.CopyTo(_backA.AsSpan(_back * h, h));
        b.CopyTo(_backB.AsSpan(_back * h, h));
        _back++;
        // (a, b) ∘ agg: two roundings for b, as the recurrence's own step a·h + b.
        TensorPrimitives.Multiply(_aggB, a, _aggB);
        TensorPrimitives.Add(_aggB, b, _aggB);
        TensorPrimitives.Multiply(_aggA, a, _aggA);
    }

    /// <summary>dst [H]: the state after the window's steps from h = 0 (zeros when the window is empty).</summary>
    public void State(Span<float> dst)
    {
        int h = Width;
        if (dst.Length != h) throw new ArgumentException($"the state has {h} values, got a span of {dst.Length}");
        if (_frontStart == _frontEnd) { _aggB.CopyTo(dst); return; }
        TensorPrimitives.Multiply(_aggA, _front.AsSpan(_frontStart * h, h), dst);
        TensorPrimitives.Add(dst, _aggB, dst);
    }

    /// <summary>Empties the window.</summary>
    public void Clear()
    {
        _back = _frontStart = _frontEnd = 0;
        _aggA.AsSpan().Fill(1f);
        _aggB.AsSpan().Clear();
    }

    // Moves the back's steps into the front as suffix compositions (newest first), and empties the back.
    private void Fold()
    {
        int h = Width, n = _back;
        var foldA = _foldA.AsSpan();
        for (int i = n - 1; i >= 0; i--)
        {
            var a = _backA.AsSpan(i * h, h);
            var b = _backB.AsSpan(i * h, h);
            var row = _front.AsSpan(i * h, h);
            if (i == n - 1) { b.CopyTo(row); a.CopyTo(foldA); continue; }
            // suffix(i) = suffix(i+1) ∘ (a_i, b_i) = (A ⊙ a_i, A ⊙ b_i + B)
            TensorPrimitives.Multiply(foldA, b, row);
            TensorPrimitives.Add(row, _front.AsSpan((i + 1) * h, h), row);
            TensorPrimitives.Multiply(foldA, a, foldA);
        }
        _frontStart = 0; _frontEnd = n; _back = 0;
        _aggA.AsSpan().Fill(1f);
        _aggB.AsSpan().Clear();
    }
}
