using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Models;

/// <summary>
/// The forward/backward contract every part of a <see cref="SequenceModel"/> shares, so models are assembled
/// from parts instead of hand-wired.
/// <list type="bullet">
/// <item><see cref="Forward"/> reads x (shape documented by each part) and the per-row valid lengths
/// (null: every row uses all T steps; otherwise 1 ≤ lengths[b] ≤ T, steps t ≥ lengths[b] are padding) and returns
/// the part's own output buffer, valid until its next Forward. The part keeps what its backward needs.</item>
/// <item><see cref="Backward"/> takes ∂L/∂output (shaped as the output), accumulates (+=) every parameter's
/// gradient and returns ∂L/∂x in the part's own buffer (overwritten, not accumulated).</item>
/// <item>Activations are kept per (B, T) and reused, so a training step at a repeated shape allocates nothing.</item>
/// <item>Padded steps never change a result: their outputs are never read and they receive zero gradient.</item>
/// </list>
/// </summary>
public abstract class ModelLayer : Module
{
    /// <summary>Runs the part on x with per-row lengths (null = all steps valid); returns its output buffer.</summary>
    public abstract Tensor Forward(Tensor x, int[]? lengths);

    /// <summary>Accumulates parameter gradients for ∂L/∂output of the last training-mode Forward; returns ∂L/∂x.</summary>
    public abstract Tensor Backward(Tensor dOutput);

    /// <summary>Checks lengths against B and T (one line naming the bad row).</summary>
    internal static void CheckLengths(int[]? lengths, int b, int t)
    {
        if (lengths == null) return;
        if (lengths.Length != b) throw new ArgumentException($"lengths has {lengths.Length} entries for a batch of {b}");
        for (int i = 0; i < b; i++)
            if (lengths[i] < 1 || lengths[i] > t)
                throw new ArgumentException($"lengths[{i}] = {lengths[i]} is outside 1..{t}");
    }

    /// <summary>Valid steps of row <paramref name="i"/>.</summary>
    internal static int LengthOf(int[]? lengths, int i, int t) => lengths == null ? t : lengths[i];
}

/// <summary>
/// Buffers keyed by (B, T), built on first use and reused. Training alternates with validation batches of
/// another size, so a few shapes are kept; beyond four (an evaluation's ragged last batches) the cache starts over.
/// </summary>
internal sealed class ShapeCache<T>(Func<int, int, T> create) where T : class
{
    private readonly Dictionary<(int, int), T> _byShape = [];

    public T For(int b, int t)
    {
        if (!_byShape.TryGetValue((b, t), out var buf))
        {
            if (_byShape.Count >= 4) _byShape.Clear();
            _byShape[(b, t)] = buf = create(b, t);
        }
        return buf;
    }
}
